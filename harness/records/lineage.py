"""lineage.json of `harness iterate`: every iteration's data, hyperparameters, scores and why the next changed."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from harness.records.base import Record, VersionedRecord
from harness.records.checkpoints import CheckpointEntry


class LineageEntry(Record):
    """One iteration (0 is the base model, which has no training fields). ``best`` and ``promoted``
    are set as the loop ends."""

    iteration: int
    model: str
    dataset_sha256: str | None = None
    changes: Any = None
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    validation_run: str | None = None
    scores: dict[str, float | None] = Field(default_factory=dict)
    score: dict[str, Any] = Field(default_factory=dict)
    reason_next: str = ""
    promoted: bool = False
    best: bool | None = None
    data: dict[str, Any] | None = None
    adapter: str | None = None
    adapter_sha256: str | None = None
    job_id: str | None = None
    training: dict[str, Any] | None = None
    checkpoints: list[CheckpointEntry] | None = Field(
        None, description="The training run's checkpoints, each with its validation loss and score, the chosen one "
                          "(this iteration's candidate) and why; absent in records written before checkpoints were "
                          "chosen by score, and when the run kept fewer than two.")
    improved: bool | None = None
    gate_passed_on_validation: bool | None = None
    gate_on_validation: str | None = Field(None, description="The suite's gate on validation: promote, block or inconclusive.")
    feedback: dict[str, Any] | None = None
    cost: dict[str, Any] | None = Field(None, description="Tokens and dollars of this iteration: its validation run "
                                                          "(per model, judges apart) and its training job.")


class LineageRecord(VersionedRecord):
    kind: str = "iterate"
    created_at: str
    harness_version: str = Field("unknown", description="The package version that ran the loop.")
    code_revision: str = Field("unknown", description="git describe of the code that ran the loop, or \"unknown\".")
    config: dict[str, Any]
    trainer: str | None = None
    method: str = "supervised"  # supervised, or dpo from the second iteration on
    suite: dict[str, Any]
    pool: dict[str, Any]
    score: dict[str, Any]
    stop_reason: str
    final: dict[str, Any]
    iterations: list[LineageEntry]
    promoted: str | None = None
    seconds: float | None = None
    cost: dict[str, Any] | None = Field(None, description="The loop's tokens and dollars: every run and training job.")
