"""The engine under run, judge and baseline: one engine in an already-running event loop, the
circuit breaker's bookkeeping, and what a provider may print of its endpoint."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest

import harness
from harness.store.responses import ResponseCache
from harness.core.settings import GenerationSettings
from harness.core.types import Request, Response
from harness.engine import NOT_ATTEMPTED, Engine
from harness.providers.base import ModelSpec, Provider, build_provider
from harness.providers.retry import Fault
from harness.evaluate.run import RunConfig
from fakes.fake_openai import FakeOpenAI
from tests.conftest import write_jsonl

pytestmark = pytest.mark.timeout(120)

ROWS = [{"id": f"e{i}", "question": f"Q{i}?", "answer": f"A{i}."} for i in range(4)]
SUITE = """\
name: judged
version: 1
dataset:
  splits: {test: test.jsonl}
  fields: {id: id, input: question, reference: answer}
prompt:
  messages:
    - {role: user, content: '{{ question }}'}
generation: {max_tokens: 33}
metrics:
  - name: METRIC
"""


@pytest.fixture(autouse=True)
def _no_real_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def engines(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, str]]:
    """(engine id, provider name) of every Engine.generate call: a spy that calls through."""
    calls: list[tuple[int, str]] = []
    original = Engine.generate

    async def spy(self: Engine, provider: Provider, requests: Any, desc: str = "generate") -> Any:
        calls.append((id(self), provider.spec.name))
        return await original(self, provider, requests, desc)

    monkeypatch.setattr(Engine, "generate", spy)
    return calls


def test_judged_suite_runs_inside_a_running_event_loop(tmp_path: Path, engines: list[tuple[int, str]]) -> None:
    write_jsonl(tmp_path / "test.jsonl", ROWS)
    # a scripted judge keyed by judge request id: grade 5 for e0 and e1, 2 for the others
    verdicts = {f"e{i}#judge0": json.dumps({"reason": "r", "score": 5 if i < 2 else 2}) for i in range(4)}
    (tmp_path / "judge.json").write_text(json.dumps(verdicts))
    (tmp_path / "suite.yaml").write_text(SUITE.replace(
        "METRIC", f"judge_rubric\n    judge: scripted:{tmp_path / 'judge.json'}\n    rubric: coherence\n    use_logprobs: false"))

    async def notebook_cell(url: str) -> harness.RunOutcome:
        asyncio.get_running_loop()  # we are inside a running loop, as in a notebook or a server
        ticks = 0

        async def heartbeat() -> None:  # the loop stays free while the run waits on the network
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.005)

        beat = asyncio.create_task(heartbeat())
        try:
            return await harness.run_suite_async(RunConfig(
                suite=tmp_path / "suite.yaml", model=ModelSpec.parse(f"openai:cand?base_url={url}&concurrency=2"),
                reports_dir=tmp_path / "reports", progress=False, bootstrap_resamples=20))
        finally:
            beat.cancel()
            assert ticks > 3

    with FakeOpenAI(latency=0.02, answer=lambda body: "A fine answer.") as srv:
        outcome = asyncio.run(notebook_cell(srv.url))
        assert len(srv.chat_requests()) == 4
    judge = outcome.summary.metrics["judge"]
    assert judge.mean == pytest.approx(3.5) and judge.n == 4 and judge.n_failed == 0
    assert outcome.endpoint_down is None
    # candidate and judge went through one engine
    assert [name for _, name in engines] == ["cand", str(tmp_path / "judge.json")]
    assert len({eid for eid, _ in engines}) == 1


def test_pairwise_baseline_model_gets_the_suite_settings_without_rereading_the_suite(
        tmp_path: Path, engines: list[tuple[int, str]]) -> None:
    """The candidate, the baseline model and the judge share one server and one engine; the suite
    file is gone by the time scoring starts (deleted while the candidate generates)."""
    write_jsonl(tmp_path / "test.jsonl", ROWS)
    suite = tmp_path / "suite.yaml"

    def answer(body: dict[str, Any]) -> str:
        if body["model"] == "cand":
            suite.unlink(missing_ok=True)
            return "New answer."
        if body["model"] == "base":
            return "Old answer."
        text = body["messages"][-1]["content"]  # the judge: prefers whichever answer is the new one
        a, b = re.search(r"<answer_a>\n(.*?)\n</answer_a>.*?<answer_b>\n(.*?)\n</answer_b>", text, re.DOTALL).groups()
        assert {a, b} == {"New answer.", "Old answer."}
        return json.dumps({"reason": "newer", "winner": "A" if a.startswith("New") else "B"})

    with FakeOpenAI(latency=0.01, answer=answer) as srv:
        suite.write_text(SUITE.replace(
            "METRIC", f"judge_pairwise\n    judge: openai:judge?base_url={srv.url}\n    rubric: coherence\n"
                      f"    use_logprobs: false\n    baseline_model: openai:base?base_url={srv.url}"))
        s = harness.run_suite(RunConfig(suite=suite, model=ModelSpec.parse(f"openai:cand?base_url={srv.url}"),
                                        reports_dir=tmp_path / "reports", progress=False, bootstrap_resamples=20)).summary
        base_requests = [r for r in srv.chat_requests() if r.body["model"] == "base"]
    assert not suite.exists()
    assert s.metrics["pairwise_win"].mean == 1.0 and s.metrics["pairwise_consistency"].mean == 1.0
    assert len(base_requests) == 4 and all(r.body["max_tokens"] == 33 for r in base_requests)
    assert [name for _, name in engines] == ["cand", "base", "judge"] and len({e for e, _ in engines}) == 1


# ---------------------------------------------------------------- the circuit breaker's bookkeeping


class Flaky(Provider):
    """Fails every attempt; ``script`` says which failures are connection errors."""

    def __init__(self, script: list[bool], **spec: Any):
        super().__init__(ModelSpec(provider="scripted", name="flaky", retry_base_s=0.001, **spec))
        self.script, self.sent = script, 0

    def fingerprint(self) -> dict[str, Any]:
        return {"provider": "test-flaky", "instance": id(self)}

    async def complete(self, request: Request) -> Response:
        self.sent += 1
        raise ConnectionRefusedError("refused") if self.script[(self.sent - 1) % len(self.script)] else RuntimeError("500")

    def classify(self, error: Exception) -> Fault:
        if isinstance(error, ConnectionRefusedError):
            return Fault("connection error: refused", retry=True, connection=True)
        return Fault("HTTP 500", retry=True)


def _requests(n: int) -> list[Request]:
    return [Request((("user", f"q{i}"),), GenerationSettings(), f"e{i}") for i in range(n)]


def _generate(provider: Provider, requests: list[Request], cache: ResponseCache | None = None) -> Any:
    async def go() -> Any:
        async with Engine(cache) as engine:
            return await engine.generate(provider, requests), engine.down()

    return asyncio.run(go())


def test_breaker_stops_sending_and_leaves_the_rest_not_attempted(tmp_path: Path) -> None:
    p = Flaky([True], concurrency=1, max_connection_errors=3, max_retries=5)
    cache = ResponseCache(tmp_path / "c.sqlite")
    g, down = _generate(p, _requests(10), cache)
    assert p.sent == 3  # not 10 x 6 attempts
    first, rest = g.responses[0], g.responses[1:]
    assert first.attempts == 3 and first.error.startswith("connection error: refused (after 3 attempts; stopped: endpoint down")
    assert all(r.attempts == 0 and r.error.startswith(NOT_ATTEMPTED) for r in rest)
    assert g.not_attempted == 9 and g.endpoint_down == down[0] == "endpoint down: scripted:flaky (3 consecutive connection errors)"
    assert len(cache) == 0  # nothing failed is cached: a rerun resumes every example


def test_any_reply_resets_the_count() -> None:
    # refused, refused, 500, refused, ...: never three connection errors in a row
    p = Flaky([True, True, False], concurrency=1, max_connection_errors=3, max_retries=2)
    g, down = _generate(p, _requests(5))
    assert p.sent == 15 and g.endpoint_down is None and down == [] and g.not_attempted == 0
    assert all(r.attempts == 3 for r in g.responses)
    off = Flaky([True], concurrency=1, max_connection_errors=0, max_retries=1)  # 0: no breaker
    g, _ = _generate(off, _requests(4))
    assert off.sent == 8 and g.endpoint_down is None


def test_endpoint_names_the_base_url_never_credentials() -> None:
    p = build_provider(ModelSpec(provider="openai", name="m", base_url="http://user:s3cret@127.0.0.1:8080/v1/?token=abc#x"))
    assert p.endpoint() == "http://127.0.0.1:8080/v1"
    assert build_provider(ModelSpec(provider="openai", name="m", base_url="http://[::1]:9/v1")).endpoint() == "http://[::1]:9/v1"


def test_request_keys_in_bulk_are_the_keys_one_at_a_time() -> None:
    """The engine keys a whole generate() at once; the keys must be the ones caches were always
    written with (sha256 of the canonical JSON below), or every cache written before would miss."""
    import hashlib

    from harness.store.responses import request_key as one_key
    from harness.store.responses import request_keys
    from harness.core.hashing import canonical_json
    from harness.core.settings import GenerationSettings
    from harness.core.types import Request

    def request_key(fp: dict, r: Request) -> str:  # the key's definition, written out
        req = {"messages": r.messages, "settings": r.settings.model_dump(mode="json")}
        if fp.get("keyed_by") == "example_id":
            req["example_id"] = r.example_id
        if r.repeat is not None:
            req["repeat"] = r.repeat
        return hashlib.sha256(canonical_json({"model": fp, "request": req}).encode()).hexdigest()

    a, b = GenerationSettings(), GenerationSettings(max_tokens=7, stop=["\n"], temperature=0.5)
    reqs = [Request((("system", "Zürich «x»"), ("user", f"q{i} \"quoted\"")), a if i % 2 else b, f"e{i}",
                    None if i < 3 else i % 2) for i in range(6)]
    for fp in ({"provider": "openai", "name": "m", "base_url": "http://h"},
               {"provider": "scripted", "path": "/x", "keyed_by": "example_id"}):
        assert request_keys(fp, reqs) == [request_key(fp, r) for r in reqs]
        assert [one_key(fp, r) for r in reqs] == [request_key(fp, r) for r in reqs]
    assert len(set(request_keys({"provider": "p"}, reqs))) == 6
