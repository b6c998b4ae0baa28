"""The minimum detectable effect (MDE) of a paired comparison: the smallest true difference between
two models that a suite of n examples detects with 80% power in a two-sided 5% test.

    MDE = (z_0.975 + z_0.80) * sd_d / sqrt(n)     (= 2.8016 * sd_d / sqrt(n))

``sd_d`` is the standard deviation of the per-example paired differences (candidate - baseline). For
a pass/fail score the differences are -1, 0 or +1, and under "no difference" their variance is the
discordance rate ``d`` (the share of examples on which the two runs disagree: McNemar's
information), so ``sd_d = sqrt(d)``; and since a true gain of delta needs at least delta * n discordant examples, its
MDE is never below ``(z_0.975 + z_0.80)**2 / n`` (7.85 / n: what two identical greedy runs, d = 0, give).
The normal approximation: on a small suite (n < 30) or with very
few discordant examples read it as an order of magnitude. Pure Python (no numpy) on purpose.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Z975 = 1.959963984540054
Z80 = 0.8416212335729143


def mde(sd_diff: float, n: int, z_alpha: float = Z975, z_power: float = Z80) -> float:
    """(z_alpha + z_power) * sd_diff / sqrt(n); NaN when n < 2 or the SD is unknown."""
    if n < 2 or math.isnan(sd_diff):
        return float("nan")
    return (z_alpha + z_power) * sd_diff / math.sqrt(n)


def mde_paired(a: Sequence[float | None], b: Sequence[float | None], binary: bool) -> float:
    """The MDE of a comparison's per-example scores (examples scored in both runs): from the discordance
    rate for a pass/fail score, from the SD of the differences otherwise."""
    diffs = [y - x for x, y in zip(a, b, strict=True) if x is not None and y is not None]
    n = len(diffs)
    if n < 2:
        return float("nan")
    if binary:
        return max(mde(math.sqrt(sum(1 for d in diffs if abs(d) >= 0.5) / n), n), (Z975 + Z80) ** 2 / n)
    m = math.fsum(diffs) / n
    return mde(math.sqrt(math.fsum((d - m) ** 2 for d in diffs) / (n - 1)), n)


def n_for_effect(sd_diff: float, effect: float, binary: bool = False, z_alpha: float = Z975,
                 z_power: float = Z80) -> int | None:
    """The examples a test needs to detect ``effect`` with 80% power (two-sided 5%): ``mde`` solved for n,
    ((z_alpha + z_power) * sd_diff / effect)^2, and for a pass/fail score at least (z_alpha + z_power)^2 / effect
    (the MDE's floor above). None when the effect is 0 or the SD unknown (no n decides it)."""
    if effect == 0 or math.isnan(sd_diff) or math.isnan(effect):
        return None
    k = z_alpha + z_power
    n = (k * sd_diff / abs(effect)) ** 2
    if binary:
        n = max(n, k * k / abs(effect))
    return max(2, math.ceil(n))
