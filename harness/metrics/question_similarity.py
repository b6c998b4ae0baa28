"""Relevance to the question: embedding cosine similarity of the output to the example's input."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from harness.core.types import Failure, Item, ScoreValue
from harness.metrics.base import Metric, ScoreSpec, metric


class QuestionSimilarityParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    field: str | None = Field(None, description="Dataset column holding the question; default: the example's input "
                                                "(dataset.fields.input, or the last user message in chat format).")
    model: str = Field("all-MiniLM-L6-v2", description="all-MiniLM-L6-v2, or a sentence-transformers folder.")
    batch_size: int = Field(64, ge=1)


@metric("question_similarity")
class QuestionSimilarity(Metric):
    """Cosine similarity in [-1, 1] of the output to the question it answers."""

    Params = QuestionSimilarityParams

    def scores(self) -> list[ScoreSpec]:
        return [ScoreSpec("question_similarity", range=(-1.0, 1.0), description="cosine similarity of the output to the question")]

    def _question(self, it: Item) -> str | Failure:
        if self.params.field is not None:
            if self.params.field not in it.record:
                return Failure(f"example has no field {self.params.field!r}")
            return str(it.record[self.params.field])
        if not it.input:
            return Failure("example has no input; set dataset.fields.input or this metric's `field`")
        return it.input

    def score_batch(self, items: Sequence[Item]) -> list[dict[str, ScoreValue]]:
        from harness.local.embeddings import cosine_pairs

        out: list[dict[str, ScoreValue]] = [{} for _ in items]
        pairs: list[tuple[int, str, str]] = []
        for i, it in enumerate(items):
            q = self._question(it)
            if it.output is None:
                out[i] = {"question_similarity": Failure(f"no output: {it.error}")}
            elif isinstance(q, Failure):
                out[i] = {"question_similarity": q}
            elif not it.output.strip():
                out[i] = {"question_similarity": Failure("empty output: nothing to embed")}
            else:
                pairs.append((i, it.output, q))
        if pairs:
            sims = cosine_pairs([p[1] for p in pairs], [p[2] for p in pairs], self.params.model, self.params.batch_size)
            for (i, _, _), s in zip(pairs, sims, strict=True):
                out[i] = {"question_similarity": s}
        return out
