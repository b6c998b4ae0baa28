"""Multiple-choice accuracy by log-likelihood, lm-evaluation-harness's ``acc`` and ``acc_norm``.

Each choice's summed log-probability after the context comes with the response (``scoring:
{type: multiple_choice}``, see harness.data.scoring and harness.local.loglik). ``acc``: the choice
with the highest summed log-probability is the right one. ``acc_norm``: the same after dividing
each by the choice's length, as lm-eval 0.4's ``process_results`` does it:
``len(choice)``, the choice's characters without the target delimiter (equal to its UTF-8 bytes
for ASCII text; ``by: bytes`` divides by the UTF-8 bytes of the scored continuation instead).
Ties go to the first choice (numpy's argmax). Per-choice log-probabilities are kept per example
in results.jsonl (``loglik``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from harness.core.types import Failure, Item, ScoreValue
from harness.metrics.base import Metric, ScoreSpec, metric


class AccNormParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    by: Literal["chars", "bytes"] = Field("chars", description="chars: lm-eval's len(choice) (default); bytes: UTF-8 "
                                                               "bytes of the scored continuation.")


def _argmax(values: list[float]) -> int:
    best = 0
    for i, v in enumerate(values):
        if v > values[best]:
            best = i
    return best


def _check(it: Item) -> Failure | None:
    if it.loglik is None:
        return Failure(f"no log-likelihoods: {it.error}" if it.error else "no log-likelihoods in the response")
    if it.target is None or not 0 <= it.target < len(it.loglik):
        return Failure(f"no right choice among {len(it.loglik)}")
    return None


@metric("acc")
class Acc(Metric):
    """Multiple choice: 1 when the right choice has the highest summed log-probability (lm-eval's acc)."""

    scoring = "multiple_choice"
    score_cache = False  # an argmax over a few floats costs less than the cache lookup

    def scores(self) -> list[ScoreSpec]:
        return [ScoreSpec("acc", binary=True, description="argmax of the choices' summed log-probability is the target")]

    def score(self, item: Item) -> dict[str, ScoreValue]:
        bad = _check(item)
        if bad:
            return {"acc": bad}
        return {"acc": float(_argmax([e["logprob"] for e in item.loglik or []]) == item.target)}


@metric("acc_norm")
class AccNorm(Metric):
    """Multiple choice: 1 when the right choice has the highest log-probability per character (lm-eval's acc_norm)."""

    Params = AccNormParams
    scoring = "multiple_choice"
    score_cache = False

    def scores(self) -> list[ScoreSpec]:
        return [ScoreSpec("acc_norm", binary=True,
                          description="argmax of each choice's summed log-probability / its length is the target")]

    def score(self, item: Item) -> dict[str, ScoreValue]:
        bad = _check(item)
        if bad:
            return {"acc_norm": bad}
        entries = item.loglik or []
        if self.params.by == "chars":  # type: ignore[attr-defined]
            if item.choices is None or len(item.choices) != len(entries):
                return {"acc_norm": Failure("the choices' text is not known: cannot normalise by their length")}
            lengths = [len(c) for c in item.choices]
        else:
            lengths = [int(e["bytes"]) for e in entries]
        if min(lengths) <= 0:
            return {"acc_norm": Failure("a choice is empty: its length normalisation is undefined")}
        normed = [e["logprob"] / n for e, n in zip(entries, lengths, strict=True)]
        return {"acc_norm": float(_argmax(normed) == item.target)}
