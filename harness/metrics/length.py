"""Length and truncation checks.

``length``: the output's word (or character) count lies within bounds, given in the suite or per
example (a column such as ``max_words``). ``truncation``: the output was cut off. By default that is
the provider's finish reason (``length``: generation stopped at ``max_tokens``); with
``source: text`` it is read from the text instead: an output whose last character is not
sentence-final punctuation (. ! ? … a closing quote or bracket after one, or an emoji), or that
stops inside an unclosed code fence, counts as truncated (for outputs read from files, which carry
no finish reason).
"""

from __future__ import annotations

import unicodedata
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from harness.core.text import words
from harness.core.types import Failure, Item, ScoreValue
from harness.metrics.base import Metric, ScoreSpec, metric


class LengthParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    unit: Literal["words", "chars"] = "words"
    min: int | None = Field(None, ge=0, description="Fewest units allowed.")
    max: int | None = Field(None, ge=1, description="Most units allowed.")
    min_field: str | None = Field(None, description="Column with each example's minimum (overrides `min`).")
    max_field: str | None = Field(None, description="Column with each example's maximum (overrides `max`).")

    @model_validator(mode="after")
    def _some_bound(self) -> LengthParams:
        if self.min is None and self.max is None and self.min_field is None and self.max_field is None:
            raise ValueError("give a bound: min, max, min_field or max_field")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        return self


@metric("length")
class Length(Metric):
    """length_ok: 1 when the output's length is within the bounds, else 0."""

    Params = LengthParams
    score_cache = False  # cheaper to score again than to read back (harness.evaluate.score_cache)

    def scores(self) -> list[ScoreSpec]:
        return [ScoreSpec("length_ok", binary=True, description=f"output length in {self.params.unit} within bounds")]

    def size(self, text: str) -> int:
        return len(words(text)) if self.params.unit == "words" else len(text.strip())

    def _bound(self, item: Item, field: str | None, default: int | None) -> int | None | Failure:
        if field is None:
            return default
        raw = item.record.get(field)
        try:
            return int(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return Failure(f"example's {field!r} is {raw!r}, not a whole number")

    def score(self, item: Item) -> dict[str, ScoreValue]:
        if item.output is None:
            return {"length_ok": Failure(f"no output: {item.error}")}
        lo = self._bound(item, self.params.min_field, self.params.min)
        hi = self._bound(item, self.params.max_field, self.params.max)
        for b in (lo, hi):
            if isinstance(b, Failure):
                return {"length_ok": b}
        n = self.size(item.output)
        ok = (lo is None or n >= lo) and (hi is None or n <= hi)  # type: ignore[operator]
        return {"length_ok": float(ok)}


_CLOSERS = "\"'\u201d\u2019)]}*_`»"
_FINAL = ".!?\u2026\u3002\uff01\uff1f"


def looks_truncated(text: str) -> bool:
    t = text.rstrip()
    if not t:
        return False
    if t.count("```") % 2 == 1:
        return True
    t = t.rstrip(_CLOSERS)
    if not t:
        return False
    last = t[-1]
    return not (last in _FINAL or unicodedata.category(last) == "So")  # So: emoji and other symbols


class TruncationParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    source: Literal["finish_reason", "text"] = Field(
        "finish_reason", description="finish_reason: the provider stopped at max_tokens (finish_reason == length); "
                                     "text: the output ends mid-sentence or inside an open code fence.")


@metric("truncation")
class Truncation(Metric):
    """truncated: 1 when the output was cut off (finish_reason == length, or read from the text), else 0."""

    Params = TruncationParams
    score_cache = False  # cheaper to score again than to read back (harness.evaluate.score_cache)

    def scores(self) -> list[ScoreSpec]:
        what = ("the provider stopped at max_tokens (finish_reason == length)" if self.params.source == "finish_reason"
                else "output ends without sentence-final punctuation (cut off)")
        return [ScoreSpec("truncated", direction="lower", binary=True, description=what)]

    def score(self, item: Item) -> dict[str, ScoreValue]:
        if item.output is None:
            return {"truncated": Failure(f"no output: {item.error}")}
        if self.params.source == "finish_reason":
            if item.finish_reason is None:
                return {"truncated": Failure("the provider reported no finish reason; use `source: text`")}
            return {"truncated": float(item.finish_reason == "length")}
        if not item.output.strip():
            return {"truncated": Failure("empty output: no sentence to be cut off")}
        return {"truncated": float(looks_truncated(item.output))}

