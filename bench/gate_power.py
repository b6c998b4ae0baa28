"""The gate's error rates, measured by simulation: A/A false promotions and blocks, and power.

    python bench/gate_power.py                         # every suites/*.yaml, synthetic runs (--base-accuracy)
    python bench/gate_power.py --run reports/runs/X    # that run's suite, from the run's per-example scores

For each suite, over its test split's size and categories, each simulated comparison is a baseline
run A and a candidate run B:

- **A/A** (the same model twice): each example's outcome is drawn twice, independently, from the
  same per-example distribution. From one observed run x (or a synthetic one: each example passes
  with probability --base-accuracy), a draw keeps the example's own value with probability
  lambda (--stickiness, default 0.8) and otherwise takes the value of a uniformly chosen example.
  For a pass/fail score this is exactly Bernoulli(p_i) with p_i = lambda * x_i + (1 - lambda) * mean(x):
  the run's outcomes smoothed toward its mean. Why not a bootstrap of the run against itself: paired on
  the same examples it gives identical runs (every difference 0), so it never measures the gate's noise;
  and p_i = x_i (no smoothing) likewise gives no disagreement. lambda sets how often a model re-run
  disagrees with itself on an example: two draws disagree on a pass/fail example with probability
  2 p_i (1 - p_i); with lambda = 0.8 and 80% accuracy, about 10% of examples flip between two A/A runs
  (a sampled model or a judge; greedy decoding flips fewer, so the A/A rates here are conservative).
  With repeats (generation.repeats), an example's flakiness measures this directly.
- **A gain of +d points** (d% of the score's range): B is drawn as above, then each draw moves toward
  the best value, for a pass/fail score by turning a failure into a pass with probability r, otherwise
  by v + r * (best - v), with r chosen so that the expected mean gains exactly d points.

Each comparison is judged by the gate's own code: the paired differences and their 95% percentile CI from
harness.compare.paired (mean_pair, paired_deltas: the same resamples and seed as `harness gate`; one
vectorised call for all simulations), regressions by harness.compare.comparison.flips' rule, and the
rule thresholds of harness.gating.rules; the first --check simulations of every scenario are also run
through harness.compare.compare_aligned + harness.gating.evaluate_gates and must give the same verdicts.
Rules on the candidate alone (min, max, max_flaky_share) do not compare and are listed, not simulated.

Printed per suite and scenario: each comparative gate's pass rate, the share of comparisons the
suite's blocking comparative gates block, and the share that would be *promoted as better*: a claim
"the candidate is better", the lower bound of the 95% CI of the difference above 0 (a
`min_improvement: 0` gate). Monte-Carlo standard error of a rate p over S simulations: sqrt(p(1-p)/S),
at most 0.5/sqrt(S) (1.6 points for S = 1000).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.compare.align import Aligned, Run
from harness.compare.comparison import compare_aligned, default_margin, orientation
from harness.compare.paired import RESAMPLES, SEED, mean_pair, paired_deltas
from harness.gating.kinds import ALPHA, MIN_EXAMPLES
from harness.gating.rules import evaluate_gate, evaluate_gates
from harness.records.columns import to_frame
from harness.records.run import ExampleRow, MetricEntry, ModelInfo, RunRecord, RunSummary
from harness.stats.power import Z80, Z975, mde
from harness.suite.schema import Gate

COMPARATIVE = ("non_inferiority_margin", "min_improvement", "max_regressions")
GAINS = (2, 5, 10)


@dataclass
class Score:
    name: str
    direction: str
    lo: float
    hi: float
    binary: bool
    values: np.ndarray  # the observed (or synthetic) run's per-example values

    @property
    def best(self) -> float:
        return self.hi if self.direction == "higher" else self.lo

    def entry(self) -> dict:
        return {"metric": self.name, "name": self.name, "direction": self.direction, "range": [self.lo, self.hi],
                "level": "example", "binary": self.binary, "mean": None, "ci_low": None, "ci_high": None, "n": 0}


@dataclass
class Setting:
    suite: str
    source: str
    ids: list[str]
    categories: list[str | None]
    gates: list[Gate]
    scores: dict[str, Score]


# ---------------------------------------------------------------- inputs


def _score_specs(loaded) -> dict[str, dict]:
    specs = {}
    for m in loaded.metrics:
        for s in m.scores():
            specs[s.name] = {"direction": s.direction, "range": list(s.range), "level": s.level, "binary": s.binary}
    return specs


def synthetic_setting(suite_path: Path, base_accuracy: float, rng: np.random.Generator) -> Setting:
    """The suite's test split (size, categories) and, for each gated score, a synthetic run in which each
    example scores the best value with probability base_accuracy and the worst otherwise."""
    from harness.data.examples import load_split
    from harness.suite.load import load_suite

    loaded = load_suite(suite_path)
    split = load_split(loaded.suite.dataset, loaded.dataset_dir(), loaded.suite.default_split, loaded.suite.prompt)
    specs = _score_specs(loaded)
    n = len(split.examples)
    scores = {}
    for g in loaded.suite.gates:
        spec = specs.get(g.metric)
        if g.rule not in COMPARATIVE or spec is None or spec["level"] != "example" or g.metric in scores:
            continue
        lo, hi = (v if v is not None else d for v, d in zip(spec["range"], (0.0, 1.0), strict=True))
        best, worst = (hi, lo) if spec["direction"] == "higher" else (lo, hi)
        vals = np.where(rng.random(n) < base_accuracy, best, worst)
        scores[g.metric] = Score(g.metric, spec["direction"], lo, hi, True if (lo, hi) == (0.0, 1.0) else spec["binary"], vals)
    return Setting(loaded.suite.name, f"synthetic: {n} examples, base accuracy {base_accuracy:g}",
                   [e.id for e in split.examples], [e.category for e in split.examples], list(loaded.suite.gates), scores)


def run_setting(run_dir: Path, suite_path: Path | None) -> Setting:
    """A run's own per-example scores (a score an example could not get counts as the worst value)."""
    from harness.records.run import read_run
    from harness.suite.load import load_suite

    rec = read_run(run_dir)
    loaded = load_suite(suite_path or Path(rec.summary.suite.path))
    scores = {}
    for g in loaded.suite.gates:
        e = rec.summary.metrics.get(g.metric)
        if g.rule not in COMPARATIVE or e is None or e.level != "example" or g.metric in scores:
            continue
        lo, hi = (v if v is not None else d for v, d in zip(e.range, (0.0, 1.0), strict=True))
        worst = lo if e.direction == "higher" else hi
        vals = np.array([worst if r.scores.get(g.metric) is None else r.scores[g.metric] for r in rec.results], dtype=float)
        scores[g.metric] = Score(g.metric, e.direction, lo, hi, e.binary, vals)
    return Setting(loaded.suite.name, f"run {run_dir} ({len(rec.results)} examples)", [r.id for r in rec.results],
                   [r.category for r in rec.results], list(loaded.suite.gates), scores)


# ---------------------------------------------------------------- simulation


def draw(x: np.ndarray, sims: int, stickiness: float, rng: np.random.Generator) -> np.ndarray:
    """(sims, n) draws: each example keeps its value with probability `stickiness`, else takes a random example's."""
    n = x.size
    keep = rng.random((sims, n)) < stickiness
    return np.where(keep, x[None, :], x[rng.integers(0, n, (sims, n))])


def gain(b: np.ndarray, s: Score, points: float, rng: np.random.Generator) -> np.ndarray:
    """Move each draw toward the best value so that the expected mean gains `points` % of the range."""
    room = abs(s.best - float(s.values.mean()))
    r = min(1.0, points / 100 * (s.hi - s.lo) / room) if room > 0 else 0.0
    if s.binary:
        return np.where((b != s.best) & (rng.random(b.shape) < r), s.best, b)
    return b + r * (s.best - b)


def _scopes(gate: Gate, categories: list[str | None]) -> list[list[int]]:
    if gate.category is None:
        return [list(range(len(categories)))]
    cats = sorted({c for c in categories if c is not None}) if gate.category == "each" else [gate.category]
    return [[i for i, c in enumerate(categories) if c == cat] for cat in cats]


def lower_bounds(a: np.ndarray, b: np.ndarray, positions: list[int], direction: str) -> np.ndarray:
    """Every simulation's direction-adjusted lower bound of the paired 95% CI, as the gate computes it."""
    pos = np.asarray(positions)
    pairs = [mean_pair(a[k, pos].tolist(), b[k, pos].tolist()) for k in range(a.shape[0])]
    deltas = paired_deltas(len(positions), pairs, RESAMPLES, SEED)
    if orientation(direction) > 0:
        return np.array([d.ci_low for d in deltas])
    return np.array([-d.ci_high for d in deltas])


def gate_passes(gate: Gate, s: Score, a: np.ndarray, b: np.ndarray, categories: list[str | None]) -> np.ndarray:
    """(sims,) whether the gate passes each simulated comparison (every scope of a `category: each` gate)."""
    ok = np.ones(a.shape[0], dtype=bool)
    for pos in _scopes(gate, categories):
        if not pos:
            return np.zeros(a.shape[0], dtype=bool)  # the gate fails on a missing category
        if gate.rule == "max_regressions":
            margin = gate.regression_margin if "regression_margin" in gate.model_fields_set else default_margin(
                s.binary, [s.lo, s.hi])
            change = orientation(s.direction) * (b[:, pos] - a[:, pos])
            reg, imp = (change < -margin).sum(axis=1), (change > margin).sum(axis=1)
            # harness.gating.kinds: within the cap, or significantly fewer regressions than improvements (sign test)
            from scipy.stats import binom

            fewer = np.where(reg + imp > 0, binom.cdf(reg, np.maximum(reg + imp, 1), 0.5), 1.0) < ALPHA
            ok &= (reg <= float(gate.max_regressions)) | fewer
            continue
        if gate.category is not None and len(pos) < MIN_EXAMPLES:
            return np.zeros(a.shape[0], dtype=bool)  # too few examples to test: inconclusive, never a pass
        lb = lower_bounds(a, b, pos, s.direction)
        value = float(getattr(gate, gate.rule))
        ok &= (lb > -value) if gate.rule == "non_inferiority_margin" else (lb >= value)  # NaN compares False: fails
    return ok


def real_verdicts(setting: Setting, gates: list[Gate], a: np.ndarray, b: np.ndarray, k: int) -> list[bool]:
    """Simulation k through the real comparison and gate code (the cross-check)."""
    names = list({g.metric for g in gates})
    runs = []
    for label, m in (("A", a), ("B", b)):
        rows = [{"id": i, "category": c, "scores": {n: float(m[n][k, j]) for n in names}}
                for j, (i, c) in enumerate(zip(setting.ids, setting.categories, strict=True))]
        # Only what comparing and gating read: the score entries and the model's name.
        summary = RunSummary.model_construct(metrics={n: MetricEntry.model_validate(setting.scores[n].entry()) for n in names},
                                             model=ModelInfo.model_construct(display=label))
        frame = to_frame(rows, list(range(1, len(rows) + 1)), Path(label), ExampleRow)
        runs.append(Run(RunRecord(Path(label), summary, frame), label))
    aligned = Aligned(runs, list(setting.ids), list(setting.categories), [r.frame for r in runs], "category")
    comp = compare_aligned(aligned)
    evaluate_gates([], comp)  # the gate's own check that this is a two-run comparison
    return [all(r.verdict.endswith("pass") for r in evaluate_gate(g, comp)) for g in gates]


def simulate(setting: Setting, sims: int, stickiness: float, check: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    gates = [g for g in setting.gates if g.rule in COMPARATIVE and g.metric in setting.scores]
    better = [Gate(metric=n, min_improvement=1e-12, name=f"{n}: CI lower bound above 0") for n in setting.scores]
    out = []
    for label, points in [("A/A", 0)] + [(f"+{d} points", d) for d in GAINS]:
        a = {n: draw(s.values, sims, stickiness, rng) for n, s in setting.scores.items()}
        b = {n: draw(s.values, sims, stickiness, rng) for n, s in setting.scores.items()}
        if points:
            b = {n: gain(b[n], setting.scores[n], points, rng) for n in b}
        passes = {g: gate_passes(g, setting.scores[g.metric], a[g.metric], b[g.metric], setting.categories) for g in gates + better}
        for k in range(min(check, sims)):
            real = real_verdicts(setting, gates + better, a, b, k)
            fast = [bool(passes[g][k]) for g in gates + better]
            if real != fast:
                raise AssertionError(f"{setting.suite} {label} simulation {k}: fast path {fast} != gate {real}")
        blocking = [g for g in gates if not g.advisory]
        blocked = np.zeros(sims, dtype=bool)
        for g in blocking:
            blocked |= ~passes[g]
        out.append({"scenario": label, "blocked": float(blocked.mean()),
                    "better": {g.metric: float(passes[g].mean()) for g in better},
                    "gates": {_gate_label(g): float(passes[g].mean()) for g in gates}})
    return out


def _gate_label(g: Gate) -> str:
    return g.name or f"{g.metric} {g.rule}={getattr(g, g.rule)}" + (f" [{g.category}]" if g.category else "")


def suite_mde(setting: Setting, stickiness: float) -> dict[str, float]:
    """The MDE (harness.stats.power.mde) of an A/A pair of this size under the simulation's model: a draw of
    example i has variance Var_i = lambda x_i^2 + (1 - lambda) E[x^2] - mu_i^2 (mu_i its mean), two draws'
    difference 2 Var_i; for a pass/fail score 2 Var_i = 2 p_i (1 - p_i) is the discordance rate."""
    out = {}
    for n, s in setting.scores.items():
        x, lam = s.values, stickiness
        mu = lam * x + (1 - lam) * x.mean()
        var = lam * x**2 + (1 - lam) * float((x**2).mean()) - mu**2
        v = mde(math.sqrt(2 * float(var.mean())), x.size)
        out[n] = max(v, (Z975 + Z80) ** 2 / x.size * (s.hi - s.lo)) if s.binary else v
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", type=Path, help="a run directory: simulate from its per-example scores (its suite)")
    ap.add_argument("--suite", type=Path, action="append", help="suite file(s); default every suites/*.yaml")
    ap.add_argument("--base-accuracy", type=float, default=0.8, help="synthetic runs: each example passes with this probability")
    ap.add_argument("--stickiness", type=float, default=0.8, help="probability a re-run keeps an example's own outcome")
    ap.add_argument("--sims", type=int, default=1000, help="simulated comparisons per scenario")
    ap.add_argument("--check", type=int, default=3, help="simulations per scenario also run through the real gate")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    if args.run:
        settings = [run_setting(args.run, args.suite[0] if args.suite else None)]
    else:
        settings = [synthetic_setting(p, args.base_accuracy, rng) for p in (args.suite or sorted((ROOT / "suites").glob("*.yaml")))]
    print(f"gate_power: {args.sims} simulations per scenario (Monte-Carlo SE <= {50 / math.sqrt(args.sims):.1f} points), "
          f"stickiness {args.stickiness}, {RESAMPLES} paired-bootstrap resamples (seed {SEED}) as `harness gate`")
    report = []
    for st in settings:
        t0 = time.perf_counter()
        print(f"\n== {st.suite}: {st.source}")
        if not st.scores:
            print("   no comparative gate on a per-example score: nothing to simulate "
                  f"(gates: {', '.join(_gate_label(g) for g in st.gates) or 'none'})")
            continue
        skipped = [g for g in st.gates if g.rule not in COMPARATIVE or g.metric not in st.scores]
        if skipped:
            print("   not simulated (rules on the candidate alone, or corpus scores): " + ", ".join(_gate_label(g) for g in skipped))
        rows = simulate(st, args.sims, args.stickiness, args.check, args.seed)
        for name, v in suite_mde(st, args.stickiness).items():
            print(f"   MDE of {name} at n={len(st.ids)} (80% power, two-sided 5%): {v:.3f}")
        for r in rows:
            better = ", ".join(f"{k} {v:.1%}" for k, v in r["better"].items())
            gates = "; ".join(f"{k}: pass {v:.1%}" for k, v in r["gates"].items())
            kind = "false promotion" if r["scenario"] == "A/A" else "power"
            print(f"   {r['scenario']:>10}  promoted as better ({kind}): {better}  |  blocked {r['blocked']:.1%}  |  {gates}")
        print(f"   ({time.perf_counter() - t0:.1f} s)")
        report.append({"suite": st.suite, "source": st.source, "n": len(st.ids), "scenarios": rows,
                       "mde": suite_mde(st, args.stickiness)})
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
