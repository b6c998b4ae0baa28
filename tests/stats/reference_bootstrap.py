"""The two bootstraps the harness had before harness/stats/bootstrap.py, kept verbatim as oracles for
the equivalence test and as the "before" of bench/bootstrap.py. Not used by the harness.

- ``bootstrap_ci``: a run's own CI of a corpus score (was harness/stats.py): pure Python, 1,000
  resamples from ``random.Random(seed)``, the statistic called once per resample, sorted-index percentiles.
- ``paired_statistic_diff`` / ``paired_mean_diff``: a comparison's CI (was harness/compare/paired.py):
  numpy indices (2,000 x n at once), a corpus statistic called once per resample.
- ``macro_f1``: the pure-Python macro-F1 the classification metric called per resample.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence

import numpy as np

Statistic = Callable[[list[int]], float]


def bootstrap_ci(n: int, statistic: Statistic, resamples: int = 1000, seed: int = 0) -> tuple[float, float]:
    if n == 0:
        return float("nan"), float("nan")
    rng = random.Random(seed)
    stats = []
    for _ in range(resamples):
        idx = [rng.randrange(n) for _ in range(n)]
        v = statistic(idx)
        if not math.isnan(v):
            stats.append(v)
    if not stats:
        return float("nan"), float("nan")
    stats.sort()
    return stats[int(0.025 * (len(stats) - 1))], stats[int(math.ceil(0.975 * (len(stats) - 1)))]


def _percentiles(stats: np.ndarray) -> tuple[float, float]:
    stats = stats[~np.isnan(stats)]
    if stats.size == 0:
        return float("nan"), float("nan")
    lo, hi = np.percentile(stats, [2.5, 97.5])
    return float(lo), float(hi)


def paired_mean_diff(a: Sequence[float | None], b: Sequence[float | None], resamples: int = 2000,
                     seed: int = 0) -> tuple[float, float, float]:
    pairs = [(x, y) for x, y in zip(a, b, strict=True) if x is not None and y is not None]
    d = np.array([y - x for x, y in pairs], dtype=float)
    idx = np.random.default_rng(seed).integers(0, len(d), size=(resamples, len(d)))
    lo, hi = _percentiles(d[idx].mean(axis=1))
    return float(d.mean()), lo, hi


def paired_statistic_diff(n: int, stat_a: Statistic, stat_b: Statistic, resamples: int = 2000,
                          seed: int = 0) -> tuple[float, float, float]:
    full = list(range(n))
    delta = stat_b(full) - stat_a(full)
    idx = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    stats = np.array([stat_b(row) - stat_a(row) for row in idx.tolist()], dtype=float)
    lo, hi = _percentiles(stats)
    return float(delta), lo, hi


def macro_f1(pairs: Sequence[tuple[str, str]]) -> float:
    if not pairs:
        return float("nan")
    tp: dict[str, int] = {}
    n_true: dict[str, int] = {}
    n_pred: dict[str, int] = {}
    for t, p in pairs:
        n_true[t] = n_true.get(t, 0) + 1
        n_pred[p] = n_pred.get(p, 0) + 1
        if t == p:
            tp[t] = tp.get(t, 0) + 1
    total = 0.0
    for lab, nt in n_true.items():
        k = tp.get(lab, 0)
        denom = nt + n_pred.get(lab, 0)
        total += 2 * k / denom if denom else 0.0
    return total / len(n_true)


def macro_f1_statistic(pairs: Sequence[tuple[str, str] | None]) -> Statistic:
    """What Classification.corpus_statistic returned: macro-F1 of the resampled (reference, prediction) pairs."""
    return lambda idx: macro_f1([pairs[i] for i in idx if pairs[i] is not None])  # type: ignore[misc]
