"""Means with 95% intervals: Wilson for pass/fail scores, Student-t otherwise.

Pure Python on purpose: a run against an API must not pay numpy start-up to report a mean.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Z975 = 1.959963984540054


def t_quantile_975(df: int) -> float:
    """Two-sided 95% Student-t critical value (Cornish-Fisher expansion; < 1e-3 off for df >= 3)."""
    if df <= 0:
        return float("nan")
    exact = {1: 12.706204736, 2: 4.302652730, 3: 3.182446305, 4: 2.776445105, 5: 2.570581836}
    if df in exact:
        return exact[df]
    z = Z975
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


@dataclass(frozen=True)
class Estimate:
    mean: float
    lo: float
    hi: float
    n: int
    method: str

    def as_dict(self) -> dict[str, float | int | str]:
        return {"mean": self.mean, "ci_low": self.lo, "ci_high": self.hi, "n": self.n, "ci_method": self.method}


def wilson(successes: float, n: int) -> tuple[float, float]:
    if n == 0:
        return float("nan"), float("nan")
    p = successes / n
    z2 = Z975**2
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z975 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def mean_ci(values: Sequence[float], binary: bool = False) -> Estimate:
    """Mean with a 95% CI: Wilson for pass/fail scores, Student-t otherwise."""
    n = len(values)
    if n == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0, "none")
    m = math.fsum(values) / n
    if binary:
        lo, hi = wilson(math.fsum(values), n)
        return Estimate(m, lo, hi, n, "wilson")
    if n == 1:
        return Estimate(m, float("nan"), float("nan"), 1, "t")
    var = math.fsum((v - m) ** 2 for v in values) / (n - 1)
    half = t_quantile_975(n - 1) * math.sqrt(var / n)
    return Estimate(m, m - half, m + half, n, "t")
