"""The promotion decision, pure: a suite's gates and a comparison in, a GateDecision out.

Nothing here reads or writes a file; harness.promote.gate loads the suite and the runs, and the
reporters (harness.report) render the decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.compare.comparison import Comparison
from harness.core.errors import HarnessError
from harness.gating.rules import evaluate_gates
from harness.records.base import FORMAT_VERSION
from harness.records.gate import EXIT_OF, GateDecision, gate_outcome
from harness.suite.schema import Gate


def check_same_examples(comp: Comparison) -> None:
    if comp.aligned.unmatched:
        counts = ", ".join(f"{r.label} {len(r.rows)}" for r in comp.runs)
        raise HarnessError(f"the runs evaluated different examples ({counts}); a gate compares runs of the same examples "
                           "(the same --limit or --sample and --seed, or none)")


def decide_gates(gates: Sequence[Gate], comp: Comparison, suite_file: str,
                 lineage: list[dict[str, Any]] | None = None) -> GateDecision:
    """Every rule's outcome, and the gate's: BLOCK if any blocking rule blocks, else INCONCLUSIVE if any is
    inconclusive, else PROMOTE (advisory rules never decide). Only PROMOTE passes."""
    check_same_examples(comp)
    rules = evaluate_gates(list(gates), comp)
    outcome = gate_outcome(rules)
    return GateDecision.model_validate({
        "format_version": FORMAT_VERSION, "passed": outcome == "promote", "exit_code": EXIT_OF[outcome], "outcome": outcome,
        "suite_file": suite_file, "rules": rules, "comparison": comp.to_dict(),
        "lineage": lineage,
    })
