"""Grade-school math answers as lm-evaluation-harness scores GSM8K (its gsm8k.yaml, version 3):
the number is extracted from the generation two ways, and each compared with the reference's
final answer by lm-eval's exact match.

- strict: the first match of ``#### (-?[0-9.,]+)``: the model must state its answer the way the
  five-shot solutions do ("#### 42");
- flexible: the last match of ``(-?[$0-9.,]{2,})|(-?[0-9]+)``: the last number written anywhere.

An output with no match extracts "[invalid]" (lm-eval's fallback) and scores 0. Both the extracted
answer and the reference (the full solution text, ending "#### N") then go through lm-eval's
exact-match normalisation: the patterns ``,``, ``\\$``, ``(?s).*#### `` and ``\\.$`` removed, case
ignored. tests/metrics/test_gsm8k_metric.py checks both against lm_eval's own filter and metric.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict

from harness.core.types import Failure, Item, ScoreValue
from harness.metrics.base import Metric, ScoreSpec, metric

STRICT = re.compile(r"#### (\-?[0-9\.\,]+)")
FLEXIBLE = re.compile(r"(-?[$0-9.,]{2,})|(-?[0-9]+)")
IGNORE = (",", "\\$", "(?s).*#### ", "\\.$")
INVALID = "[invalid]"


def extract(text: str, pattern: re.Pattern[str], group_select: int) -> str:
    """lm-eval's RegexFilter: findall, the match at ``group_select``, the first non-empty group of a tuple."""
    found: list[Any] = pattern.findall(text)
    if not found:
        return INVALID
    match = found[group_select]
    if isinstance(match, tuple):
        match = next((m for m in match if m), INVALID)
    return match.strip()


def normalise(text: str) -> str:
    """lm-eval's exact_match with gsm8k's regexes_to_ignore and ignore_case."""
    for pattern in IGNORE:
        text = re.sub(pattern, "", text)
    return text.lower()


class GSM8KParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@metric("gsm8k_answer")
class GSM8KExactMatch(Metric):
    """GSM8K's strict and flexible answer extraction, then exact match with the reference's final answer (lm-eval's)."""

    Params = GSM8KParams
    score_cache = False

    def scores(self) -> list[ScoreSpec]:
        return [ScoreSpec("exact_match_strict", binary=True, description="the '#### N' answer equals the reference's"),
                ScoreSpec("exact_match_flexible", binary=True, description="the last number written equals the reference's")]

    def score(self, item: Item) -> dict[str, ScoreValue]:
        if item.output is None:
            fail = Failure(f"no output: {item.error}")
            return {"exact_match_strict": fail, "exact_match_flexible": fail}
        if not isinstance(item.reference, str) or "####" not in item.reference:
            fail = Failure("the reference is not a GSM8K solution ending '#### N' (map the dataset's answer field)")
            return {"exact_match_strict": fail, "exact_match_flexible": fail}
        gold = normalise(item.reference)
        return {"exact_match_strict": float(normalise(extract(item.output, STRICT, 0)) == gold),
                "exact_match_flexible": float(normalise(extract(item.output, FLEXIBLE, -1)) == gold)}
