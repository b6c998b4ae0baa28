"""The record itself: gate.json (a GateDecision) or comparison.json (a ComparisonRecord)."""

from __future__ import annotations

from harness.report.registry import ReportInput, reporter


@reporter("json")
def json_report(inp: ReportInput) -> dict[str, str]:
    if inp.decision is not None:
        return {"gate.json": inp.decision.to_json() + "\n"}
    return {"comparison.json": inp.comparison.record().to_json() + "\n"}
