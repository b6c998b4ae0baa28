"""Evaluate a suite's gates on a comparison of a baseline (run 0) and a candidate (run 1).

Every rule gives one verdict per scope (the whole split, one category, or each category):
pass / fail, or advisory-pass / advisory-fail for advisory gates and scores whose metric says
they may only advise (an uncalibrated judge). Advisory verdicts never block. A figure that
cannot be computed (no paired examples, no CI) fails: a gate never passes by default.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from harness.compare.comparison import (
    Comparison,
    ScoreComparison,
    default_margin,
    flips,
    orientation,
)
from harness.compare.paired import PairedDelta
from harness.compare.table import fmt
from harness.records.gate import RuleRecord
from harness.evaluate.repeats import flaky_share
from harness.stats.power import mde_paired
from harness.suite.schema import Gate

RULE_TEXT = {
    "min": "candidate mean >= {v}",
    "max": "candidate mean <= {v}",
    "non_inferiority_margin": "non-inferior within {v}",
    "min_improvement": "improves by >= {v}",
    "max_regressions": "at most {v} regressions",
    "max_flaky_share": "at most {v} of examples flaky",
}


@dataclass
class RuleResult:
    name: str
    score: str
    category: str | None
    rule: str
    figure: float
    threshold: float
    verdict: str  # pass | fail | advisory-pass | advisory-fail
    explanation: str
    examples: list[str] = field(default_factory=list)  # regressed example ids in the rule's scope
    mde: float = float("nan")  # harness.stats.power: smallest paired difference this scope's size detects

    @property
    def blocks(self) -> bool:
        return self.verdict == "fail"

    @property
    def advisory(self) -> bool:
        return self.verdict.startswith("advisory")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # NaN figures become null in harness.records.gate.RuleRecord


def rule_name(gate: Gate, category: str | None) -> str:
    base = gate.name or f"{gate.metric} {RULE_TEXT[gate.rule].format(v=getattr(gate, gate.rule))}"
    return f"{base} [{category}]" if category is not None else base


def _scope(sc: ScoreComparison, category: str | None) -> tuple[float, PairedDelta, list[str]]:
    """(candidate value, paired delta, regressed ids) over the whole split or within one category."""
    if category is None:
        v = sc.vs_baseline[0]
        return sc.runs[1].mean, v.delta, v.regressions
    cat = next(c for c in sc.categories if c.category == category)
    delta = cat.deltas[1]
    assert delta is not None
    return cat.values[1], delta, cat.regressions[1]


def _positions(comp: Comparison, category: str | None) -> list[int]:
    cats = comp.aligned.categories
    return [i for i in range(len(comp.ids)) if category is None or cats[i] == category]


def _judge(gate: Gate, comp: Comparison, sc: ScoreComparison, category: str | None) -> tuple[float, float, bool, str, list[str]]:
    rule, value = gate.rule, float(getattr(gate, gate.rule))
    cand, delta, regressed = _scope(sc, category)
    where = f" in category {category!r}" if category is not None else ""
    if rule in ("min", "max"):
        if math.isnan(cand):
            return cand, value, False, f"the candidate's {sc.name}{where} could not be computed", regressed
        ok = cand >= value if rule == "min" else cand <= value
        op = (">=" if ok else "<") if rule == "min" else ("<=" if ok else ">")
        return cand, value, ok, f"candidate {sc.name}{where} = {fmt(cand)} {op} {fmt(value)}", regressed
    if rule in ("non_inferiority_margin", "min_improvement"):
        sign = orientation(sc.direction)
        lb = delta.ci_low if sign > 0 else -delta.ci_high
        what = "(candidate - baseline)" if sign > 0 else "(baseline - candidate), lower is better"
        threshold = -value if rule == "non_inferiority_margin" else value
        if math.isnan(lb):
            return float("nan"), threshold, False, f"no 95% CI of the difference{where} ({delta.method}; {delta.n} paired examples)", regressed
        ok = lb > threshold if rule == "non_inferiority_margin" else lb >= threshold
        op = (">" if ok else "<=") if rule == "non_inferiority_margin" else (">=" if ok else "<")
        return lb, threshold, ok, (f"lower bound of the 95% CI of {what}{where} = {fmt(lb, signed=True)} {op} {fmt(threshold, signed=True)} "
                                   f"(delta {fmt(sign * delta.delta, signed=True)}, n={delta.n})"), regressed
    if rule == "max_flaky_share":
        return (*_flaky(comp, sc.name, category, value, where), regressed)
    # max_regressions
    if sc.values is None:
        return float("nan"), value, False, f"{sc.name} is a corpus score: regressions need per-example scores", []
    margin = gate.regression_margin if "regression_margin" in gate.model_fields_set else default_margin(sc.binary, sc.range)
    pos = _positions(comp, category)
    reg, _ = flips([sc.values[0][i] for i in pos], [sc.values[1][i] for i in pos], sc.direction, margin)
    ids = [comp.ids[pos[i]] for i in reg]
    ok = len(ids) <= value
    kind = "right before, wrong now" if sc.binary else f"worse by more than {margin:g}"
    return float(len(ids)), value, ok, f"{len(ids)} regressions{where} ({kind}) {'<=' if ok else '>'} {int(value)} allowed", ids


def _flaky(comp: Comparison, score: str, category: str | None, limit: float, where: str) -> tuple[float, float, bool, str]:
    """The candidate's share of flaky examples on the score (harness.evaluate.repeats: its repeats disagree)."""
    rows = comp.aligned.rows[1]
    figures = [(rows[i].get("flakiness") or {}).get(score) for i in _positions(comp, category)]
    if not any(rows[i].get("repeats") for i in _positions(comp, category)):
        return float("nan"), limit, False, ("the candidate's run has no repeats: flakiness needs generation.repeats > 1 "
                                            "(or harness run --repeats N)")
    share = flaky_share(figures)
    if math.isnan(share):
        return share, limit, False, f"no example{where} has a flakiness figure for {score}"
    n_flaky = sum(1 for f in figures if f is not None and f > 0)
    ok = share <= limit
    return share, limit, ok, f"{n_flaky} of {sum(f is not None for f in figures)} examples{where} flaky = {fmt(share)} {'<=' if ok else '>'} {fmt(limit)}"


def rule_mde(comp: Comparison, sc: ScoreComparison, category: str | None) -> float:
    """The smallest paired difference this scope's size can detect (harness.stats.power); NaN for a corpus score."""
    if sc.values is None:
        return float("nan")
    pos = _positions(comp, category)
    return mde_paired([sc.values[0][i] for i in pos], [sc.values[1][i] for i in pos], sc.binary)


def evaluate_gate(gate: Gate, comp: Comparison) -> list[RuleResult]:
    sc = comp.scores.get(gate.metric)
    if sc is None:
        return [RuleResult(rule_name(gate, gate.category if gate.category != "each" else None), gate.metric, None, gate.rule,
                           float("nan"), float(getattr(gate, gate.rule)), "advisory-fail" if gate.advisory else "fail",
                           f"the runs have no score {gate.metric!r}; they have: {', '.join(comp.scores)}")]
    if gate.category == "each":
        scopes: list[str | None] = [c.category for c in sc.categories]
        if not scopes:
            return [RuleResult(rule_name(gate, "each"), sc.name, "each", gate.rule, float("nan"), float(getattr(gate, gate.rule)),
                               "advisory-fail" if gate.advisory else "fail", "the examples have no categories")]
    else:
        scopes = [gate.category]
    advisory = gate.advisory or bool(sc.advisory_reason)
    out = []
    for cat in scopes:
        if cat is not None and not any(c.category == cat for c in sc.categories):
            fig, thr, ok, why, ids = float("nan"), float(getattr(gate, gate.rule)), False, f"no example has category {cat!r}", []
        else:
            fig, thr, ok, why, ids = _judge(gate, comp, sc, cat)
        if advisory:
            why += f" (advisory: {sc.advisory_reason or 'gate marked advisory'})"
        verdict = ("advisory-" if advisory else "") + ("pass" if ok else "fail")
        out.append(RuleResult(rule_name(gate, cat), sc.name, cat, gate.rule, fig, thr, verdict, why, ids,
                              rule_mde(comp, sc, cat) if cat is None or any(c.category == cat for c in sc.categories) else float("nan")))
    return out


def evaluate_gates(gates: list[Gate], comp: Comparison) -> list[RuleResult]:
    if len(comp.runs) != 2:
        from harness.core.errors import HarnessError

        raise HarnessError(f"a gate compares exactly two runs (baseline, candidate); got {len(comp.runs)}")
    return [r for g in gates for r in evaluate_gate(g, comp)]


def format_figure(rule: str, x: float) -> str:
    """Counts as integers, differences signed, means plain."""
    if rule == "max_regressions":
        return fmt(x, 0)
    return fmt(x, signed=rule not in ("min", "max", "max_flaky_share"))


def format_rules(results: Sequence[RuleResult | RuleRecord]) -> str:
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
