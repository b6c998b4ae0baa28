"""The one Cohen's kappa (harness.stats.agreement) against scikit-learn's, by hand, and on its edges."""

from __future__ import annotations

import math
import random
import warnings

import pytest
from sklearn.metrics import cohen_kappa_score

from harness.stats.agreement import cohen_kappa, cohen_kappa_pairs


def _same(got: float, want: float) -> bool:
    return (math.isnan(got) and math.isnan(want)) or got == pytest.approx(want, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("weights", ["none", "linear", "quadratic"])
def test_matches_sklearn_on_random_ratings(weights: str) -> None:
    rng = random.Random(7)
    sk = None if weights == "none" else weights
    for _ in range(300):
        n = rng.randint(1, 40)
        cats = list(range(1, rng.randint(2, 6) + 1))
        a = [rng.choice(cats) for _ in range(n)]
        # b mostly agrees with a, sometimes off by one, sometimes anything
        b = [x if rng.random() < 0.5 else min(max(x + rng.choice([-1, 1]), cats[0]), cats[-1])
             if rng.random() < 0.7 else rng.choice(cats) for x in a]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scikit-learn warns on 0/0 and returns NaN
            want_seen = float(cohen_kappa_score(a, b, weights=sk))
            want_cats = float(cohen_kappa_score(a, b, labels=cats, weights=sk))
        assert _same(cohen_kappa(a, b, weights=weights), want_seen), (a, b)  # type: ignore[arg-type]
        assert _same(cohen_kappa(a, b, cats, weights), want_cats), (a, b, cats)  # type: ignore[arg-type]
        assert _same(cohen_kappa_pairs(list(zip(a, b)), cats, weights), want_cats)  # type: ignore[arg-type]


def test_string_labels_match_sklearn() -> None:
    rng = random.Random(0)
    for _ in range(100):
        a = [rng.choice("abc") for _ in range(rng.randint(1, 12))]
        b = [rng.choice("abcd") for _ in a]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = float(cohen_kappa_score(a, b))
        assert _same(cohen_kappa(a, b), want), (a, b)


def test_by_hand() -> None:
    # p_o = 8/10, p_e = 1/2: (0.8 - 0.5) / 0.5
    assert cohen_kappa([1, 1, 1, 1, 1, 0, 0, 0, 0, 0], [1, 1, 1, 1, 0, 0, 0, 0, 0, 1]) == pytest.approx(0.6)
    # quadratic on 1..3: observed disagreement 1, expected 15/3 -> 1 - 1/5; linear: expected 3 -> 1 - 1/3
    assert cohen_kappa([1, 2, 3], [1, 3, 3], [1, 2, 3], "quadratic") == pytest.approx(0.8)
    assert cohen_kappa([1, 2, 3], [1, 3, 3], [1, 2, 3], "linear") == pytest.approx(2 / 3)
    # the categories' order sets the weights' distances, not the labels' values
    assert cohen_kappa([1, 2, 3], [1, 3, 3], [1, 3, 2], "linear") == pytest.approx(
        float(cohen_kappa_score([1, 2, 3], [1, 3, 3], labels=[1, 3, 2], weights="linear")))
    assert cohen_kappa([1, 1, 2], [1, 1, 2], [1, 2, 3]) == 1.0  # an unused category changes nothing


def test_undefined_is_nan_and_bad_input_raises() -> None:
    assert math.isnan(cohen_kappa([], []))
    assert math.isnan(cohen_kappa(["a", "a"], ["a", "a"]))  # no chance disagreement
    assert math.isnan(cohen_kappa([5, 6], [5, 6], [1, 2]))  # every pair outside the categories
    with pytest.raises(ValueError, match="2 labels on one side and 1"):
        cohen_kappa([1, 2], [1])
    with pytest.raises(ValueError, match="weights"):
        cohen_kappa([1, 2], [1, 2], weights="cubic")  # type: ignore[arg-type]

