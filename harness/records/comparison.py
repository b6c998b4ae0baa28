"""comparison.json (and the comparison inside gate.json): what `harness compare` found, per score."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from harness.records.base import Record, VersionedRecord


class DeltaRecord(Record):
    delta: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    method: str


class RunScoreRecord(Record):
    label: str
    mean: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    n_failed: int


class VsBaselineRecord(Record):
    label: str
    delta: DeltaRecord
    p_value: float | None = None
    discordant: list[int] | None = None
    margin: float = 0.0
    regressions: list[str] = Field(default_factory=list)
    improvements: list[str] = Field(default_factory=list)


class CategoryRecord(Record):
    category: str
    n: int
    values: list[float | None]
    deltas: list[DeltaRecord | None] = Field(default_factory=list)
    regressions: list[list[str]] = Field(default_factory=list)


class ScoreRecord(Record):
    name: str
    metric: str
    direction: str
    level: str
    binary: bool
    range: list[float | None]
    runs: list[RunScoreRecord]
    vs_baseline: list[VsBaselineRecord]
    categories: list[CategoryRecord] = Field(default_factory=list)
    advisory_reason: str | None = None
    note: str = ""


class RunRef(Record):
    label: str
    directory: str
    model: str


class ComparisonRecord(VersionedRecord):
    suite: dict[str, Any]
    dataset: dict[str, Any]
    runs: list[RunRef]
    baseline: str
    n_examples: int
    unmatched_examples: dict[str, int] = Field(default_factory=dict)
    category_field: str | None = None
    bootstrap: dict[str, Any]
    scores: dict[str, ScoreRecord]
