"""harness report RUN_A RUN_B ... --out FILE [--suite SUITE] | harness report --index DIR [--out FILE]"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write one self-contained HTML report comparing runs",
                       description="One HTML file with no external resources: metric table with CIs and paired deltas, "
                                   "charts, and an example-by-example side-by-side filterable by regression, improvement "
                                   "and category. With --suite, the suite's gates are evaluated and the verdict shown.")
    p.add_argument("runs", type=Path, nargs="*", metavar="RUN", help="run directories; the first is the baseline")
    p.add_argument("--out", type=Path, metavar="FILE", help="the HTML file to write (with --index: default DIR/index.html)")
    p.add_argument("--index", type=Path, metavar="DIR", help="instead: one page listing every run, gate decision and "
                                                               "iterate loop under DIR, with filters and score charts")
    p.add_argument("--suite", type=Path, help="evaluate this suite's gates (exactly two runs) and show the verdict")
    p.add_argument("--category-field", metavar="F", help="dataset field for the per-category breakdown")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from harness.core.errors import HarnessError

    if args.index is not None:
        return _index(args)
    if not args.runs or args.out is None:
        raise HarnessError("give run directories and --out FILE, or --index DIR")
    from harness.compare import compare_runs
    from harness.core.io import atomic_write_text
    from harness.records.files import check_output_file
    from harness.report.html import html_report
    from harness.report.registry import ReportInput

    check_output_file(args.out, "--out")  # before the comparison's bootstraps, not after
    comp = compare_runs(args.runs, category_field=args.category_field)
    decision = None
    if args.suite:
        from harness.promote.gate import decide

        decision = decide(args.suite, comp)
    (text,) = html_report(ReportInput(comp, decision)).values()
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.out, text)
    except OSError as e:
        from harness.core.errors import EnvironmentFailure

        raise EnvironmentFailure.from_os_error(e, "writing the report") from None
    print(f"report: {args.out}")
    return 0


def _index(args: argparse.Namespace) -> int:
    import sys

    from harness.core.errors import HarnessError
    from harness.report.index import write_index

    if args.runs:
        raise HarnessError("--index DIR lists every run under DIR; give no run directories with it")
    if not args.index.is_dir():
        raise HarnessError(f"--index {args.index}: no such folder")
    out = args.out or args.index / "index.html"
    index = write_index(args.index, out)
    for u in index.unreadable:
        print(f"skipped: {u}", file=sys.stderr)
    print(f"index: {out} ({len(index.runs)} runs, {len(index.gates)} gate decisions, {len(index.loops)} loops)")
    return 0
