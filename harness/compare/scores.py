"""Each run's view of one score over the aligned examples: per-example values, or a corpus statistic
built from per-example predictions (macro-F1 and the like) for the bootstrap."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from harness.compare.align import Aligned
from harness.stats.bootstrap import Statistic, evaluate, mean_of


@dataclass
class ScoreView:
    """values[i] for example-level scores (None: not scored); ``stat``, the score as a bootstrap
    statistic (harness.stats.bootstrap), or None when a corpus score cannot be rebuilt (``why`` says why)."""

    values: list[float | None] | None
    stat: Statistic | None
    why: str = ""


def example_view(aligned: Aligned, run: int, score: str) -> ScoreView:
    """From the aligned score column (no per-example dicts: a 100,000-example run stays columnar)."""
    col = aligned.score_column(run, score)
    values = [None if math.isnan(v) else v for v in col.tolist()]
    return ScoreView(values, mean_of(values))


def corpus_view(aligned: Aligned, run: int, score: str, entry: dict[str, Any]) -> ScoreView:
    """Rebuild the metric from the run's recorded suite and let it compute the score on any subset."""
    from harness.core.types import Failure, Item
    from harness.metrics.base import build_metric
    from harness.suite.schema import Suite

    summary = aligned.runs[run].summary
    try:
        spec = Suite.model_validate(summary["suite"]["spec"])
        entries = [m for m in spec.metrics if m.name == entry.get("metric")]
        if not entries:
            return ScoreView(None, None, f"metric {entry.get('metric')!r} is not in the run's suite")
        metric = build_metric(entries[0].name, entries[0].params())
        rows = aligned.rows[run]
        items = [Item(id=r["id"], output=r.get("output"), reference=r.get("reference"), input=r.get("input"),
                      category=r.get("category"), error=r.get("error")) for r in rows]
        per_example = [{k: (Failure(r.get("score_errors", {}).get(k, "not scored")) if v is None else v)
                        for k, v in r.get("scores", {}).items()} for r in rows]
        stat = metric.corpus_statistic(items, per_example, score)
        evaluate(stat, len(items))  # fail here, not on the thousandth resample
    except Exception as e:  # noqa: BLE001 - a metric that cannot be rebuilt is reported, not fatal
        return ScoreView(None, None, f"cannot recompute {score} per resample: {type(e).__name__}: {e}")
    return ScoreView(None, stat)


def score_view(aligned: Aligned, run: int, score: str, entry: dict[str, Any]) -> ScoreView:
    return corpus_view(aligned, run, score, entry) if entry.get("level") == "corpus" else example_view(aligned, run, score)
