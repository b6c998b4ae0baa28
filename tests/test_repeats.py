"""generation.repeats: N samples per example, reduced per example, flakiness, clustered CIs (hand-computed)."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pytest

from harness.store.responses import request_key
from harness.cli import main
from harness.core.hashing import canonical_json
from harness.core.settings import GenerationSettings
from harness.core.types import Request
from harness.providers.base import ModelSpec
from harness.evaluate.repeats import flakiness, reduce_values
from harness.records.rundir import load_run
from harness.records.run import read_run
from harness.evaluate.run import RunConfig, run_suite
from harness.suite.schema import SuiteGeneration
from tests.conftest import write_jsonl

# A sampled model made predictable: repeat r of an example answers outputs[r].
SAMPLED = [
    {"id": "e1", "outputs": ["order_status", "order_status", "order_status"]},  # 1 1 1: steady right
    {"id": "e2", "outputs": ["cancel_order", "refund_request", "cancel_order"]},  # 1 0 1
    {"id": "e3", "outputs": ["order_status", "order_status", "refund_request"]},  # 0 0 1
    {"id": "e4", "outputs": ["order_status", "refund_request", "refund_request"]},  # 1 0 0
]


def _with_repeats(suite: Path, extra: str) -> Path:
    suite.write_text(suite.read_text().replace("  max_tokens: 8\n", "  max_tokens: 8\n" + extra), encoding="utf-8")
    return suite


def _run(suite: Path, script: Path, **kw):
    cfg = RunConfig(suite=suite, model=ModelSpec.parse(f"scripted:{script}"), reports_dir=suite.parent / "reports",
                    progress=False, **kw)
    return run_suite(cfg)


def test_reducers_and_flakiness_by_hand() -> None:
    assert reduce_values([1, 0, 1], "mean") == pytest.approx(2 / 3)
    assert reduce_values([1, 0, 1], "majority") == 1
    assert reduce_values([1, 0], "majority") == 0  # a tie goes to the worse value
    assert reduce_values([1, 0], "majority", higher_is_better=False) == 1
    assert reduce_values([1, 0, 1], "all_pass") == 0
    assert reduce_values([1, 0, 0], "any_pass") == 1
    assert reduce_values([0.2, 0.5], "all_pass", higher_is_better=False) == 0.5
    assert flakiness([1, 1, 1]) == 0
    assert flakiness([1, 0, 1]) == pytest.approx(1 / 3)
    assert flakiness([0.1, 0.2, 0.3, 0.1]) == pytest.approx(0.5)


def test_mean_reducer_run_shows_flaky_examples_and_clustered_ci(tiny_suite: Path) -> None:
    suite = _with_repeats(tiny_suite, "  repeats: 3\n")
    script = write_jsonl(suite.parent / "sampled.jsonl", SAMPLED)
    out = _run(suite, script)
    acc = out.summary.metrics["accuracy"]
    # per-example means 1, 2/3, 1/3, 1/3 -> mean 7/12; t CI over the 4 examples (not 12 samples):
    # sd = sqrt(0.30556/3) = 0.319142, se = 0.159571, t(3) = 3.182446 -> half 0.507825
    assert acc.mean == pytest.approx(7 / 12)
    assert acc.n == 4
    assert acc.ci_low == pytest.approx(7 / 12 - 0.507825, abs=1e-5)
    assert acc.ci_high == 1.0  # clipped to the score's range
    assert "clustered by example" in acc.ci_method and acc.ci_method.startswith("t")
    assert acc.binary is False  # a share of passing repeats
    assert acc.flaky_share == pytest.approx(0.75) and acc.n_flaky == 3
    assert out.summary.generation["repeats"] == 3
    _, rows = load_run(out.directory)
    assert [r["flaky"] for r in rows] == [False, True, True, True]
    assert rows[1]["flakiness"]["accuracy"] == pytest.approx(1 / 3)
    assert [x["seed"] for x in rows[1]["repeats"]] == [0, 1, 2]
    assert [x["output"] for x in rows[1]["repeats"]] == SAMPLED[1]["outputs"]
    assert [x["scores"]["accuracy"] for x in rows[2]["repeats"]] == [0.0, 0.0, 1.0]
    with open(out.directory / "results.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [t["flaky"] for t in table] == ["False", "True", "True", "True"]
    assert float(table[3]["accuracy_flakiness"]) == pytest.approx(1 / 3)
    assert out.summary.counts.examples == 4


def test_majority_reducer_keeps_wilson_and_rerun_is_cached(tiny_suite: Path) -> None:
    suite = _with_repeats(tiny_suite, "  repeats: 3\n  reducer: majority\n")
    script = write_jsonl(suite.parent / "sampled.jsonl", SAMPLED)
    out = _run(suite, script)
    acc = out.summary.metrics["accuracy"]
    # majority: 1, 1, 0, 0 -> 2/4; Wilson(2, 4) = [0.150036, 0.849964]
    assert acc.mean == 0.5 and acc.binary is True
    assert acc.ci_low == pytest.approx(0.150036, abs=1e-5) and acc.ci_high == pytest.approx(0.849964, abs=1e-5)
    assert acc.ci_method.startswith("wilson, clustered by example")
    assert out.summary.counts.generated == 4 and out.summary.counts.cached == 0
    again = _run(suite, script)
    assert again.summary.counts.cached == 4  # all 12 responses came back from the cache
    assert again.summary.metrics["accuracy"].mean == 0.5


def test_cli_repeats_overrides_the_suite(tiny_suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = write_jsonl(tiny_suite.parent / "sampled.jsonl", SAMPLED)
    out = tiny_suite.parent / "run"
    code = main(["run", str(tiny_suite), "--model", f"scripted:{script}", "--repeats", "3", "--out", str(out),
                 "--reports", str(tiny_suite.parent / "reports"), "--no-progress"])
    assert code == 0
    summary = read_run(out).summary
    assert summary.metrics["accuracy"].mean == pytest.approx(7 / 12)
    assert summary.generation["repeats"] == 3
    printed = capsys.readouterr().out
    assert "flaky" in printed and "3 (75%)" in printed


def test_unset_repeats_leave_dump_and_cache_keys_unchanged() -> None:
    g = SuiteGeneration()
    assert "repeats" not in g.model_dump() and "reducer" not in g.model_dump()
    assert SuiteGeneration(repeats=3).model_dump()["repeats"] == 3
    fp = {"provider": "openai", "name": "m"}
    req = Request((("user", "hi"),), GenerationSettings(), "e1")
    # the key as it was before repeats existed: the model and the request's messages and settings
    old = hashlib.sha256(canonical_json({"model": fp, "request": {"messages": req.messages,
                                                                   "settings": GenerationSettings().model_dump(mode="json")}}).encode()).hexdigest()
    assert request_key(fp, req) == old
    keys = {request_key(fp, Request(req.messages, req.settings, "e1", repeat=r)) for r in range(3)}
    assert len(keys) == 3 and old not in keys


def test_unset_flaky_rule_stays_out_of_the_gate_dump() -> None:
    from harness.suite.schema import Gate

    assert "max_flaky_share" not in Gate(metric="accuracy", min=0.5).model_dump()
    assert Gate(metric="accuracy", max_flaky_share=0.1).rule == "max_flaky_share"
