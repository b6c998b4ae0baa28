"""Agreement between a judge and human labels beside Cohen's kappa (which is harness.stats.agreement):
Spearman's rank correlation (scipy) and accuracy, and the percentile bootstrap 95% interval of any of
them (harness.stats.bootstrap, recomputing the statistic per resample).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

from harness.stats.bootstrap import RESAMPLES, bootstrap_ci


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rho (ties share their mean rank); NaN when either side is constant."""
    from scipy.stats import spearmanr

    if len(a) < 2 or len(a) != len(b):
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant input: scipy warns and returns NaN
        return float(spearmanr(a, b).statistic)


def accuracy(a: Sequence[int], b: Sequence[int]) -> float:
    return float("nan") if not a else sum(x == y for x, y in zip(a, b)) / len(a)


def with_ci(n: int, stat: Callable[[list[int]], float], resamples: int = RESAMPLES, seed: int = 0) -> dict[str, float]:
    """The statistic on all items and its percentile bootstrap 95% CI over resampled items."""
    value = stat(list(range(n)))
    lo, hi = bootstrap_ci(n, stat, resamples=resamples, seed=seed)
    return {"value": value, "ci_low": lo, "ci_high": hi}
