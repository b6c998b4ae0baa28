"""harness gate SUITE --baseline X --candidate Y [--out DIR] [--junit FILE] [--markdown FILE] [--html FILE]

X and Y are run directories, or model specs that are run first (e.g. --baseline local
--candidate 'local?adapter=out/adapter'). Exit 0: promote; 1: a gate blocks; 5: inconclusive (no rule blocks, but the
data cannot decide one); 2: bad input; 4: a report cannot be written (checked before any run or decision).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from harness.cli.common import (
    add_output_options,
    add_selection_options,
    add_trust_options,
    print_selection,
    selection_from_args,
    with_trust,
)
from harness.tracking import add_track_option, track


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gate", help="decide whether a candidate may replace the baseline (exit 0 promote, 1 blocked, 5 inconclusive)",
                       description="Compare a candidate with a baseline on a suite and evaluate the suite's gates: every rule "
                                   "is printed with its figure and verdict. Writes report.html, gate_junit.xml, "
                                   "gate_summary.md (also appended to $GITHUB_STEP_SUMMARY when set), gate.json and CSVs to --out; "
                                   "model specs are first run into OUT/baseline-run and OUT/candidate-run. "
                                   "Exit 0: promote; 1: a blocking rule failed; 5: inconclusive (no rule blocks, but the examples cannot decide "
                                   "one); 2: bad input.")
    p.add_argument("suite", type=Path, help="suite YAML file whose gates decide")
    p.add_argument("--baseline", required=True, metavar="RUN|MODEL", help="a run directory, or a model spec to run first")
    p.add_argument("--candidate", required=True, metavar="RUN|MODEL", help="a run directory, or a model spec to run first")
    p.add_argument("--split", help="split to run model specs on (default: the suite's default_split)")
    add_selection_options(p, what="examples (for model specs run here)")
    p.add_argument("--out", type=Path, help="folder for the reports (default: REPORTS/gates/<suite>-<time>)")
    p.add_argument("--junit", type=Path, metavar="FILE", help="also write the JUnit XML here")
    p.add_argument("--markdown", type=Path, metavar="FILE", help="also write the Markdown summary here")
    p.add_argument("--html", type=Path, metavar="FILE", help="also write the HTML report here")
    p.add_argument("--format", action="append", metavar="NAME", dest="formats",
                   help="report format to write (repeatable; default: json, html, junit, markdown, csv); "
                        "any registered reporter, e.g. text")
    add_output_options(p)
    add_trust_options(p)
    add_track_option(p)
    p.set_defaults(func=with_trust(main))


def resolve_run(text: str, role: str, args: argparse.Namespace, out: Path) -> Path:
    """A run directory as given, or a fresh run of the model spec written to OUT/<role>-run.

    An explicit folder per role: two specs whose names differ only after the run-name
    truncation, started in the same second, must not write into one directory."""
    path = Path(text)
    if path.is_dir():
        return path
    head = text.split("?", 1)[0]
    is_model_file = path.is_file() and text.endswith((".yaml", ".yml"))
    if not is_model_file and (path.exists() or ("/" in head and ":" not in head.split("/", 1)[0])):
        # A path (a model spec holds a slash only after "provider:" or in its ?query), not a model:
        # say what is wrong with it rather than "unknown provider 'runs/nosuch'".
        from harness.core.errors import HarnessError

        what = "is not a run directory (a folder with summary.json and results.jsonl)" if path.exists() else "no such run directory"
        raise HarnessError(f"--{role} {text}: {what}")
    from harness.core.errors import HarnessError, UnknownName
    from harness.providers.base import ModelSpec
    from harness.evaluate.run import RunConfig, run_suite

    try:
        model = ModelSpec.parse(text)
    except UnknownName as e:
        raise HarnessError(f"--{role} {text}: no such run directory, and not a model spec: {e}") from None
    selection = selection_from_args(args)
    print_selection(selection)
    cfg = RunConfig(suite=args.suite, model=model, split=args.split, **selection,
                    reports_dir=args.reports, out=out / f"{role}-run", cache=args.cache, progress=not args.no_progress,
                    trust=args.trust)
    outcome = run_suite(cfg)
    print(f"{role}: ran {outcome.summary.model.display} -> {outcome.directory}")
    from harness.evaluate.retention import run_retention

    for r in run_retention(cfg, outcome.directory, log=lambda m: print(f"{role}: {m}", flush=True)):
        print(f"{role}: retention {r.name} -> {r.directory}")
    if outcome.n_errors:
        print(f"{role}: warning: {outcome.n_errors} example(s) failed; they count against the run that failed them")
    return outcome.directory


EXTRA = (("junit", "junit"), ("markdown", "markdown"), ("html", "html"))  # flag -> the format it copies


def main(args: argparse.Namespace) -> int:
    from harness.promote.gate import gate_runs
    from harness.records.files import check_output_file, ensure_writable
    from harness.report.registry import GATE_FORMATS, REPORTERS

    if args.out is None:  # named as compare names its folders: the suite's name (slugged), then the time
        from harness.records.rundir import slug
        from harness.suite.load import load_suite

        out = args.reports / "gates" / f"{slug(load_suite(args.suite, trust=args.trust).suite.name, 'suite')}-{time.strftime('%Y%m%dT%H%M%S')}"
    else:
        out = args.out
    formats = list(dict.fromkeys(["json", *(args.formats or GATE_FORMATS)]))
    for name in formats:
        REPORTERS.get(name)  # an unknown format: exit 2 with the closest names, before any work
    # Every destination is checked before a model runs or the decision is printed: a bad --junit
    # path must not turn a decided gate into a crash after the verdict (exit 4, one line).
    ensure_writable(out, "--out folder", create=False)
    for flag, fmt in EXTRA:
        dst = getattr(args, flag)
        if dst is not None:
            check_output_file(dst, f"--{flag}")
            formats += [fmt] if fmt not in formats else []
    selection_from_args(args)  # --limit with --sample: refused before any model runs
    base = resolve_run(args.baseline, "baseline", args, out)
    cand = resolve_run(args.candidate, "candidate", args, out)
    outcome = gate_runs(args.suite, base, cand, out, formats=formats, trust=args.trust)
    _copy_extras(args, outcome)
    print(outcome.text)
    names = ", ".join(n for files in outcome.files.values() for n in files)
    print(f"reports: {out} ({names})")
    return track(args, args.suite, outcome.exit_code, lambda t: t.log_gate(out), "the gate decision")


def _copy_extras(args: argparse.Namespace, outcome) -> None:
    from harness.core.errors import EnvironmentFailure
    from harness.core.io import atomic_write_text

    for flag, fmt in EXTRA:
        dst, src = getattr(args, flag), outcome.path_of(fmt)
        if dst is not None and src is not None:
            try:
                dst.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_text(dst, src.read_text(encoding="utf-8"))
            except OSError as e:
                raise EnvironmentFailure.from_os_error(e, f"writing --{flag}") from None
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_file and outcome.markdown_path is not None:
        try:
            with open(summary_file, "a", encoding="utf-8") as fh:
                fh.write(outcome.markdown_path.read_text(encoding="utf-8") + "\n")
        except OSError as e:
            raise EnvironmentFailure.from_os_error(e, "appending to $GITHUB_STEP_SUMMARY") from None
