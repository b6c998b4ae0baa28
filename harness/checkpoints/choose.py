"""Choosing a checkpoint by what it does: the best validation score, the lowest validation loss
breaking ties (then the earlier step). Pure: entries in, entries with ``chosen``/``why`` out."""

from __future__ import annotations

import math
from collections.abc import Sequence

from harness.records.checkpoints import CheckpointEntry

TIE = 1e-9  # scores this close are a tie (means of the same examples: equal counts give equal floats)


def primary_metric(gates: Sequence, scores: Sequence[str]) -> tuple[str, str]:
    """(score, why): the first comparative gate's metric (non_inferiority_margin, min_improvement,
    max_regressions: the rules that compare with the base), else the first gate's, else the first
    score of the first metric. ``scores``: the suite's scores in order (a run summary's)."""
    for g in gates:
        if any(getattr(g, k, None) is not None for k in ("non_inferiority_margin", "min_improvement", "max_regressions")):
            if g.metric in scores:
                return g.metric, "the suite's first comparative gate's metric"
    for g in gates:
        if g.metric in scores:
            return g.metric, "the suite's first gate's metric"
    if not scores:
        raise ValueError("the suite's metrics produced no score")
    return scores[0], "the first score of the suite's first metric (no gate names one)"


def _num(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4g}"


def choose(entries: Sequence[CheckpointEntry], direction: str) -> list[CheckpointEntry]:
    """The entries, in order, the best one ``chosen`` and every one's ``why`` filled in. A
    checkpoint without a score is never chosen unless none has one (then the lowest loss is)."""
    entries = [e.model_copy() for e in entries]
    if not entries:
        return entries
    sign = -1.0 if direction == "lower" else 1.0
    scored = [e for e in entries if _num(e.value) is not None]

    def loss_key(e: CheckpointEntry) -> float:
        return _num(e.loss) if _num(e.loss) is not None else math.inf

    def step_key(e: CheckpointEntry) -> float:
        return e.step if e.step is not None else math.inf

    if not scored:
        best = min(entries, key=lambda e: (loss_key(e), step_key(e)))
        best.chosen = True
        best.why = "no checkpoint has a validation score: the lowest validation loss"
        for e in entries:
            if e is not best:
                e.why = "no validation score"
        return entries
    top = max(sign * float(e.value) for e in scored)  # type: ignore[arg-type]
    tied = [e for e in scored if abs(sign * float(e.value) - top) <= TIE]  # type: ignore[arg-type]
    best = min(tied, key=lambda e: (loss_key(e), step_key(e)))
    best.chosen = True
    metric = best.metric or "score"
    word = "lowest" if direction == "lower" else "highest"
    lowest_loss = min(entries, key=lambda e: (loss_key(e), step_key(e)))
    if len(tied) == 1:
        best.why = f"{word} validation {metric} ({_fmt(best.value)})"
        if lowest_loss is not best and _num(lowest_loss.loss) is not None:
            best.why += (f"; {lowest_loss.name} has the lowest validation loss ({_fmt(lowest_loss.loss)}) but "
                         f"{metric} {_fmt(lowest_loss.value)}")
    else:
        others = ", ".join(e.name for e in tied if e is not best)
        if _num(best.loss) is not None and any(loss_key(e) > loss_key(best) for e in tied if e is not best):
            best.why = (f"tied on {word} validation {metric} ({_fmt(best.value)}) with {others}; lowest validation "
                        f"loss among them ({_fmt(best.loss)})")
        else:
            best.why = f"tied on {word} validation {metric} ({_fmt(best.value)}) with {others}, and on loss; the earliest"
    for e in entries:
        if e is best:
            continue
        if _num(e.value) is None:
            e.why = "no validation score"
        elif any(e is t for t in tied):
            e.why = f"tied on {metric} with {best.name}; higher validation loss ({_fmt(e.loss)})" \
                if loss_key(e) > loss_key(best) else f"tied on {metric} and loss with {best.name}; later step"
        else:
            e.why = f"{metric} {_fmt(e.value)} vs {_fmt(best.value)} for {best.name}"
    return entries
