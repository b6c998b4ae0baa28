"""Every gate rule's properties in one table: its name (the suite's rule key), how it reads in a
default rule name, whether it needs a baseline, how its figure is printed, and how it is judged.

``harness.suite.schema`` (a lower layer) spells the same names in ``RULES`` / ``RuleName``;
tests/compare/test_rule_kinds.py checks the two agree.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from harness.compare.comparison import Comparison, ScoreComparison, default_margin, flips, orientation
from harness.compare.paired import PairedDelta
from harness.compare.table import fmt
from harness.evaluate.repeats import flaky_share
from harness.suite.schema import Gate

# (figure, threshold, passed, explanation, regressed example ids in the rule's scope)
Verdict = tuple[float, float, bool, str, list[str]]
Judge = Callable[[Gate, Comparison, ScoreComparison, "str | None"], Verdict]


@dataclass(frozen=True)
class RuleKind:
    name: str  # the suite's rule key (harness.suite.schema.RULES)
    text: str  # the default rule name, "{v}" the gate's value
    needs_baseline: bool  # reads the baseline (a paired difference, regressions), not the candidate alone
    figure: str  # how its figure and threshold print: "count" (integer), "signed" (a difference) or "plain" (a mean, a share)
    judge: Judge

    def format(self, x: float | None) -> str:
        if self.figure == "count":
            return fmt(x, 0)
        return fmt(x, signed=self.figure == "signed")


def positions(comp: Comparison, category: str | None) -> list[int]:
    cats = comp.aligned.categories
    return [i for i in range(len(comp.ids)) if category is None or cats[i] == category]


def _scope(sc: ScoreComparison, category: str | None) -> tuple[float, PairedDelta, list[str]]:
    """(candidate value, paired delta, regressed ids) over the whole split or within one category."""
    if category is None:
        v = sc.vs_baseline[0]
        return sc.runs[1].mean, v.delta, v.regressions
    cat = next(c for c in sc.categories if c.category == category)
    delta = cat.deltas[1]
    assert delta is not None
    return cat.values[1], delta, cat.regressions[1]


def _where(category: str | None) -> str:
    return f" in category {category!r}" if category is not None else ""


def _bound(gate: Gate, comp: Comparison, sc: ScoreComparison, category: str | None) -> Verdict:
    """min / max: the candidate's mean against the value."""
    rule, value = gate.rule, float(getattr(gate, gate.rule))
    cand, _, regressed = _scope(sc, category)
    where = _where(category)
    if math.isnan(cand):
        return cand, value, False, f"the candidate's {sc.name}{where} could not be computed", regressed
    ok = cand >= value if rule == "min" else cand <= value
    op = (">=" if ok else "<") if rule == "min" else ("<=" if ok else ">")
    return cand, value, ok, f"candidate {sc.name}{where} = {fmt(cand)} {op} {fmt(value)}", regressed


def _ci_lower_bound(gate: Gate, comp: Comparison, sc: ScoreComparison, category: str | None) -> Verdict:
    """non_inferiority_margin / min_improvement: the lower bound of the paired difference's 95% CI."""
    rule, value = gate.rule, float(getattr(gate, gate.rule))
    _, delta, regressed = _scope(sc, category)
    where = _where(category)
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


def _regressions(gate: Gate, comp: Comparison, sc: ScoreComparison, category: str | None) -> Verdict:
    """max_regressions: examples better in the baseline than in the candidate, by more than the margin."""
    value = float(getattr(gate, gate.rule))
    _scope(sc, category)
    where = _where(category)
    if sc.values is None:
        return float("nan"), value, False, f"{sc.name} is a corpus score: regressions need per-example scores", []
    margin = gate.regression_margin if "regression_margin" in gate.model_fields_set else default_margin(sc.binary, sc.range)
    pos = positions(comp, category)
    reg, _ = flips([sc.values[0][i] for i in pos], [sc.values[1][i] for i in pos], sc.direction, margin)
    ids = [comp.ids[pos[i]] for i in reg]
    ok = len(ids) <= value
    kind = "right before, wrong now" if sc.binary else f"worse by more than {margin:g}"
    return float(len(ids)), value, ok, f"{len(ids)} regressions{where} ({kind}) {'<=' if ok else '>'} {int(value)} allowed", ids


def _flaky(gate: Gate, comp: Comparison, sc: ScoreComparison, category: str | None) -> Verdict:
    """max_flaky_share: the candidate's share of flaky examples on the score (harness.evaluate.repeats: its repeats disagree)."""
    limit = float(getattr(gate, gate.rule))
    _, _, regressed = _scope(sc, category)
    where, score = _where(category), sc.name
    rows = comp.aligned.rows[1]
    figures = [(rows[i].get("flakiness") or {}).get(score) for i in positions(comp, category)]
    if not any(rows[i].get("repeats") for i in positions(comp, category)):
        return float("nan"), limit, False, ("the candidate's run has no repeats: flakiness needs generation.repeats > 1 "
                                            "(or harness run --repeats N)"), regressed
    share = flaky_share(figures)
    if math.isnan(share):
        return share, limit, False, f"no example{where} has a flakiness figure for {score}", regressed
    n_flaky = sum(1 for f in figures if f is not None and f > 0)
    ok = share <= limit
    return (share, limit, ok, f"{n_flaky} of {sum(f is not None for f in figures)} examples{where} flaky = {fmt(share)} "
                              f"{'<=' if ok else '>'} {fmt(limit)}", regressed)


RULE_KINDS: dict[str, RuleKind] = {k.name: k for k in (
    RuleKind("min", "candidate mean >= {v}", False, "plain", _bound),
    RuleKind("max", "candidate mean <= {v}", False, "plain", _bound),
    RuleKind("non_inferiority_margin", "non-inferior within {v}", True, "signed", _ci_lower_bound),
    RuleKind("min_improvement", "improves by >= {v}", True, "signed", _ci_lower_bound),
    RuleKind("max_regressions", "at most {v} regressions", True, "count", _regressions),
    RuleKind("max_flaky_share", "at most {v} of examples flaky", False, "plain", _flaky),
)}


def rule_kind(rule: str) -> RuleKind:
    return RULE_KINDS[rule]
