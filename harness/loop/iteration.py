"""One evaluation and one iteration of the loop, as its stages and its lineage read them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.loop.data import BuiltData
from harness.records.base import nan_if_none
from harness.records.run import RunRecord
from harness.train.base import TrainConfig, TrainResult


@dataclass
class Evaluation:
    model: str
    split: str
    record: RunRecord
    rows: list[dict[str, Any]] = field(init=False)  # per-example rows, for the feedback planner

    def __post_init__(self) -> None:
        self.rows = self.record.rows()

    @property
    def directory(self) -> Path:
        return self.record.directory

    def mean(self, score: str) -> float:
        return nan_if_none(self.record.summary.metrics[score].mean)


@dataclass
class Iteration:
    index: int
    data: BuiltData
    config: TrainConfig
    result: TrainResult
    validation: Evaluation
    score: float
    improved: bool
    gate_outcome: str  # the suite's gate on validation: promote | block | inconclusive (harness.gating.kinds)
    reason_next: str = ""
    feedback: dict[str, Any] | None = None

    @property
    def gate_passed(self) -> bool:
        return self.gate_outcome == "promote"
