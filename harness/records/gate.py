"""gate.json: the promotion decision, every rule's verdict, and the comparison it was made on."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from harness.records.base import Record, VersionedRecord
from harness.records.comparison import ComparisonRecord

EXIT_PROMOTE, EXIT_BLOCKED = 0, 1


class RuleRecord(Record):
    """One rule's verdict in one scope: what harness.gating.rules.evaluate_gate returns and gate.json holds
    (a figure that could not be computed is null, NaN in, None out)."""

    name: str
    score: str
    category: str | None = None
    rule: str
    figure: float | None
    threshold: float | None
    verdict: str  # pass | fail | advisory-pass | advisory-fail
    explanation: str
    examples: list[str] = Field(default_factory=list)
    mde: float | None = None  # smallest paired difference this suite size detects (80% power, 5% two-sided)

    @property
    def blocks(self) -> bool:
        return self.verdict == "fail"

    @property
    def advisory(self) -> bool:
        return self.verdict.startswith("advisory")


class GateDecision(VersionedRecord):
    passed: bool
    exit_code: int
    suite_file: str
    rules: list[RuleRecord]
    comparison: ComparisonRecord
    lineage: list[dict[str, Any]] | None = None

    @property
    def verdict_line(self) -> str:
        n_fail = sum(r.blocks for r in self.rules)
        n_adv = sum(r.verdict == "advisory-fail" for r in self.rules)
        line = ("PROMOTE: every blocking rule passed" if self.passed else f"BLOCKED: {n_fail} rule(s) failed") + (
            f" ({n_adv} advisory rule(s) failed, not blocking)" if n_adv else "")
        return line + (" (the suite has no gates)" if not self.rules else "")
