"""Every paired difference of a comparison, bootstrapped together: one pass over the resamples of all
aligned examples for every score and run, and one pass per category over that category's examples
(resampled within the category, as a category's own comparison would be)."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.compare.paired import (
    Pair,
    PairedDelta,
    corpus_pair,
    mean_pair,
    paired_deltas,
)
from harness.compare.scores import ScoreView
from harness.stats.bootstrap import restrict

NONE = PairedDelta(float("nan"), float("nan"), float("nan"), 0, "none")


@dataclass
class Deltas:
    """``top[score][r]``: run r against the baseline (None for the baseline, and where the score has
    no statistic to resample); ``categories[score][category][r]`` likewise within each category."""

    top: dict[str, list[PairedDelta | None]] = field(default_factory=dict)
    categories: dict[str, dict[str, list[PairedDelta | None]]] = field(default_factory=dict)


def _category_pair(base: ScoreView, cand: ScoreView, positions: list[int]) -> Pair | None:
    if base.values is not None and cand.values is not None:
        return mean_pair([base.values[i] for i in positions], [cand.values[i] for i in positions])
    if base.stat is not None and cand.stat is not None:
        return corpus_pair(len(positions), restrict(base.stat, positions), restrict(cand.stat, positions))
    return None


def _solve(n: int, wanted: dict[tuple[str, int], Pair | None], resamples: int, seed: int) -> dict[tuple[str, int], PairedDelta | None]:
    keys = [k for k, p in wanted.items() if p is not None]
    got = dict(zip(keys, paired_deltas(n, [wanted[k] for k in keys], resamples, seed), strict=True))  # type: ignore[misc]
    return {k: got.get(k) for k in wanted}


def comparison_deltas(views: dict[str, list[ScoreView]], n: int, groups: dict[str, list[int]], with_categories: set[str],
                      resamples: int, seed: int) -> Deltas:
    """``views[score][run]`` over n aligned examples; ``groups``: category -> positions; categories are
    broken down for the scores in ``with_categories``."""
    out = Deltas()
    wanted: dict[tuple[str, int], Pair | None] = {}
    for name, vs in views.items():
        example_level = all(v.values is not None for v in vs)
        for r in range(1, len(vs)):
            base, cand = vs[0], vs[r]
            if example_level:
                wanted[name, r] = mean_pair(base.values, cand.values)  # type: ignore[arg-type]
            elif base.stat is not None and cand.stat is not None:
                wanted[name, r] = corpus_pair(n, base.stat, cand.stat)
            else:
                wanted[name, r] = None
    solved = _solve(n, wanted, resamples, seed)
    out.top = {name: [None] + [solved[name, r] for r in range(1, len(vs))] for name, vs in views.items()}
    for cat, pos in groups.items():
        wanted = {(name, r): _category_pair(views[name][0], views[name][r], pos)
                  for name in views if name in with_categories for r in range(1, len(views[name]))}  # views' order, not the set's
        solved = _solve(len(pos), wanted, resamples, seed)
        for name in with_categories:
            out.categories.setdefault(name, {})[cat] = [None] + [solved[name, r] or NONE for r in range(1, len(views[name]))]
    return out
