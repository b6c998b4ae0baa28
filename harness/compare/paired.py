"""Paired statistics for two runs on the same examples: a paired-bootstrap CI of the difference
and the exact McNemar test for pass/fail scores."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

RESAMPLES = 2000
SEED = 0

Statistic = Callable[[list[int]], float]


@dataclass(frozen=True)
class PairedDelta:
    """candidate - baseline, raw units (not direction-adjusted), with a 95% percentile CI."""

    delta: float
    ci_low: float
    ci_high: float
    n: int  # paired examples the difference is over
    method: str


def resample_indices(n: int, resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """The same resampled positions for every run: that is what makes the bootstrap paired."""
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def _percentiles(stats: np.ndarray) -> tuple[float, float]:
    stats = stats[~np.isnan(stats)]
    if stats.size == 0:
        return float("nan"), float("nan")
    lo, hi = np.percentile(stats, [2.5, 97.5])
    return float(lo), float(hi)


def paired_mean_diff(a: Sequence[float | None], b: Sequence[float | None], resamples: int = RESAMPLES,
                     seed: int = SEED) -> PairedDelta:
    """Mean of per-example differences b - a over examples scored in both runs, bootstrapped."""
    pairs = [(x, y) for x, y in zip(a, b, strict=True) if x is not None and y is not None
             and not (math.isnan(x) or math.isnan(y))]
    if not pairs:
        return PairedDelta(float("nan"), float("nan"), float("nan"), 0, "paired-bootstrap")
    d = np.array([y - x for x, y in pairs], dtype=float)
    idx = resample_indices(len(d), resamples, seed)
    lo, hi = _percentiles(d[idx].mean(axis=1))
    return PairedDelta(float(d.mean()), lo, hi, len(d), f"paired-bootstrap-{resamples}")


def paired_statistic_diff(n: int, stat_a: Statistic, stat_b: Statistic, resamples: int = RESAMPLES,
                          seed: int = SEED) -> PairedDelta:
    """A corpus statistic (macro-F1, ...) recomputed on each resample of both runs: stat_b - stat_a."""
    if n == 0:
        return PairedDelta(float("nan"), float("nan"), float("nan"), 0, "paired-bootstrap-corpus")
    full = list(range(n))
    delta = stat_b(full) - stat_a(full)
    idx = resample_indices(n, resamples, seed)
    stats = np.array([stat_b(row) - stat_a(row) for row in idx.tolist()], dtype=float)
    lo, hi = _percentiles(stats)
    return PairedDelta(float(delta), lo, hi, n, f"paired-bootstrap-{resamples}-recomputed")


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value: b and c are the discordant counts (right->wrong, wrong->right).

    Under the null each discordant pair is a fair coin: p = min(1, 2 * P(X <= min(b, c))), X ~ Bin(b + c, 1/2).
    """
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n  # exact integers: no overflow for large n
    return min(1.0, 2 * tail)
