"""lineage.json of `harness iterate`: every iteration's data, hyperparameters, scores and why the next changed."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict

from harness.records.base import Record, VersionedRecord


class LineageEntry(Record):
    """One iteration (0 is the base model). Later fields (``best``, ``promoted``) are set as the loop ends."""

    model_config = ConfigDict(extra="allow")  # trainers add their own details (adapter paths, losses)

    iteration: int
    model: str
    dataset_sha256: str | None = None
    changes: Any = None
    hyperparameters: dict[str, Any] = {}
    validation_run: str | None = None
    scores: dict[str, float | None] = {}
    score: dict[str, Any] = {}
    reason_next: str = ""
    promoted: bool = False
    best: bool | None = None


class LineageRecord(VersionedRecord):
    kind: str = "iterate"
    created_at: str
    config: dict[str, Any]
    trainer: str | None = None
    suite: dict[str, Any]
    pool: dict[str, Any]
    score: dict[str, Any]
    stop_reason: str
    final: dict[str, Any]
    iterations: list[LineageEntry]
    promoted: str | None = None
    seconds: float | None = None
