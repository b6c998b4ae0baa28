"""`harness plan`: what a suite's gate can tell at its size, before a model runs (harness.gating.power).

    from harness.promote.plan import plan_suite
    plan = plan_suite(Path("suites/support_intent.yaml"))                       # synthetic runs at 80% accuracy
    plan = plan_suite(Path("suites/support_intent.yaml"), baseline=Path("reports/runs/X"))  # that run's scores

The setting is the suite's split (its examples' ids and categories) and, per gated per-example score, a
baseline run's per-example values (a score an example could not get counts as the worst value) or a
synthetic run in which ``round(base_accuracy * n)`` examples, at random places, score the best value and the rest the worst.

In a synthetic run a score that only candidate-alone rules gate (``min`` / ``max``, e.g. ``truncated max:
0.1``) is not put at ``base_accuracy``: a model whose flag is raised on 20% of examples breaks a 10% cap by
construction, and blocking it is right, not a false block. Such a score is drawn at a level that meets its
rules with room: half-way from the tightest threshold to the best value (a 0.1 cap: 5% of examples; a 0.8
floor: 90%). Give ``--baseline RUN`` to plan on a real model's levels instead.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.core.errors import HarnessError
from harness.core.trust import TrustPolicy
from harness.evaluate.retention import check_name, check_suite, retention_dir
from harness.gating.power import Plan, Score, Setting, simulate_outcomes, with_parts
from harness.suite.load import LoadedSuite, load_suite
from harness.suite.schema import Gate, RetentionCheck

DEFAULT_BASE_ACCURACY = 0.8
DEFAULT_STICKINESS = 0.8
CORPUS = ("{score} is a corpus score (one statistic of the whole split: the gate bootstraps it over the examples; "
          "the plan simulates per-example scores only)")


def _bounds(value_range: list[float | None] | tuple[float | None, ...] | None) -> tuple[float, float]:
    lo, hi = (list(value_range or []) + [None, None])[:2]
    return (0.0 if lo is None else float(lo)), (1.0 if hi is None else float(hi))


def synthetic_setting(loaded: LoadedSuite, base_accuracy: float = DEFAULT_BASE_ACCURACY, split: str | None = None,
                      seed: int = 1, gates: list[Gate] | None = None) -> Setting:
    """The suite's split (size, categories) and, for each gated per-example score, a synthetic run. ``gates``:
    the rules to plan (default the suite's own)."""
    from harness.data.examples import load_split

    name = split or loaded.suite.default_split
    if name not in loaded.suite.dataset.splits:
        raise HarnessError(f"--split {name}: the suite has no such split (it has: {', '.join(loaded.suite.dataset.splits)})")
    examples = load_split(loaded.suite.dataset, loaded.dataset_dir(), name, loaded.suite.prompt).examples
    specs = loaded.score_specs()
    rng = np.random.default_rng(seed)
    n = len(examples)
    scores, absent, floors = {}, {}, []
    gates = list(loaded.suite.gates) if gates is None else gates
    for g in gates:
        spec = specs.get(g.metric)
        if spec is not None and spec.level != "example":
            absent[g.metric] = CORPUS.format(score=g.metric)
        if spec is None or spec.level != "example" or g.metric in scores:
            continue
        lo, hi = _bounds(spec.range)
        best, worst = (hi, lo) if spec.direction == "higher" else (lo, hi)
        level = _level(gates, g.metric, lo, hi, best, base_accuracy)
        if level != base_accuracy:
            floors.append(f"{g.metric} at {level:g}")
        at_best = np.zeros(n, dtype=bool)  # exactly round(level * n) examples at the best value, at random places
        at_best[rng.permutation(n)[:round(level * n)]] = True
        vals = np.where(at_best, best, worst)
        scores[g.metric] = Score(g.metric, spec.direction, lo, hi, True if (lo, hi) == (0.0, 1.0) else spec.binary, vals)
    return Setting(loaded.suite.name, f"synthetic runs: {n} examples of split {name}, base accuracy {base_accuracy:g}"
                   + (f" ({', '.join(floors)}: gated only by min/max, half-way from the threshold to the best value)"
                      if floors else ""),
                   [e.id for e in examples], [e.category for e in examples], gates, scores, absent)


def _level(all_gates: list[Gate], score: str, lo: float, hi: float, best: float, base_accuracy: float) -> float:
    """The share of examples at the best value in a synthetic run of ``score`` (see the module's docstring)."""
    gates = [g for g in all_gates if g.metric == score and g.category is None]
    bounds = [g.min if g.rule == "min" else g.max for g in gates if g.rule in ("min", "max")]
    if not bounds or any(g.rule not in ("min", "max") for g in gates):
        return base_accuracy
    share = [(b - lo) / (hi - lo) if best == hi else (hi - b) / (hi - lo) for b in bounds]  # each threshold as a share at best
    tightest = max(share)
    return min(1.0, tightest + (1.0 - tightest) / 2)


def run_setting(run_dir: Path, loaded: LoadedSuite, gates: list[Gate] | None = None) -> Setting:
    """A baseline run's own per-example scores (the run's examples: its split, any --limit). ``gates``: the
    rules to plan (default the suite's own)."""
    from harness.records.run import read_run

    rec = read_run(run_dir)
    scores, absent = {}, {}
    gates = list(loaded.suite.gates) if gates is None else gates
    for g in gates:
        e = rec.summary.metrics.get(g.metric)
        if e is not None and e.level != "example":
            absent[g.metric] = CORPUS.format(score=g.metric)
        if e is None or e.level != "example" or g.metric in scores:
            continue
        lo, hi = _bounds(e.range)
        worst = lo if e.direction == "higher" else hi
        vals = np.array([worst if r.scores.get(g.metric) is None else r.scores[g.metric] for r in rec.results], dtype=float)
        scores[g.metric] = Score(g.metric, e.direction, lo, hi, e.binary, vals, e.advisory_reason)
    return Setting(loaded.suite.name, f"baseline run {run_dir} ({len(rec.results)} examples)", [r.id for r in rec.results],
                   [r.category for r in rec.results], gates, scores, absent)


def plan_suite(suite: Path | LoadedSuite, baseline: Path | None = None, split: str | None = None, sims: int = 1000,
               seed: int = 1, base_accuracy: float = DEFAULT_BASE_ACCURACY, stickiness: float = DEFAULT_STICKINESS,
               check: int = 3, gains: tuple[int, ...] | None = None, trust: TrustPolicy | None = None) -> Plan:
    """The suite's plan: its own rules, and each retention check's non-inferiority rule simulated on the retention
    suite's split (from the baseline run's ``retention/<name>/`` run where there is one) in the same decision."""
    loaded = suite if isinstance(suite, LoadedSuite) else load_suite(suite, trust=trust)
    if baseline is not None:
        if split is not None:
            raise HarnessError("--split and --baseline: a baseline run's examples are its split; give one of the two")
        setting = run_setting(baseline, loaded)
    else:
        setting = synthetic_setting(loaded, base_accuracy, split, seed)
    kw = {} if gains is None else {"gains": gains}
    plan, outcomes = simulate_outcomes(setting, sims, stickiness, check, seed, **kw)
    if not loaded.suite.retention:
        return plan
    parts = [(f"retention {check_name(c)}", *simulate_outcomes(
        _retention_setting(loaded, c, baseline, base_accuracy, seed, trust), sims, stickiness, check, seed + 1 + i, **kw))
        for i, c in enumerate(loaded.suite.retention)]
    return with_parts(plan, outcomes, parts)


def _retention_setting(loaded: LoadedSuite, check: RetentionCheck, baseline: Path | None, base_accuracy: float,
                       seed: int, trust: TrustPolicy | None) -> Setting:
    """One retention check as the rule ``harness gate`` judges it (harness.promote.retention), on the retention
    suite's split: from the baseline run's retention run of it where there is one, else a synthetic run."""
    from harness.promote.retention import primary_score

    sub = load_suite(check_suite(loaded, check), trust=trust)
    gate = Gate(metric=check.metric or primary_score(sub), non_inferiority_margin=check.non_inferiority_margin,
                advisory=check.advisory)
    if baseline is not None and (retention_dir(baseline, check) / "summary.json").is_file():
        return run_setting(retention_dir(baseline, check), sub, [gate])
    return synthetic_setting(sub, base_accuracy, check.split, seed, [gate])
