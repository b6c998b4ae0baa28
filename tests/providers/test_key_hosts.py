"""Which key goes to which host (harness/providers/keys.py), checked against a capturing server on
loopback: every request's Authorization header is recorded by FakeOpenAI.

The rule: the key variable is the command line's (or the default OPENAI_API_KEY), never a suite's;
a key goes only to api.openai.com or a host the user allowed (--allow-key-host, HARNESS_KEY_HOSTS);
everything else gets the placeholder; a plain-http host off this machine is refused."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cli import main
from harness.core.errors import HarnessError
from harness.core.settings import GenerationSettings
from harness.core.types import Request
from harness.providers.base import ModelSpec, build_provider
from fakes.fake_openai import FakeOpenAI
from tests.conftest import INTENT_SUITE

pytestmark = pytest.mark.timeout(120)

REAL = "sk-real-openai-key-DO-NOT-LEAK"
AWS = "aws-secret-DO-NOT-LEAK"


@pytest.fixture
def srv() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(answer=lambda body: '{"score": 4, "reason": "fine"}') as s:
        yield s


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", REAL)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS)
    for name in ("OPENAI_BASE_URL", "HARNESS_KEY_HOSTS", "HARNESS_DATA_ROOT"):
        monkeypatch.delenv(name, raising=False)


def bearer(srv: FakeOpenAI) -> set[str]:
    return {r.headers.get("authorization", "") for r in srv.chat_requests()}


def ask(spec: str) -> None:
    async def go() -> None:
        p = build_provider(ModelSpec.parse(spec))
        try:
            r = await p.complete(Request((("user", "hi"),), GenerationSettings(max_tokens=4), "x"))
            assert r.error is None, r.error
        finally:
            await p.aclose()

    asyncio.run(go())


def test_loopback_server_gets_the_placeholder_not_the_key(srv: FakeOpenAI) -> None:
    ask(f"openai:m?base_url={srv.url}")
    assert bearer(srv) == {"Bearer unused"}


def test_an_allowed_host_gets_the_key(srv: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_KEY_HOSTS", f"example.org, 127.0.0.1:{srv.port}")
    ask(f"openai:m?base_url={srv.url}")
    assert bearer(srv) == {f"Bearer {REAL}"}


def test_api_key_env_naming_an_unset_variable_never_falls_back(srv: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    ask(f"openai:m?base_url={srv.url}&api_key_env=NOT_SET_ANYWHERE")  # not allowed: placeholder
    assert bearer(srv) == {"Bearer unused"}
    monkeypatch.setenv("HARNESS_KEY_HOSTS", "127.0.0.1")
    with pytest.raises(HarnessError, match=r"\$NOT_SET_ANYWHERE \(named by api_key_env\) is not set") as e:
        build_provider(ModelSpec.parse(f"openai:m?base_url={srv.url}&api_key_env=NOT_SET_ANYWHERE"))
    assert REAL not in str(e.value)
    monkeypatch.setenv("MY_KEY", "sk-mine")  # the command line may name its variable
    ask(f"openai:m?base_url={srv.url}&api_key_env=MY_KEY")
    assert f"Bearer {REAL}" not in bearer(srv) and "Bearer sk-mine" in bearer(srv)


def test_plain_http_off_this_machine_is_refused_unless_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(HarnessError) as e:  # refused at construction: nothing is sent anywhere
        build_provider(ModelSpec.parse("openai:m?base_url=http://203.0.113.7:8000/v1"))
    msg = str(e.value)
    assert msg == ("openai provider: refusing to send $OPENAI_API_KEY over plain http to 203.0.113.7: allow it with "
                   "--allow-key-host 203.0.113.7 (or HARNESS_KEY_HOSTS=203.0.113.7), or use https")
    monkeypatch.setenv("HARNESS_KEY_HOSTS", "203.0.113.7")
    assert build_provider(ModelSpec.parse("openai:m?base_url=http://203.0.113.7:8000/v1"))._api_key() == REAL
    # https to another host: the placeholder, never the key
    monkeypatch.delenv("HARNESS_KEY_HOSTS")
    assert build_provider(ModelSpec.parse("openai:m?base_url=https://llm.example.org/v1"))._api_key() == "unused"
    assert build_provider(ModelSpec.parse("openai:gpt-4o-mini"))._api_key() == REAL  # the OpenAI API itself


def test_cli_allow_key_host_flag(srv: FakeOpenAI, tiny_suite: Path, tmp_path: Path) -> None:
    args = ["run", str(tiny_suite), "--model", f"openai:m?base_url={srv.url}", "--reports", str(tmp_path / "r"), "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert bearer(srv) == {"Bearer unused"}
    srv.reset()
    assert main([*args, "--out", str(tmp_path / "b"), "--cache", str(tmp_path / "c2.sqlite"), "--allow-key-host", "127.0.0.1"]) == 0
    assert bearer(srv) == {f"Bearer {REAL}"}
    import os

    assert "HARNESS_KEY_HOSTS" not in os.environ  # the flag widens that command only


def judge_suite(folder: Path, judge: str) -> Path:
    text = INTENT_SUITE.replace("  - name: exact_match\n",
                                f"  - name: exact_match\n  - name: judge_rubric\n    judge: \"{judge}\"\n    criteria: Is it right?\n")
    p = folder / "suite.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_a_suite_cannot_name_the_key_variable(srv: FakeOpenAI, tiny_suite: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    suite = judge_suite(tmp_path, f"openai:judge?base_url={srv.url}&api_key_env=AWS_SECRET_ACCESS_KEY")
    assert main(["validate", str(suite)]) == 2
    err = capsys.readouterr().err
    line = next(i for i, t in enumerate(suite.read_text().splitlines(), 1) if "judge:" in t)
    assert f"{suite}:{line}: metrics[2].judge: a suite cannot choose the API key's environment variable" in err
    assert AWS not in err
    code = main(["run", str(suite), "--model", f"openai:m?base_url={srv.url}", "--reports", str(tmp_path / "r"),
                 "--no-progress", "--allow-key-host", "127.0.0.1"])
    assert code == 2 and srv.chat_requests() == []  # refused before anything was sent
    assert AWS not in capsys.readouterr().err


def test_a_suite_judge_on_loopback_gets_the_placeholder(srv: FakeOpenAI, tiny_suite: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    suite = judge_suite(tmp_path, f"openai:judge?base_url={srv.url}")
    assert main(["run", str(suite), "--model", f"openai:m?base_url={srv.url}", "--reports", str(tmp_path / "r"),
                 "--no-progress"]) == 0
    judged = [r for r in srv.chat_requests() if r.body["model"] == "judge"]
    assert judged and bearer(srv) == {"Bearer unused"}
    # the command line may choose the judge's variable, and allow its host
    monkeypatch.setenv("JUDGE_KEY", "sk-judge")
    srv.reset()
    assert main(["run", str(suite), "--model", f"openai:m?base_url={srv.url}", "--reports", str(tmp_path / "r2"),
                 "--no-progress", "--judge", f"openai:judge2?base_url={srv.url}&api_key_env=JUDGE_KEY",
                 "--allow-key-host", "127.0.0.1"]) == 0
    judged = {r.headers["authorization"] for r in srv.chat_requests() if r.body["model"] == "judge2"}
    assert judged == {"Bearer sk-judge"}


def test_a_model_yaml_named_by_a_suite_cannot_name_the_key_variable_either(srv: FakeOpenAI, tmp_path: Path) -> None:
    judge_file = tmp_path / "judge.yaml"
    judge_file.write_text(f"provider: openai\nname: judge\nbase_url: {srv.url}\napi_key_env: AWS_SECRET_ACCESS_KEY\n")
    (tmp_path / "test.jsonl").write_text("")
    suite = judge_suite(tmp_path, str(judge_file))
    from harness.core.errors import InputProblems
    from harness.suite.load import load_suite

    with pytest.raises(InputProblems) as e:
        load_suite(suite)
    assert any("a suite cannot choose the API key's environment variable (api_key_env=AWS_SECRET_ACCESS_KEY)" in str(p)
               for p in e.value.problems)
    assert srv.chat_requests() == []
