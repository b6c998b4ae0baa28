"""Gating: evaluate a suite's gates on a comparison (pure; reporters render the result)."""

from harness.gating.decision import decide_gates
from harness.gating.rules import RuleResult, evaluate_gate, evaluate_gates, format_rules

__all__ = ["RuleResult", "decide_gates", "evaluate_gate", "evaluate_gates", "format_rules"]
