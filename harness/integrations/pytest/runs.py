"""What the pytest plugin does with a suite: run models, compare, gate, and explain a failed rule.

Kept apart from :mod:`harness.integrations.pytest.plugin` so that plugin stays cheap to load in every pytest
run; this module (and the whole harness) is imported only when a test uses it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.compare.align import Run as LabelledRun
from harness.compare.comparison import compare_runs
from harness.gating.kinds import RULE_KINDS
from harness.gating.rules import evaluate_gate, format_figure, format_rules
from harness.promote.gate import GateOutcome
from harness.records.gate import RuleRecord
from harness.records.run import read_run
from harness.evaluate.run import RunConfig, run_suite
from harness.suite.schema import Gate


@dataclass(frozen=True)
class ScoreView:
    name: str
    mean: float
    ci_low: float | None
    ci_high: float | None
    n: int

    def __repr__(self) -> str:
        return f"{self.name} = {self.mean:.3f} [{self.ci_low}, {self.ci_high}] (n={self.n})"


@dataclass(eq=False)
class Run(LabelledRun):
    """A finished run as a test sees it: compare's thin view of the run read back
    (harness.records.run.RunRecord), labelled by its model, with its scores by name."""

    @classmethod
    def load(cls, directory: Path) -> Run:
        record = read_run(directory)
        return cls(record, record.model)

    @property
    def n_errors(self) -> int:
        return self.record.n_errors

    def score(self, name: str) -> ScoreView:
        m = self.summary.metrics
        if name not in m:
            raise KeyError(f"run {self.directory} has no score {name!r}; it has: {', '.join(m)}")
        e = m[name]
        return ScoreView(name, float("nan") if e.mean is None else float(e.mean), e.ci_low, e.ci_high, e.n)


class Harness:
    """Runs suites with one response cache (``REPORTS/cache.sqlite``), so a rerun costs nothing."""

    def __init__(self, reports: Path, progress: bool = False):
        self.reports = Path(reports)
        self.progress = progress
        self._runs: dict[tuple[str, str, str | None, int | None, int | None, int | None], Run] = {}

    def run(self, suite: str | Path, model: str, split: str | None = None, limit: int | None = None,
            sample: int | None = None, seed: int | None = None) -> Run:
        """Evaluate ``model`` (as for --model) on ``suite``: every example, the first ``limit``, or a
        stratified ``sample`` drawn with ``seed`` (harness.data.sample); the same call twice in a
        session reuses the run."""
        from harness.providers.base import ModelSpec

        key = (str(Path(suite).resolve()), model, split, limit, sample, seed)
        if key not in self._runs:
            out = run_suite(RunConfig(suite=Path(suite), model=ModelSpec.parse(model), split=split, limit=limit,
                                      sample=sample, sample_seed=seed, reports_dir=self.reports, progress=self.progress))
            self._runs[key] = Run.load(out.directory)
        return self._runs[key]

    def baseline(self, suite: str | Path, baseline: str, split: str | None = None, limit: int | None = None,
                 sample: int | None = None, seed: int | None = None) -> Run:
        """A run directory as it is, or a model spec to run."""
        p = Path(baseline)
        return Run.load(p) if (p / "summary.json").is_file() else self.run(suite, baseline, split, limit, sample, seed)

    def gate(self, candidate: Run, baseline: Run, suite: str | Path | None = None) -> GateOutcome:
        """The suite's gates (default: the suite the candidate ran) on candidate vs baseline; no report is written."""
        from harness.promote.gate import gate_comparison

        comp = compare_runs([baseline.directory, candidate.directory], labels=["baseline", "candidate"])
        return gate_comparison(Path(suite or candidate.summary.suite.path), comp, None, formats=())


def gates_of(suite: Path) -> list[Gate]:
    from harness.suite.load import load_suite

    return list(load_suite(suite).suite.gates)


def evaluate(gate: Gate, candidate: Run, baseline: Run | None) -> list[RuleRecord] | None:
    """The rule's results; None when it compares with a baseline and there is none."""
    if baseline is None and RULE_KINDS[gate.rule].needs_baseline:
        return None
    # Without a baseline an absolute rule (min, max) reads only the candidate: compare it with itself.
    base = baseline or candidate
    comp = compare_runs([base.directory, candidate.directory], labels=["baseline", "candidate"])
    return evaluate_gate(gate, comp)


def worst_examples(rule: RuleRecord, candidate: Run, baseline: Run | None, direction: str, k: int = 5) -> list[str]:
    """The examples that sank the rule: its regressions, else the candidate's lowest scores."""
    base = {r["id"]: r for r in baseline.rows} if baseline else {}
    rows = [r for r in candidate.rows if rule.category in (None, r.get("category"))]
    if rule.examples:
        chosen = [r for r in rows if r["id"] in set(rule.examples)]
    else:
        scored = [r for r in rows if isinstance((r.get("scores") or {}).get(rule.score), int | float)]
        sign = 1 if direction == "higher" else -1
        chosen = sorted(scored, key=lambda r: sign * r["scores"][rule.score])
    lines = []
    for r in chosen[:k]:
        now = (r.get("scores") or {}).get(rule.score)
        was = ((base.get(r["id"]) or {}).get("scores") or {}).get(rule.score)
        fig = f"{rule.score} {_num(was)} -> {_num(now)}" if r["id"] in base else f"{rule.score} {_num(now)}"
        lines.append(f"  {r['id']}: {fig}; output {_clip(r.get('output'))}; reference {_clip(r.get('reference'))}")
    return lines


def failure_text(rule: RuleRecord, candidate: Run, baseline: Run | None) -> str:
    entry = candidate.summary.metrics.get(rule.score)
    direction = entry.direction if entry is not None else "higher"
    head = (f"{rule.verdict.upper()} {rule.name}: figure {format_figure(rule.rule, rule.figure)}, "
            f"threshold {format_figure(rule.rule, rule.threshold)}\n  {rule.explanation}")
    worst = worst_examples(rule, candidate, baseline, direction)
    return head + ("\nworst examples:\n" + "\n".join(worst) if worst else "") + "\n\n" + format_rules([rule])


def _num(x: Any) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3g}"


def _clip(x: Any, n: int = 80) -> str:
    s = "" if x is None else str(x)
    return repr(s if len(s) <= n else s[: n - 1] + "…")
