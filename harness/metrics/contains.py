"""Contains: the output includes the reference (or a fixed string)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from harness.core.types import Failure, Item, ScoreValue
from harness.metrics.base import Metric, ScoreSpec, metric
from harness.metrics.text import normalize, references


class ContainsParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    value: list[str] | None = Field(None, min_length=1, description="Strings to look for; default: the example's reference(s).")
    mode: Literal["any", "all"] = Field("any", description="any: one of the strings suffices; all: every string must appear.")
    match: Literal["exact", "case_insensitive", "normalized"] = Field(
        "normalized",
        description="exact: substring as written; case_insensitive: casefolded substring; normalized: whole words "
        "after lowercasing and dropping punctuation (so 'cat' is not found in 'concatenate').")
    score: str = Field("contains", description="Name of the score (rename to use two contains checks in one suite).")


@metric("contains")
class Contains(Metric):
    """1 when the output contains the reference (any or all of several strings), else 0."""

    Params = ContainsParams
    score_cache = False  # cheaper to score again than to read back (harness.evaluate.score_cache)

    def scores(self) -> list[ScoreSpec]:
        return [ScoreSpec(self.params.score, binary=True, description=f"output contains {self.params.mode} of the strings")]

    def _found(self, needle: str, hay: str) -> bool:
        how = self.params.match
        if how == "exact":
            return needle in hay
        if how == "case_insensitive":
            return needle.casefold() in hay.casefold()
        n = normalize(needle, articles=False)
        return bool(n) and f" {n} " in f" {normalize(hay, articles=False)} "

    def score(self, item: Item) -> dict[str, ScoreValue]:
        name = self.params.score
        if item.output is None:
            return {name: Failure(f"no output: {item.error}")}
        needles = list(self.params.value) if self.params.value else references(item.reference)
        if not needles:
            return {name: Failure("example has no reference and the metric gives no `value`")}
        if self.params.match == "normalized" and not all(normalize(n, articles=False) for n in needles):
            return {name: Failure("a string to look for is empty after normalisation (only punctuation?)")}
        hits = [self._found(n, item.output) for n in needles]
        return {name: float(all(hits) if self.params.mode == "all" else any(hits))}
