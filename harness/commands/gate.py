"""harness gate SUITE --baseline X --candidate Y [--out DIR] [--junit FILE] [--markdown FILE] [--html FILE]

X and Y are run directories, or model specs that are run first (e.g. --baseline local
--candidate 'local?adapter=out/adapter'). Exit 0: promote; 1: a gate blocks; 2: bad input.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path

from harness.commands.common import add_output_options
from harness.tracking import add_track_option, track


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gate", help="decide whether a candidate may replace the baseline (exit 0 promote, 1 blocked)",
                       description="Compare a candidate with a baseline on a suite and evaluate the suite's gates: every rule "
                                   "is printed with its figure and verdict. Writes report.html, gate_junit.xml, "
                                   "gate_summary.md (also appended to $GITHUB_STEP_SUMMARY when set), gate.json and CSVs to --out; "
                                   "model specs are first run into OUT/baseline-run and OUT/candidate-run. "
                                   "Exit 0: promote; 1: a blocking rule failed; 2: bad input.")
    p.add_argument("suite", type=Path, help="suite YAML file whose gates decide")
    p.add_argument("--baseline", required=True, metavar="RUN|MODEL", help="a run directory, or a model spec to run first")
    p.add_argument("--candidate", required=True, metavar="RUN|MODEL", help="a run directory, or a model spec to run first")
    p.add_argument("--split", help="split to run model specs on (default: the suite's default_split)")
    p.add_argument("--limit", type=int, metavar="N", help="run model specs on the first N examples only")
    p.add_argument("--out", type=Path, help="folder for the reports (default: REPORTS/gates/<suite>-<time>)")
    p.add_argument("--junit", type=Path, metavar="FILE", help="also write the JUnit XML here")
    p.add_argument("--markdown", type=Path, metavar="FILE", help="also write the Markdown summary here")
    p.add_argument("--html", type=Path, metavar="FILE", help="also write the HTML report here")
    add_output_options(p)
    add_track_option(p)
    p.set_defaults(func=main)


def resolve_run(text: str, role: str, args: argparse.Namespace, out: Path) -> Path:
    """A run directory as given, or a fresh run of the model spec written to OUT/<role>-run.

    An explicit folder per role: two specs whose names differ only after the run-name
    truncation, started in the same second, must not write into one directory."""
    path = Path(text)
    if path.is_dir():
        return path
    from harness.providers.base import ModelSpec
    from harness.runner import RunConfig, run_suite

    cfg = RunConfig(suite=args.suite, model=ModelSpec.parse(text), split=args.split, limit=args.limit,
                    reports_dir=args.reports, out=out / f"{role}-run", cache=args.cache, progress=not args.no_progress)
    outcome = run_suite(cfg)
    print(f"{role}: ran {outcome.summary['model']['display']} -> {outcome.directory}")
    if outcome.n_errors:
        print(f"{role}: warning: {outcome.n_errors} example(s) failed; they count against the run that failed them")
    return outcome.directory


def main(args: argparse.Namespace) -> int:
    from harness.gate import gate_runs

    out = args.out or args.reports / "gates" / f"{args.suite.stem}-{time.strftime('%Y%m%dT%H%M%S')}"
    base = resolve_run(args.baseline, "baseline", args, out)
    cand = resolve_run(args.candidate, "candidate", args, out)
    outcome = gate_runs(args.suite, base, cand, out)
    for src, dst in ((outcome.junit_path, args.junit), (outcome.markdown_path, args.markdown), (outcome.html_path, args.html)):
        if dst is not None:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_file:
        with open(summary_file, "a", encoding="utf-8") as fh:
            fh.write(outcome.markdown_path.read_text(encoding="utf-8") + "\n")
    print(outcome.text)
    print(f"reports: {out} (report.html, gate_junit.xml, gate_summary.md, gate.json, comparison_*.csv)")
    return track(args, args.suite, outcome.exit_code, lambda t: t.log_gate(out), "the gate decision")
