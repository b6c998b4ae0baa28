"""Agreement between a judge and human labels: Cohen's kappa (unweighted, linear- or
quadratic-weighted; scikit-learn), Spearman's rank correlation (scipy) and accuracy, each with a
percentile bootstrap 95% interval (harness.stats.bootstrap, recomputing the statistic per resample).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Literal

from harness.stats.bootstrap import RESAMPLES, bootstrap_ci

Weights = Literal["none", "linear", "quadratic"]


def cohen_kappa(a: Sequence[int], b: Sequence[int], categories: Sequence[int], weights: Weights = "none") -> float:
    """Cohen's kappa of two raters over the given categories; NaN when chance agreement is total."""
    from sklearn.metrics import cohen_kappa_score

    if len(a) == 0 or len(a) != len(b):
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a zero denominator: scikit-learn warns and returns NaN
        k = cohen_kappa_score(a, b, labels=list(categories), weights=None if weights == "none" else weights)
    return float(k) if math.isfinite(k) else float("nan")


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
