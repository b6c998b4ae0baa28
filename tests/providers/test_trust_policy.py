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


def test_gate_runs_confines_the_suite_by_the_callers_data_root(tmp_path: Path) -> None:
    """gate_runs loads the suite with the policy it is given: a data root above the project admits a
    dataset outside it; no policy of the caller's (an empty one) refuses it. os.environ is untouched."""
    from harness.promote.gate import gate_runs

    write_jsonl((tmp_path / "elsewhere").mkdir() or tmp_path / "elsewhere" / "cases.jsonl", ROWS)
    suite = suite_at(tmp_path / "proj", data="../elsewhere")
    model = ModelSpec.parse("scripted:" + str(write_jsonl(tmp_path / "out.jsonl", [{"id": "a", "output": "ok"}])))
    wide = TrustPolicy(data_root=tmp_path)
    runs = [run_suite(RunConfig(suite=suite, model=model, reports_dir=tmp_path / n, out=tmp_path / n / "run",
                                progress=False, trust=wide)).directory for n in ("base", "cand")]
    outcome = gate_runs(suite, *runs, tmp_path / "gate", formats=["json"], trust=wide)
    assert outcome.exit_code == 0 and (tmp_path / "gate" / "gate.json").is_file()
    with pytest.raises(InputProblems, match="is outside the project root"):
        gate_runs(suite, *runs, tmp_path / "gate2", formats=["json"], trust=TrustPolicy())
    assert not (tmp_path / "gate2").exists()
    assert "HARNESS_DATA_ROOT" not in os.environ


def test_data_prepare_checks_contamination_against_a_suite_inside_the_callers_data_root(tmp_path: Path) -> None:
    from harness.data.prepare import PrepareConfig, prepare_data

    write_jsonl((tmp_path / "elsewhere").mkdir() or tmp_path / "elsewhere" / "cases.jsonl", ROWS)
    suite = suite_at(tmp_path / "proj", data="../elsewhere")
    raw = write_jsonl(tmp_path / "raw.jsonl", [{"input": "something else entirely here", "output": "x"}])
    common = {"input": raw, "out_dir": tmp_path / "out", "tokenizer": "estimate", "validation_fraction": 0,
              "suites": [suite]}
    res = prepare_data(PrepareConfig(**common, trust=TrustPolicy(data_root=tmp_path)))
    assert res.report["counts"]["train"] == 1 and "trust" not in res.report["config"]
    with pytest.raises(InputProblems, match="is outside the project root"):
        prepare_data(PrepareConfig(**common, trust=TrustPolicy()))


def test_the_openai_trainer_sends_the_key_where_its_configs_policy_allows() -> None:
    from harness.core.errors import HarnessError
    from harness.train.openai import _api_key

    spec = ModelSpec.parse("openai:gpt-4o-mini-2024-07-18?base_url=https://llm.example.org/v1")
    assert _api_key(spec, TrustPolicy(frozenset({"llm.example.org"}))) == REAL
    with pytest.raises(HarnessError, match="will not send"):
        _api_key(spec, TrustPolicy())


def test_training_workers_get_the_policy_in_their_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The one place a policy travels through the environment: a child process's, from TrustPolicy.env();
    a stale HARNESS_DATA_ROOT of the parent's does not leak past a policy without one."""
    from harness.train import launch
    from harness.train.base import TrainConfig, TrainingFailed

    monkeypatch.setenv("HARNESS_DATA_ROOT", str(tmp_path / "stale"))
    seen: dict[str, str] = {}
    monkeypatch.setattr(launch, "launch_command", lambda *a: ["worker"])
    monkeypatch.setattr(launch.subprocess, "call", lambda cmd, env: seen.update(env) or 1)
    cfg = TrainConfig(train_file=tmp_path / "t.jsonl", out_dir=tmp_path / "o", trust=TrustPolicy(frozenset({"b.example", "a.example"})))
    with pytest.raises(TrainingFailed):
        launch.train_in_workers(cfg, 2, None)
    assert seen["HARNESS_KEY_HOSTS"] == "a.example,b.example" and "HARNESS_DATA_ROOT" not in seen
    assert "trust" not in (tmp_path / "o" / "launch" / "config.json").read_text()
    assert os.environ["HARNESS_DATA_ROOT"] == str(tmp_path / "stale")  # the parent's own is left alone


def test_no_library_code_writes_the_trust_variables_into_os_environ() -> None:
    """The policy is a value passed down; only a child process's env dict (harness.train.launch) states it."""
    import ast

    import harness

    names = {"HARNESS_KEY_HOSTS", "HARNESS_DATA_ROOT", "HOSTS_ENV", "DATA_ROOT_ENV"}
    bad = []
    for path in sorted(Path(harness.__file__).parent.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            text = ast.unparse(node) if isinstance(node, (ast.Assign, ast.AugAssign, ast.Call, ast.Delete)) else ""
            environ_write = ("os.environ[" in text and isinstance(node, (ast.Assign, ast.AugAssign))) or any(
                f"{o}(" in text for o in ("os.environ.update", "os.environ.setdefault", "os.putenv", "os.environ.pop"))
            if environ_write and (any(n in text for n in names) or ".env()" in text or "trust" in text):
                bad.append(f"{path.relative_to(Path(harness.__file__).parent.parent)}:{node.lineno}: {text[:80]}")
        if "env=True" in path.read_text(encoding="utf-8") and "with_trust" in path.read_text(encoding="utf-8"):
            bad.append(f"{path}: with_trust(..., env=True)")
    assert bad == []
