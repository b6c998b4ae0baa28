"""Paired statistics for two runs on the same examples: a paired-bootstrap CI of the difference
(harness.stats.bootstrap; every difference of a comparison from one pass over the same resamples)
and the exact McNemar test for pass/fail scores."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from harness.stats.bootstrap import (
    RESAMPLES,
    SEED,
    Statistic,
    Summed,
    evaluate,
    percentile_ci,
    replicates,
)

__all__ = ["RESAMPLES", "SEED", "Pair", "PairedDelta", "corpus_pair", "mcnemar_exact", "mean_pair", "paired_deltas",
           "paired_mean_diff", "paired_statistic_diff"]


@dataclass(frozen=True)
class PairedDelta:
    """candidate - baseline, raw units (not direction-adjusted), with a 95% percentile CI."""

    delta: float
    ci_low: float
    ci_high: float
    n: int  # paired examples the difference is over
    method: str


@dataclass(frozen=True)
class Pair:
    """One paired difference to bootstrap: ``stats`` are (difference,) for a mean of per-example
    differences, or (baseline, candidate) for a corpus score; ``delta`` and ``n`` on all examples."""

    stats: tuple[Statistic, ...]
    delta: float
    n: int
    method: str


def mean_pair(a: Sequence[float | None], b: Sequence[float | None]) -> Pair:
    """The mean of b - a over the examples scored in both runs (a ratio of sums over all positions, so
    it shares the comparison's resamples; a resample's mean is over its examples scored in both)."""
    x = np.array([np.nan if v is None else v for v in a], dtype=float).reshape(-1)
    y = np.array([np.nan if v is None else v for v in b], dtype=float).reshape(-1)
    if x.shape != y.shape:
        raise ValueError(f"paired scores of different lengths: {x.size} and {y.size}")
    ok = ~(np.isnan(x) | np.isnan(y))
    n = int(ok.sum())
    if n == 0:
        return Pair((), float("nan"), 0, "paired-bootstrap")
    from harness.stats.bootstrap import ratio_of_sums

    d = Summed(np.column_stack([np.where(ok, y - x, 0.0), ok.astype(float)]), ratio_of_sums)
    return Pair((d,), d.value(), n, "paired-bootstrap-{R}")


def corpus_pair(n: int, stat_a: Statistic, stat_b: Statistic) -> Pair:
    """A corpus statistic (macro-F1, ...) of both runs on the same resamples: stat_b - stat_a. Each is
    sufficient statistics summed per resample (vectorised) or a function recomputed per resample."""
    if n == 0:
        return Pair((), float("nan"), 0, "paired-bootstrap-corpus")
    return Pair((stat_a, stat_b), evaluate(stat_b, n) - evaluate(stat_a, n), n, "paired-bootstrap-{R}-recomputed")


def paired_deltas(n: int, pairs: Sequence[Pair], resamples: int = RESAMPLES, seed: int = SEED) -> list[PairedDelta]:
    """Every pair's difference and 95% CI from one pass over the same ``resamples`` resamples of n positions."""
    stats = [s for p in pairs for s in p.stats]
    reps = replicates(n, stats, resamples, seed) if stats else np.empty((0, resamples))
    out, k = [], 0
    for p in pairs:
        if not p.stats:
            out.append(PairedDelta(float("nan"), float("nan"), float("nan"), 0, p.method))
            continue
        r = reps[k] if len(p.stats) == 1 else reps[k + 1] - reps[k]
        k += len(p.stats)
        lo, hi = percentile_ci(r)
        out.append(PairedDelta(float(p.delta), lo, hi, p.n, p.method.format(R=resamples)))
    return out


def paired_mean_diff(a: Sequence[float | None], b: Sequence[float | None], resamples: int = RESAMPLES,
                     seed: int = SEED) -> PairedDelta:
    """Mean of per-example differences b - a over examples scored in both runs, bootstrapped."""
    return paired_deltas(len(a), [mean_pair(a, b)], resamples, seed)[0]


def paired_statistic_diff(n: int, stat_a: Statistic, stat_b: Statistic, resamples: int = RESAMPLES,
                          seed: int = SEED) -> PairedDelta:
    """A corpus statistic of both runs on the same resamples: stat_b - stat_a, bootstrapped."""
    return paired_deltas(n, [corpus_pair(n, stat_a, stat_b)], resamples, seed)[0]


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value: b and c are the discordant counts (right->wrong, wrong->right).

    Under the null each discordant pair is a fair coin: p = min(1, 2 * P(X <= min(b, c))), X ~ Bin(b + c, 1/2).
    Up to 1,000 discordant pairs the tail is summed in exact integers; beyond, in floats from log-gamma
    (relative error below 1e-10; the integer sum took seconds for thousands of pairs, and importing scipy for
    its CDF costs more than the whole bootstrap).
    """
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    if n <= 1000:
        tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    else:
        logs = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) - n * math.log(2) for i in range(k + 1)]
        top = max(logs)
        tail = math.exp(top) * math.fsum(math.exp(x - top) for x in logs)
    return min(1.0, 2 * tail)
