"""Retention in the decision: for each of a suite's retention checks, the base's and the candidate's
runs of the retention suite (``<run dir>/retention/<name>/``, written by harness.evaluate.retention)
are compared with the same paired statistics as the task, and a non-inferiority rule on the check's
score joins the task's rules: one decision, one report, one JUnit file.

A check whose runs are missing on either side is INCONCLUSIVE (the evidence is not there), never a
pass. The table (:class:`harness.records.gate.RetentionRecord`) holds, per check, both means, the
paired difference with its 95% CI, the margin and the outcome.
"""

from __future__ import annotations

import math
from pathlib import Path

from harness.compare.comparison import compare_runs
from harness.core.errors import HarnessError
from harness.evaluate.retention import check_name, check_suite, retention_dir
from harness.gating.decision import check_same_examples
from harness.gating.rules import evaluate_gates
from harness.records.gate import RetentionRecord, RuleRecord
from harness.suite.load import LoadedSuite, load_suite
from harness.suite.schema import Gate, RetentionCheck


def primary_score(loaded: LoadedSuite) -> str:
    """A retention suite's score to compare: its first gate's, else its first metric's first score."""
    if loaded.suite.gates:
        return loaded.suite.gates[0].metric
    return loaded.metrics[0].scores()[0].name


def _missing(name: str, score: str, check: RetentionCheck, where: str) -> tuple[RuleRecord, RetentionRecord]:
    verdict = ("advisory-" if check.advisory else "") + "inconclusive"
    why = (f"no run of retention suite {check.suite} in the {where} ({name}/ under its retention/ folder): "
           f"run the model with this suite (harness run runs its retention checks) to decide it")
    rule = RuleRecord(name=f"retention {name}: {score} non-inferior within {check.non_inferiority_margin:g}", score=score,
                      rule="non_inferiority_margin", figure=None, threshold=-check.non_inferiority_margin,
                      verdict=verdict, outcome="inconclusive", explanation=why)
    return rule, RetentionRecord(name=name, suite=check.suite, score=score, margin=check.non_inferiority_margin,
                                 outcome="inconclusive", advisory=check.advisory, explanation=why)


def retention_rules(loaded: LoadedSuite, baseline_dir: Path, candidate_dir: Path,
                    trust=None) -> tuple[list[RuleRecord], list[RetentionRecord]]:  # noqa: ANN001
    """Each retention check's rule and table row, from the two task runs' retention folders."""
    rules, rows = [], []
    for check in loaded.suite.retention:
        name = check_name(check)
        sub = load_suite(check_suite(loaded, check), trust=trust)
        score = check.metric or primary_score(sub)
        b, c = retention_dir(baseline_dir, check), retention_dir(candidate_dir, check)
        if not (b / "summary.json").is_file() or not (c / "summary.json").is_file():
            rule, row = _missing(name, score, check, "baseline run" if not (b / "summary.json").is_file() else "candidate run")
            rules.append(rule)
            rows.append(row)
            continue
        comp = compare_runs([b, c], labels=["baseline", "candidate"])
        if comp.runs[0].summary.suite.name != sub.suite.name or comp.runs[1].summary.suite.name != sub.suite.name:
            raise HarnessError(f"{b} / {c}: not runs of retention suite {sub.suite.name!r} ({check.suite})")
        if score not in comp.scores:
            raise HarnessError(f"{loaded.path}: retention {name}: the runs have no score {score!r} "
                               f"(they have: {', '.join(comp.scores)})")
        check_same_examples(comp)
        gate = Gate(metric=score, non_inferiority_margin=check.non_inferiority_margin, advisory=check.advisory)
        (rule,) = evaluate_gates([gate], comp)
        rule = rule.model_copy(update={"name": f"retention {name}: {rule.name}"})
        sc = comp.scores[score]
        d = sc.vs_baseline[0].delta if sc.vs_baseline else None
        nan = lambda x: None if x is None or (isinstance(x, float) and math.isnan(x)) else x  # noqa: E731
        rows.append(RetentionRecord(
            name=name, suite=check.suite, score=score, margin=check.non_inferiority_margin, n=d.n if d else None,
            baseline=nan(sc.runs[0].mean), candidate=nan(sc.runs[1].mean), delta=nan(d.delta if d else None),
            ci_low=nan(d.ci_low if d else None), ci_high=nan(d.ci_high if d else None), outcome=rule.outcome,
            advisory=check.advisory, explanation=rule.explanation, direction=sc.direction))
        rules.append(rule)
    return rules, rows
