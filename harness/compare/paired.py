"""Paired statistics for two runs on the same examples: a paired-bootstrap CI of the difference
and the exact McNemar test for pass/fail scores."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from harness.stats.bootstrap import RESAMPLES, SEED, Statistic, bootstrap_ci, evaluate, mean_of, paired_ci

__all__ = ["RESAMPLES", "SEED", "PairedDelta", "mcnemar_exact", "paired_mean_diff", "paired_statistic_diff"]


@dataclass(frozen=True)
class PairedDelta:
    """candidate - baseline, raw units (not direction-adjusted), with a 95% percentile CI."""

    delta: float
    ci_low: float
    ci_high: float
    n: int  # paired examples the difference is over
    method: str


def paired_mean_diff(a: Sequence[float | None], b: Sequence[float | None], resamples: int = RESAMPLES,
                     seed: int = SEED) -> PairedDelta:
    """Mean of per-example differences b - a over examples scored in both runs, bootstrapped."""
    d = [y - x for x, y in zip(a, b, strict=True) if x is not None and y is not None
         and not (math.isnan(x) or math.isnan(y))]
    if not d:
        return PairedDelta(float("nan"), float("nan"), float("nan"), 0, "paired-bootstrap")
    diff = mean_of(d)
    lo, hi = bootstrap_ci(len(d), diff, resamples, seed)
    return PairedDelta(diff.value(), lo, hi, len(d), f"paired-bootstrap-{resamples}")


def paired_statistic_diff(n: int, stat_a: Statistic, stat_b: Statistic, resamples: int = RESAMPLES,
                          seed: int = SEED) -> PairedDelta:
    """A corpus statistic (macro-F1, ...) of both runs on the same resamples: stat_b - stat_a.

    Each statistic is sufficient statistics summed per resample (vectorised) or, for a metric without
    them, a function recomputed on each resample's indices."""
    if n == 0:
        return PairedDelta(float("nan"), float("nan"), float("nan"), 0, "paired-bootstrap-corpus")
    delta = evaluate(stat_b, n) - evaluate(stat_a, n)
    lo, hi = paired_ci(n, stat_a, stat_b, resamples, seed)
    return PairedDelta(float(delta), lo, hi, n, f"paired-bootstrap-{resamples}-recomputed")


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value: b and c are the discordant counts (right->wrong, wrong->right).

    Under the null each discordant pair is a fair coin: p = min(1, 2 * P(X <= min(b, c))), X ~ Bin(b + c, 1/2).
    scipy's binomial CDF (regularised incomplete beta) is exact to float precision and O(1); summing
    binomial coefficients in integers took seconds for thousands of discordant pairs.
    """
    from scipy.stats import binom

    n = b + c
    if n == 0:
        return 1.0
    return min(1.0, 2 * float(binom.cdf(min(b, c), n, 0.5)))
