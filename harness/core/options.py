"""Every numeric command-line option's range, in one place, checked when the line is parsed.

Each option is a typed parser (an argparse ``type=``; the pytest plugin's options use the same
ones), so ``--limit 0``, ``--repeats 100000000``, ``--max-cost inf`` or ``--epochs -5`` stop at once
with one line naming the option and its range (exit 2), instead of running every example, filling
memory, or writing Infinity into summary.json.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Whole:
    """A whole number in [lo, hi]."""

    lo: int
    hi: int
    hint: str = ""

    @property
    def range(self) -> str:
        return f"a whole number from {self.lo:,} to {self.hi:,}"

    def __call__(self, text: str) -> int:
        try:
            n = int(str(text).strip())
        except ValueError:
            n = None
        if n is None or not self.lo <= n <= self.hi:
            raise argparse.ArgumentTypeError(f"expected {self.range}, got {text!r}" + (f"; {self.hint}" if self.hint else ""))
        return n


@dataclass(frozen=True)
class Amount:
    """A finite number in [lo, hi]; -0 reads as 0."""

    lo: float
    hi: float
    unit: str = ""

    @property
    def range(self) -> str:
        unit = f"{self.unit} " if self.unit else ""
        return f"a finite {unit}amount from {self.lo:,.0f} to {self.hi:,.0f}"

    def __call__(self, text: str) -> float:
        try:
            x = float(str(text).strip())
        except ValueError:
            x = math.nan
        if not (math.isfinite(x) and self.lo <= x <= self.hi):
            raise argparse.ArgumentTypeError(f"expected {self.range}, got {text!r}")
        return x + 0.0  # -0.0 + 0.0 is 0.0: no "$-0.0000"


LIMIT = Whole(1, 100_000_000, "leave the option out to use every example")
REPEATS = Whole(1, 100, "the range of a suite's generation.repeats")
CONNECTION_ERRORS = Whole(0, 1_000_000)
EPOCHS = Whole(1, 1_000)
DOLLARS = Amount(0.0, 1e9, "US dollar")
PRICE_PER_1K = Amount(0.0, 1e6, "US dollar")


def check(option: str, parse: Whole | Amount, value: object) -> int | float:
    """``parse(value)`` outside argparse (the pytest plugin): an ArgumentTypeError becomes a ValueError
    whose text names the option, e.g. ``--harness-limit: expected a whole number from 1 to ...``."""
    try:
        return parse(str(value))
    except argparse.ArgumentTypeError as e:
        raise ValueError(f"{option}: {e}") from None
