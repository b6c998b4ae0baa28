"""Agreement across repeated judgements of one answer."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

from harness.core.types import Failure


def repeat_agreement(labels: Sequence[str]) -> float | Failure:
    """Share of pairs of repeats that gave the same verdict (1.0: all repeats agree)."""
    if len(labels) < 2:
        return Failure(f"{len(labels)} parseable repeat(s): agreement needs 2")
    pairs = list(combinations(labels, 2))
    return sum(a == b for a, b in pairs) / len(pairs)
