"""Evaluate a suite's gates on a comparison of a baseline (run 0) and a candidate (run 1).

Every rule gives one outcome per scope (the whole split, one category, or each category):
promote / block / inconclusive (harness.gating.kinds), printed as the verdict pass / fail /
inconclusive, or advisory-... for advisory gates and scores whose metric says they may only advise
(an uncalibrated judge). Advisory verdicts never decide. A figure that cannot be computed (no
score, no CI) blocks: a gate never passes by default; a category with too few examples to test is
inconclusive, never a pass.

``category: each`` is a family of tests on one score. A category is PROMOTEd on its own CI (the
gate promotes only when every one is: an intersection-union test, whose false-promote rate needs
no correction); it is BLOCKed only when Holm's step-down over the family's one-sided p-values
rejects it at ALPHA, so the family-wise false-block rate stays ALPHA however many categories there
are. A category its CI would block but Holm does not reject is inconclusive.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from harness.compare.comparison import Comparison, ScoreComparison
from harness.compare.table import fmt
from harness.gating.kinds import ALPHA, BLOCK, INCONCLUSIVE, RULE_KINDS, Verdict, positions
from harness.records.gate import VERDICT_OF, RuleRecord
from harness.stats.power import mde_paired
from harness.suite.schema import Gate


def rule_name(gate: Gate, category: str | None) -> str:
    base = gate.name or f"{gate.metric} {RULE_KINDS[gate.rule].text.format(v=getattr(gate, gate.rule))}"
    return f"{base} [{category}]" if category is not None else base


def _verdict(gate: Gate, score: str, category: str | None, v: Verdict, advisory: bool,
             mde: float = float("nan"), name: str | None = None) -> RuleRecord:
    """One rule's verdict as gate.json holds it (NaN figures become null)."""
    verdict = ("advisory-" if advisory else "") + VERDICT_OF[v.outcome]
    return RuleRecord(name=name or rule_name(gate, category), score=score, category=category, rule=gate.rule,
                      figure=v.figure, threshold=v.threshold, verdict=verdict, outcome=v.outcome,
                      explanation=v.explanation, examples=v.examples, mde=mde)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values: sorted ascending, p_(i) * (m - i) (i from 0), made monotone and
    capped at 1; reject where the adjusted p-value <= alpha (family-wise error rate alpha)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def _holm_family(verdicts: list[Verdict]) -> list[Verdict]:
    """A ``category: each`` family: a category blocks only when its CI does and Holm rejects it at ALPHA."""
    family = [i for i, v in enumerate(verdicts) if v.testable and v.p_block is not None]
    adjusted = holm([1.0 if verdicts[i].p_block is None else verdicts[i].p_block for i in family])
    m = len(family)
    out = list(verdicts)
    for i, p_adj in zip(family, adjusted, strict=True):
        v = verdicts[i]
        note = f" [Holm over {m} categories, family-wise alpha {ALPHA:g} one-sided: adjusted p = {fmt(p_adj, 3)}]"
        if v.outcome == BLOCK and p_adj > ALPHA:
            out[i] = Verdict(v.figure, v.threshold, INCONCLUSIVE, v.explanation + note + "; inconclusive after the correction",
                             v.examples, v.p_block, v.testable)
        else:
            out[i] = Verdict(v.figure, v.threshold, v.outcome, v.explanation + note, v.examples, v.p_block, v.testable)
    return out


def rule_mde(comp: Comparison, sc: ScoreComparison, category: str | None) -> float:
    """The smallest paired difference this scope's size can detect (harness.stats.power); NaN for a corpus score."""
    if sc.values is None:
        return float("nan")
    pos = positions(comp, category)
    return mde_paired([sc.values[0][i] for i in pos], [sc.values[1][i] for i in pos], sc.binary)


def evaluate_gate(gate: Gate, comp: Comparison) -> list[RuleRecord]:
    value = float(getattr(gate, gate.rule))
    sc = comp.scores.get(gate.metric)
    if sc is None:
        return [_verdict(gate, gate.metric, None, Verdict(float("nan"), value, BLOCK,
                         f"the runs have no score {gate.metric!r}; they have: {', '.join(comp.scores)}"), gate.advisory,
                         name=rule_name(gate, gate.category if gate.category != "each" else None))]
    advisory = gate.advisory or bool(sc.advisory_reason)
    if gate.category == "each":
        scopes: list[str | None] = [c.category for c in sc.categories]
        if not scopes:
            return [_verdict(gate, sc.name, "each", Verdict(float("nan"), value, BLOCK, "the examples have no categories"),
                             advisory)]
    else:
        scopes = [gate.category]
    judge = RULE_KINDS[gate.rule].judge
    verdicts: list[Verdict] = []
    present: list[bool] = []
    for cat in scopes:
        here = cat is None or any(c.category == cat for c in sc.categories)
        present.append(here)
        verdicts.append(judge(gate, comp, sc, cat) if here else
                        Verdict(float("nan"), value, BLOCK, f"no example has category {cat!r}"))
    if gate.category == "each":
        verdicts = _holm_family(verdicts)
    out = []
    for cat, here, v in zip(scopes, present, verdicts, strict=True):
        if advisory:
            v = Verdict(v.figure, v.threshold, v.outcome, v.explanation + f" (advisory: {sc.advisory_reason or 'gate marked advisory'})",
                        v.examples, v.p_block, v.testable)
        out.append(_verdict(gate, sc.name, cat, v, advisory, rule_mde(comp, sc, cat) if here else float("nan")))
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
