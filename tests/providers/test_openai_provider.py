"""The openai provider against the scripted FakeOpenAI server on loopback: replies, retries,
timeouts, concurrency, and whole `harness run`s."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cli import main
from harness.core.errors import HarnessError
from harness.core.hashing import canonical_json
from harness.core.settings import GenerationSettings
from harness.core.types import Request, Response
from harness.engine import Engine
from harness.providers.base import ModelSpec, build_provider
from harness.records.rundir import load_run
from fakes.fake_openai import FakeOpenAI
from tests.conftest import ROOT, echo_suite, write_jsonl

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def srv() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(latency=0.01, answer=lambda body: "order_status") as s:
        yield s


@pytest.fixture(autouse=True)
def _no_real_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def spec(srv: FakeOpenAI, query: str = "") -> ModelSpec:
    return ModelSpec.parse(f"openai:fake?base_url={srv.url}&retry_base_s=0.01" + (f"&{query}" if query else ""))


def ask(spec_: ModelSpec, text: str = "where is my parcel", **settings) -> Response:
    """One request through the engine (no cache): the provider's attempts and the engine's retries."""

    async def go() -> Response:
        async with Engine() as engine:
            g = await engine.generate(build_provider(spec_), [Request((("user", text),), GenerationSettings(**settings), "x")])
        return g.responses[0]

    return asyncio.run(go())


# ---------------------------------------------------------------- spec, key, fingerprint


def test_fine_tuned_id_survives_parsing_and_key_is_never_fingerprinted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_KEY", "sk-secret-123")
    s = ModelSpec.parse("openai:ft:gpt-4o-mini-2024-07-18:acme:intent::AbC123?api_key_env=MY_KEY&concurrency=64")
    assert s.provider == "openai" and s.name == "ft:gpt-4o-mini-2024-07-18:acme:intent::AbC123"
    assert s.concurrency == 64 and s.params.api_key_env == "MY_KEY"
    p = build_provider(s)
    assert p.fingerprint() == {"provider": "openai", "name": s.name, "base_url": "https://api.openai.com/v1"}
    assert "sk-secret" not in canonical_json(p.fingerprint()) + s.model_dump_json() + repr(vars(p))
    url = ModelSpec.parse("openai:m?base_url=http://127.0.0.1:8080/v1/&concurrency=3")
    assert url.params.base_url == "http://127.0.0.1:8080/v1/" and build_provider(url).fingerprint()["base_url"] == "http://127.0.0.1:8080/v1"


def test_missing_key_and_name_are_clear_errors() -> None:
    with pytest.raises(HarnessError, match="no API key: set OPENAI_API_KEY, or give base_url"):
        build_provider(ModelSpec.parse("openai:gpt-4o-mini"))
    with pytest.raises(HarnessError, match="name the model"):
        build_provider(ModelSpec.parse("openai?base_url=http://127.0.0.1:9/v1"))
    # a server named by base_url needs no key: a placeholder is sent
    assert build_provider(ModelSpec.parse("openai:m?base_url=http://127.0.0.1:9/v1"))._api_key() == "unused"


# ---------------------------------------------------------------- one request


def test_reply_tokens_settings_and_logprobs(srv: FakeOpenAI) -> None:
    r = ask(spec(srv), max_tokens=7, stop=["\n"], seed=3, temperature=0.5, logprobs=True, top_logprobs=2)
    assert (r.text, r.error, r.attempts, r.finish_reason) == ("order_status", None, 1, "stop")
    assert r.input_tokens == 4 and r.output_tokens == 1 and r.latency_s > 0
    assert r.logprobs == [{"token": "order_status", "logprob": -0.05,
                           "top": [{"token": "order_status", "logprob": -0.05}, {"token": "alt1", "logprob": -1.05}]}]
    (got,) = srv.chat_requests()
    body = got.body
    assert body["model"] == "fake" and body["messages"] == [{"role": "user", "content": "where is my parcel"}]
    assert (body["max_tokens"], body["stop"], body["seed"], body["temperature"]) == (7, ["\n"], 3, 0.5)
    assert body["logprobs"] is True and body["top_logprobs"] == 2
    assert got.headers["authorization"] == "Bearer unused"
    # no logprobs asked: none sent, none returned
    r2 = ask(spec(srv))
    assert r2.logprobs is None and "logprobs" not in srv.chat_requests()[-1].body


def test_429_waits_for_retry_after(srv: FakeOpenAI) -> None:
    srv.script({"status": 429, "retry_after": "1"}, {"status": 429, "retry_after_ms": "300"})
    r = ask(spec(srv))
    assert r.text == "order_status" and r.attempts == 3
    t = [q.t for q in srv.chat_requests()]
    assert len(t) == 3
    # the backoff base is 10 ms: the waits come from the headers
    assert 0.95 <= t[1] - t[0] < 1.6, t
    assert 0.28 <= t[2] - t[1] < 0.8, t


@pytest.mark.parametrize("fault", [{"status": 500}, {"status": 503}, {"malformed": True}, {"missing_choices": True},
                                   {"drop": True}], ids=["500", "503", "malformed-json", "no-choices", "dropped"])
def test_retryable_fault_then_success(srv: FakeOpenAI, fault: dict) -> None:
    srv.script(fault)
    r = ask(spec(srv))
    assert (r.text, r.error, r.attempts) == ("order_status", None, 2)
    assert len(srv.chat_requests()) == 2


def test_slow_reply_times_out_then_succeeds(srv: FakeOpenAI) -> None:
    srv.script({"delay": 3.0})
    t0 = time.perf_counter()
    r = ask(spec(srv, "timeout_s=0.3"))
    assert (r.text, r.attempts) == ("order_status", 2)
    assert time.perf_counter() - t0 < 2.0
    srv.script({"delay": 3.0}, {"delay": 3.0})
    r = ask(spec(srv, "timeout_s=0.3&max_retries=1"))
    assert r.text is None and r.error == "timeout: no reply within 0.3 s (after 2 attempts)"


def test_client_error_fails_at_once_and_exhausted_retries_are_recorded(srv: FakeOpenAI) -> None:
    srv.script({"status": 400})
    r = ask(spec(srv))
    assert r.text is None and r.attempts == 1 and len(srv.chat_requests()) == 1
    assert r.error == "HTTP 400 BadRequestError: scripted 400 (after 1 attempt)"
    srv.reset()
    srv.script(*[{"status": 500}] * 3)
    r = ask(spec(srv, "max_retries=2"))
    assert r.text is None and r.attempts == 3 and len(srv.chat_requests()) == 3
    assert r.error == "HTTP 500 InternalServerError: scripted 500 (after 3 attempts)"


def test_connection_refused_is_retried_then_recorded() -> None:
    with FakeOpenAI() as s:
        url = s.url
    r = ask(ModelSpec.parse(f"openai:m?base_url={url}&retry_base_s=0.01&max_retries=2"))
    assert r.attempts == 3 and r.error.startswith("connection error") and "after 3 attempts" in r.error


def test_concurrency_is_bounded(srv: FakeOpenAI) -> None:
    srv.latency = 0.05
    p = build_provider(spec(srv, "concurrency=5"))
    reqs = [Request((("user", f"q{i}"),), GenerationSettings(), f"e{i}") for i in range(40)]

    async def go() -> list[Response]:
        async with Engine() as engine:
            return (await engine.generate(p, reqs)).responses

    out = asyncio.run(go())
    assert len(out) == 40 and all(r.text == "order_status" for r in out)
    assert sorted(q.body["messages"][0]["content"] for q in srv.chat_requests()) == sorted(f"q{i}" for i in range(40))
    assert srv.max_in_flight == 5


# ---------------------------------------------------------------- whole runs


def _run_dir(out: str) -> Path:
    return Path(out.split("run directory: ")[1].split()[0])


def test_exhausted_retries_fail_one_example_and_exit_3(srv: FakeOpenAI, tiny_suite: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    srv.script(*[{"status": 503}] * 3)  # concurrency 1: the first example gets all three
    model = f"openai:fake?base_url={srv.url}&retry_base_s=0.01&max_retries=2&concurrency=1"
    code = main(["run", str(tiny_suite), "--model", model, "--reports", str(tiny_suite.parent / "reports"), "--no-progress"])
    assert code == 3
    out = capsys.readouterr().out
    assert "examples=4 (cached 0, errors 1)" in out
    summary, rows = load_run(_run_dir(out))
    assert rows[0]["output"] is None and rows[0]["error"] == "HTTP 503 InternalServerError: scripted 503 (after 3 attempts)"
    assert [r["output"] for r in rows[1:]] == ["order_status"] * 3
    assert summary.model.fingerprint == {"provider": "openai", "name": "fake", "base_url": srv.url}
    # the rerun asks only for the failed example
    srv.reset()
    assert main(["run", str(tiny_suite), "--model", model, "--reports", str(tiny_suite.parent / "reports"), "--no-progress"]) == 0
    assert len(srv.chat_requests()) == 1


def test_support_intent_run_writes_a_run_directory(srv: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(ROOT / "suites" / "support_intent.yaml"), "--model", f"openai:fake?base_url={srv.url}&concurrency=8",
                 "--limit", "20", "--reports", str(tmp_path), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "examples=20 (cached 0, errors 0)" in out
    summary, rows = load_run(_run_dir(out))
    assert len(rows) == 20 and all(r["output"] == "order_status" for r in rows)
    assert summary.metrics["accuracy"].n == 20
    assert len(srv.chat_requests()) == 20
    assert srv.chat_requests()[0].body["messages"][0]["role"] == "system"


LIGHT_SUITE = echo_suite("light")

PROBE = """\
import sys
from harness.cli import main
code = main(sys.argv[1:])
heavy = sorted(m for m in ("torch", "transformers", "pandas", "sklearn", "numpy") if m in sys.modules)
print("HEAVY", ",".join(heavy))
sys.exit(code)
"""


def test_api_run_imports_no_heavy_libraries(srv: FakeOpenAI, tmp_path: Path) -> None:
    write_jsonl(tmp_path / "cases.jsonl", [{"id": i, "question": f"q{i}", "answer": "order_status"} for i in range(5)])
    (tmp_path / "suite.yaml").write_text(LIGHT_SUITE)
    out = subprocess.run([sys.executable, "-c", PROBE, "run", str(tmp_path / "suite.yaml"), "--model",
                          f"openai:fake?base_url={srv.url}", "--reports", str(tmp_path / "r"), "--no-progress"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "HEAVY \n" in out.stdout, out.stdout
    assert json.loads((next((tmp_path / "r" / "runs").iterdir()) / "summary.json").read_text())["metrics"]["exact_match"]["mean"] == 1.0


def test_sdk_default_transport_gets_the_same_retries(srv: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    """HARNESS_HTTP_TRANSPORT=httpx: the SDK's own transport; https endpoints always use it."""
    monkeypatch.setenv("HARNESS_HTTP_TRANSPORT", "httpx")
    srv.script({"status": 429, "retry_after_ms": "100"}, {"malformed": True}, {"drop": True}, {"delay": 2.0})
    r = ask(spec(srv, "timeout_s=0.5"))
    assert (r.text, r.attempts) == ("order_status", 5)
    p = build_provider(spec(srv))
    client = p.client()
    assert type(client._client._transport).__name__ != "StreamsTransport"
    asyncio.run(p.aclose())
