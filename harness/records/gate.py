"""gate.json: the promotion decision, every rule's verdict and outcome, and the comparison it was made on."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from harness.records.base import Record, VersionedRecord
from harness.records.comparison import ComparisonRecord

EXIT_PROMOTE, EXIT_BLOCKED, EXIT_INCONCLUSIVE = 0, 1, 5

Outcome = Literal["promote", "block", "inconclusive"]
# the verdict string a rule's outcome reads as (prefixed "advisory-" for a rule that only advises)
VERDICT_OF: dict[str, str] = {"promote": "pass", "block": "fail", "inconclusive": "inconclusive"}


def outcome_of_verdict(verdict: str) -> Outcome:
    """A gate.json written before outcomes existed has pass / fail verdicts only."""
    v = verdict.removeprefix("advisory-")
    return "promote" if v == "pass" else "inconclusive" if v == "inconclusive" else "block"


class RuleRecord(Record):
    """One rule's verdict in one scope: what harness.gating.rules.evaluate_gate returns and gate.json holds
    (a figure that could not be computed is null, NaN in, None out). ``outcome`` is what the evidence says
    about the rule (an advisory rule's outcome never decides); ``verdict`` the same, as the reports print it."""

    name: str
    score: str
    category: str | None = None
    rule: str
    figure: float | None
    threshold: float | None
    verdict: str  # pass | fail | inconclusive, or advisory-pass | advisory-fail | advisory-inconclusive
    explanation: str
    examples: list[str] = Field(default_factory=list)
    mde: float | None = None  # smallest paired difference this suite size detects (80% power, 5% two-sided)
    outcome: Outcome | None = None  # absent in files older than outcomes: read from the verdict

    @model_validator(mode="after")
    def _fill_outcome(self) -> RuleRecord:
        if self.outcome is None:
            self.outcome = outcome_of_verdict(self.verdict)
        return self

    @property
    def advisory(self) -> bool:
        return self.verdict.startswith("advisory")

    @property
    def blocks(self) -> bool:
        return self.outcome == "block" and not self.advisory

    @property
    def undecided(self) -> bool:
        """A blocking rule the data cannot decide."""
        return self.outcome == "inconclusive" and not self.advisory


def gate_outcome(rules: list[RuleRecord]) -> Outcome:
    """BLOCK if any blocking rule blocks, else INCONCLUSIVE if any is inconclusive, else PROMOTE."""
    if any(r.blocks for r in rules):
        return "block"
    return "inconclusive" if any(r.undecided for r in rules) else "promote"


EXIT_OF: dict[str, int] = {"promote": EXIT_PROMOTE, "block": EXIT_BLOCKED, "inconclusive": EXIT_INCONCLUSIVE}


class RetentionRecord(Record):
    """One retention check in the decision (harness.promote.retention): the base's and the candidate's mean on the
    retention suite's score, the paired difference with its 95% CI, the margin and the outcome."""

    name: str
    suite: str
    score: str
    margin: float
    outcome: Outcome
    advisory: bool = False
    explanation: str = ""
    direction: str = "higher"
    n: int | None = None
    baseline: float | None = None
    candidate: float | None = None
    delta: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None


class GateDecision(VersionedRecord):
    passed: bool  # True only when the outcome is promote
    exit_code: int
    suite_file: str
    rules: list[RuleRecord]
    comparison: ComparisonRecord
    lineage: list[dict[str, Any]] | None = None
    outcome: Outcome | None = None  # absent in files older than outcomes: promote when passed, else block
    retention: list[RetentionRecord] | None = None  # the suite's retention checks (their rules are in ``rules`` too)

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        if d.get("retention") is None:  # a suite without retention checks writes the gate.json it always did
            d.pop("retention", None)
        return d

    @model_validator(mode="after")
    def _fill_outcome(self) -> GateDecision:
        if self.outcome is None:
            self.outcome = "promote" if self.passed else "block"
        return self

    @property
    def verdict_line(self) -> str:
        n_fail = sum(r.blocks for r in self.rules)
        n_open = sum(r.undecided for r in self.rules)
        n_adv = sum(r.advisory and r.outcome != "promote" for r in self.rules)
        if self.outcome == "promote":
            line = "PROMOTE: every blocking rule passed"
        elif self.outcome == "inconclusive":
            line = f"INCONCLUSIVE: {n_open} rule(s) cannot be decided on these examples (none blocks)"
        else:
            line = f"BLOCKED: {n_fail} rule(s) failed" + (f", {n_open} inconclusive" if n_open else "")
        line += f" ({n_adv} advisory rule(s) failed or undecided, not blocking)" if n_adv else ""
        return line + (" (the suite has no gates)" if not self.rules else "")
