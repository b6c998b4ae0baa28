"""Log-likelihood scoring through the openai provider's /v1/completions path, on loopback against a
fake vLLM-shaped server (tests/fakes/fake_completions.py: SDK-validated bodies and replies, a toy
model whose numbers are worked out by hand); chat-only endpoints and providers refused in one line;
a rerun answered from the cache."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.core.errors import CannotScore
from harness.evaluate.run import RunConfig, run_suite
from harness.providers.base import ModelSpec
from tests.fakes.fake_completions import FakeCompletions, toy_logprob, toy_tokens
from tests.loglik_fixtures import MC_ROWS, TEXT_ROWS, write_mc, write_rolling


@pytest.fixture(autouse=True)
def _no_real_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def srv() -> Iterator[FakeCompletions]:
    with FakeCompletions() as s:
        yield s


def run(suite: Path, url: str, tmp: Path, name: str = "run"):
    spec = ModelSpec.parse(f"openai:toy?base_url={url}&retry_base_s=0.01&max_retries=1")
    return run_suite(RunConfig(suite=suite, model=spec, reports_dir=tmp / "reports", out=tmp / name,
                               cache=tmp / "cache.sqlite", progress=False, bootstrap_resamples=200))


def toy_choice_logprob(context: str, choice: str) -> float:
    """The toy model's continuation log-probability: the tokens at or after the context's end."""
    cont = " " + choice
    return sum(toy_logprob(t) for t in toy_tokens(cont))


def rows(d: Path) -> list[dict]:
    return [json.loads(line) for line in (d / "results.jsonl").read_text().splitlines()]


def test_multiple_choice_on_completions_then_cache(srv: FakeCompletions, tmp_path: Path) -> None:
    suite = write_mc(tmp_path)
    out = run(suite, srv.url, tmp_path)
    assert out.n_errors == 0
    bodies = [c.body for c in srv.completion_requests()]
    assert len(bodies) == sum(len(r["choices"]) for r in MC_ROWS)  # one request per choice (llama.cpp takes no lists)
    assert all(b["echo"] is True and b["logprobs"] == 1 and b["max_tokens"] == 1 for b in bodies)
    assert {"Question: What is the capital of France?\nAnswer: " + c for c in MC_ROWS[0]["choices"]} <= \
        {b["prompt"] for b in bodies}
    got = rows(out.directory)
    for row, src in zip(got, MC_ROWS, strict=True):
        want = [toy_choice_logprob("", c) for c in src["choices"]]
        assert [e["logprob"] for e in row["loglik"]] == pytest.approx(want)
    # the toy model prefers the shortest choice: acc is 1 where the right one is the shortest
    expected_acc = [1.0, 0.0, 0.0]  # q1 Paris (shortest ties go to the first), q2 blue vs red (red shorter), q3 six/ten
    assert [r["scores"]["acc"] for r in got] == expected_acc
    assert got[1]["reference"] == "blue"  # a target given as text
    from harness.records.rundir import load_run

    _, read_back = load_run(out.directory)  # the per-choice figures survive the typed reader
    assert [e["logprob"] for e in read_back[0]["loglik"]] == [e["logprob"] for e in got[0]["loglik"]]
    # acc_norm: -0.5 * (len + 1) / len is least negative for the longest choice
    assert [r["scores"]["acc_norm"] for r in got] == [0.0, 0.0, 1.0]

    before = len(srv.completion_requests())
    again = run(suite, srv.url, tmp_path, "rerun")
    assert len(srv.completion_requests()) == before  # the second run sends nothing
    assert all(r["cached"] for r in rows(again.directory))
    assert again.summary.metrics["acc"].mean == out.summary.metrics["acc"].mean


def test_rolling_on_completions(srv: FakeCompletions, tmp_path: Path) -> None:
    out = run(write_rolling(tmp_path), srv.url, tmp_path)
    assert out.n_errors == 0
    lls = [sum(toy_logprob(t) for t in toy_tokens(r["text"])) for r in TEXT_ROWS]
    words = [len(r["text"].split()) for r in TEXT_ROWS]
    nbytes = [len(r["text"].encode()) for r in TEXT_ROWS]
    m = out.summary.metrics
    assert m["word_perplexity"].mean == pytest.approx(math.exp(-sum(lls) / sum(words)))
    assert m["byte_perplexity"].mean == pytest.approx(math.exp(-sum(lls) / sum(nbytes)))
    assert m["bits_per_byte"].mean == pytest.approx(-sum(lls) / sum(nbytes) / math.log(2))
    assert m["word_perplexity_doc"].mean == pytest.approx(sum(math.exp(-ll / w) for ll, w in zip(lls, words)) / 2)


def test_chat_only_endpoint_refused_in_one_line(tmp_path: Path) -> None:
    with FakeCompletions(chat_only=True) as s:
        with pytest.raises(CannotScore) as e:
            run(write_mc(tmp_path), s.url, tmp_path)
    msg = str(e.value)
    assert "\n" not in msg
    assert "cannot do multiple_choice log-likelihood" in msg and "HTTP 404" in msg and "`choice` metric" in msg


def test_server_refusing_echo_refused_in_one_line(tmp_path: Path) -> None:
    with FakeCompletions(refuse_echo=True) as s:
        with pytest.raises(CannotScore, match=r"refused echo with logprobs .*`choice` metric"):
            run(write_mc(tmp_path), s.url, tmp_path)
        assert len(s.completion_requests()) <= sum(len(r["choices"]) for r in MC_ROWS)  # those in flight, none retried


def test_chat_only_provider_refused_before_sending(tmp_path: Path) -> None:
    outputs = tmp_path / "out.jsonl"
    outputs.write_text("".join(json.dumps({"id": r["id"], "output": "Paris"}) + "\n" for r in MC_ROWS))
    spec = ModelSpec.parse(f"scripted:{outputs}")
    with pytest.raises(CannotScore) as e:
        run_suite(RunConfig(suite=write_mc(tmp_path), model=spec, reports_dir=tmp_path / "r", out=tmp_path / "o",
                            cache=tmp_path / "c.sqlite", progress=False))
    assert str(e.value) == (
        f"model scripted:{outputs} (provider scripted) cannot do multiple_choice log-likelihood scoring (acc, acc_norm): "
        "it only generates from chat messages; score by generation instead (prompt for the answer's letter and use the "
        "`choice` metric) or use the local provider or an OpenAI-compatible completions server (openai:NAME?base_url=...)")
