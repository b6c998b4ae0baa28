"""Fluency as perplexity: how surprising the output is to a reference language model.

Perplexity = exp(-mean token log-probability) of the output, scored by an in-process model (the
``local`` provider: SmolLM2-135M-Instruct by default) after the example's own chat prompt, as if
that model had written the answer (``condition_on_prompt: false``, or an example without a prompt,
scores it after one empty user turn: chat templates refuse an empty conversation).
Lower is more fluent. It measures fluency under that model, not correctness, and favours text in
that model's own style; compare it between runs, not with other models' numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from harness.core.types import Failure, Item, ScoreValue
from harness.metrics.base import Metric, ScoreSpec, metric

EMPTY_CHAT = [{"role": "user", "content": ""}]


class PerplexityParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    model: str | dict[str, Any] = Field("local", description="The reference model, an in-process provider spec: local "
                                                            "(SmolLM2), local:FOLDER, or a mapping {provider: local, name: ...}.")
    condition_on_prompt: bool = Field(True, description="Score the output after the example's prompt (else after an empty chat).")
    max_chars: int = Field(4000, ge=1, description="Score at most the first this many characters of an output (counted in the artifacts).")

    @field_validator("model")
    @classmethod
    def _parses(cls, v: str | dict[str, Any]) -> str | dict[str, Any]:
        from harness.core.errors import HarnessError
        from harness.providers.base import ModelSpec

        try:
            ModelSpec.parse(v)
        except HarnessError as e:
            raise ValueError(str(e)) from None
        return v


@metric("perplexity")
class Perplexity(Metric):
    """Perplexity of the output under a reference local model (SmolLM2 by default); lower is more fluent."""

    Params = PerplexityParams

    def __init__(self, params: BaseModel | None = None):
        super().__init__(params)
        self._clipped = 0

    def scores(self) -> list[ScoreSpec]:
        return [ScoreSpec("perplexity", direction="lower", range=(1.0, None),
                          description="exp(-mean token log-prob) of the output under the reference model")]

    @cached_property
    def provider(self) -> Any:
        from harness.core.errors import HarnessError
        from harness.providers.base import ModelSpec, build_provider

        p = build_provider(ModelSpec.parse(self.params.model))
        if not hasattr(p, "score_continuations"):
            raise HarnessError(f"perplexity: model {self.params.model!r} cannot score text; use an in-process model such as local")
        return p

    def score_batch(self, items: Sequence[Item]) -> list[dict[str, ScoreValue]]:
        out: list[dict[str, ScoreValue]] = [{} for _ in items]
        todo = []
        for i, it in enumerate(items):
            if it.output is None:
                out[i] = {"perplexity": Failure(f"no output: {it.error}")}
            elif not it.output.strip():
                out[i] = {"perplexity": Failure("empty output: perplexity is undefined")}
            else:
                todo.append(i)
        self._clipped = sum(len(items[i].output or "") > self.params.max_chars for i in todo)
        if not todo:
            return out
        # Chat templates refuse an empty conversation: "unconditioned" is one empty user turn.
        prompts = [items[i].messages if self.params.condition_on_prompt and items[i].messages else EMPTY_CHAT for i in todo]
        texts = [(items[i].output or "")[: self.params.max_chars] for i in todo]
        for i, lps in zip(todo, self.provider.score_continuations(prompts, texts), strict=True):
            out[i] = {"perplexity": math.exp(-math.fsum(lps) / len(lps)) if lps else Failure("output has no tokens")}
        return out

    def artifacts(self, items: Sequence[Item], per_example: Sequence[dict[str, ScoreValue]]) -> dict[str, Any]:
        return {"model": self.params.model, "fingerprint": self.provider.fingerprint(),
                "condition_on_prompt": self.params.condition_on_prompt, "n_clipped": self._clipped}
