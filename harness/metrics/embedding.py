"""Embedding cosine similarity of the output to the reference (all-MiniLM-L6-v2 by default)."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from harness.core.types import Failure, Item, ScoreValue
from harness.metrics.base import Metric, ScoreSpec, metric
from harness.metrics.text import references


class EmbeddingParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    model: str = Field("all-MiniLM-L6-v2", description="all-MiniLM-L6-v2, or a sentence-transformers folder.")
    batch_size: int = Field(64, ge=1)


@metric("embedding_similarity")
class EmbeddingSimilarity(Metric):
    """Cosine similarity in [-1, 1]; with several references, the best one counts."""

    Params = EmbeddingParams

    def scores(self) -> list[ScoreSpec]:
        return [ScoreSpec("embedding_similarity", range=(-1.0, 1.0), description="cosine similarity to the reference")]

    def score_batch(self, items: Sequence[Item]) -> list[dict[str, ScoreValue]]:
        from harness.local.embeddings import cosine_pairs

        out: list[dict[str, ScoreValue]] = [{} for _ in items]
        a, b, owner = [], [], []
        for i, it in enumerate(items):
            refs = references(it.reference)
            if it.output is None:
                out[i] = {"embedding_similarity": Failure(f"no output: {it.error}")}
            elif not refs:
                out[i] = {"embedding_similarity": Failure("example has no reference")}
            else:
                for r in refs:
                    a.append(it.output)
                    b.append(r)
                    owner.append(i)
        if a:
            sims = cosine_pairs(a, b, self.params.model, self.params.batch_size)
            for i, s in zip(owner, sims, strict=True):
                prev = out[i].get("embedding_similarity")
                out[i] = {"embedding_similarity": s if prev is None else max(prev, s)}  # type: ignore[type-var]
        return out
