"""Regex match: the output matches a regular expression (from the suite or the example)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from harness.core.types import Failure, Item, ScoreValue
from harness.metrics.base import Metric, ScoreSpec, metric


class RegexParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    pattern: str | None = Field(None, description="A Python regular expression.")
    pattern_field: str | None = Field(None, description="Or: the dataset column holding each example's pattern.")
    mode: Literal["search", "fullmatch"] = Field("search", description="search: anywhere in the output; fullmatch: the whole (stripped) output.")
    ignore_case: bool = False
    dotall: bool = Field(False, description="`.` also matches newlines.")
    score: str = Field("regex_match", description="Name of the score.")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as e:
                raise ValueError(f"not a valid regular expression: {e}") from None
        return v

    @model_validator(mode="after")
    def _one_source(self) -> RegexParams:
        if (self.pattern is None) == (self.pattern_field is None):
            raise ValueError("give exactly one of `pattern` or `pattern_field`")
        return self


@metric("regex_match")
class RegexMatch(Metric):
    """1 when the output matches the pattern, else 0."""

    Params = RegexParams
    score_cache = False  # cheaper to score again than to read back (harness.evaluate.score_cache)

    def scores(self) -> list[ScoreSpec]:
        return [ScoreSpec(self.params.score, binary=True, description=f"output matches the pattern ({self.params.mode})")]

    def _flags(self) -> int:
        return (re.I if self.params.ignore_case else 0) | (re.S if self.params.dotall else 0)

    def score(self, item: Item) -> dict[str, ScoreValue]:
        name, p = self.params.score, self.params
        if item.output is None:
            return {name: Failure(f"no output: {item.error}")}
        pattern = p.pattern
        if p.pattern_field is not None:
            if p.pattern_field not in item.record:
                return {name: Failure(f"example has no field {p.pattern_field!r}")}
            pattern = str(item.record[p.pattern_field])
        try:
            rx = re.compile(pattern or "", self._flags())
        except re.error as e:
            return {name: Failure(f"example's pattern {pattern!r} is not a valid regular expression: {e}")}
        found = rx.fullmatch(item.output.strip()) if p.mode == "fullmatch" else rx.search(item.output)
        return {name: float(found is not None)}
