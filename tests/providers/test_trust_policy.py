"""The trust policy is a value in the run's config (harness.core.trust.TrustPolicy), not the
process environment: two run_suite calls in one process with different policies behave
differently, and neither writes os.environ. Against the fake OpenAI server on loopback only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fakes.fake_openai import FakeOpenAI
from harness.core.errors import InputProblems
from harness.core.trust import TrustPolicy
from harness.evaluate.run import RunConfig, run_suite
from harness.providers.base import ModelSpec
from tests.conftest import echo_suite, write_jsonl

pytestmark = pytest.mark.timeout(120)

REAL = "sk-real-openai-key-DO-NOT-LEAK"
ROWS = [{"id": "a", "question": "hi", "answer": "ok"}]


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", REAL)
    for name in ("OPENAI_BASE_URL", "HARNESS_KEY_HOSTS", "HARNESS_DATA_ROOT"):
        monkeypatch.delenv(name, raising=False)


def suite_at(folder: Path, data: str = ".") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".git").mkdir(exist_ok=True)  # the project root is this folder
    suite = folder / "s.yaml"
    suite.write_text(echo_suite("trust").replace("dataset:\n", f"dataset:\n  path: {data}\n"), encoding="utf-8")
    return suite


def test_two_runs_in_one_process_hold_different_key_host_policies(tmp_path: Path) -> None:
    suite = suite_at(tmp_path / "proj")
    write_jsonl(tmp_path / "proj" / "cases.jsonl", ROWS)
    with FakeOpenAI(answer=lambda body: "ok") as srv:
        model = ModelSpec.parse(f"openai:m?base_url={srv.url}")
        allowed = TrustPolicy(frozenset({f"127.0.0.1:{srv.port}"}))
        for name, trust in (("allowed", allowed), ("strict", TrustPolicy())):
            out = run_suite(RunConfig(suite=suite, model=model, reports_dir=tmp_path / name, progress=False, trust=trust))
            assert out.n_errors == 0
        auth = [r.headers.get("authorization") for r in srv.chat_requests()]
    assert auth == [f"Bearer {REAL}", "Bearer unused"]  # the first run's host got the key, the second's did not
    assert "HARNESS_KEY_HOSTS" not in os.environ


def test_two_runs_in_one_process_hold_different_data_roots(tmp_path: Path) -> None:
    write_jsonl((tmp_path / "elsewhere").mkdir() or tmp_path / "elsewhere" / "cases.jsonl", ROWS)
    suite = suite_at(tmp_path / "proj", data="../elsewhere")
    model = ModelSpec.parse("scripted:" + str(write_jsonl(tmp_path / "out.jsonl", [{"id": "a", "output": "ok"}])))
    wide = run_suite(RunConfig(suite=suite, model=model, reports_dir=tmp_path / "r1", progress=False,
                               trust=TrustPolicy(data_root=tmp_path)))
    assert wide.summary.counts.examples == 1
    with pytest.raises(InputProblems, match="is outside the project root"):
        run_suite(RunConfig(suite=suite, model=model, reports_dir=tmp_path / "r2", progress=False, trust=TrustPolicy()))
    assert "HARNESS_DATA_ROOT" not in os.environ


def test_the_policy_from_the_environment_and_flags() -> None:
    env = {"HARNESS_KEY_HOSTS": " Example.org, ,127.0.0.1:8080", "HARNESS_DATA_ROOT": "/tmp"}
    p = TrustPolicy.from_env(env)
    assert p.allowed_key_hosts == {"example.org", "127.0.0.1:8080"} and p.data_root == Path("/tmp").resolve()
    w = p.widened(["LLM.local"], Path("/"))
    assert w.allowed_key_hosts == {"example.org", "127.0.0.1:8080", "llm.local"} and w.data_root == Path("/")
    assert TrustPolicy.from_env({}) == TrustPolicy() and p.widened().data_root == p.data_root
