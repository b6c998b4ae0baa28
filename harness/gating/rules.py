"""Evaluate a suite's gates on a comparison of a baseline (run 0) and a candidate (run 1).

Every rule gives one verdict per scope (the whole split, one category, or each category):
pass / fail, or advisory-pass / advisory-fail for advisory gates and scores whose metric says
they may only advise (an uncalibrated judge). Advisory verdicts never block. A figure that
cannot be computed (no paired examples, no CI) fails: a gate never passes by default.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from harness.compare.comparison import Comparison, ScoreComparison
from harness.compare.table import fmt
from harness.gating.kinds import RULE_KINDS, positions
from harness.records.gate import RuleRecord
from harness.stats.power import mde_paired
from harness.suite.schema import Gate


def rule_name(gate: Gate, category: str | None) -> str:
    base = gate.name or f"{gate.metric} {RULE_KINDS[gate.rule].text.format(v=getattr(gate, gate.rule))}"
    return f"{base} [{category}]" if category is not None else base


def _verdict(gate: Gate, score: str, category: str | None, figure: float, threshold: float, verdict: str,
             explanation: str, examples: list[str] | None = None, mde: float = float("nan"), name: str | None = None) -> RuleRecord:
    """One rule's verdict as gate.json holds it (NaN figures become null)."""
    return RuleRecord(name=name or rule_name(gate, category), score=score, category=category, rule=gate.rule, figure=figure,
                      threshold=threshold, verdict=verdict, explanation=explanation, examples=examples or [], mde=mde)


def rule_mde(comp: Comparison, sc: ScoreComparison, category: str | None) -> float:
    """The smallest paired difference this scope's size can detect (harness.stats.power); NaN for a corpus score."""
    if sc.values is None:
        return float("nan")
    pos = positions(comp, category)
    return mde_paired([sc.values[0][i] for i in pos], [sc.values[1][i] for i in pos], sc.binary)


def evaluate_gate(gate: Gate, comp: Comparison) -> list[RuleRecord]:
    value = float(getattr(gate, gate.rule))
    fail = "advisory-fail" if gate.advisory else "fail"
    sc = comp.scores.get(gate.metric)
    if sc is None:
        return [_verdict(gate, gate.metric, None, float("nan"), value, fail,
                         f"the runs have no score {gate.metric!r}; they have: {', '.join(comp.scores)}",
                         name=rule_name(gate, gate.category if gate.category != "each" else None))]
    if gate.category == "each":
        scopes: list[str | None] = [c.category for c in sc.categories]
        if not scopes:
            return [_verdict(gate, sc.name, "each", float("nan"), value, fail, "the examples have no categories")]
    else:
        scopes = [gate.category]
    advisory = gate.advisory or bool(sc.advisory_reason)
    judge = RULE_KINDS[gate.rule].judge
    out = []
    for cat in scopes:
        present = cat is None or any(c.category == cat for c in sc.categories)
        if not present:
            fig, thr, ok, why, ids = float("nan"), value, False, f"no example has category {cat!r}", []
        else:
            fig, thr, ok, why, ids = judge(gate, comp, sc, cat)
        if advisory:
            why += f" (advisory: {sc.advisory_reason or 'gate marked advisory'})"
        verdict = ("advisory-" if advisory else "") + ("pass" if ok else "fail")
        out.append(_verdict(gate, sc.name, cat, fig, thr, verdict, why, ids, rule_mde(comp, sc, cat) if present else float("nan")))
    return out


def evaluate_gates(gates: list[Gate], comp: Comparison) -> list[RuleRecord]:
    if len(comp.runs) != 2:
        from harness.core.errors import HarnessError

        raise HarnessError(f"a gate compares exactly two runs (baseline, candidate); got {len(comp.runs)}")
    return [r for g in gates for r in evaluate_gate(g, comp)]


def format_figure(rule: str, x: float | None) -> str:
    """Counts as integers, differences signed, means plain (harness.gating.kinds)."""
    return RULE_KINDS[rule].format(x)


def format_rules(results: Sequence[RuleRecord]) -> str:
    """One line per verdict; ``MDE`` is the smallest paired difference this suite size detects (80% power,
    two-sided 5%; harness.stats.power): a difference below it that the gate reads is mostly noise."""
    rows = [("verdict", "rule", "figure", "threshold", "MDE", "why")]
    for r in results:
        mde = r.mde if r.mde is not None else float("nan")
        rows.append((r.verdict.upper(), r.name, format_figure(r.rule, r.figure), format_figure(r.rule, r.threshold),
                     "-" if math.isnan(mde) else fmt(mde), r.explanation))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join([c.ljust(w) for c, w in zip(row[:5], widths, strict=True)] + [row[5]]) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths) + "  ---")
    return "\n".join(lines)
