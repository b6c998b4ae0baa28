"""Repetition: distinct-1 and distinct-2 (unique word n-grams over all n-grams) and the repeated
n-gram rate (the share of n-grams that repeat one seen earlier in the same output).

Words are lowercased runs of letters and digits (any script); punctuation is ignored. A text too
short to have an n-gram of some order cannot be scored for it: a failure, not 0 or 1.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from harness.core.text import ngrams, words
from harness.core.types import Failure, Item, ScoreValue
from harness.metrics.base import Metric, ScoreSpec, metric


class RepetitionParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    n: int = Field(3, ge=1, le=8, description="Order of the repeated n-gram rate.")


@metric("repetition")
class Repetition(Metric):
    """distinct_1, distinct_2 (higher: more varied) and repeated_ngram_rate (lower: less looping)."""

    Params = RepetitionParams

    def scores(self) -> list[ScoreSpec]:
        return [
            ScoreSpec("distinct_1", description="unique words / words"),
            ScoreSpec("distinct_2", description="unique word bigrams / bigrams"),
            ScoreSpec("repeated_ngram_rate", direction="lower",
                      description=f"share of word {self.params.n}-grams that repeat an earlier one"),
        ]

    @staticmethod
    def distinct(tokens: list[str], n: int) -> float | Failure:
        grams = ngrams(tokens, n)
        if not grams:
            return Failure(f"fewer than {n} words: no {n}-grams")
        return len(set(grams)) / len(grams)

    def score(self, item: Item) -> dict[str, ScoreValue]:
        if item.output is None:
            f = Failure(f"no output: {item.error}")
            return {"distinct_1": f, "distinct_2": f, "repeated_ngram_rate": f}
        toks = words(item.output)
        d = self.distinct(toks, self.params.n)
        return {
            "distinct_1": self.distinct(toks, 1),
            "distinct_2": self.distinct(toks, 2),
            "repeated_ngram_rate": d if isinstance(d, Failure) else 1.0 - d,
        }
