"""Per-category breakdown: each run's score within a category and the paired difference to the baseline."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.compare.paired import PairedDelta
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
                       ids: list[str], deltas: dict[str, list[PairedDelta | None]]) -> list[CategoryScore]:
    """``regressions[r]``: positions where run r regressed against the baseline (empty for the baseline);
    ``deltas[category]``: each run's paired difference to the baseline there (harness.compare.deltas)."""
    out = []
    for cat, pos in group_positions(categories).items():
        vals = [evaluate(restrict(v.stat, pos), len(pos)) if v.stat else float("nan") for v in views]
        in_cat = set(pos)
        regs = [[ids[i] for i in r if i in in_cat] for r in regressions]
        out.append(CategoryScore(cat, len(pos), vals, deltas[cat], regs))
    return out
