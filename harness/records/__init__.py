"""Typed, versioned records: what the harness writes to disk and reads back.

    RunRecord      summary.json + results.jsonl of a run directory      (records.run)
    ComparisonRecord  comparison.json, the comparison inside gate.json  (records.comparison)
    GateDecision   gate.json                                            (records.gate)
    LineageRecord  lineage.json of `harness iterate`                    (records.lineage)
    TrainResultRecord  train_result.json of a training run              (records.train_result)
    CheckpointTable  checkpoints.json: checkpoints by loss and metric   (records.checkpoints)

Every record carries ``format_version``; files written before versions existed (0.1.0) have
none and read as version 0. Readers validate and name the file and the field on a mismatch.
This package imports only harness.core (and pydantic; pandas, numpy and pyarrow for reading runs as columns).
"""

from __future__ import annotations

import importlib
from typing import Any

# Each name's module, imported on first use: `harness run` needs only records.run, and every
# record's pydantic models cost import time (about 20 ms for the ones a run does not write).
_WHERE = {
    "FORMAT_VERSION": "base", "read_record": "base",
    "ComparisonRecord": "comparison",
    "CheckpointEntry": "checkpoints", "CheckpointTable": "checkpoints", "read_checkpoint_table": "checkpoints",
    "GateDecision": "gate", "RuleRecord": "gate",
    "LineageRecord": "lineage",
    "TrainResultRecord": "train_result", "read_train_result": "train_result",
    "ExampleRow": "run", "MetricEntry": "run", "RunRecord": "run", "RunSummary": "run", "read_run": "run",
}

__all__ = ["FORMAT_VERSION", "CheckpointEntry", "CheckpointTable", "ComparisonRecord", "ExampleRow", "GateDecision", "LineageRecord", "MetricEntry",
           "RuleRecord", "RunRecord", "RunSummary", "TrainResultRecord", "read_record", "read_run",
           "read_checkpoint_table", "read_train_result"]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'harness.records' has no attribute {name!r}")
    return getattr(importlib.import_module(f"harness.records.{_WHERE[name]}"), name)
