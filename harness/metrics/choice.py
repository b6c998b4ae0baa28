"""Multiple choice: read the chosen letter from a free-text answer and compare it to the key.

Extraction, first rule that finds something wins:

1. an explicit statement: "the answer is (C)", "Answer: C", "correct option: c";
2. the answer opens with the letter: "C", "C)", "(C)", "C. Paris", "C: Paris";
3. exactly one distinct marked letter anywhere: "(C)" or "C)";
4. exactly one distinct standalone capital letter (not "A"/"I" used as a word: "A dog", "I think").

An answer from which no letter can be read scores 0 (it did not pick one) and is counted in the
artifacts as unextracted; a reference that is not one of the choices is a failure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from harness.core.types import Failure, Item, ScoreValue
from harness.metrics.base import Metric, ScoreSpec, metric

NO_CHOICE = "(no choice)"


class ChoiceParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    choices: list[str] = Field(default_factory=lambda: ["A", "B", "C", "D"], min_length=2,
                               description="The option labels, e.g. [A, B, C, D] or ['1', '2', '3'].")

    @field_validator("choices")
    @classmethod
    def _labels(cls, v: list[str]) -> list[str]:
        bad = [c for c in v if not re.fullmatch(r"[A-Za-z0-9]", c)]
        if bad:
            raise ValueError(f"each choice is one letter or digit; got {bad}")
        if len({c.upper() for c in v}) != len(v):
            raise ValueError("choices repeat")
        return v


@metric("choice")
class Choice(Metric):
    """1 when the option letter read from the output equals the reference letter, else 0."""

    Params = ChoiceParams
    score_cache = False  # cheaper to score again than to read back (harness.evaluate.score_cache)

    def __init__(self, params: BaseModel | None = None):
        super().__init__(params)
        alt = "|".join(re.escape(c) for c in self.params.choices)
        self._by_upper = {c.upper(): c for c in self.params.choices}
        self._explicit = re.compile(
            rf"\b(?:answer|option|choice)(?:\s+(?:is|would\s+be|:))?\s*[:\-]?\s*(?:option\s+)?\(?({alt})\)?(?![A-Za-z0-9])", re.I)
        self._opening = re.compile(rf"^\s*[\*_]*\(?({alt})(?:[\).:]|\s*$)")
        self._marked = re.compile(rf"(?<![A-Za-z0-9])\(?({alt})\)")
        self._bare = re.compile(rf"(?<![A-Za-z0-9'])({alt})(?![A-Za-z0-9'])")

    def scores(self) -> list[ScoreSpec]:
        return [ScoreSpec("choice_accuracy", binary=True, description="the extracted option equals the reference")]

    def _canon(self, s: str) -> str:
        return self._by_upper.get(s.upper(), NO_CHOICE)

    def extract(self, output: str) -> str:
        """The option the output picks, or NO_CHOICE."""
        m = self._explicit.search(output)
        if m:
            return self._canon(m.group(1))
        m = self._opening.match(output)
        if m:
            return self._canon(m.group(1))
        marked = {self._canon(g) for g in self._marked.findall(output)}
        if len(marked) == 1:
            return marked.pop()
        bare = set()
        for m in self._bare.finditer(output):
            letter = m.group(1)
            if letter in ("A", "I", "a") and re.match(r"\s+(?!(?:or|and|nor|vs)\b)[a-z]", output[m.end():]):
                continue  # the article "A dog" or the pronoun "I think", not an option ("A or B" is)
            if letter.isalpha() and letter.islower():
                continue  # a lowercase letter alone is a word ("a"), not a pick
            bare.add(self._canon(letter))
        return bare.pop() if len(bare) == 1 else NO_CHOICE

    def _reference(self, ref: Any) -> str:
        text = str(ref).strip().strip("().").strip()
        return self._canon(text) if len(text) == 1 else NO_CHOICE

    def score(self, item: Item) -> dict[str, ScoreValue]:
        if item.output is None:
            return {"choice_accuracy": Failure(f"no output: {item.error}")}
        ref = self._reference(item.reference)
        if ref == NO_CHOICE:
            return {"choice_accuracy": Failure(f"reference {item.reference!r} is not one of the choices {self.params.choices}")}
        return {"choice_accuracy": float(self.extract(item.output) == ref)}

    def artifacts(self, items: Sequence[Item], per_example: Sequence[dict[str, ScoreValue]]) -> dict[str, Any]:
        picks = [self.extract(it.output) for it in items if it.output is not None]
        counts = {c: picks.count(c) for c in [*self.params.choices, NO_CHOICE]}
        return {"picked": counts, "unextracted_rate": counts[NO_CHOICE] / len(picks) if picks else None}
