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

Several comparative rules (non_inferiority_margin, min_improvement, max_regressions) on one score and
one scope (the whole split, one category, or ``each``) are one family too (``families``): their BLOCKs
are corrected by one Holm step-down over all their tests (for ``each`` gates: every category of every
one), the same way, and each line says so. Advisory rules form their own families.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

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


def holm_matrix(p_values: Any) -> np.ndarray:
    """Holm's step-down adjusted p-values of every row of an (S, m) array (one family per row: S simulated
    comparisons in harness.gating.power, or one): sorted ascending, p_(i) * (m - i) (i from 0), made
    monotone and capped at 1; reject where the adjusted p-value <= alpha (family-wise error rate alpha)."""
    p = np.atleast_2d(np.asarray(p_values, dtype=float))
    m = p.shape[1]
    if m == 0:
        return p.copy()
    order = np.argsort(p, axis=1, kind="stable")
    ranked = np.take_along_axis(p, order, axis=1) * (m - np.arange(m))[None, :]
    stepped = np.maximum.accumulate(np.minimum(ranked, 1.0), axis=1)
    out = np.empty_like(p)
    np.put_along_axis(out, order, stepped, axis=1)
    return out


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's adjusted p-values of one family (``holm_matrix`` on one row)."""
    return [float(x) for x in holm_matrix([list(p_values)])[0]] if len(p_values) else []


def family_key(gate: Gate, score_advisory: bool = False) -> tuple[Any, ...] | None:
    """Gates sharing a key are one Holm family: comparative rules (RuleKind.needs_baseline) on one score and
    one scope (None, a category, or ``each``), blocking and advisory apart. Any other ``category: each`` gate
    is a family of its own categories (key None: judged per gate)."""
    if not RULE_KINDS[gate.rule].needs_baseline:
        return None
    return (gate.metric, gate.category, gate.advisory or score_advisory)


def families(gates: Sequence[Gate], score_advisory: dict[str, bool] | None = None) -> list[list[int]]:
    """The gates' Holm families as lists of gate positions, in order of first appearance; a gate with no
    family key is a family of one (its ``category: each`` categories, or a single test: no correction)."""
    adv = score_advisory or {}
    out: dict[Any, list[int]] = {}
    for i, g in enumerate(gates):
        key = family_key(g, adv.get(g.metric, False))
        out.setdefault(("gate", i) if key is None else key, []).append(i)
    return list(out.values())


def holm_note(m: int, rules: int, score: str, category: str | None) -> str:
    """The explanation's note: over the categories of one ``each`` rule as before, else naming the rules."""
    if rules <= 1:
        return f"Holm over {m} categories"
    where = " in each category" if category == "each" else f" in category {category!r}" if category else ""
    return f"Holm over {m} tests of {rules} rules on {score}{where}"


def _holm_family(verdicts: list[Verdict], what: str = "") -> list[Verdict]:
    """A family (a ``category: each`` gate's categories, or several rules on one score and scope): a test blocks
    only when its own evidence does and Holm rejects it at ALPHA."""
    family = [i for i, v in enumerate(verdicts) if v.testable and v.p_block is not None]
    adjusted = holm([1.0 if verdicts[i].p_block is None else verdicts[i].p_block for i in family])
    m = len(family)
    what = what or f"Holm over {m} categories"
    out = list(verdicts)
    for i, p_adj in zip(family, adjusted, strict=True):
        v = verdicts[i]
        note = f" [{what}, family-wise alpha {ALPHA:g} one-sided: adjusted p = {fmt(p_adj, 3)}]"
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


def _judge_gate(gate: Gate, comp: Comparison) -> tuple[ScoreComparison | None, list[str | None], list[bool], list[Verdict]]:
    """One gate's raw verdicts, one per scope, before any Holm correction."""
    value = float(getattr(gate, gate.rule))
    sc = comp.scores.get(gate.metric)
    if sc is None:
        return None, [gate.category if gate.category != "each" else None], [False], [Verdict(
            float("nan"), value, BLOCK, f"the runs have no score {gate.metric!r}; they have: {', '.join(comp.scores)}")]
    if gate.category == "each":
        scopes: list[str | None] = [c.category for c in sc.categories]
        if not scopes:
            return sc, ["each"], [False], [Verdict(float("nan"), value, BLOCK, "the examples have no categories")]
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
    return sc, scopes, present, verdicts


def _records(gate: Gate, comp: Comparison, sc: ScoreComparison | None, scopes: list[str | None], present: list[bool],
             verdicts: list[Verdict]) -> list[RuleRecord]:
    if sc is None:
        return [_verdict(gate, gate.metric, None, verdicts[0], gate.advisory, name=rule_name(gate, scopes[0]))]
    advisory = gate.advisory or bool(sc.advisory_reason)
    out = []
    for cat, here, v in zip(scopes, present, verdicts, strict=True):
        if advisory:
            v = Verdict(v.figure, v.threshold, v.outcome, v.explanation + f" (advisory: {sc.advisory_reason or 'gate marked advisory'})",
                        v.examples, v.p_block, v.testable)
        out.append(_verdict(gate, sc.name, cat, v, advisory, rule_mde(comp, sc, cat) if here else float("nan")))
    return out


def _judge_all(gates: list[Gate], comp: Comparison) -> list[list[RuleRecord]]:
    """Every gate's records, Holm applied within each family (``families``)."""
    judged = [_judge_gate(g, comp) for g in gates]
    adv = {n: bool(sc.advisory_reason) for n, sc in comp.scores.items()}
    for fam in families(gates, adv):
        members = [(i, j) for i in fam for j, v in enumerate(judged[i][3]) if judged[i][0] is not None]
        if len(fam) == 1 and gates[fam[0]].category != "each":
            continue  # a single test: no correction
        flat = _holm_family([judged[i][3][j] for i, j in members],
                            holm_note(sum(1 for i, j in members if judged[i][3][j].testable and judged[i][3][j].p_block is not None),
                                      len(fam), gates[fam[0]].metric, gates[fam[0]].category))
        for (i, j), v in zip(members, flat, strict=True):
            judged[i][3][j] = v
    return [_records(g, comp, *j) for g, j in zip(gates, judged, strict=True)]


def evaluate_gate(gate: Gate, comp: Comparison) -> list[RuleRecord]:
    """One gate on its own (its ``category: each`` family corrected; no other rule in its family)."""
    return _judge_all([gate], comp)[0]


def evaluate_gates_by_gate(gates: Sequence[Gate], comp: Comparison) -> list[list[RuleRecord]]:
    """Each gate's records (one per scope), every family corrected."""
    if len(comp.runs) != 2:
        from harness.core.errors import HarnessError

        raise HarnessError(f"a gate compares exactly two runs (baseline, candidate); got {len(comp.runs)}")
    return _judge_all(list(gates), comp)


def evaluate_gates(gates: list[Gate], comp: Comparison) -> list[RuleRecord]:
    return [r for rs in evaluate_gates_by_gate(gates, comp) for r in rs]


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
