"""Paired statistics against hand-computed values."""

from __future__ import annotations

import random

import pytest

from harness.compare.paired import (
    mcnemar_exact,
    paired_mean_diff,
    paired_statistic_diff,
)
from tests.deps import requires_module


@pytest.mark.parametrize(("b", "c", "expected"), [
    (1, 9, 2 * (1 + 10) / 2**10),          # 22/1024
    (9, 1, 2 * (1 + 10) / 2**10),          # symmetric
    (2, 8, 2 * (1 + 10 + 45) / 2**10),     # 112/1024 = 0.109375
    (0, 6, 2 * 1 / 2**6),                  # 1/32
    (5, 5, 1.0),                           # capped at 1
    (0, 0, 1.0),                           # no discordant pair: no evidence
])
def test_mcnemar_exact_matches_hand_computation(b: int, c: int, expected: float) -> None:
    assert mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-12)


def test_mcnemar_matches_scipy_binomtest_and_survives_large_counts() -> None:
    stats = requires_module("scipy.stats", "pip install scipy")
    for b, c in [(3, 11), (17, 30), (40, 41)]:
        assert mcnemar_exact(b, c) == pytest.approx(stats.binomtest(min(b, c), b + c, 0.5).pvalue, rel=1e-9)
    assert 0 < mcnemar_exact(900, 1100) < 1e-5  # 2000 discordant pairs: no float overflow


def test_paired_bootstrap_ci_contains_true_difference_and_is_seeded() -> None:
    """Candidate = baseline + 0.3 + noise: the paired CI must cover 0.3 and be about as wide as theory says."""
    rng = random.Random(7)
    base = [rng.random() for _ in range(400)]
    cand = [b + 0.3 + rng.gauss(0, 1) for b in base]
    d = paired_mean_diff(base, cand)
    assert d.ci_low < 0.3 < d.ci_high
    assert d.n == 400 and d.method == "paired-bootstrap-2000"
    assert 0.15 < d.ci_high - d.ci_low < 0.25  # 2 * 1.96 * 1/sqrt(400) = 0.196
    assert paired_mean_diff(base, cand) == d  # same seed, same interval
    other = paired_mean_diff(base, cand, seed=1)
    assert other.delta == d.delta and (other.ci_low, other.ci_high) != (d.ci_low, d.ci_high)


def test_paired_bootstrap_uses_only_examples_scored_in_both_runs() -> None:
    d = paired_mean_diff([1.0, 0.0, None, 1.0], [1.0, 1.0, 1.0, None])
    assert d.n == 2 and d.delta == 0.5
    assert paired_mean_diff([None], [1.0]).n == 0


def test_identical_runs_have_a_zero_width_interval() -> None:
    vals = [1.0, 0.0, 1.0, 1.0, 0.0]
    d = paired_mean_diff(vals, vals)
    assert (d.delta, d.ci_low, d.ci_high) == (0.0, 0.0, 0.0)


def test_corpus_statistic_is_recomputed_on_the_same_resamples() -> None:
    """A statistic of the resampled positions: max(candidate) - max(baseline) on shared indices."""
    a, b = [0.0, 1.0, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0]
    d = paired_statistic_diff(4, lambda idx: max(a[i] for i in idx), lambda idx: max(b[i] for i in idx))
    # b[i] = a[i] + 1 for every i, so every paired resample differs by exactly 1
    assert (d.delta, d.ci_low, d.ci_high) == (1.0, 1.0, 1.0)
    assert d.method == "paired-bootstrap-2000-recomputed"
