"""ROUGE-1/2/L F-measure against the reference, with Google's rouge-score package."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from harness.core.types import Failure, Item, ScoreValue
from harness.metrics.base import Metric, ScoreSpec, metric
from harness.metrics.text import references

RougeType = Literal["rouge1", "rouge2", "rougeL"]


class RougeParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    types: list[RougeType] = Field(default_factory=lambda: ["rouge1", "rouge2", "rougeL"], min_length=1)
    use_stemmer: bool = Field(True, description="Porter-stem words before matching.")


@metric("rouge")
class Rouge(Metric):
    """F-measure of each ROUGE type; with several references, the best one counts."""

    Params = RougeParams

    def __init__(self, params: BaseModel | None = None):
        super().__init__(params)
        self._scorer = None

    def scores(self) -> list[ScoreSpec]:
        return [ScoreSpec(t, description=f"{t} F-measure against the reference") for t in self.params.types]

    def score(self, item: Item) -> dict[str, ScoreValue]:
        if item.output is None:
            return {t: Failure(f"no output: {item.error}") for t in self.params.types}
        refs = references(item.reference)
        if not refs:
            return {t: Failure("example has no reference") for t in self.params.types}
        if self._scorer is None:
            from rouge_score import rouge_scorer

            self._scorer = rouge_scorer.RougeScorer(list(self.params.types), use_stemmer=self.params.use_stemmer)
        best: dict[str, ScoreValue] = {t: 0.0 for t in self.params.types}
        for ref in refs:
            s = self._scorer.score(ref, item.output)
            for t in self.params.types:
                best[t] = max(best[t], s[t].fmeasure)  # type: ignore[type-var]
        return best
