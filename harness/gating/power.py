"""What a suite's gate can tell before anything is run: its outcome rates, measured by simulation.

For a suite's split (its size and categories) and, per gated per-example score, one observed run's
values (a baseline run's per-example scores) or a synthetic run (each example at the best value with
probability p, else the worst), ``simulate`` draws S comparisons of a baseline run A and a candidate B
per scenario and judges every one with the gate's own code:

- **identical** (A/A: the same model twice): each example's outcome is drawn twice, independently, from the
  same per-example distribution. A draw keeps the example's own value with probability lambda
  (``stickiness``, default 0.8) and otherwise takes the value of a uniformly chosen example: for a pass/fail
  score that is Bernoulli(p_i), p_i = lambda * x_i + (1 - lambda) * mean(x), the run smoothed toward its
  mean. (A bootstrap of a run against itself pairs identical runs and never disagrees.) Two draws disagree
  on a pass/fail example with probability 2 p_i (1 - p_i): with lambda 0.8 at 80% accuracy about 10% of
  examples flip between two A/A runs (a sampled model or a judge; greedy decoding flips fewer, so these
  rates are conservative).
- **+d points** (d% of the score's range): B drawn as above, then each draw moved toward the best value
  (a pass/fail failure turned into a pass with probability r, else v + r * (best - v)), r chosen so the
  expected mean gains d points.

Judged with the gate's own code: the paired differences and their 95% percentile CI from
harness.compare.paired (mean_pair, paired_deltas: the same resamples and seed as ``harness gate``, one
vectorised call for all simulations of a scope), the candidate's CI from harness.stats.means.mean_ci (as a
run's summary and a category's floor compute it), and the outcomes from harness.gating.kinds (``ci_outcome``,
``p_below_v``, ``regression_outcome``) and harness.gating.rules (``families``, ``holm_matrix``): the functions
the judges call. The first ``check`` simulations of every scenario also go through
harness.compare.compare_aligned + harness.gating.evaluate_gates and must give the same outcome per rule.

Rules on the candidate alone: ``min`` / ``max`` are simulated (the candidate's draws, its mean and CI);
``max_flaky_share`` needs repeats and is listed, not simulated, as are rules on corpus scores.

The MDE and "n for 80% power" columns are analytic (harness.stats.power, normal approximation), under the
simulation's model of a re-run: the SD of an A/A pair's per-example difference is sqrt(2 mean Var_i).
Monte-Carlo standard error of a rate p over S simulations: sqrt(p (1 - p) / S), at most 0.5 / sqrt(S).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.compare.comparison import default_margin, orientation
from harness.compare.paired import RESAMPLES, SEED, mean_pair, paired_deltas
from harness.gating.kinds import (
    ALPHA,
    BLOCK,
    INCONCLUSIVE,
    MIN_EXAMPLES,
    PROMOTE,
    RULE_KINDS,
    ci_outcome,
    p_below_v,
    regression_outcome,
)
from harness.gating.rules import families, holm_matrix, rule_name
from harness.stats.means import mean_ci
from harness.stats.power import Z80, Z975, mde, n_for_effect
from harness.suite.schema import Gate

COMPARATIVE = ("non_inferiority_margin", "min_improvement", "max_regressions")
ON_CANDIDATE = ("min", "max")
GAINS = (5, 10)
IDENTICAL = "identical"
OUTCOMES = (PROMOTE, BLOCK, INCONCLUSIVE)
BETTER = 1e-12  # "promoted as better": the CI's lower bound at least this (a min_improvement gate); float noise is not a gain


@dataclass
class Score:
    name: str
    direction: str
    lo: float
    hi: float
    binary: bool
    values: np.ndarray  # the observed (or synthetic) run's per-example values
    advisory_reason: str | None = None

    @property
    def best(self) -> float:
        return self.hi if self.direction == "higher" else self.lo

    def entry(self, values: np.ndarray | None = None) -> dict[str, Any]:
        """The run summary's entry for this score (what compare and the gate read), its mean and CI from values."""
        out: dict[str, Any] = {"metric": self.name, "name": self.name, "direction": self.direction,
                               "range": [self.lo, self.hi], "level": "example", "binary": self.binary,
                               "mean": None, "ci_low": None, "ci_high": None, "n": 0,
                               "advisory_reason": self.advisory_reason}
        if values is not None:
            est = mean_ci(values.tolist(), self.binary)
            out.update(mean=est.mean, ci_low=max(self.lo, est.lo), ci_high=min(self.hi, est.hi), n=est.n)
        return out


@dataclass
class Setting:
    """A suite's split and one run's per-example values of each gated score."""

    suite: str
    source: str
    ids: list[str]
    categories: list[str | None]
    gates: list[Gate]
    scores: dict[str, Score]
    absent: dict[str, str] = field(default_factory=dict)  # a gated score without per-example values: why

    @property
    def n(self) -> int:
        return len(self.ids)

    def primary(self) -> str | None:
        """The score of the first comparative rule (else of the first rule) that has per-example values."""
        comparative = [g for g in self.gates if RULE_KINDS[g.rule].needs_baseline and g.metric in self.scores]
        first = comparative or [g for g in self.gates if g.metric in self.scores]
        return first[0].metric if first else None

    def simulated(self) -> tuple[list[Gate], list[tuple[Gate, str]]]:
        """(gates simulated, (gate, why not) for the rest)."""
        sim, skipped = [], []
        for g in self.gates:
            if g.rule == "max_flaky_share":
                skipped.append((g, "needs repeats (the candidate's own flakiness): not simulated"))
            elif g.metric not in self.scores:
                why = self.absent.get(g.metric, f"{g.metric} is not a per-example score of this run")
                skipped.append((g, f"{why}: not simulated"))
            else:
                sim.append(g)
        return sim, skipped


# ---------------------------------------------------------------- draws


def draw(x: np.ndarray, sims: int, stickiness: float, rng: np.random.Generator) -> np.ndarray:
    """(sims, n) draws: each example keeps its value with probability ``stickiness``, else takes a random example's."""
    n = x.size
    keep = rng.random((sims, n)) < stickiness
    return np.where(keep, x[None, :], x[rng.integers(0, n, (sims, n))])


def gain(b: np.ndarray, s: Score, points: float, rng: np.random.Generator) -> np.ndarray:
    """Move each draw toward the best value so that the expected mean gains ``points`` % of the range."""
    room = abs(s.best - float(s.values.mean()))
    r = min(1.0, points / 100 * (s.hi - s.lo) / room) if room > 0 else 0.0
    if s.binary:
        return np.where((b != s.best) & (rng.random(b.shape) < r), s.best, b)
    return b + r * (s.best - b)


def draw_variance(x: np.ndarray, stickiness: float) -> np.ndarray:
    """Var_i of one draw of example i: lambda x_i^2 + (1 - lambda) E[x^2] - mu_i^2, mu_i = lambda x_i + (1 - lambda) E[x]."""
    mu = stickiness * x + (1 - stickiness) * x.mean()
    return stickiness * x**2 + (1 - stickiness) * float((x**2).mean()) - mu**2


def expected_regressions(x: np.ndarray, stickiness: float) -> float:
    """A pass/fail score's expected regressions between two A/A runs: sum_i p_i (1 - p_i), p_i the draw's mean."""
    p = stickiness * x + (1 - stickiness) * x.mean()
    return float((p * (1 - p)).sum())


# ---------------------------------------------------------------- judging


@dataclass
class ScopeResult:
    """One rule in one scope over S simulations."""

    category: str | None
    outcome: np.ndarray  # (S,) PROMOTE | BLOCK | INCONCLUSIVE
    p_block: np.ndarray | None  # (S,) the one-sided p-value Holm reads; None: not in a family
    better: np.ndarray | None = None  # (S,) the CI of the difference lies above 0
    regressions: np.ndarray | None = None  # (S,) max_regressions: the count


def scopes(gate: Gate, categories: Sequence[str | None]) -> list[tuple[str | None, list[int]]]:
    if gate.category is None:
        return [(None, list(range(len(categories))))]
    cats = sorted({c for c in categories if c is not None}) if gate.category == "each" else [gate.category]
    return [(cat, [i for i, c in enumerate(categories) if c == cat]) for cat in cats]


class Judge:
    """One scenario's draws judged rule by rule; paired CIs cached per (score, scope)."""

    def __init__(self, setting: Setting, a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
        self.setting, self.a, self.b = setting, a, b
        self.sims = next(iter(a.values())).shape[0] if a else 0
        self._ci: dict[tuple[str, tuple[int, ...]], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def paired(self, name: str, pos: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(delta, lo, hi) of every simulation, direction-adjusted, exactly as compare computes them: one
        paired_deltas call per comparison over every score of the setting on the scope's examples (compare
        bootstraps all scores on the same resamples, so each CI depends on the others' columns)."""
        key = (name, tuple(pos))
        if key not in self._ci:
            self._solve_scope(pos)
        return self._ci[key]

    def _solve_scope(self, pos: list[int]) -> None:
        """Every score's CIs on one scope. A comparison whose bootstrap draws counts per kind of example
        (harness.stats.bootstrap: few distinct rows, e.g. pass/fail differences) gives the same CIs as any other
        with the same kinds in the same order and the same shares: those are solved once. The rest are drawn on
        resampled indices that depend on n alone, so one call over all of them gives each its own CIs."""
        from harness.stats.bootstrap import _kinds

        names = list(self.setting.scores)
        n = len(pos)
        got: dict[int, list[Any]] = {}
        cache: dict[tuple[bytes, bytes, int], list[Any]] = {}
        rest: list[int] = []
        pairs_of = []
        for k in range(self.sims):
            pairs = [mean_pair(self.a[m][k, pos].tolist(), self.b[m][k, pos].tolist()) for m in names]
            pairs_of.append(pairs)
            stats = [st for p in pairs for st in p.stats]
            kinds = _kinds(np.hstack([st.rows for st in stats]).astype(np.float64)) if stats else None
            if kinds is None:
                rest.append(k)
                continue
            sig = (kinds[0].tobytes(), kinds[1].tobytes(), kinds[0].shape[1])
            if sig not in cache:
                cache[sig] = paired_deltas(n, pairs, RESAMPLES, SEED)
            # the CI from the shared draws; the point estimate is this comparison's own
            got[k] = [type(x)(p.delta, x.ci_low, x.ci_high, p.n, x.method) for x, p in zip(cache[sig], pairs, strict=True)]
        if rest:
            flat = paired_deltas(n, [p for k in rest for p in pairs_of[k]], RESAMPLES, SEED)
            for j, k in enumerate(rest):
                got[k] = flat[j * len(names):(j + 1) * len(names)]
        for i, m in enumerate(names):
            d, lo, hi = (np.array([getattr(got[k][i], f) for k in range(self.sims)]) for f in ("delta", "ci_low", "ci_high"))
            self._ci[(m, tuple(pos))] = (d, lo, hi) if orientation(self.setting.scores[m].direction) > 0 else (-d, -hi, -lo)

    def better(self, name: str, pos: list[int]) -> np.ndarray:
        return self.paired(name, pos)[1] >= BETTER if len(pos) >= 2 else np.zeros(self.sims, dtype=bool)

    def _fill(self, outcome: str) -> np.ndarray:
        return np.full(self.sims, outcome, dtype=object)

    def scope(self, gate: Gate, category: str | None, pos: list[int]) -> ScopeResult:
        s, value = self.setting.scores[gate.metric], float(getattr(gate, gate.rule))
        if not pos:
            return ScopeResult(category, self._fill(BLOCK), None)  # no example has the category: the gate blocks
        small = category is not None and len(pos) < MIN_EXAMPLES
        if gate.rule in ("non_inferiority_margin", "min_improvement"):
            if small:
                return ScopeResult(category, self._fill(INCONCLUSIVE), None, self.better(gate.metric, pos))
            threshold = -value if gate.rule == "non_inferiority_margin" else value
            d, lo, hi = self.paired(gate.metric, pos)
            out = np.where(np.isnan(lo), BLOCK, ci_outcome(gate.rule, lo, hi, threshold)).astype(object)
            return ScopeResult(category, out, p_below_v(d, lo, hi, threshold), lo >= BETTER)
        if gate.rule == "max_regressions":
            margin = gate.regression_margin if "regression_margin" in gate.model_fields_set else default_margin(
                s.binary, [s.lo, s.hi])
            change = orientation(s.direction) * (self.b[gate.metric][:, pos] - self.a[gate.metric][:, pos])
            reg, imp = (change < -margin).sum(axis=1), (change > margin).sum(axis=1)
            out, p_block, _ = regression_outcome(reg, imp, value)
            return ScopeResult(category, out.astype(object), p_block, self.better(gate.metric, pos), reg)
        # min / max on the candidate's mean and CI (harness.gating.kinds._bound)
        if small and not gate.point_estimate:
            return ScopeResult(category, self._fill(INCONCLUSIVE), None, self.better(gate.metric, pos))
        est = [mean_ci(row.tolist(), s.binary) for row in self.b[gate.metric][:, pos]]
        cand = np.array([e.mean for e in est])
        lo, hi = np.array([e.lo for e in est]), np.array([e.hi for e in est])
        if category is None:  # the run summary's CI, clipped to the score's range
            lo, hi = np.maximum(lo, s.lo), np.minimum(hi, s.hi)
        ok = cand >= value if gate.rule == "min" else cand <= value
        by_mean = np.where(ok, PROMOTE, BLOCK)
        if gate.point_estimate:
            return ScopeResult(category, by_mean.astype(object), None, self.better(gate.metric, pos))
        no_ci = np.isnan(lo) | np.isnan(hi)
        out = np.where(no_ci, by_mean, ci_outcome(gate.rule, lo, hi, value)).astype(object)
        p = p_below_v(cand, lo, hi, value) if gate.rule == "min" else p_below_v(-cand, -hi, -lo, -value)
        return ScopeResult(category, out, None if no_ci.all() else p, self.better(gate.metric, pos))

    def gate(self, gate: Gate) -> list[ScopeResult]:
        if gate.category == "each" and not any(c is not None for c in self.setting.categories):
            return [ScopeResult("each", self._fill(BLOCK), None)]  # the examples have no categories
        return [self.scope(gate, cat, pos) for cat, pos in scopes(gate, self.setting.categories)]


def apply_families(gates: Sequence[Gate], results: list[list[ScopeResult]], advisory: dict[str, bool]) -> None:
    """Holm within each family (harness.gating.rules.families), as evaluate_gates corrects them: a BLOCK whose
    adjusted p-value is above ALPHA becomes INCONCLUSIVE. In place."""
    for fam in families(gates, advisory):
        if len(fam) == 1 and gates[fam[0]].category != "each":
            continue
        members = [r for i in fam for r in results[i] if r.p_block is not None]
        if not members:
            continue
        adjusted = holm_matrix(np.column_stack([r.p_block for r in members]))
        for j, r in enumerate(members):
            r.outcome = np.where((r.outcome == BLOCK) & (adjusted[:, j] > ALPHA), INCONCLUSIVE, r.outcome).astype(object)


def combine(outcomes: Sequence[np.ndarray], sims: int) -> np.ndarray:
    """BLOCK if any blocks, else INCONCLUSIVE if any is inconclusive, else PROMOTE (harness.records.gate.gate_outcome)."""
    out = np.full(sims, PROMOTE, dtype=object)
    for o in outcomes:
        out = np.where(o == INCONCLUSIVE, INCONCLUSIVE, out)
    for o in outcomes:
        out = np.where(o == BLOCK, BLOCK, out)
    return out.astype(object)


def is_advisory(gate: Gate, setting: Setting) -> bool:
    return gate.advisory or bool(setting.scores[gate.metric].advisory_reason)


# ---------------------------------------------------------------- the cross-check


def comparison_of(setting: Setting, a: dict[str, np.ndarray], b: dict[str, np.ndarray], k: int = 0):
    """Simulation k as the real comparison of two runs (harness.compare.compare_aligned)."""
    from harness.compare.align import Aligned, Run
    from harness.compare.comparison import compare_aligned
    from harness.records.columns import to_frame
    from harness.records.run import ExampleRow, MetricEntry, ModelInfo, RunRecord, RunSummary

    names = list(setting.scores)
    runs = []
    for label, m in (("A", a), ("B", b)):
        rows = [{"id": i, "category": c, "scores": {n: float(m[n][k, j]) for n in names}}
                for j, (i, c) in enumerate(zip(setting.ids, setting.categories, strict=True))]
        # Only what comparing and gating read: the score entries and the model's name.
        summary = RunSummary.model_construct(
            metrics={n: MetricEntry.model_validate(setting.scores[n].entry(m[n][k])) for n in names},
            model=ModelInfo.model_construct(display=label))
        frame = to_frame(rows, list(range(1, len(rows) + 1)), Path(label), ExampleRow)
        runs.append(Run(RunRecord(Path(label), summary, frame), label))
    aligned = Aligned(runs, list(setting.ids), list(setting.categories), [r.frame for r in runs], "category")
    return compare_aligned(aligned)


def real_outcomes(setting: Setting, gates: list[Gate], a: dict[str, np.ndarray], b: dict[str, np.ndarray],
                  k: int) -> tuple[list[str], dict[str, bool]]:
    """Simulation k through the real comparison and gate code: each gate's outcome (its scopes combined), and
    per score whether a ``min_improvement`` just above 0 on the whole split promotes (promoted as better)."""
    from harness.gating.rules import evaluate_gates, evaluate_gates_by_gate

    names = list(setting.scores)
    comp = comparison_of(setting, a, b, k)
    by_gate = [[str(r.outcome) for r in records] for records in evaluate_gates_by_gate(gates, comp)]
    outcomes = [str(combine([np.array([x], dtype=object) for x in o], 1)[0]) for o in by_gate]
    better = {}
    for n in names:
        [r] = evaluate_gates([Gate(metric=n, min_improvement=BETTER)], comp)
        better[n] = r.outcome == PROMOTE
    return outcomes, better


# ---------------------------------------------------------------- the plan


@dataclass
class Rates:
    promote: float
    block: float
    inconclusive: float
    better: float  # promoted as better: the difference's CI lies above 0

    @classmethod
    def of(cls, outcome: np.ndarray, better: np.ndarray | None) -> Rates:
        return cls(*(float(np.mean(outcome == o)) for o in OUTCOMES),
                   float(np.mean(better)) if better is not None else float("nan"))


@dataclass
class RuleRow:
    name: str
    gate: Gate
    advisory: bool
    n: int  # the scope's examples (a category rule: its smallest category)
    mde: float
    n_needed: int | None  # examples (per category for a category rule) to decide at the margin with 80% power
    per_category: bool
    rates: dict[str, Rates] = field(default_factory=dict)  # scenario -> rates
    expected_regressions: float | None = None  # max_regressions: an identical model's mean count (whole scope)


@dataclass
class Plan:
    suite: str
    source: str
    n: int
    sims: int
    stickiness: float
    seed: int
    rules: list[RuleRow]
    gate: dict[str, Rates]
    skipped: list[tuple[str, str]]
    checked: int
    scenarios: list[str]

    def warnings(self) -> list[str]:
        """One line per blocking rule an identical candidate fails to PROMOTE more than half the time, and per raw
        max_regressions cap below an identical model's expected regressions."""
        out = []
        for r in self.rules:
            if r.advisory or IDENTICAL not in r.rates:
                continue
            aa = r.rates[IDENTICAL]
            if aa.promote < 0.5:
                need = f"; about {r.n_needed} examples{' per category' if r.per_category else ''} decide it" if r.n_needed else ""
                out.append(f"rule {r.name!r}: an identical candidate is PROMOTEd in only {aa.promote:.0%} of {self.sims} "
                           f"simulations (BLOCK {aa.block:.0%}, INCONCLUSIVE {aa.inconclusive:.0%}; {self.source}); "
                           f"MDE {_f(r.mde)} at n={r.n}{need} (harness plan for the table)")
            cap = r.gate.max_regressions
            if cap is not None and r.expected_regressions is not None and r.expected_regressions > cap:
                out.append(f"rule {r.name!r}: the cap of {cap} regressions is below the {r.expected_regressions:.1f} an "
                           f"identical model is expected to flip at n={r.n} ({self.source}): over the cap, only the "
                           f"sign test against the improvements decides")
        return out


def _f(x: float | None, digits: int = 3) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _analytic(gate: Gate, setting: Setting, stickiness: float) -> tuple[int, float, int | None, bool]:
    """(n, MDE, n for 80% power, per category) of a rule under the simulation's model (harness.stats.power)."""
    s = setting.scores[gate.metric]
    value = float(getattr(gate, gate.rule))
    per_cat = gate.category is not None
    rows = [(pos, s.values[pos]) for _, pos in scopes(gate, setting.categories) if pos]
    if not rows:
        return 0, float("nan"), None, per_cat
    width = s.hi - s.lo
    mdes, needs, ns = [], [], []
    for pos, x in rows:
        n = len(pos)
        ns.append(n)
        if gate.rule in COMPARATIVE:
            var = draw_variance(s.values, stickiness)[pos]
            sd = math.sqrt(2 * float(var.mean()))
            m = mde(sd, n)
            mdes.append(max(m, (Z975 + Z80) ** 2 / n * width) if s.binary else m)
            # non_inferiority_margin: an identical candidate (difference 0) decided at -margin; min_improvement v > 0:
            # shown below v; min_improvement <= 0 and a count cap: no n decides an identical candidate
            effect = value if gate.rule == "non_inferiority_margin" or (gate.rule == "min_improvement" and value > 0) else 0.0
            needs.append(n_for_effect(sd, effect, s.binary))
        else:
            sd = float(x.std())
            mdes.append(mde(sd, n))
            needs.append(n_for_effect(sd, abs(float(x.mean()) - value), s.binary))
    need = None if any(v is None for v in needs) else max(v for v in needs if v is not None)
    return min(ns), max(mdes), need, per_cat


def simulate(setting: Setting, sims: int = 1000, stickiness: float = 0.8, check: int = 3, seed: int = 1,
             gains: Sequence[int] = GAINS) -> Plan:
    """Every simulated rule's outcome rates (and the gate's, over its blocking simulated rules) per scenario."""
    return simulate_outcomes(setting, sims, stickiness, check, seed, gains)[0]


@dataclass
class Outcomes:
    """One plan's per-simulation outcomes, per scenario: the gate's (its blocking rules combined) and whether its
    primary score was claimed better (None: no primary score)."""

    gate: dict[str, np.ndarray]
    better: dict[str, np.ndarray | None]


def simulate_outcomes(setting: Setting, sims: int = 1000, stickiness: float = 0.8, check: int = 3, seed: int = 1,
                      gains: Sequence[int] = GAINS) -> tuple[Plan, Outcomes]:
    """:func:`simulate`, with the per-simulation outcomes a plan of several parts combines (:func:`with_parts`)."""
    rng = np.random.default_rng(seed)
    gates, skipped = setting.simulated()
    advisory = {n: bool(s.advisory_reason) for n, s in setting.scores.items()}
    rows = []
    for g in gates:
        n, m, need, per_cat = _analytic(g, setting, stickiness)
        rows.append(RuleRow(rule_name(g, g.category if g.category != "each" else None)
                            + (" [each category]" if g.category == "each" else ""),
                            g, is_advisory(g, setting), n, m, need, per_cat))
    gate_rates: dict[str, Rates] = {}
    kept = Outcomes({}, {})
    scenarios = [IDENTICAL] + [f"+{d}" for d in gains]
    for label, points in zip(scenarios, [0, *gains], strict=True):
        a = {n: draw(s.values, sims, stickiness, rng) for n, s in setting.scores.items()}
        b = {n: draw(s.values, sims, stickiness, rng) for n, s in setting.scores.items()}
        if points:
            b = {n: gain(b[n], setting.scores[n], points, rng) for n in b}
        judge = Judge(setting, a, b)
        results = [judge.gate(g) for g in gates]
        apply_families(gates, results, advisory)
        outcomes = [combine([r.outcome for r in res], sims) for res in results]
        whole = list(range(setting.n))
        better = {n: judge.better(n, whole) for n in setting.scores}
        for k in range(min(check, sims)):
            real, real_better = real_outcomes(setting, gates, a, b, k)
            fast = [str(o[k]) for o in outcomes]
            fast_better = {n: bool(v[k]) for n, v in better.items()}
            if real != fast or real_better != fast_better:
                raise AssertionError(f"{setting.suite} {label} simulation {k}: the simulation's outcomes {fast} "
                                     f"(better {fast_better}) != the gate's {real} (better {real_better})")
        for row, res, out in zip(rows, results, outcomes, strict=True):
            better_rule = [r.better for r in res if r.better is not None]
            row.rates[label] = Rates.of(out, np.any(better_rule, axis=0) if better_rule else None)
            if label == IDENTICAL and row.gate.rule == "max_regressions":
                row.expected_regressions = float(np.sum([r.regressions for r in res if r.regressions is not None], axis=0).mean())
        blocking = [o for row, o in zip(rows, outcomes, strict=True) if not row.advisory]
        gate_out = combine(blocking, sims)
        # The gate as a whole is "promoted as better" when it promotes and its primary score (the first
        # comparative rule's) is claimed better: a claim on any of several scores would add their false claims.
        primary = setting.primary()
        promoted_better = (gate_out == PROMOTE) & better[primary] if primary in better else None
        gate_rates[label] = Rates.of(gate_out, promoted_better)
        kept.gate[label], kept.better[label] = gate_out, promoted_better
    return Plan(setting.suite, setting.source, setting.n, sims, stickiness, seed, rows, gate_rates,
                [(rule_name(g, g.category if g.category != "each" else None), why) for g, why in skipped],
                min(check, sims), scenarios), kept


def with_parts(plan: Plan, outcomes: Outcomes, parts: Sequence[tuple[str, Plan, Outcomes]]) -> Plan:
    """The task's plan with further parts of the same decision (a suite's retention checks, each simulated on its
    own suite and split): their rules join the table, named ``<label>: <rule>``, and the gate as a whole combines
    every part's blocking rules per simulation (the parts drawn independently). In a +d scenario the task gains d
    points and each part is judged at its identical scenario: a candidate better at its task that kept what the
    base could do. A part's own rows keep their own +d columns (that rule with a gain of d)."""
    rules = list(plan.rules)
    skipped = list(plan.skipped)
    gate_rates: dict[str, Rates] = {}
    for label, part, _ in parts:
        if part.sims != plan.sims:
            raise ValueError(f"{label}: {part.sims} simulations, the plan {plan.sims}")
        rules += [RuleRow(f"{label}: {r.name}", r.gate, r.advisory, r.n, r.mde, r.n_needed, r.per_category, r.rates,
                          r.expected_regressions) for r in part.rules]
        skipped += [(f"{label}: {name}", why) for name, why in part.skipped]
    for scenario in plan.scenarios:
        whole = combine([outcomes.gate[scenario], *(o.gate[IDENTICAL] for _, _, o in parts)], plan.sims)
        better = outcomes.better[scenario]
        gate_rates[scenario] = Rates.of(whole, None if better is None else (whole == PROMOTE) & better)
    source = plan.source + "".join(f"; {label}: {part.source}" for label, part, _ in parts)
    return Plan(plan.suite, source, plan.n, plan.sims, plan.stickiness, plan.seed, rules, gate_rates, skipped,
                plan.checked, plan.scenarios)


def _pct(x: float) -> str:
    return "-" if math.isnan(x) else f"{100 * x:.1f}%"


def format_plan(plan: Plan) -> str:
    """The plan as a table: one line per rule and one for the gate as a whole."""
    gains = [s for s in plan.scenarios if s != IDENTICAL]
    head = ["rule", "n", "MDE", "n for 80%", "identical: better", "PROMOTE", "BLOCK", "INCONCLUSIVE",
            *[f"PROMOTE at {g} points" for g in gains]]
    rows = [head]

    def cells(name: str, n: str, m: str, need: str, rates: dict[str, Rates]) -> list[str]:
        aa = rates[IDENTICAL]
        return [name, n, m, need, _pct(aa.better), _pct(aa.promote), _pct(aa.block), _pct(aa.inconclusive),
                *[_pct(rates[g].promote) for g in gains]]

    for r in plan.rules:
        need = "-" if r.n_needed is None else f"{r.n_needed}{'/category' if r.per_category else ''}"
        rows.append(cells(r.name + (" (advisory)" if r.advisory else ""), f"{r.n}{' min' if r.per_category else ''}",
                          _f(r.mde), need, r.rates))
    rows.append(cells("the gate (blocking rules above)", str(plan.n), "", "", plan.gate))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    se = 50 / math.sqrt(plan.sims)
    notes = [f"plan for {plan.suite}: {plan.source}; {plan.sims} simulated comparisons per scenario (Monte-Carlo SE "
             f"<= {se:.1f} points), a re-run keeps an example's outcome with probability {plan.stickiness:g}, "
             f"{RESAMPLES} paired-bootstrap resamples (seed {SEED}) as `harness gate`; seed {plan.seed}",
             *lines,
             "identical: the same model twice; better: the difference's 95% CI lies above 0 (a false claim of an "
             "improvement; for the gate: it promotes and its primary score, the first comparative rule's, is claimed better); PROMOTE / BLOCK / INCONCLUSIVE: the rule's outcome (the gate's: BLOCK if any blocking rule "
             "blocks, else INCONCLUSIVE if any is, else PROMOTE), Holm within each family as `harness gate` corrects it.",
             "MDE and n for 80%: analytic (harness.stats.power, normal approximation) under the same model: the smallest "
             "difference n examples detect, and the examples that decide at the rule's margin (threshold) with 80% "
             "power; '-' where no n does (a count cap; a threshold an identical candidate sits on).",
             "min / max: simulated on the candidate's draws (its mean and 95% CI)."]
    for r in plan.rules:
        if r.expected_regressions is not None:
            notes.append(f"{r.name}: an identical model has {r.expected_regressions:.1f} regressions on average "
                         f"(cap {r.gate.max_regressions}).")
    notes += [f"not simulated: {name}: {why}" for name, why in plan.skipped]
    if plan.checked:
        notes.append(f"cross-checked: the first {plan.checked} simulations of every scenario through compare + "
                     "evaluate_gates give the same outcomes.")
    return "\n".join(notes)


def rule_kinds_simulated() -> tuple[str, ...]:
    return tuple(k for k in RULE_KINDS if k in COMPARATIVE + ON_CANDIDATE)
