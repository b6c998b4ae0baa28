"""--dry-run and --max-cost end to end against the fake OpenAI server on loopback (real SDK).

Prices are set by a --prices file so the figures are whole dollars: fake-model costs $1 per input
and $1 per output token. A request of the suite below is estimated at 7 input tokens (1 word,
ceil(2/4)=1 + 3 per message + 3 priming) and 4 output tokens at most: $11 reserved; the fake
server reports 1 prompt token and 1 completion token ("ok"): $2 spent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from harness.records.rundir import load_run
from harness.records.run import read_run
from fakes.fake_openai import FakeOpenAI
from tests.conftest import echo_suite, write_jsonl

pytestmark = pytest.mark.timeout(180)

N = 30
SUITE = echo_suite("costly")
PRICES = """\
as_of: "2026-12-01"
models:
  fake: {input: 1000000, output: 1000000}
"""


@pytest.fixture(autouse=True)
def _no_real_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "HARNESS_PRICES"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    write_jsonl(tmp_path / "cases.jsonl", [{"id": f"c{i:02d}", "question": f"q{i}", "answer": "ok"} for i in range(N)])
    (tmp_path / "suite.yaml").write_text(SUITE)
    (tmp_path / "prices.yaml").write_text(PRICES)
    return tmp_path / "suite.yaml"


def _args(suite: Path, url: str, *extra: str) -> list[str]:
    tmp = suite.parent
    return ["run", str(suite), "--model", f"openai:fake?base_url={url}&concurrency=4", "--reports", str(tmp / "reports"),
            "--no-progress", "--prices", str(tmp / "prices.yaml"), *extra]


def test_dry_run_sends_nothing_and_prints_the_figures(suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAI() as srv:
        assert main(_args(suite, srv.url, "--dry-run", "--limit", "10")) == 0
        assert srv.count == 0
    out = capsys.readouterr().out
    assert "examples:            10" in out
    assert "requests:            10 (0 cached, 10 to send)" in out
    assert "input tokens:        70 (estimated" in out
    assert "max output tokens:   40" in out
    assert "estimated cost:      $110.00 at most" in out and "as of 2026-12-01" in out
    assert not (suite.parent / "reports").exists()  # no run directory, no cache


def test_dry_run_counts_cached_requests_and_says_no_price(suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAI() as srv:
        assert main(_args(suite, srv.url, "--limit", "4")) == 0
        capsys.readouterr()
        sent = srv.count
        model = f"openai:other?base_url={srv.url}"
        assert main(["run", str(suite), "--model", model, "--reports", str(suite.parent / "reports"), "--dry-run"]) == 0
        assert main(_args(suite, srv.url, "--dry-run", "--limit", "6")) == 0
        assert srv.count == sent == 4
    out = capsys.readouterr().out
    assert "no price for 'other'" in out
    assert "requests:            6 (4 cached, 2 to send)" in out and "estimated cost:      $22.00 at most" in out


def test_the_cap_holds_with_requests_in_flight_and_a_rerun_resumes(suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = suite.parent / "run"
    with FakeOpenAI(latency=0.02) as srv:
        code = main(_args(suite, srv.url, "--max-cost", "40", "--out", str(out_dir)))
        out, err = capsys.readouterr()
        assert code == 3, out + err
        first = srv.count
        summary, rows = load_run(out_dir)
        cost = summary.cost
        done = [r for r in rows if r["output"] == "ok"]
        skipped = [r for r in rows if r["output"] is None]
        # every request sent was answered and paid for; the cap was never passed, in flight included
        assert len(done) == first and 0 < first < N
        assert cost.spent_usd == pytest.approx(2.0 * first) and cost.spent_usd <= 40
        # $11 reserved a request: none is sent unless spent + reserved + 11 <= 40, so at least 15 went out
        assert first >= 15 and srv.max_in_flight <= 4
        assert all(r["attempts"] == 0 and r["error"].startswith("not attempted: cost cap") for r in skipped)
        assert len(skipped) == N - first
        assert "cost cap $40.00 reached: spent $" in err and f"{N - first} request(s) not sent" in err
        assert cost.max_cost_usd == 40 and cost.cap_reached
        assert cost.models["openai:fake"].input_tokens == first

        code = main(_args(suite, srv.url, "--max-cost", "1000", "--out", str(out_dir)))
        out, err = capsys.readouterr()
        assert code == 0, out + err
        assert srv.count == N  # only the examples not sent before
        summary, rows = load_run(out_dir)
        assert all(r["output"] == "ok" for r in rows)
        assert summary.cost.spent_usd == pytest.approx(2.0 * (N - first))
        assert summary.cost.total_usd == pytest.approx(2.0 * N)
        assert "cost: $60.00" in out


def test_a_cap_below_one_request_sends_nothing(suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAI() as srv:
        assert main(_args(suite, srv.url, "--max-cost", "5", "--limit", "3", "--out", str(suite.parent / "r"))) == 3
        assert srv.count == 0
    assert "cost cap $5.00 reached: spent $0.0000; 3 request(s) not sent" in capsys.readouterr().err


JUDGED = SUITE.replace("  - name: exact_match\n", "  - name: exact_match\n  - name: judge_rubric\n    judge: scripted:none\n"
                                                  "    rubric: grounded_answer\n    use_logprobs: false\n")


def test_judge_calls_are_accounted_apart_by_model(suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite.write_text(JUDGED)
    (suite.parent / "prices.yaml").write_text(PRICES + "  grader: {input: 2000000, output: 0}\n")

    def answer(body: dict) -> str:
        return '{"reason": "fine", "pass": true}' if body["model"] == "grader" else "ok"

    with FakeOpenAI(answer=answer) as srv:
        code = main(_args(suite, srv.url, "--limit", "5", "--out", str(suite.parent / "j"),
                          "--judge", f"openai:grader?base_url={srv.url}"))
        out, err = capsys.readouterr()
        assert code == 0, out + err
        judged = [r for r in srv.chat_requests() if r.body["model"] == "grader"]
    summary, _ = load_run(suite.parent / "j")
    models = summary.cost.models
    assert set(models) == {"openai:fake", "openai:grader"}
    assert models["openai:fake"].requests == 5 and models["openai:fake"].cost_usd == pytest.approx(10.0)
    g = models["openai:grader"]
    judge_in = sum(sum(len(str(m["content"]).split()) for m in r.body["messages"]) for r in judged)
    assert g.requests == len(judged) == 5 and g.input_tokens == judge_in
    assert g.cost_usd == pytest.approx(2.0 * judge_in)  # $2 per input token, output free
    assert summary.cost.total_usd == pytest.approx(10.0 + 2.0 * judge_in)


def test_the_html_report_has_a_cost_line_per_run(suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from harness.report.html import cost_line

    with FakeOpenAI() as srv:
        for name in ("a", "b"):
            args = _args(suite, srv.url, "--limit", "3", "--out", str(suite.parent / name))
            assert main(args) == 0
    assert main(["compare", str(suite.parent / "a"), str(suite.parent / "b"), "--out", str(suite.parent / "cmp")]) == 0
    html = (suite.parent / "cmp" / "report.html").read_text()
    assert html.count('class="cost-line"') == 2
    assert "openai:fake: 3 in / 3 out tokens, $6.00" in html  # run a sent all three
    assert "prices as of 2026-12-01" in html
    old = read_run(suite.parent / "a").summary.model_copy(update={"cost": None})  # as a run written before cost accounting
    old.tokens.input, old.tokens.output = 7, 2
    assert cost_line(old) == "7 input / 2 output tokens; cost not recorded"
