"""Which examples of a split a run evaluates: all of them, the first N (``--limit``), or a seeded
random sample (``--sample N [--seed S]``), the one place every command draws them.

A sample is stratified by the suite's category field where it has one: each category gets its
proportional share of N, at least one where N allows (a category whose share is under one gets
exactly one and the others share the rest, repeated until every share is at least one), shares
rounded by largest remainder (ties: the larger category, then the name). Within each category
(or the whole split, without one) the examples are drawn with ``random.Random(seed)``; the drawn
examples keep the split's order. The same split, N and seed always draw the same ids.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from harness.core.errors import HarnessError
from harness.core.types import Example
from harness.records.run import SampleInfo

DEFAULT_SEED = 0
NO_CATEGORY = "(no category)"  # the stratum of examples without a category value in a suite that has the field

T = TypeVar("T")


def both_error(limit: int, sample: int) -> HarnessError:
    return HarnessError(f"--limit {limit} and --sample {sample} together: --limit takes the first N examples of the "
                        "split, --sample draws a stratified random one; give one of them")


def check_selection(limit: int | None, sample: int | None) -> None:
    """Refuse --limit with --sample (the message names both)."""
    if limit is not None and sample is not None:
        raise both_error(limit, sample)


def limit_note(limit: int) -> str:
    """The line a run with --limit prints: what it took, and how to draw a sample instead."""
    return (f"--limit {limit}: the first {limit} examples of the split, not a sample; "
            f"--sample {limit} draws a stratified one")


def allocate(counts: dict[str, int], n: int) -> dict[str, int]:
    """How many of ``n`` each stratum gets: proportional to its size, at least one where ``n`` allows
    (n >= the number of strata), largest-remainder rounding. ``counts``: stratum -> its size (> 0)."""
    total = sum(counts.values())
    if n >= total:
        return dict(counts)
    alloc: dict[str, int] = {}
    rest = dict(counts)
    left = n
    if n >= len(counts):  # a stratum whose share is under one gets one; the others share what is left
        while True:
            t = sum(rest.values())
            small = [k for k, c in rest.items() if left * c / t < 1]
            if not small:
                break
            for k in small:
                alloc[k] = 1
                del rest[k]
                left -= 1
    t = sum(rest.values())
    quota = {k: left * c / t for k, c in rest.items()} if t else {}
    floors = {k: math.floor(q) for k, q in quota.items()}
    spare = left - sum(floors.values())
    order = sorted(quota, key=lambda k: (-(quota[k] - floors[k]), -rest[k], k))
    for k in order[:spare]:
        floors[k] += 1
    alloc.update(floors)
    return {k: alloc.get(k, 0) for k in counts}


def ids_sha256(ids: Sequence[str]) -> str:
    """The sha256 of the drawn ids, one a line in the split's order (``printf '%s\\n' ids | sha256sum``)."""
    return hashlib.sha256("".join(f"{i}\n" for i in ids).encode()).hexdigest()


@dataclass(frozen=True)
class Drawn:
    positions: list[int]  # into the split, ascending
    info: SampleInfo


def draw(ids: Sequence[str], categories: Sequence[str | None] | None, n: int, seed: int = DEFAULT_SEED) -> Drawn:
    """Draw ``n`` of the examples ``ids`` (``categories[i]``: example i's stratum; None: a plain random
    sample). Deterministic for a seed; positions in the split's order."""
    if n < 1:
        raise HarnessError(f"--sample {n}: expected a whole number from 1")
    rng = random.Random(seed)
    total = len(ids)
    strata: dict[str, int] | None = None
    if categories is None:
        positions = sorted(rng.sample(range(total), min(n, total)))
        method = "simple random"
    else:
        groups: dict[str, list[int]] = {}
        for i, c in enumerate(categories):
            groups.setdefault(NO_CATEGORY if c is None else str(c), []).append(i)
        groups = dict(sorted(groups.items()))
        strata = allocate({k: len(v) for k, v in groups.items()}, n)
        positions = sorted(p for k, members in groups.items() for p in rng.sample(members, strata[k]))
        method = "stratified by category, proportional (at least one each where N allows), largest remainder"
    drawn = [ids[p] for p in positions]
    info = SampleInfo(n=n, seed=seed, method=method, population=total, drawn=len(drawn), strata=strata,
                      ids_sha256=ids_sha256(drawn), ids=drawn)
    return Drawn(positions, info)


def select(examples: Sequence[Example], limit: int | None = None, sample: int | None = None,
           seed: int | None = None, stratify: bool = True) -> tuple[list[Example], SampleInfo | None]:
    """The examples a run evaluates, and how they were drawn (None: not a sample). ``stratify``: the
    suite has a category field (stratify by it)."""
    check_selection(limit, sample)
    if sample is not None:
        d = draw([ex.id for ex in examples], [ex.category for ex in examples] if stratify else None, sample,
                 DEFAULT_SEED if seed is None else seed)
        return [examples[p] for p in d.positions], d.info
    if seed is not None:
        raise HarnessError(f"--seed {seed} without --sample: the seed only picks a --sample; add --sample N")
    return list(examples[:limit] if limit else examples), None


def sample_note(info: SampleInfo) -> str:
    """One line: what a --sample drew."""
    how = ("stratified: " + ", ".join(f"{k} {v}" for k, v in (info.strata or {}).items())) if info.strata is not None \
        else "simple random (the suite has no category field)"
    all_ = " (every example: N is at least the split's size)" if info.drawn == info.population else ""
    return f"--sample {info.n} --seed {info.seed}: {info.drawn} of {info.population} examples{all_}, {how}"
