"""Required-fact coverage: the fraction of the facts an example lists that the output states.

Each example lists its facts in a column (``required_facts`` by default). A fact is a string, or a
list of alternative phrasings ("5-7 business days", "five to seven business days"). A fact counts
as present when one alternative appears in the output as whole words after normalisation
(lowercase, NFKC, punctuation dropped), or, with ``embedding_threshold`` set, when one alternative's
embedding is at least that similar to one sentence of the output.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from harness.core.types import Failure, Item, ScoreValue
from harness.metrics.base import Metric, ScoreSpec, metric
from harness.metrics.text import normalize

_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")


class FactCoverageParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    field: str = Field("required_facts", description="Column listing the facts: each a string or a list of alternatives.")
    embedding_threshold: float | None = Field(
        None, gt=0, le=1, description="Also count a fact whose embedding is at least this similar to one output sentence.")
    model: str = Field("all-MiniLM-L6-v2", description="Embedding model for embedding_threshold.")


def fact_alternatives(raw: Any) -> list[list[str]] | str:
    """The facts as lists of alternatives, or why the column is malformed."""
    if not isinstance(raw, list) or not raw:
        return "must be a non-empty list of facts (each a string or a list of alternative strings)"
    facts = []
    for i, f in enumerate(raw):
        alts = [f] if isinstance(f, str) else f
        if not isinstance(alts, list) or not alts or not all(isinstance(a, str) and normalize(a, False) for a in alts):
            return f"fact {i} must be a non-empty string or a non-empty list of non-empty strings"
        facts.append(alts)
    return facts


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if s and s.strip()]


def stated(alternatives: list[str], output: str) -> bool:
    hay = f" {normalize(output, articles=False)} "
    return any(f" {normalize(a, articles=False)} " in hay for a in alternatives)


@metric("fact_coverage")
class FactCoverage(Metric):
    """Fraction of the example's required facts present in the output (string match, optionally embeddings)."""

    Params = FactCoverageParams

    def scores(self) -> list[ScoreSpec]:
        return [ScoreSpec("fact_coverage", description="fraction of the required facts stated in the output")]

    def _facts(self, it: Item) -> list[list[str]] | Failure:
        if self.params.field not in it.record:
            return Failure(f"example has no field {self.params.field!r}")
        facts = fact_alternatives(it.record[self.params.field])
        return Failure(f"{self.params.field}: {facts}") if isinstance(facts, str) else facts

    def matches(self, items: Sequence[Item]) -> list[list[bool] | Failure]:
        """Per example, whether each fact is present."""
        found: list[list[bool] | Failure] = []
        for it in items:
            facts = self._facts(it)
            if it.output is None:
                found.append(Failure(f"no output: {it.error}"))
            elif isinstance(facts, Failure):
                found.append(facts)
            else:
                found.append([stated(alts, it.output) for alts in facts])
        if self.params.embedding_threshold is not None:
            self._by_embedding(items, found)
        return found

    def _by_embedding(self, items: Sequence[Item], found: list[list[bool] | Failure]) -> None:
        from harness.local.embeddings import cosine_pairs

        a, b, owner = [], [], []
        for i, (it, hits) in enumerate(zip(items, found)):
            if isinstance(hits, Failure):
                continue
            sents = sentences(it.output or "")
            for j, alts in enumerate(self._facts(it)):  # type: ignore[arg-type]
                if not hits[j]:
                    for alt in alts:
                        for s in sents:
                            a.append(alt)
                            b.append(s)
                            owner.append((i, j))
        if not a:
            return
        for (i, j), sim in zip(owner, cosine_pairs(a, b, self.params.model), strict=True):
            if sim >= self.params.embedding_threshold:  # type: ignore[operator]
                found[i][j] = True  # type: ignore[index]

    def score_batch(self, items: Sequence[Item]) -> list[dict[str, ScoreValue]]:
        return [{"fact_coverage": h if isinstance(h, Failure) else sum(h) / len(h)} for h in self.matches(items)]

    def artifacts(self, items: Sequence[Item], per_example: Sequence[dict[str, ScoreValue]]) -> dict[str, Any]:
        missed: dict[str, int] = {}
        total = 0
        for it, hits in zip(items, self.matches(items)):
            if isinstance(hits, Failure):
                continue
            for alts, hit in zip(self._facts(it), hits):  # type: ignore[arg-type]
                total += 1
                if not hit:
                    missed[alts[0]] = missed.get(alts[0], 0) + 1
        top = dict(sorted(missed.items(), key=lambda kv: -kv[1])[:10])
        return {"facts_checked": total, "facts_missed": sum(missed.values()), "most_missed": top}
