"""`harness plan`: what a suite's gate can tell at its size, before a model runs (harness.gating.power).

    from harness.promote.plan import plan_suite
    plan = plan_suite(Path("suites/support_intent.yaml"))                       # synthetic runs at 80% accuracy
    plan = plan_suite(Path("suites/support_intent.yaml"), baseline=Path("reports/runs/X"))  # that run's scores

The setting is the suite's split (its examples' ids and categories) and, per gated per-example score, a
baseline run's per-example values (a score an example could not get counts as the worst value) or a
synthetic run in which each example scores the best value with probability ``base_accuracy``, else the worst.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.core.errors import HarnessError
from harness.core.trust import TrustPolicy
from harness.gating.power import Plan, Score, Setting, simulate
from harness.suite.load import LoadedSuite, load_suite

DEFAULT_BASE_ACCURACY = 0.8
DEFAULT_STICKINESS = 0.8


def _bounds(value_range: list[float | None] | tuple[float | None, ...] | None) -> tuple[float, float]:
    lo, hi = (list(value_range or []) + [None, None])[:2]
    return (0.0 if lo is None else float(lo)), (1.0 if hi is None else float(hi))


def synthetic_setting(loaded: LoadedSuite, base_accuracy: float = DEFAULT_BASE_ACCURACY, split: str | None = None,
                      seed: int = 1) -> Setting:
    """The suite's split (size, categories) and, for each gated per-example score, a synthetic run."""
    from harness.data.examples import load_split

    name = split or loaded.suite.default_split
    if name not in loaded.suite.dataset.splits:
        raise HarnessError(f"--split {name}: the suite has no such split (it has: {', '.join(loaded.suite.dataset.splits)})")
    examples = load_split(loaded.suite.dataset, loaded.dataset_dir(), name, loaded.suite.prompt).examples
    specs = loaded.score_specs()
    rng = np.random.default_rng(seed)
    n = len(examples)
    scores = {}
    for g in loaded.suite.gates:
        spec = specs.get(g.metric)
        if spec is None or spec.level != "example" or g.metric in scores:
            continue
        lo, hi = _bounds(spec.range)
        best, worst = (hi, lo) if spec.direction == "higher" else (lo, hi)
        vals = np.where(rng.random(n) < base_accuracy, best, worst)
        scores[g.metric] = Score(g.metric, spec.direction, lo, hi, True if (lo, hi) == (0.0, 1.0) else spec.binary, vals)
    return Setting(loaded.suite.name, f"synthetic runs: {n} examples of split {name}, base accuracy {base_accuracy:g}",
                   [e.id for e in examples], [e.category for e in examples], list(loaded.suite.gates), scores)


def run_setting(run_dir: Path, loaded: LoadedSuite) -> Setting:
    """A baseline run's own per-example scores (the run's examples: its split, any --limit)."""
    from harness.records.run import read_run

    rec = read_run(run_dir)
    scores = {}
    for g in loaded.suite.gates:
        e = rec.summary.metrics.get(g.metric)
        if e is None or e.level != "example" or g.metric in scores:
            continue
        lo, hi = _bounds(e.range)
        worst = lo if e.direction == "higher" else hi
        vals = np.array([worst if r.scores.get(g.metric) is None else r.scores[g.metric] for r in rec.results], dtype=float)
        scores[g.metric] = Score(g.metric, e.direction, lo, hi, e.binary, vals, e.advisory_reason)
    return Setting(loaded.suite.name, f"baseline run {run_dir} ({len(rec.results)} examples)", [r.id for r in rec.results],
                   [r.category for r in rec.results], list(loaded.suite.gates), scores)


def plan_suite(suite: Path | LoadedSuite, baseline: Path | None = None, split: str | None = None, sims: int = 1000,
               seed: int = 1, base_accuracy: float = DEFAULT_BASE_ACCURACY, stickiness: float = DEFAULT_STICKINESS,
               check: int = 3, gains: tuple[int, ...] | None = None, trust: TrustPolicy | None = None) -> Plan:
    loaded = suite if isinstance(suite, LoadedSuite) else load_suite(suite, trust=trust)
    if baseline is not None:
        if split is not None:
            raise HarnessError("--split and --baseline: a baseline run's examples are its split; give one of the two")
        setting = run_setting(baseline, loaded)
    else:
        setting = synthetic_setting(loaded, base_accuracy, split, seed)
    kw = {} if gains is None else {"gains": gains}
    return simulate(setting, sims, stickiness, check, seed, **kw)
