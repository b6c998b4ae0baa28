"""Repeats: each example generated N times (``generation.repeats``), its scores reduced per example.

Pure functions (imports only harness.core), used by the runner:

- :func:`expand_requests`: N requests per example, repeat-major (all of repeat 0, then repeat 1, ...).
  Each carries its repeat index (part of its cache key, so each repeat is its own sample) and, when
  the suite sets a seed, ``seed + repeat`` (recorded per repeat in results.jsonl).
- :func:`reduce_values`: an example's N values of one score to one value, by the suite's reducer
  (as inspect's epochs reducers): ``mean``; ``majority``, the most common value (a tie goes to the
  worse of the tied values: a gate is not helped by a coin toss); ``all_pass``, the worst repeat
  (for a pass/fail score: 1 only when every repeat passed); ``any_pass``, the best repeat (1 when
  any passed). Worse and better follow the score's direction.
- :func:`flakiness`: the share of an example's scored repeats whose value differs from the most
  common value among them, ``1 - (count of the modal value) / (repeats scored)``; values are
  compared rounded to 9 decimals. 0 when every repeat agrees; for a pass/fail score it is
  ``min(passes, fails) / N`` (1/3 for a 2-1 split of 3). An example is *flaky* on a score when its
  flakiness is above 0; a score's ``flaky_share`` is the share of its scored examples that are flaky.

The reduced per-example value is the unit of every CI (clustered by example): N repeats of 100
examples are 100 observations, not 100 x N.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence

from harness.core.types import Failure, Request, ScoreValue

REDUCERS = ("mean", "majority", "all_pass", "any_pass")


def expand_requests(requests: Sequence[Request], repeats: int) -> list[Request]:
    """``repeats`` copies of every request, repeat-major; unchanged (no repeat index) when repeats == 1."""
    if repeats == 1:
        return list(requests)
    out = []
    for r in range(repeats):
        for req in requests:
            seed = None if req.settings.seed is None else req.settings.seed + r
            settings = req.settings.model_copy(update={"seed": seed})
            out.append(dataclasses.replace(req, settings=settings, repeat=r))
    return out


def _key(v: float) -> float:
    return round(v, 9)


def reduce_values(values: Sequence[float], reducer: str, higher_is_better: bool = True) -> float:
    """One example's repeats of one score reduced to one value (see the module docstring)."""
    if not values:
        raise ValueError("no values to reduce")
    if reducer == "mean":
        return sum(values) / len(values)
    worst, best = (min, max) if higher_is_better else (max, min)
    if reducer == "all_pass":
        return worst(values)
    if reducer == "any_pass":
        return best(values)
    if reducer == "majority":
        counts = Counter(_key(v) for v in values)
        top = max(counts.values())
        return worst(v for v in values if counts[_key(v)] == top)
    raise ValueError(f"unknown reducer {reducer!r}; expected one of {', '.join(REDUCERS)}")


def flakiness(values: Sequence[float]) -> float:
    """Share of the repeats that disagree with the most common value (0 for fewer than 2 values)."""
    if len(values) < 2:
        return 0.0
    counts = Counter(_key(v) for v in values)
    return 1.0 - max(counts.values()) / len(values)


def reduce_example(per_repeat: Sequence[dict[str, ScoreValue]], reducer: str,
                   higher: dict[str, bool]) -> tuple[dict[str, ScoreValue], dict[str, float]]:
    """One example's scores over its repeats -> (reduced scores, flakiness per score). A repeat whose
    score failed is left out of both; a score that failed in every repeat stays a Failure."""
    names = list(dict.fromkeys(k for row in per_repeat for k in row))
    reduced: dict[str, ScoreValue] = {}
    flaky: dict[str, float] = {}
    for name in names:
        vals = [float(row[name]) for row in per_repeat if name in row and not isinstance(row[name], Failure)]
        if not vals:
            reduced[name] = next(row[name] for row in per_repeat if name in row)
            continue
        reduced[name] = reduce_values(vals, reducer, higher.get(name, True))
        flaky[name] = flakiness(vals)
    return reduced, flaky


def flaky_share(figures: Sequence[float | None]) -> float:
    """Share of the scored examples (figure not None) whose flakiness is above 0; NaN when none."""
    scored = [f for f in figures if f is not None]
    return sum(1 for f in scored if f > 0) / len(scored) if scored else float("nan")
