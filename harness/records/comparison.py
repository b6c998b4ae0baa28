"""comparison.json (and the comparison inside gate.json): what `harness compare` found, per score."""

from __future__ import annotations

from typing import Any

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
    regressions: list[str] = []
    improvements: list[str] = []


class CategoryRecord(Record):
    category: str
    n: int
    values: list[float | None]
    deltas: list[DeltaRecord | None] = []
    regressions: list[list[str]] = []


class ScoreRecord(Record):
    name: str
    metric: str
    direction: str
    level: str
    binary: bool
    range: list[float | None]
    runs: list[RunScoreRecord]
    vs_baseline: list[VsBaselineRecord]
    categories: list[CategoryRecord] = []
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
    unmatched_examples: dict[str, int] = {}
    category_field: str | None = None
    bootstrap: dict[str, Any]
    scores: dict[str, ScoreRecord]
