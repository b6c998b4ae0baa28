"""The paired bootstrap of a corpus score, before and after harness/stats/bootstrap.py. A benchmark
that prints figures, not a test.

    .venv/bin/python bench/bootstrap.py [--n 20000] [--resamples 2000] [--skip-before]

Two classification runs of n examples (5 labels; baseline ~75% right, candidate ~80%), macro-F1:

- compare, before: harness/compare/paired.py as it was: numpy indices, then the pure-Python
  macro-F1 of both runs recomputed on each of the 2,000 resamples;
- compare, after: the vectorised bootstrap: per-label (true, predicted, correct) counts per example,
  a resample-count matrix (np.bincount) times those counts, macro-F1 from the sums;
- run CI, before / after: a run's own CI of macro-F1 (runner.aggregate): 1,000 pure-Python resamples
  before, 2,000 vectorised now.

Each "after" row includes building the metric's statistics from the items; each "before" row
includes building its (reference, prediction) pairs. The old procedures are the oracles kept in
tests/stats/reference_bootstrap.py. CPU time on the shared machine moves with the others' load.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.compare.paired import paired_statistic_diff
from harness.core.types import Item
from harness.metrics.base import build_metric
from harness.stats.bootstrap import bootstrap_ci
from tests.stats import reference_bootstrap as old

LABELS = ["billing", "cancel_order", "order_status", "refund_request", "shipping"]


def run_items(n: int, accuracy: float, seed: int) -> list[Item]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        ref = LABELS[i % len(LABELS)]
        out.append(Item(id=f"e{i}", output=ref if rng.random() < accuracy else rng.choice(LABELS), reference=ref))
    return out


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    w, c = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - w, time.process_time() - c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--resamples", type=int, default=2000)
    ap.add_argument("--skip-before", action="store_true", help="time only the vectorised bootstrap")
    args = ap.parse_args()
    n, r = args.n, args.resamples
    m = build_metric("classification", {"labels": LABELS})
    base, cand = run_items(n, 0.75, 1), run_items(n, 0.80, 2)

    def old_stat(items: list[Item]) -> old.Statistic:
        return old.macro_f1_statistic([(str(it.reference), m.predict(it.output)) for it in items])  # type: ignore[arg-type]

    rows = []
    if not args.skip_before:
        res, w, c = timed(lambda: old.paired_statistic_diff(n, old_stat(base), old_stat(cand), resamples=r))
        rows.append((f"compare, before ({r} resamples, Python macro-F1 per resample)", res, w, c))
    res, w, c = timed(lambda: paired_statistic_diff(n, m.corpus_statistic(base, [], "macro_f1"),
                                                    m.corpus_statistic(cand, [], "macro_f1"), resamples=r))
    rows.append((f"compare, after ({r} resamples, vectorised)", (res.delta, res.ci_low, res.ci_high), w, c))
    if not args.skip_before:
        res, w, c = timed(lambda: old.bootstrap_ci(n, old_stat(base), resamples=1000))
        rows.append(("run CI, before (1000 resamples, pure Python)", (float("nan"), *res), w, c))
    res, w, c = timed(lambda: bootstrap_ci(n, m.corpus_statistic(base, [], "macro_f1"), resamples=r))
    rows.append((f"run CI, after ({r} resamples, vectorised)", (float("nan"), *res), w, c))
    print(f"paired bootstrap of macro-F1, {n} examples, 2 runs")
    print(f"{'procedure':<64} {'wall s':>8} {'cpu s':>8}   value [95% CI]")
    for name, (d, lo, hi), w, c in rows:
        value = "   -   " if math.isnan(d) else f"{d:+.4f}"  # a run's CI: the bench prints only the interval
        print(f"{name:<64} {w:8.2f} {c:8.2f}   {value} [{lo:+.4f}, {hi:+.4f}]")


if __name__ == "__main__":
    main()
