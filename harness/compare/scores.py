"""Each run's view of one score over the aligned examples: per-example values, or a corpus statistic
built from per-example predictions (macro-F1 and the like) for the bootstrap."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from harness.compare.align import Aligned
from harness.records.columns import SCORE_PREFIX, score_names
from harness.records.run import MetricEntry
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


def corpus_view(aligned: Aligned, run: int, score: str, entry: MetricEntry) -> ScoreView:
    """Rebuild the metric from the run's recorded suite and let it compute the score on any subset."""
    from harness.core.types import Failure, Item
    from harness.metrics.base import build_metric
    from harness.suite.schema import Suite

    summary = aligned.runs[run].summary
    try:
        spec = Suite.model_validate(summary.suite.spec)
        entries = [m for m in spec.metrics if m.name == entry.metric]
        if not entries:
            return ScoreView(None, None, f"metric {entry.metric!r} is not in the run's suite")
        metric = build_metric(entries[0].name, entries[0].params())
        # From the frame's columns, not per-row dicts (the prompt column alone took 0.9 s a run to
        # turn into Python objects at 100,000 examples, and corpus scores never read it).
        frame = aligned.frames[run]
        n = len(frame)

        def col(name: str) -> list[Any]:
            return frame[name].tolist() if name in frame.columns else [None] * n

        items = [Item(id=i, output=o, reference=r, input=x, category=c, error=e) for i, o, r, x, c, e
                 in zip(col("id"), col("output"), col("reference"), col("input"), col("category"), col("error"), strict=True)]
        names = score_names(frame)
        values = [frame[SCORE_PREFIX + k].tolist() for k in names]
        errors = col("score_errors")
        per_example = [{k: (Failure((errors[i] or {}).get(k, "not scored")) if v[i] != v[i] else v[i])
                        for k, v in zip(names, values, strict=True)} for i in range(n)]
        stat = metric.corpus_statistic(items, per_example, score)
        evaluate(stat, len(items))  # fail here, not on the thousandth resample
    except Exception as e:  # noqa: BLE001 - a metric that cannot be rebuilt is reported, not fatal
        return ScoreView(None, None, f"cannot recompute {score} per resample: {type(e).__name__}: {e}")
    return ScoreView(None, stat)


def score_view(aligned: Aligned, run: int, score: str, entry: MetricEntry) -> ScoreView:
    return corpus_view(aligned, run, score, entry) if entry.level == "corpus" else example_view(aligned, run, score)
