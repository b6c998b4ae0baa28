"""A password in a base_url (``http://user:pw@host/v1``) is never stored or printed: not in
summary.json, results, the recording, the judge's record or cache.sqlite (harness/core/redact.py).
An endpoint written without userinfo keeps its fingerprint and cache keys byte for byte."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cli import main
from harness.core.redact import redacted, strip_userinfo
from harness.providers.base import ModelSpec, build_provider
from fakes.fake_openai import FakeOpenAI
from tests.conftest import INTENT_SUITE

pytestmark = pytest.mark.timeout(120)

PW = "s3cretPW-DO-NOT-STORE"


@pytest.fixture
def srv() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(answer=lambda body: '{"score": 4, "reason": "fine"}') as s:
        yield s


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_BASE_URL", "HARNESS_KEY_HOSTS", "HARNESS_DATA_ROOT", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)


def with_password(url: str) -> str:
    return url.replace("http://", f"http://user:{PW}@")


def test_strip_userinfo_only_touches_urls_with_userinfo() -> None:
    assert strip_userinfo("http://user:pw@host:8/v1") == "http://host:8/v1"
    assert strip_userinfo("openai:m?base_url=https://u:p@ss@h/v1&timeout_s=5") == "openai:m?base_url=https://h/v1&timeout_s=5"
    for same in ("http://127.0.0.1:8080/v1", "http://[::1]:8/v1", "mailto:a@b", "http://h/path@x", "a@b", ""):
        assert strip_userinfo(same) is same
    data = {"spec": {"base_url": "http://h/v1"}, "cmd": ["run", "x"]}
    assert redacted(data) is data
    assert redacted(["run", "--model", "openai:m?base_url=http://u:pw@h/v1"]) == ["run", "--model", "openai:m?base_url=http://h/v1"]


def test_fingerprint_without_userinfo_is_unchanged_and_with_it_is_stripped() -> None:
    plain = build_provider(ModelSpec.parse("openai:m?base_url=http://127.0.0.1:9/v1/"))
    assert plain.fingerprint() == {"provider": "openai", "name": "m", "base_url": "http://127.0.0.1:9/v1"}
    secret = build_provider(ModelSpec.parse(f"openai:m?base_url=http://user:{PW}@127.0.0.1:9/v1/"))
    assert secret.fingerprint() == plain.fingerprint()


def test_a_password_in_base_url_is_never_stored_or_printed(srv: FakeOpenAI, tiny_suite: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    suite = tmp_path / "judged.yaml"
    suite.write_text(INTENT_SUITE.replace("  - name: exact_match\n", (
        "  - name: exact_match\n  - name: judge_rubric\n"
        f"    judge: \"openai:judge?base_url={with_password(srv.url)}\"\n    criteria: Is it right?\n")), encoding="utf-8")
    model = f"openai:m?base_url={with_password(srv.url)}"
    cache = tmp_path / "cache.sqlite"
    assert main(["run", str(suite), "--model", model, "--out", str(tmp_path / "run"), "--cache", str(cache),
                 "--reports", str(tmp_path / "reports"), "--no-progress"]) == 0
    assert main(["record", str(tiny_suite), "--model", model, "--out", str(tmp_path / "rec"), "--cache", str(cache),
                 "--no-progress"]) == 0
    out = capsys.readouterr()
    sent = len(srv.chat_requests())
    assert sent > 0 and PW not in out.out + out.err
    stored = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix not in (".yaml",)]
    assert cache in stored and (tmp_path / "run" / "summary.json") in stored and (tmp_path / "rec" / "recording.json") in stored
    leaked = [str(p) for p in stored if PW.encode() in p.read_bytes()]
    assert leaked == []
    summary = (tmp_path / "run" / "summary.json").read_text()
    assert f'"base_url": "{srv.url}"' in summary  # the endpoint is still recorded, without the userinfo
    # the same endpoint without userinfo has the same cache keys: nothing is sent again
    assert main(["run", str(suite), "--model", f"openai:m?base_url={srv.url}", "--out", str(tmp_path / "run2"),
                 "--cache", str(cache), "--reports", str(tmp_path / "reports"), "--no-progress"]) == 0
    assert len(srv.chat_requests()) == sent


def test_a_bad_spec_with_a_password_does_not_print_it(capsys: pytest.CaptureFixture[str], tiny_suite: Path) -> None:
    assert main(["run", str(tiny_suite), "--model", f"openai:m?base_url=http://user:{PW}@127.0.0.1:9/v1&nope=1",
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and PW not in err
