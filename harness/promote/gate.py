"""The promotion decision in one call: compare baseline and candidate runs, decide on the suite's
gates (harness.gating, pure), render every report format (harness.report) and write them together.

    from harness.promote.gate import gate_runs
    outcome = gate_runs(Path("suites/support_intent.yaml"), base_dir, cand_dir, Path("reports/gate"))
    if not outcome.passed: ...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.compare.comparison import Comparison, compare_runs
from harness.core.errors import HarnessError
from harness.core.trust import TrustPolicy
from harness.gating.decision import decide_gates
from harness.records.gate import EXIT_BLOCKED, EXIT_INCONCLUSIVE, EXIT_PROMOTE, GateDecision, RuleRecord
from harness.report.registry import GATE_FORMATS, ReportInput, render, write_reports

__all__ = ["EXIT_BLOCKED", "EXIT_INCONCLUSIVE", "EXIT_PROMOTE", "GateOutcome", "decide", "gate_runs"]


@dataclass
class GateOutcome:
    """A gate's outcome: the decision (gate.json), the comparison it was made on, its text report and the
    files written. ``outcome`` is promote, block or inconclusive; True only when the candidate may be promoted (the pytest fixture's ``harness.gate`` returns it)."""

    decision: GateDecision
    comparison: Comparison
    text: str
    out_dir: Path | None = None
    files: dict[str, dict[str, Path]] = field(default_factory=dict)  # format -> file name -> path

    def __bool__(self) -> bool:
        return self.passed

    @property
    def passed(self) -> bool:
        return self.decision.passed

    @property
    def outcome(self) -> str:
        """promote | block | inconclusive (harness.records.gate.gate_outcome)."""
        return self.decision.outcome or ("promote" if self.passed else "block")

    @property
    def inconclusive(self) -> list[RuleRecord]:
        return [r for r in self.rules if r.undecided]

    @property
    def exit_code(self) -> int:
        return self.decision.exit_code

    @property
    def rules(self) -> list[RuleRecord]:
        return self.decision.rules

    @property
    def blocking(self) -> list[RuleRecord]:
        return [r for r in self.rules if r.blocks]

    def path_of(self, fmt: str) -> Path | None:
        return next(iter(self.files.get(fmt, {}).values()), None)

    @property
    def html_path(self) -> Path | None:
        return self.path_of("html")

    @property
    def junit_path(self) -> Path | None:
        return self.path_of("junit")

    @property
    def markdown_path(self) -> Path | None:
        return self.path_of("markdown")

    @property
    def json_path(self) -> Path | None:
        return self.path_of("json")

    @property
    def csv_paths(self) -> dict[str, Path]:
        return {name.removeprefix("comparison_").removesuffix(".csv"): p for name, p in self.files.get("csv", {}).items()}


def decide(suite_path: Path, comp: Comparison, lineage: list[dict[str, Any]] | None = None,
           trust: TrustPolicy | None = None, retention: bool = True) -> GateDecision:
    """The suite's gates on a comparison: load the suite (its paths confined by ``trust``'s data root;
    None: :meth:`TrustPolicy.from_env`), check it is the one the runs were made with, decide."""
    from harness.suite.load import load_suite

    loaded = load_suite(suite_path, trust=trust)
    ran = comp.runs[0].summary.suite.name
    if loaded.suite.name != ran:
        raise HarnessError(f"{suite_path}: suite {loaded.suite.name!r} cannot gate runs of suite {ran!r}")
    _check_same_suite(suite_path, loaded, comp)
    decision = decide_gates(list(loaded.suite.gates), comp, str(suite_path), lineage)
    if retention and loaded.suite.retention:  # False: the task's rules alone (the loop's gate on validation)
        from harness.promote.retention import retention_rules
        from harness.records.gate import EXIT_OF, gate_outcome

        rules, rows = retention_rules(loaded, comp.runs[0].directory, comp.runs[1].directory, trust)
        every = decision.rules + rules
        outcome = gate_outcome(every)
        decision = decision.model_copy(update={"rules": every, "retention": rows, "outcome": outcome,
                                               "passed": outcome == "promote", "exit_code": EXIT_OF[outcome]})
    return decision


def gate_comparison(suite_path: Path, comp: Comparison, out_dir: Path | None,
                    lineage: list[dict[str, Any]] | None = None, formats: tuple[str, ...] | list[str] = GATE_FORMATS,
                    trust: TrustPolicy | None = None, retention: bool = True) -> GateOutcome:
    """Decide on an existing comparison (the loop reuses its own) and write the reports to ``out_dir``."""
    from harness.report.text import gate_text

    decision = decide(Path(suite_path), comp, lineage, trust, retention)
    inp = ReportInput(comp, decision)
    rendered = render(inp, formats)  # every format rendered (and an unknown one refused) before any file is written
    files = write_reports(rendered, Path(out_dir)) if out_dir is not None else {}
    return GateOutcome(decision, comp, gate_text(inp), Path(out_dir) if out_dir is not None else None, files)


def _evaluation_part(spec: dict[str, Any]) -> dict[str, Any]:
    """What makes two runs the same evaluation: the suite without its gates, description, include
    line, the retention checks (other suites' runs, judged beside the task's) and the dataset's folder
    (where the data lies, not what it is: the runs' dataset hashes are compared with each other)."""
    out = {k: v for k, v in spec.items() if k not in ("gates", "retention", "description", "include")}
    out["dataset"] = {k: v for k, v in (spec.get("dataset") or {}).items() if k != "path"}
    return out


def _check_same_suite(suite_path: Path, loaded: Any, comp: Comparison) -> None:
    """Refuse runs made with another suite of the same name (its sha256 is of the merged suite, so a
    changed include'd file counts). Only the gates may differ: they judge the same evaluation."""
    run = comp.runs[0]
    ran_sha = run.summary.suite.sha256
    if ran_sha == loaded.sha256:
        return
    ran_spec = run.summary.suite.spec
    here = loaded.suite.model_dump(mode="json")
    if isinstance(ran_spec, dict) and _evaluation_part(ran_spec) == _evaluation_part(here):
        return
    differ = sorted(k for k in set(here) | set(ran_spec or {}) if k not in ("gates", "retention", "description", "include")
                    and (here.get(k) != (ran_spec or {}).get(k)))
    raise HarnessError(f"{suite_path}: not the suite the runs were made with: sha256 {loaded.sha256[:12]} here, "
                       f"{str(ran_sha)[:12]} in {run.directory}/summary.json" + (f" (they differ in: {', '.join(differ)})" if differ else "")
                       + "; rerun the models with this suite, or gate with the suite file they used")


def gate_runs(suite_path: Path, baseline_dir: Path, candidate_dir: Path, out_dir: Path | None,
              lineage: list[dict[str, Any]] | None = None, formats: tuple[str, ...] | list[str] = GATE_FORMATS,
              trust: TrustPolicy | None = None, retention: bool = True) -> GateOutcome:
    """Gate ``candidate_dir`` against ``baseline_dir`` (run directories) on ``suite_path``'s gates; reports go to
    ``out_dir``. ``trust``: the caller's data root the suite's paths must stay inside (None: the environment's)."""
    comp = compare_runs([Path(baseline_dir), Path(candidate_dir)], labels=["baseline", "candidate"])
    return gate_comparison(suite_path, comp, out_dir, lineage, formats, trust, retention)
