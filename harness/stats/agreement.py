"""Cohen's kappa, once: unweighted, linear- or quadratic-weighted, in pure Python.

It computes what ``sklearn.metrics.cohen_kappa_score`` computes (``tests/stats/test_agreement.py``
checks the three weightings against it) without its cost: scikit-learn takes about a millisecond a
call, and a bootstrap calls the statistic a thousand times. With confusion counts ``C`` over the
categories, the row and column totals ``r`` and ``c``, ``n`` pairs and disagreement weights ``w``
(0 on the diagonal; 1, ``|i - j|`` or ``(i - j)^2`` off it, by the categories' positions)::

    kappa = 1 - sum(w * C) / sum(w * outer(r, c) / n)

Categories: the given ones in their order (pairs with a label outside them are left out, as
scikit-learn's ``labels=`` does), or else the labels seen on either side, sorted. NaN when there
are no pairs or when chance disagreement is zero (one label on both sides).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from typing import Literal

Weights = Literal["none", "linear", "quadratic"]


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable], categories: Sequence[Hashable] | None = None,
                weights: Weights = "none") -> float:
    """Cohen's kappa of two raters' labels (``a[i]`` and ``b[i]`` rate item i); NaN when undefined."""
    if len(a) != len(b):
        raise ValueError(f"cohen_kappa: {len(a)} labels on one side and {len(b)} on the other")
    return cohen_kappa_pairs(zip(a, b), categories, weights)


def cohen_kappa_pairs(pairs: Iterable[tuple[Hashable, Hashable]], categories: Sequence[Hashable] | None = None,
                      weights: Weights = "none") -> float:
    """Cohen's kappa of (a, b) label pairs; NaN when undefined."""
    counts = Counter(pairs)
    if categories is None:
        cats: list[Hashable] = sorted({x for x, _ in counts} | {y for _, y in counts})  # type: ignore[type-var]
    else:
        cats = list(categories)
        known = set(cats)
        counts = Counter({p: k for p, k in counts.items() if p[0] in known and p[1] in known})
    n = sum(counts.values())
    if not n:
        return float("nan")
    rows: Counter[Hashable] = Counter()
    cols: Counter[Hashable] = Counter()
    for (x, y), k in counts.items():
        rows[x] += k
        cols[y] += k
    if weights not in ("none", "linear", "quadratic"):
        raise ValueError(f"cohen_kappa: weights must be none, linear or quadratic, not {weights!r}")
    if weights == "none":
        observed = sum(k for (x, y), k in counts.items() if x != y)
        expected = (n * n - sum(k * cols[x] for x, k in rows.items())) / n
    else:
        pos = {c: i for i, c in enumerate(cats)}
        power = 1 if weights == "linear" else 2

        def w(x: Hashable, y: Hashable) -> int:
            return abs(pos[x] - pos[y]) ** power

        observed = sum(w(x, y) * k for (x, y), k in counts.items())
        expected = sum(w(x, y) * kx * ky for x, kx in rows.items() for y, ky in cols.items()) / n
    return float("nan") if expected == 0 else 1.0 - observed / expected
