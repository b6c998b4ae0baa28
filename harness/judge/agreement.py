"""Agreement between a judge and human labels: Cohen's kappa (unweighted or quadratic-weighted),
Spearman's rank correlation and accuracy, each with a percentile bootstrap 95% interval.

Pure Python, like harness.stats; tests check kappa against scikit-learn and hand computation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

from harness.stats import bootstrap_ci

Weights = Literal["none", "quadratic"]


def cohen_kappa(a: Sequence[int], b: Sequence[int], categories: Sequence[int], weights: Weights = "none") -> float:
    """Cohen's kappa of two raters over the given categories; NaN when chance agreement is total."""
    n = len(a)
    if n == 0 or n != len(b):
        return float("nan")
    index = {c: i for i, c in enumerate(categories)}
    k = len(categories)
    observed = [[0.0] * k for _ in range(k)]
    for x, y in zip(a, b):
        observed[index[x]][index[y]] += 1
    row = [sum(r) for r in observed]
    col = [sum(observed[i][j] for i in range(k)) for j in range(k)]

    def w(i: int, j: int) -> float:
        return float(i != j) if weights == "none" else (i - j) ** 2

    num = math.fsum(w(i, j) * observed[i][j] for i in range(k) for j in range(k))
    den = math.fsum(w(i, j) * row[i] * col[j] / n for i in range(k) for j in range(k))
    return float("nan") if den == 0 else 1.0 - num / den


def _ranks(xs: Sequence[float]) -> list[float]:
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    ranks = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for t in range(i, j + 1):
            ranks[order[t]] = (i + j) / 2 + 1  # ties share their mean rank
        i = j + 1
    return ranks


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rho (Pearson correlation of mean ranks); NaN when either side is constant."""
    if len(a) < 2 or len(a) != len(b):
        return float("nan")
    ra, rb = _ranks(a), _ranks(b)
    ma, mb = math.fsum(ra) / len(ra), math.fsum(rb) / len(rb)
    cov = math.fsum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    va = math.fsum((x - ma) ** 2 for x in ra)
    vb = math.fsum((y - mb) ** 2 for y in rb)
    return float("nan") if va == 0 or vb == 0 else cov / math.sqrt(va * vb)


def accuracy(a: Sequence[int], b: Sequence[int]) -> float:
    return float("nan") if not a else sum(x == y for x, y in zip(a, b)) / len(a)


def with_ci(n: int, stat: Callable[[list[int]], float], resamples: int = 1000, seed: int = 0) -> dict[str, float]:
    """The statistic on all items and its percentile bootstrap 95% CI over resampled items."""
    value = stat(list(range(n)))
    lo, hi = bootstrap_ci(n, stat, resamples=resamples, seed=seed)
    return {"value": value, "ci_low": lo, "ci_high": hi}
