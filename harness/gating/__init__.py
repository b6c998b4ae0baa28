"""Promotion gates: a suite's rules evaluated on a baseline-vs-candidate comparison."""

from harness.gating.rules import RuleResult, evaluate_gate, evaluate_gates, format_rules

__all__ = ["RuleResult", "evaluate_gate", "evaluate_gates", "format_rules"]
