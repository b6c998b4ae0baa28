"""compare: align runs -> per score: each run's mean, paired difference to the baseline (the first
run), McNemar for pass/fail scores, regressions and improvements, per-category breakdown."""

from __future__ import annotations

import math
from collections.abc import Sequence

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.compare.align import Aligned, Run, align, load_runs
from harness.compare.categories import (
    CategoryScore,
    category_breakdown,
    group_positions,
)
from harness.compare.deltas import Deltas, comparison_deltas
from harness.compare.paired import RESAMPLES, SEED, PairedDelta, mcnemar_exact
from harness.compare.scores import ScoreView, score_view
from harness.records.base import FORMAT_VERSION
from harness.records.base import nan_if_none as _nan
from harness.records.comparison import ComparisonRecord
from harness.records.run import MetricEntry
from harness.stats.means import mean_ci

DEFAULT_MARGIN_FRACTION = 0.1  # continuous scores: a drop of 10% of the score's range counts as a regression


def default_margin(binary: bool, value_range: Sequence[float | None]) -> float:
    """Pass/fail scores: any flip counts. Bounded continuous scores: a tenth of the range. Unbounded: any drop."""
    if binary:
        return 0.0
    lo, hi = (list(value_range) or [None, None])[:2]
    return DEFAULT_MARGIN_FRACTION * (hi - lo) if lo is not None and hi is not None else 0.0


def orientation(direction: str) -> int:
    return 1 if direction == "higher" else -1


def flips(base: list[float | None], cand: list[float | None], direction: str, margin: float) -> tuple[list[int], list[int]]:
    """Positions that regressed (worse by more than ``margin``, or scored before and failed now) and improved."""
    sign = orientation(direction)
    reg, imp = [], []
    for i, (a, b) in enumerate(zip(base, cand, strict=True)):
        if a is None:
            continue
        if b is None:
            reg.append(i)
            continue
        change = sign * (b - a)  # > 0: better
        if change < -margin:
            reg.append(i)
        elif change > margin:
            imp.append(i)
    return reg, imp


@dataclass
class RunScore:
    label: str
    mean: float
    ci_low: float
    ci_high: float
    n: int
    n_failed: int


@dataclass
class VsBaseline:
    """One candidate against the baseline on one score."""

    label: str
    delta: PairedDelta
    p_value: float | None = None  # exact McNemar (pass/fail scores)
    discordant: tuple[int, int] | None = None  # (right->wrong, wrong->right)
    margin: float = 0.0
    regressions: list[str] = field(default_factory=list)
    improvements: list[str] = field(default_factory=list)


@dataclass
class ScoreComparison:
    name: str
    metric: str
    direction: str
    level: str
    binary: bool
    range: list[float | None]
    runs: list[RunScore]
    vs_baseline: list[VsBaseline]
    categories: list[CategoryScore]
    advisory_reason: str | None = None
    note: str = ""  # e.g. why a corpus score has no CI
    values: list[list[float | None]] | None = field(default=None, repr=False)  # per run, aligned (example-level)

    def to_dict(self) -> dict[str, Any]:
        """Without ``values`` (asdict would deep-copy every run's per-example list first). NaN
        becomes null in ComparisonRecord."""
        d = asdict(replace(self, values=None))
        d.pop("values")
        return d


@dataclass
class Comparison:
    aligned: Aligned
    scores: dict[str, ScoreComparison]
    resamples: int
    seed: int

    @property
    def runs(self) -> list[Run]:
        return self.aligned.runs

    @property
    def ids(self) -> list[str]:
        return self.aligned.ids

    def record(self) -> ComparisonRecord:
        """The typed, versioned record of this comparison (comparison.json; inside gate.json)."""
        first = self.runs[0].summary
        return ComparisonRecord.model_validate({
            "format_version": FORMAT_VERSION,
            "suite": {k: getattr(first.suite, k) for k in ("name", "version", "sha256", "path")},
            "dataset": {k: getattr(first.dataset, k) for k in ("split", "sha256", "path")},
            "runs": [{"label": r.label, "directory": str(r.directory), "model": r.model} for r in self.runs],
            "baseline": self.runs[0].label,
            "n_examples": len(self.ids),
            "unmatched_examples": self.aligned.unmatched,
            "category_field": self.aligned.category_field,
            "bootstrap": {"resamples": self.resamples, "seed": self.seed, "ci": "95% percentile, paired (same resampled examples for every run)"},
            "scores": {k: v.to_dict() for k, v in self.scores.items()},
        })

    def to_dict(self) -> dict[str, Any]:
        return self.record().model_dump(mode="json")


def _views(aligned: Aligned, name: str) -> list[ScoreView]:
    return [score_view(aligned, r, name, run.summary.metrics[name]) for r, run in enumerate(aligned.runs)]


def _clip(lo: float, hi: float, bounds: Sequence[float | None]) -> tuple[float, float]:
    """As the run's own aggregate does: no CI bound outside the score's range."""
    b_lo, b_hi = (list(bounds) or [None, None])[:2]
    return (lo if b_lo is None or math.isnan(lo) else max(b_lo, lo), hi if b_hi is None or math.isnan(hi) else min(b_hi, hi))


def run_score(aligned: Aligned, r: int, entry: MetricEntry, view: ScoreView, resamples: int = RESAMPLES,
              seed: int = SEED) -> RunScore:
    """Run r's mean and 95% CI of one score over the aligned examples: its summary's figures when the
    run has no other example, else recomputed on the aligned ones (the method of the run's own
    aggregate: Wilson or Student-t over per-example values, a bootstrap for a corpus score)."""
    label = aligned.runs[r].label
    if not aligned.partial(r):
        return RunScore(label, _nan(entry.mean), _nan(entry.ci_low), _nan(entry.ci_high), entry.n, entry.n_failed)
    n = len(aligned.ids)
    if view.values is not None:
        ok = [v for v in view.values if v is not None]
        est = mean_ci(ok, binary=entry.binary)
        lo, hi = _clip(est.lo, est.hi, entry.range)
        return RunScore(label, est.mean, lo, hi, est.n, n - len(ok))
    if view.stat is not None:
        from harness.stats.bootstrap import bootstrap_ci, evaluate

        lo, hi = bootstrap_ci(n, view.stat, resamples=resamples, seed=seed)
        frame = aligned.frames[r]
        n_ok = int(frame["output"].notna().sum()) if "output" in frame.columns else n
        return RunScore(label, evaluate(view.stat, n), lo, hi, n_ok, n - n_ok)
    nan = float("nan")
    return RunScore(label, nan, nan, nan, 0, 0)  # a corpus score that cannot be rebuilt: no figure, not the summary's


def _compare_score(aligned: Aligned, name: str, views: list[ScoreView], deltas: Deltas,
                   resamples: int = RESAMPLES, seed: int = SEED) -> ScoreComparison:
    entries = [r.summary.metrics[name] for r in aligned.runs]
    entry = entries[0]
    runs = [run_score(aligned, r, e, v, resamples, seed) for r, (e, v) in enumerate(zip(entries, views, strict=True))]
    example_level = all(v.values is not None for v in views)
    margin = default_margin(entry.binary, entry.range)
    vs: list[VsBaseline] = []
    reg_positions: list[list[int]] = [[]]
    note = ""
    for r in range(1, len(views)):
        base, cand = views[0], views[r]
        delta = deltas.top[name][r]  # bootstrapped with every other score's, on the same resamples
        if example_level:
            assert base.values is not None and cand.values is not None and delta is not None
            reg, imp = flips(base.values, cand.values, entry.direction, margin)
        elif delta is not None:
            reg, imp = [], []
        else:
            note = base.why or cand.why
            delta = PairedDelta(runs[r].mean - runs[0].mean, float("nan"), float("nan"), 0, "none (summary means only)")
            reg, imp = [], []
        v = VsBaseline(aligned.runs[r].label, delta, margin=margin, regressions=[aligned.ids[i] for i in reg],
                       improvements=[aligned.ids[i] for i in imp])
        if entry.binary and example_level:
            assert base.values is not None and cand.values is not None
            pairs = [(a, b) for a, b in zip(base.values, cand.values, strict=True) if a is not None and b is not None]
            b_ = sum(1 for a, b in pairs if a >= 0.5 > b)
            c_ = sum(1 for a, b in pairs if b >= 0.5 > a)
            v.discordant, v.p_value = (b_, c_), mcnemar_exact(b_, c_)
        vs.append(v)
        reg_positions.append(reg)
    if not example_level and views[0].stat is None:
        cats: list[CategoryScore] = []
    else:
        cats = category_breakdown(views, aligned.categories, reg_positions, aligned.ids, deltas.categories.get(name, {}))
    reason = next((e.advisory_reason for e in entries if e.advisory_reason), None)
    return ScoreComparison(name, entry.metric, entry.direction, entry.level,
                           entry.binary, list(entry.range or [None, None]), runs, vs, cats, reason, note,
                           [v.values for v in views] if example_level else None)  # type: ignore[misc]


def compare_aligned(aligned: Aligned, resamples: int = RESAMPLES, seed: int = SEED) -> Comparison:
    names = [n for n in aligned.runs[0].summary.metrics if all(n in r.summary.metrics for r in aligned.runs[1:])]
    views = {n: _views(aligned, n) for n in names}
    with_categories = {n for n, vs in views.items() if all(v.values is not None for v in vs) or vs[0].stat is not None}
    deltas = comparison_deltas(views, len(aligned.ids), group_positions(aligned.categories), with_categories, resamples, seed)
    return Comparison(aligned, {n: _compare_score(aligned, n, views[n], deltas, resamples, seed) for n in names}, resamples, seed)


def compare_runs(directories: list[Path], category_field: str | None = None, labels: list[str] | None = None,
                 resamples: int = RESAMPLES, seed: int = SEED) -> Comparison:
    """Compare run directories; the first is the baseline."""
    return compare_aligned(align(load_runs([Path(d) for d in directories], labels), category_field), resamples, seed)
