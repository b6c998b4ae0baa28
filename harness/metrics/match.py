"""Exact and normalised string match against the reference (or any of a list of references)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from harness.core.types import Failure, Item, ScoreValue
from harness.metrics.base import Metric, ScoreSpec, metric
from harness.metrics.text import normalize, references


class ExactParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    strip: bool = Field(True, description="Ignore leading and trailing whitespace.")


@metric("exact_match")
class ExactMatch(Metric):
    """1 when the output equals a reference exactly (after stripping whitespace), else 0."""

    Params = ExactParams
    score_cache = False  # cheaper to score again than to read back (harness.evaluate.score_cache)

    def scores(self) -> list[ScoreSpec]:
        return [ScoreSpec(self.name, binary=True, description="output equals the reference")]

    def score(self, item: Item) -> dict[str, ScoreValue]:
        if item.output is None:
            return {self.name: Failure(f"no output: {item.error}")}
        refs = references(item.reference)
        if not refs:
            return {self.name: Failure("example has no reference")}
        out = item.output.strip() if self.params.strip else item.output
        return {self.name: float(any(out == (r.strip() if self.params.strip else r) for r in refs))}


class NormalizedParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    ignore_articles: bool = Field(True, description="Drop 'a', 'an', 'the' before comparing.")


@metric("normalized_match")
class NormalizedMatch(Metric):
    """1 when output and reference agree after lowercasing, dropping punctuation and extra spaces."""

    Params = NormalizedParams
    score_cache = False  # cheaper to score again than to read back (harness.evaluate.score_cache)

    def scores(self) -> list[ScoreSpec]:
        return [ScoreSpec(self.name, binary=True, description="output equals the reference after normalisation")]

    def score(self, item: Item) -> dict[str, ScoreValue]:
        if item.output is None:
            return {self.name: Failure(f"no output: {item.error}")}
        refs = references(item.reference)
        if not refs:
            return {self.name: Failure("example has no reference")}
        out = normalize(item.output, self.params.ignore_articles)
        return {self.name: float(any(out == normalize(r, self.params.ignore_articles) for r in refs))}
