"""Compare runs of one suite example by example: paired differences, McNemar, categories, regressions."""

from harness.compare.comparison import (
    Comparison,
    ScoreComparison,
    compare_aligned,
    compare_runs,
)

__all__ = ["Comparison", "ScoreComparison", "compare_aligned", "compare_runs"]
