"""checkpoints.json: adapter checkpoints of one run, each with its loss and its validation metric,
and which one was chosen and why (written by ``harness checkpoints`` and by the loop for each
local training run; the loop's lineage.json entries carry the same entries)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from harness.records.base import Record, VersionedRecord, read_record

CHECKPOINTS_JSON = "checkpoints.json"


class CheckpointEntry(Record):
    """One checkpoint: where it is, its losses as the trainer logged them, its score on the suite's
    validation split, and whether (and why) it is the one chosen."""

    name: str = Field(..., description="The checkpoint's folder name (checkpoint-N), or how the trainer named it.")
    path: str | None = Field(None, description="The adapter folder.")
    step: int | None = Field(None, description="Optimizer steps done when it was saved.")
    epoch: float | None = Field(None, description="Epochs done when it was saved.")
    train_loss: float | None = None
    loss: float | None = Field(None, description="Validation loss at this checkpoint, as the trainer logged it.")
    metric: str | None = Field(None, description="The score checkpoints are chosen by.")
    value: float | None = Field(None, description="That score's mean on the validation split.")
    run: str | None = Field(None, description="The run directory of that evaluation.")
    chosen: bool = False
    why: str = Field("", description="For the chosen one, why it was chosen; for the others, why not.")


class CheckpointTable(VersionedRecord):
    kind: str = "checkpoints"
    suite: str
    split: str
    base: str
    metric: str
    direction: str = Field(..., description="higher or lower: which way the metric is better.")
    metric_source: str = Field("", description="Why this metric: --metric, the first comparative gate's, ...")
    chosen: str | None = None
    why: str = ""
    checkpoints: list[CheckpointEntry]
    base_loads: int | None = Field(None, description="Base-model loads the evaluations cost (1 for a local base).")
    seconds: float | None = None


def read_checkpoint_table(path: str | Path) -> CheckpointTable:
    return read_record(CheckpointTable, path, "harness checkpoints writes one")
