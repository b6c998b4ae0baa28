"""The promotion decision in one call: compare baseline and candidate runs, evaluate the suite's
gates, write every report (HTML, CSV, JUnit XML, Markdown, JSON).

    from harness.gate import gate_runs
    outcome = gate_runs(Path("suites/support_intent.yaml"), base_dir, cand_dir, Path("reports/gate"))
    if not outcome.passed: ...
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.compare.comparison import Comparison, compare_runs
from harness.compare.table import format_comparison
from harness.core.errors import HarnessError
from harness.gating.rules import RuleResult, evaluate_gates, format_rules

EXIT_PROMOTE, EXIT_BLOCKED = 0, 1


@dataclass
class GateOutcome:
    passed: bool
    exit_code: int
    rules: list[RuleResult]
    comparison: Comparison
    text: str
    html_path: Path
    junit_path: Path
    markdown_path: Path
    json_path: Path
    csv_paths: dict[str, Path] = field(default_factory=dict)

    @property
    def blocking(self) -> list[RuleResult]:
        return [r for r in self.rules if r.blocks]


def decide(suite_path: Path, comp: Comparison) -> tuple[list[RuleResult], bool, str]:
    """The rules' verdicts on a comparison, whether the candidate may be promoted, and the printed text."""
    from harness.suite.load import load_suite

    loaded = load_suite(suite_path)
    ran = comp.runs[0].summary["suite"]["name"]
    if loaded.suite.name != ran:
        raise HarnessError(f"{suite_path}: suite {loaded.suite.name!r} cannot gate runs of suite {ran!r}")
    _check_same_suite(suite_path, loaded, comp)
    if comp.aligned.unmatched:
        counts = ", ".join(f"{r.label} {len(r.rows)}" for r in comp.runs)
        raise HarnessError(f"the runs evaluated different examples ({counts}); a gate compares runs of the same examples "
                           "(the same --limit, or none)")
    rules = evaluate_gates(list(loaded.suite.gates), comp)
    passed = not any(r.blocks for r in rules)
    n_fail = sum(r.blocks for r in rules)
    n_adv = sum(r.verdict == "advisory-fail" for r in rules)
    verdict = ("PROMOTE: every blocking rule passed" if passed else f"BLOCKED: {n_fail} rule(s) failed") + (
        f" ({n_adv} advisory rule(s) failed, not blocking)" if n_adv else "")
    if not rules:
        verdict += " (the suite has no gates)"
    text = "\n\n".join([format_comparison(comp), format_rules(rules) if rules else "no gates", verdict])
    return rules, passed, text


def _evaluation_part(spec: dict[str, Any]) -> dict[str, Any]:
    """What makes two runs the same evaluation: the suite without its gates, description, include
    line and the dataset's folder (where the data lies, not what it is: the runs' dataset hashes
    are compared with each other)."""
    out = {k: v for k, v in spec.items() if k not in ("gates", "description", "include")}
    out["dataset"] = {k: v for k, v in (spec.get("dataset") or {}).items() if k != "path"}
    return out


def _check_same_suite(suite_path: Path, loaded: Any, comp: Comparison) -> None:
    """Refuse runs made with another suite of the same name (its sha256 is of the merged suite, so a
    changed include'd file counts). Only the gates may differ: they judge the same evaluation."""
    run = comp.runs[0]
    ran_sha = run.summary["suite"].get("sha256")
    if ran_sha == loaded.sha256:
        return
    ran_spec = run.summary["suite"].get("spec")
    here = loaded.suite.model_dump(mode="json")
    if isinstance(ran_spec, dict) and _evaluation_part(ran_spec) == _evaluation_part(here):
        return
    differ = sorted(k for k in set(here) | set(ran_spec or {}) if k not in ("gates", "description", "include")
                    and (here.get(k) != (ran_spec or {}).get(k)))
    raise HarnessError(f"{suite_path}: not the suite the runs were made with: sha256 {loaded.sha256[:12]} here, "
                       f"{str(ran_sha)[:12]} in {run.directory}/summary.json" + (f" (they differ in: {', '.join(differ)})" if differ else "")
                       + "; rerun the models with this suite, or gate with the suite file they used")


def gate_runs(suite_path: Path, baseline_dir: Path, candidate_dir: Path, out_dir: Path,
              lineage: list[dict[str, Any]] | None = None) -> GateOutcome:
    """Gate ``candidate_dir`` against ``baseline_dir`` (run directories) on ``suite_path``'s gates; reports go to ``out_dir``."""
    from harness.report.csv import write_csvs
    from harness.report.html import write_report
    from harness.report.junit import write_junit
    from harness.report.markdown import gate_markdown

    comp = compare_runs([Path(baseline_dir), Path(candidate_dir)], labels=["baseline", "candidate"])
    rules, passed, text = decide(Path(suite_path), comp)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    suite_name = comp.runs[0].summary["suite"]["name"]
    record = {"passed": passed, "exit_code": EXIT_PROMOTE if passed else EXIT_BLOCKED, "suite_file": str(suite_path),
              "rules": [r.to_dict() for r in rules], "comparison": comp.to_dict(), "lineage": lineage}
    json_path = out_dir / "gate.json"
    json_path.write_text(json.dumps(record, indent=2, ensure_ascii=False), encoding="utf-8")
    md_path = out_dir / "gate_summary.md"
    md_path.write_text(gate_markdown(comp, rules, passed), encoding="utf-8")
    return GateOutcome(
        passed=passed, exit_code=EXIT_PROMOTE if passed else EXIT_BLOCKED, rules=rules, comparison=comp, text=text,
        html_path=write_report(comp, out_dir / "report.html", rules, passed, lineage),
        junit_path=write_junit(suite_name, rules, out_dir / "gate_junit.xml"), markdown_path=md_path,
        json_path=json_path, csv_paths=write_csvs(comp, out_dir),
    )
