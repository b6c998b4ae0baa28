"""JSON validity: the output parses as JSON (one Markdown code fence around it allowed)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from harness.core.text import parse_json
from harness.core.types import Failure, Item, ScoreValue
from harness.metrics.base import Metric, ScoreSpec, metric


class JsonValidParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    allow_fences: bool = Field(True, description="Accept the JSON inside one ```json ... ``` code fence.")
    require: Literal["any", "object", "array"] = Field("any", description="The top-level JSON type required.")


@metric("json_valid")
class JsonValid(Metric):
    """1 when the whole output is valid JSON (of the required top-level type), else 0."""

    Params = JsonValidParams
    score_cache = False  # cheaper to score again than to read back (harness.evaluate.score_cache)

    def scores(self) -> list[ScoreSpec]:
        return [ScoreSpec("json_valid", binary=True, description="output parses as JSON")]

    def check(self, output: str) -> str | None:
        """None when valid, else why not."""
        try:
            value = parse_json(output, self.params.allow_fences)
        except ValueError as e:
            return f"not JSON: {e}"
        want = self.params.require
        if want == "object" and not isinstance(value, dict):
            return f"top level is {type(value).__name__}, not an object"
        if want == "array" and not isinstance(value, list):
            return f"top level is {type(value).__name__}, not an array"
        return None

    def score(self, item: Item) -> dict[str, ScoreValue]:
        if item.output is None:
            return {"json_valid": Failure(f"no output: {item.error}")}
        return {"json_valid": float(self.check(item.output) is None)}

    def artifacts(self, items: Sequence[Item], per_example: Sequence[dict[str, ScoreValue]]) -> dict[str, Any]:
        why: dict[str, int] = {}
        for it in items:
            if it.output is not None and (r := self.check(it.output)) is not None:
                key = r.split(":")[0] if r.startswith("not JSON") else r
                why[key] = why.get(key, 0) + 1
        return {"invalid_reasons": why} if why else {}
