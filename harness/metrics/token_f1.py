"""Token F1 as in the SQuAD evaluation script: bag-of-words overlap after SQuAD normalisation.

Normalisation follows ``evaluate-v2.0.py``: lowercase, delete punctuation, drop the articles
a/an/the, split on whitespace. Two additions for text beyond ASCII: NFKC first, and every Unicode
punctuation character (category P*) is deleted too. With several references the best one counts.
When the output or the reference has no tokens, F1 is 1 if both have none, else 0 (as SQuAD v2).
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter

from harness.core.types import Failure, Item, ScoreValue
from harness.metrics.base import Metric, ScoreSpec, metric
from harness.metrics.text import references

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_ASCII_PUNCT = set(string.punctuation)


def squad_tokens(text: str) -> list[str]:
    t = unicodedata.normalize("NFKC", text).lower()
    t = "".join(ch for ch in t if ch not in _ASCII_PUNCT and not unicodedata.category(ch).startswith("P"))
    return _ARTICLES.sub(" ", t).split()


def token_f1(prediction: str, reference: str) -> float:
    pred, gold = squad_tokens(prediction), squad_tokens(reference)
    if not pred or not gold:
        return float(pred == gold)
    same = sum((Counter(pred) & Counter(gold)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(gold)
    return 2 * precision * recall / (precision + recall)


@metric("token_f1")
class TokenF1(Metric):
    """SQuAD-style token F1 against the reference; with several references, the best one counts."""

    def scores(self) -> list[ScoreSpec]:
        return [ScoreSpec("token_f1", description="SQuAD token F1 against the reference")]

    def score(self, item: Item) -> dict[str, ScoreValue]:
        if item.output is None:
            return {"token_f1": Failure(f"no output: {item.error}")}
        refs = references(item.reference)
        if not refs:
            return {"token_f1": Failure("example has no reference")}
        return {"token_f1": max(token_f1(item.output, r) for r in refs)}
