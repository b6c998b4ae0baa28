"""A cached rerun does no scoring work already done (harness.store.scores), and prints the same summary."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import pytest
from pydantic import BaseModel, ConfigDict

from harness.cli import main
from harness.core.types import Failure, Item, ScoreValue
from harness.metrics.base import METRICS, Metric, ScoreSpec
from tests.conftest import INTENT_ROWS, write_jsonl
from tests.test_runner import OUTPUTS


class CountingParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    prefix: str = "order"


class CountingMetric(Metric):
    """starts_with: 1 when the output starts with ``prefix``; records every item it scores."""

    Params = CountingParams
    name = "counting_prefix"
    scored: ClassVar[list[str]] = []

    def scores(self) -> list[ScoreSpec]:
        return [ScoreSpec("starts_with", binary=True)]

    def score_batch(self, items: Sequence[Item]) -> list[dict[str, ScoreValue]]:
        CountingMetric.scored.extend(it.id for it in items)
        return [{"starts_with": Failure("no output") if it.output is None
                 else float(it.output.startswith(self.params.prefix))} for it in items]


@pytest.fixture(autouse=True)
def _registered():
    """Registered for these tests only: a metric left in the registry would change the suite schema."""
    METRICS.register("counting_prefix", replace=True)(CountingMetric)
    yield
    METRICS._items.pop("counting_prefix", None)


def _suite(tiny_suite: Path, prefix: str | None = None) -> Path:
    extra = "  - name: counting_prefix\n" + (f"    prefix: {prefix}\n" if prefix else "")
    text = tiny_suite.read_text().replace("  - name: exact_match\n", "  - name: exact_match\n" + extra)
    tiny_suite.write_text(text)
    return tiny_suite


def _run(suite: Path, script: Path, capsys: pytest.CaptureFixture[str]) -> str:
    CountingMetric.scored.clear()
    code = main(["run", str(suite), "--model", f"scripted:{script}", "--reports", str(suite.parent / "reports"),
                 "--no-progress"])
    out = capsys.readouterr().out
    assert code in (0, 3), out
    table = out.split("run directory:")[0]  # the summary table (the folder name differs per run) ...
    return table[table.index("\nmetric"):]  # ... after the header line, which counts cached responses


def test_rerun_scores_nothing_and_prints_the_same_summary(tiny_suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = _suite(tiny_suite)
    script = write_jsonl(tiny_suite.parent / "out.jsonl", OUTPUTS)
    first = _run(suite, script, capsys)
    assert CountingMetric.scored == ["e1", "e2", "e3", "e4"]
    assert "starts_with" in first and "accuracy" in first
    again = _run(suite, script, capsys)
    assert CountingMetric.scored == []
    assert again == first
    db = sqlite3.connect(suite.parent / "reports" / "cache.sqlite")
    # only ours: classification and exact_match score faster than they read back (score_cache = False)
    assert db.execute("SELECT COUNT(DISTINCT metric) FROM scores").fetchone()[0] == 1


def test_a_suite_of_cheap_metrics_writes_no_scores(tiny_suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """exact_match and classification: keying 100,000 items costs more than scoring them; the
    rerun scores them again and opens no scores table."""
    script = write_jsonl(tiny_suite.parent / "out.jsonl", OUTPUTS)
    first = _run(tiny_suite, script, capsys)
    assert _run(tiny_suite, script, capsys) == first
    db = sqlite3.connect(tiny_suite.parent / "reports" / "cache.sqlite")
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "scores" not in tables or db.execute("SELECT COUNT(*) FROM scores").fetchone()[0] == 0


def test_changed_params_or_outputs_rescore(tiny_suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = _suite(tiny_suite)
    script = write_jsonl(tiny_suite.parent / "out.jsonl", OUTPUTS)
    _run(suite, script, capsys)
    suite.write_text(suite.read_text().replace("  - name: counting_prefix\n", "  - name: counting_prefix\n    prefix: I\n"))
    changed = _run(suite, script, capsys)
    assert CountingMetric.scored == ["e1", "e2", "e3", "e4"]  # other params: every example again
    assert "starts_with" in changed
    # one reference changed in the dataset (same prompts, same responses): only that example again
    write_jsonl(suite.parent / "test.jsonl", [dict(INTENT_ROWS[0], intent="refund_request"), *INTENT_ROWS[1:]])
    _run(suite, script, capsys)
    assert CountingMetric.scored == ["e1"]


def test_failures_are_not_cached(tiny_suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = _suite(tiny_suite)
    script = write_jsonl(tiny_suite.parent / "out.jsonl", OUTPUTS[:2] + [{"id": "e3", "error": "boom"}] + OUTPUTS[3:])
    _run(suite, script, capsys)
    _run(suite, script, capsys)
    assert CountingMetric.scored == ["e3"]  # its response failed: nothing cached, retried and rescored


def test_keys_follow_the_model_and_the_item(tiny_suite: Path) -> None:
    from harness.core.types import Response
    from harness.data.examples import load_split
    from harness.evaluate.run import build_requests, to_items
    from harness.evaluate.score_cache import item_keys
    from harness.suite.load import load_suite

    loaded = load_suite(tiny_suite)
    examples = load_split(loaded.suite.dataset, loaded.dataset_dir(), "test", loaded.suite.prompt).examples
    requests = build_requests(loaded, examples)
    items = to_items(examples, requests, [Response("order_status") for _ in examples])
    keys = item_keys({"model": "a"}, requests, items)
    assert len(set(keys)) == len(keys) and keys == item_keys({"model": "a"}, requests, items)
    assert not set(keys) & set(item_keys({"model": "b"}, requests, items))
    items[0].reference = "other"
    assert item_keys({"model": "a"}, requests, items)[1:] == keys[1:] and item_keys({"model": "a"}, requests, items)[0] != keys[0]


def test_a_metric_can_opt_out(tiny_suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = _suite(tiny_suite)
    script = write_jsonl(tiny_suite.parent / "out.jsonl", OUTPUTS)
    _run(suite, script, capsys)
    CountingMetric.score_cache = False  # type: ignore[attr-defined]
    try:
        _run(suite, script, capsys)
        assert CountingMetric.scored == ["e1", "e2", "e3", "e4"]
    finally:
        del CountingMetric.score_cache  # type: ignore[attr-defined]
