"""Typed, versioned records: what the harness writes to disk and reads back.

    RunRecord      summary.json + results.jsonl of a run directory      (records.run)
    ComparisonRecord  comparison.json, the comparison inside gate.json  (records.comparison)
    GateDecision   gate.json                                            (records.gate)
    LineageRecord  lineage.json of `harness iterate`                    (records.lineage)

Every record carries ``format_version``; files written before versions existed (0.1.0) have
none and read as version 0. Readers validate and name the file and the field on a mismatch.
This package imports only harness.core (and pydantic; pandas, numpy and pyarrow for reading runs as columns).
"""

from harness.records.base import FORMAT_VERSION, read_record
from harness.records.comparison import ComparisonRecord
from harness.records.gate import GateDecision, RuleRecord
from harness.records.lineage import LineageRecord
from harness.records.run import ExampleRow, MetricEntry, RunRecord, RunSummary, read_run

__all__ = ["FORMAT_VERSION", "ComparisonRecord", "ExampleRow", "GateDecision", "LineageRecord", "MetricEntry",
           "RuleRecord", "RunRecord", "RunSummary", "read_record", "read_run"]
