"""Decoding settings: recorded in every run and part of every cache key."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class GenerationSettings(BaseModel):
    """Decoding settings, recorded in every run and part of every cache key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_tokens: int = Field(256, ge=1, le=32768)
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="0 means greedy decoding.")
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    stop: list[str] = Field(default_factory=list, max_length=4, description="Stop sequences (at most 4).")
    seed: int | None = Field(0, description="Sampling seed, where the provider supports one.")
    logprobs: bool = Field(False, description="Ask for token log-probabilities where the provider has them.")
    top_logprobs: int = Field(0, ge=0, le=20)
