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


def _num(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:g}"


@dataclass(frozen=True)
class Fraction:
    """A number in (lo, hi] or [lo, hi), as ``open_lo`` / ``open_hi`` say: a share or a threshold."""

    lo: float
    hi: float
    open_lo: bool = False
    open_hi: bool = False

    @property
    def range(self) -> str:
        return (f"a number {'over' if self.open_lo else 'from'} {_num(self.lo)} "
                f"{'and under' if self.open_hi else 'to'} {_num(self.hi)}")

    def __call__(self, text: str) -> float:
        try:
            x = float(str(text).strip())
        except ValueError:
            x = math.nan
        above = x > self.lo if self.open_lo else x >= self.lo
        below = x < self.hi if self.open_hi else x <= self.hi
        if not (math.isfinite(x) and above and below):
            raise argparse.ArgumentTypeError(f"expected {self.range}, got {text!r}")
        return x + 0.0


@dataclass(frozen=True)
class Amount:
    """A finite number in [lo, hi]; -0 reads as 0."""

    lo: float
    hi: float
    unit: str = ""

    @property
    def range(self) -> str:
        unit = f"{self.unit} " if self.unit else ""
        return f"a finite {unit}amount from {_num(self.lo)} to {_num(self.hi)}"

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
CONCURRENCY = Whole(1, 1_024, "a model spec's concurrency has the same range")
RESAMPLES = Whole(10, 1_000_000)
EXAMPLE_TOKENS = Whole(1, 10_000_000)  # tokens per training example (data validate/prepare --max-tokens)
ANSWER_TOKENS = Whole(1, 32_768, "the range of a suite's generation.max_tokens")  # record --max-tokens
TEMPERATURE = Amount(0.0, 2.0)  # the range of a suite's generation.temperature (the OpenAI API's)
SEED = Whole(0, 2**32 - 1)  # numpy's seed range
SHARE = Fraction(0.0, 1.0, open_hi=True)  # --validation-fraction: a share held out, under all of it
THRESHOLD = Fraction(0.0, 1.0, open_lo=True)  # a Jaccard or overlap share at or above which a pair counts
NGRAM = Whole(1, 100)  # words per shingle or n-gram
SIMULATIONS = Whole(10, 100_000)  # harness plan --simulations: comparisons simulated per scenario
UNIT_SHARE = Fraction(0.0, 1.0, open_lo=True, open_hi=True)  # harness plan --base-accuracy: a synthetic run's accuracy
STICKINESS = Fraction(0.0, 1.0)  # harness plan --stickiness: the chance a re-run keeps an example's outcome


def check(option: str, parse: Whole | Amount | Fraction, value: object) -> int | float:
    """``parse(value)`` outside argparse (the pytest plugin): an ArgumentTypeError becomes a ValueError
    whose text names the option, e.g. ``--harness-limit: expected a whole number from 1 to ...``."""
    try:
        return parse(str(value))
    except argparse.ArgumentTypeError as e:
        raise ValueError(f"{option}: {e}") from None
