"""Gating: evaluate a suite's gates on a comparison (pure; reporters render the result)."""

from harness.gating.decision import decide_gates
from harness.gating.kinds import RULE_KINDS, RuleKind
from harness.gating.rules import evaluate_gate, evaluate_gates, format_rules

__all__ = ["RULE_KINDS", "RuleKind", "decide_gates", "evaluate_gate", "evaluate_gates", "format_rules"]
