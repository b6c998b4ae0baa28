"""Per-category breakdown: each run's score within a category and the paired difference to the baseline."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.compare.paired import PairedDelta, paired_mean_diff, paired_statistic_diff
from harness.compare.scores import ScoreView
from harness.stats.bootstrap import evaluate, restrict


@dataclass
class CategoryScore:
    category: str
    n: int
    values: list[float]  # per run: the score within the category
    deltas: list[PairedDelta | None] = field(default_factory=list)  # per run vs the baseline (None for the baseline)
    regressions: list[list[str]] = field(default_factory=list)  # per run: regressed example ids in this category


def group_positions(categories: list[str | None]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for i, c in enumerate(categories):
        if c is not None:
            groups.setdefault(str(c), []).append(i)
    return dict(sorted(groups.items()))


def category_breakdown(views: list[ScoreView], categories: list[str | None], regressions: list[list[int]],
                       ids: list[str], resamples: int, seed: int) -> list[CategoryScore]:
    """``regressions[r]``: positions where run r regressed against the baseline (empty for the baseline)."""
    out = []
    for cat, pos in group_positions(categories).items():
        vals = [evaluate(restrict(v.stat, pos), len(pos)) if v.stat else float("nan") for v in views]
        deltas: list[PairedDelta | None] = [None]
        for v in views[1:]:
            base = views[0]
            if base.values is not None and v.values is not None:
                deltas.append(paired_mean_diff([base.values[i] for i in pos], [v.values[i] for i in pos], resamples, seed))
            elif base.stat and v.stat:
                deltas.append(paired_statistic_diff(len(pos), restrict(base.stat, pos), restrict(v.stat, pos), resamples, seed))
            else:
                deltas.append(PairedDelta(float("nan"), float("nan"), float("nan"), 0, "none"))
        in_cat = set(pos)
        regs = [[ids[i] for i in r if i in in_cat] for r in regressions]
        out.append(CategoryScore(cat, len(pos), vals, deltas, regs))
    return out
