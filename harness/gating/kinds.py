"""Every gate rule's properties in one table: its name (the suite's rule key), how it reads in a
default rule name, whether it needs a baseline, how its figure is printed, and how it is judged.

Every judge ends one of three outcomes (``Verdict.outcome``):

- PROMOTE: the evidence supports the rule;
- BLOCK: the evidence shows the rule is broken;
- INCONCLUSIVE: the data cannot tell (the interval straddles the margin or the threshold).

The evidence is the 95% two-sided CI the comparison already holds, each side read as a one-sided
2.5% test (``ALPHA``): a rule is blocked only when the whole interval lies on the wrong side of its
threshold, so an identical candidate is falsely blocked at most ~2.5% of the time per rule.

``harness.suite.schema`` (a lower layer) spells the same names in ``RULES`` / ``RuleName``;
tests/compare/test_rule_kinds.py checks the two agree.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.compare.comparison import Comparison, ScoreComparison, default_margin, flips, orientation
from harness.compare.paired import PairedDelta
from harness.compare.table import fmt, pval
from harness.evaluate.repeats import flaky_share
from harness.stats.means import mean_ci
from harness.stats.power import Z80, Z975
from harness.suite.schema import Gate

PROMOTE, BLOCK, INCONCLUSIVE = "promote", "block", "inconclusive"
ALPHA = 0.025  # one-sided: each side of a 95% two-sided CI; a rule's (and a Holm family's) false-block rate
# Fewer paired examples than (z_0.975 + z_0.80)^2 = 7.85 detect no difference, however large, on a 0-1 score
# with 80% power (harness.stats.power): a scope this small is "too few examples to test", never a pass.
MIN_EXAMPLES = math.ceil((Z975 + Z80) ** 2)


@dataclass(frozen=True)
class Verdict:
    """One rule's judgement in one scope. ``p_block`` is the one-sided p-value of "the rule holds" (small:
    evidence that it is broken); harness.gating.rules steps it down with Holm across a ``category: each`` family."""

    figure: float
    threshold: float
    outcome: str  # PROMOTE | BLOCK | INCONCLUSIVE
    explanation: str
    examples: list[str] = field(default_factory=list)  # regressed example ids in the rule's scope
    p_block: float | None = None
    testable: bool = True  # False: too few examples to test; never part of a Holm family

    @property
    def passed(self) -> bool:
        return self.outcome == PROMOTE


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


def normal_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2))


_normal_cdf_v = np.vectorize(normal_cdf, otypes=[float])


def p_below_v(estimate: Any, lo: Any, hi: Any, threshold: float) -> np.ndarray:
    """``p_below`` on arrays (one value per simulated comparison: harness.gating.power); the judges call it too."""
    est, lo, hi = (np.asarray(x, dtype=float) for x in (estimate, lo, hi))
    se = (hi - lo) / (2 * Z975)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, (est - threshold) / np.where(se > 0, se, 1.0), 0.0)
    p = np.where(se > 0, _normal_cdf_v(z), np.where(est < threshold, 0.0, 1.0))
    return np.where(np.isnan(est) | np.isnan(lo) | np.isnan(hi), 1.0, p)


def p_below(estimate: float, lo: float, hi: float, threshold: float) -> float:
    """One-sided p-value of "the true value is >= threshold", the SE read off the 95% CI (normal
    approximation: se = (hi - lo) / (2 * 1.96)); a zero-width CI gives 0 or 1."""
    return float(p_below_v(estimate, lo, hi, threshold))


def ci_outcome(rule: str, lo: Any, hi: Any, threshold: float) -> np.ndarray:
    """The outcome of a rule judged on a 95% CI [lo, hi] against its threshold, for one CI or an array of them
    (the judges below and harness.gating.power's simulation share it). non_inferiority_margin (threshold -m):
    PROMOTE when lo > threshold; min_improvement and min: PROMOTE when lo >= threshold; all three BLOCK when
    hi < threshold. max: PROMOTE when hi <= threshold, BLOCK when lo > threshold. Else INCONCLUSIVE."""
    lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    if rule == "max":
        promote, block = hi <= threshold, lo > threshold
    else:
        promote = lo > threshold if rule == "non_inferiority_margin" else lo >= threshold
        block = hi < threshold
    return np.where(promote, PROMOTE, np.where(block, BLOCK, INCONCLUSIVE))


def examples_needed(n: int, lo: float, hi: float, estimate: float, threshold: float) -> int | None:
    """About how many examples would decide an interval that straddles its threshold, were the estimate
    to stay where it is: n * (CI half-width / distance to the threshold)^2. None when it sits on it."""
    dist = abs(estimate - threshold)
    if dist == 0 or any(math.isnan(x) for x in (lo, hi, estimate)):
        return None
    return max(n + 1, math.ceil(n * ((hi - lo) / 2 / dist) ** 2))


def undecided(n: int, lo: float, hi: float, estimate: float, threshold: float) -> str:
    need = examples_needed(n, lo, hi, estimate, threshold)
    return ("inconclusive: the estimate sits on the threshold" if need is None else
            f"inconclusive: about {need} examples (now {n}) would decide it")


def too_few(n: int, where: str, threshold: float, regressed: list[str]) -> Verdict:
    return Verdict(float("nan"), threshold, INCONCLUSIVE,
                   f"too few examples to test (n={n}){where}: a rule decides on at least {MIN_EXAMPLES}", regressed,
                   testable=False)


def _candidate_ci(comp: Comparison, sc: ScoreComparison, category: str | None) -> tuple[float, float, int]:
    """The candidate's 95% CI in the scope: the run's own for the whole split; within a category, Wilson
    (pass/fail) or Student-t over its per-example scores (a corpus score: none, NaN)."""
    if category is None:
        r = sc.runs[1]
        return r.ci_low, r.ci_high, r.n
    if sc.values is None:
        cat = next(c for c in sc.categories if c.category == category)
        return float("nan"), float("nan"), cat.n
    vals = [v for i in positions(comp, category) if (v := sc.values[1][i]) is not None]
    est = mean_ci(vals, sc.binary)
    return est.lo, est.hi, est.n


def _bound(gate: Gate, comp: Comparison, sc: ScoreComparison, category: str | None) -> Verdict:
    """min / max on the candidate's mean. min: PROMOTE when its 95% CI lies wholly at or above the value,
    BLOCK when wholly below, else INCONCLUSIVE (max: the mirror image). With ``point_estimate: true`` in the
    gate, and for a corpus score within a category (which has no CI), the mean itself decides (and says so)."""
    rule, value = gate.rule, float(getattr(gate, gate.rule))
    cand, _, regressed = _scope(sc, category)
    where = _where(category)
    if math.isnan(cand):
        return Verdict(cand, value, BLOCK, f"the candidate's {sc.name}{where} could not be computed", regressed)
    lo, hi, n = _candidate_ci(comp, sc, category)
    if category is not None and n < MIN_EXAMPLES and not gate.point_estimate:
        return too_few(n, where, value, regressed)
    if gate.point_estimate or math.isnan(lo) or math.isnan(hi):
        ok = cand >= value if rule == "min" else cand <= value
        op = (">=" if ok else "<") if rule == "min" else ("<=" if ok else ">")
        why = "the suite asks for the point estimate" if gate.point_estimate else "point estimate: no CI"
        return Verdict(cand, value, PROMOTE if ok else BLOCK,
                       f"candidate {sc.name}{where} = {fmt(cand)} {op} {fmt(value)} ({why})", regressed)
    ci = f"[{fmt(lo)}, {fmt(hi)}]"
    head = f"candidate {sc.name}{where} = {fmt(cand)} {ci}"
    outcome = str(ci_outcome(rule, lo, hi, value))
    p = p_below(cand, lo, hi, value) if rule == "min" else p_below(-cand, -hi, -lo, -value)
    if outcome == PROMOTE:
        return Verdict(cand, value, PROMOTE, f"{head}: CI {'>=' if rule == 'min' else '<='} {fmt(value)}", regressed, p)
    if outcome == BLOCK:
        return Verdict(cand, value, BLOCK, f"{head}: CI {'<' if rule == 'min' else '>'} {fmt(value)}", regressed, p)
    return Verdict(cand, value, INCONCLUSIVE, f"{head} straddles {fmt(value)}; {undecided(n, lo, hi, cand, value)}",
                   regressed, p)


def _ci_lower_bound(gate: Gate, comp: Comparison, sc: ScoreComparison, category: str | None) -> Verdict:
    """non_inferiority_margin m / min_improvement v on the paired difference's 95% CI [lo, hi] (taken the
    other way round for lower-is-better scores); the figure is lo.

    non_inferiority_margin (threshold -m): PROMOTE when lo > -m; BLOCK when the whole CI lies below -m
    (hi < -m: the candidate is worse by more than the margin, with confidence); else INCONCLUSIVE.
    min_improvement (threshold v): PROMOTE when lo >= v; BLOCK when hi < v (the improvement is shown to be
    smaller than v: for v = 0, the candidate is shown worse); else INCONCLUSIVE."""
    rule, value = gate.rule, float(getattr(gate, gate.rule))
    _, delta, regressed = _scope(sc, category)
    where = _where(category)
    sign = orientation(sc.direction)
    lo, hi = (delta.ci_low, delta.ci_high) if sign > 0 else (-delta.ci_high, -delta.ci_low)
    d = sign * delta.delta
    what = "(candidate - baseline)" if sign > 0 else "(baseline - candidate), lower is better"
    threshold = -value if rule == "non_inferiority_margin" else value
    if category is not None and delta.n < MIN_EXAMPLES:
        return too_few(delta.n, where, threshold, regressed)
    if math.isnan(lo):
        return Verdict(float("nan"), threshold, BLOCK,
                       f"no 95% CI of the difference{where} ({delta.method}; {delta.n} paired examples)", regressed)
    outcome = str(ci_outcome(rule, lo, hi, threshold))
    p = p_below(d, lo, hi, threshold)
    head = (f"95% CI of {what}{where} = [{fmt(lo, signed=True)}, {fmt(hi, signed=True)}] "
            f"(delta {fmt(d, signed=True)}, n={delta.n})")
    if outcome == PROMOTE:
        op = ">" if rule == "non_inferiority_margin" else ">="
        return Verdict(lo, threshold, PROMOTE, f"{head}: lower bound {op} {fmt(threshold, signed=True)}", regressed, p)
    if outcome == BLOCK:
        return Verdict(lo, threshold, BLOCK, f"{head}: wholly below {fmt(threshold, signed=True)}", regressed, p)
    return Verdict(lo, threshold, INCONCLUSIVE,
                   f"{head} straddles {fmt(threshold, signed=True)}; {undecided(delta.n, lo, hi, d, threshold)}", regressed, p)


def sign_test_pv(regressions: Any, improvements: Any, alternative: str = "greater") -> np.ndarray:
    """One-sided exact binomial (sign) test on the discordant pairs, for one count or arrays of them: H0
    regressions and improvements are equally likely. ``greater``: evidence that regressions outnumber
    improvements, P(X >= regressions); ``less``: P(X <= regressions), X ~ Bin(regressions + improvements, 1/2)."""
    from scipy.special import bdtr, bdtrc  # the binomial CDF and survival function; scipy.stats takes seconds to import

    reg, imp = np.asarray(regressions, dtype=np.int64), np.asarray(improvements, dtype=np.int64)
    k = np.maximum(reg + imp, 1)
    p = np.where(reg > 0, bdtrc(np.maximum(reg - 1, 0), k, 0.5), 1.0) if alternative == "greater" else bdtr(reg, k, 0.5)
    k = reg + imp
    return np.where(k > 0, np.minimum(p, 1.0), 1.0)


def sign_test_p(regressions: int, improvements: int, alternative: str = "greater") -> float:
    return float(sign_test_pv(regressions, improvements, alternative))


def regression_outcome(regressions: Any, improvements: Any, cap: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """max_regressions on counts (one comparison or arrays of them): (outcome, p_block, p_fewer). PROMOTE when at
    most ``cap`` regressions (p_block 1) or significantly fewer than the improvements; BLOCK when over the cap and
    significantly more (p_more < ALPHA); else INCONCLUSIVE. The judge below and harness.gating.power share it."""
    reg = np.asarray(regressions, dtype=float)
    p_more, p_fewer = sign_test_pv(regressions, improvements), sign_test_pv(regressions, improvements, "less")
    within = reg <= cap
    outcome = np.where(within, PROMOTE, np.where(p_more < ALPHA, BLOCK, np.where(p_fewer < ALPHA, PROMOTE, INCONCLUSIVE)))
    return outcome, np.where(within, 1.0, p_more), p_fewer


def _regressions(gate: Gate, comp: Comparison, sc: ScoreComparison, category: str | None) -> Verdict:
    """max_regressions n: examples better in the baseline than in the candidate, by more than the margin,
    judged against the improvements (the other way round) with a one-sided exact sign test on the
    discordant pairs. PROMOTE when at most n regressions, or when the regressions are significantly fewer
    than the improvements; BLOCK when more than n AND significantly more than the improvements
    (p < ALPHA); else INCONCLUSIVE (more than n, but as many as churn between two equal models gives)."""
    value = float(getattr(gate, gate.rule))
    _scope(sc, category)
    where = _where(category)
    if sc.values is None:
        return Verdict(float("nan"), value, BLOCK, f"{sc.name} is a corpus score: regressions need per-example scores")
    margin = gate.regression_margin if "regression_margin" in gate.model_fields_set else default_margin(sc.binary, sc.range)
    pos = positions(comp, category)
    reg, imp = flips([sc.values[0][i] for i in pos], [sc.values[1][i] for i in pos], sc.direction, margin)
    ids = [comp.ids[pos[i]] for i in reg]
    kind = "right before, wrong now" if sc.binary else f"worse by more than {margin:g}"
    out, p_block, p_less = regression_outcome(len(reg), len(imp), value)
    outcome, p_more, p_fewer = str(out), float(sign_test_pv(len(reg), len(imp))), float(p_less)
    head = f"{len(ids)} regressions{where} ({kind}) against {len(imp)} improvements"
    if len(ids) <= value:
        return Verdict(float(len(ids)), value, PROMOTE, f"{head}; {len(ids)} <= {int(value)} allowed", ids, float(p_block))
    test = f"one-sided sign test p = {pval(p_more)} (more regressions than improvements), {pval(p_fewer)} (fewer)"
    if outcome == BLOCK:
        return Verdict(float(len(ids)), value, BLOCK, f"{head}; {len(ids)} > {int(value)} allowed and {test}", ids, p_more)
    if outcome == PROMOTE:
        return Verdict(float(len(ids)), value, PROMOTE,
                       f"{head}; {len(ids)} > {int(value)} allowed, but significantly fewer than the improvements ({test})",
                       ids, p_more)
    return Verdict(float(len(ids)), value, INCONCLUSIVE,
                   f"{head}; {len(ids)} > {int(value)} allowed, not distinguishable from churn ({test}); inconclusive",
                   ids, p_more)


def _flaky(gate: Gate, comp: Comparison, sc: ScoreComparison, category: str | None) -> Verdict:
    """max_flaky_share: the candidate's share of flaky examples on the score (harness.evaluate.repeats: its
    repeats disagree), on its point estimate: PROMOTE at or under the limit, BLOCK over it."""
    limit = float(getattr(gate, gate.rule))
    _, _, regressed = _scope(sc, category)
    where, score = _where(category), sc.name
    rows = comp.aligned.rows[1]
    figures = [(rows[i].get("flakiness") or {}).get(score) for i in positions(comp, category)]
    if not any(rows[i].get("repeats") for i in positions(comp, category)):
        return Verdict(float("nan"), limit, BLOCK, ("the candidate's run has no repeats: flakiness needs generation.repeats > 1 "
                                                    "(or harness run --repeats N)"), regressed)
    share = flaky_share(figures)
    if math.isnan(share):
        return Verdict(share, limit, BLOCK, f"no example{where} has a flakiness figure for {score}", regressed)
    n_flaky = sum(1 for f in figures if f is not None and f > 0)
    ok = share <= limit
    return Verdict(share, limit, PROMOTE if ok else BLOCK,
                   f"{n_flaky} of {sum(f is not None for f in figures)} examples{where} flaky = {fmt(share)} "
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
