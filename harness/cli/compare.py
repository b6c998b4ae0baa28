"""harness compare RUN_A RUN_B [RUN_C ...] [--out DIR] [--category-field F]"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from harness.tracking import add_track_option, track


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="compare runs of one suite example by example",
                       description="Align runs by example id (the first is the baseline) and print, per score, each run's "
                                   "mean with its 95% CI, the paired difference to the baseline with a paired-bootstrap "
                                   "95% CI, McNemar's exact test for pass/fail scores, and regression/improvement counts. "
                                   "Writes comparison.json, comparison_examples.csv, comparison_summary.csv and report.html.")
    p.add_argument("runs", type=Path, nargs="+", metavar="RUN", help="run directories (reports/runs/...); the first is the baseline")
    p.add_argument("--out", type=Path, help="folder for the comparison files (default: REPORTS/comparisons/<suite>-<time>)")
    p.add_argument("--category-field", metavar="F", help="dataset field for the per-category breakdown (default: the suite's)")
    p.add_argument("--format", action="append", metavar="NAME", dest="formats",
                   help="report format to write (repeatable; default: json, csv, html); any registered reporter")
    p.add_argument("--reports", type=Path, default=Path(os.environ.get("HARNESS_REPORTS", "reports")), help=argparse.SUPPRESS)
    add_track_option(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from harness.compare import compare_runs
    from harness.core.errors import HarnessError
    from harness.records.files import ensure_writable
    from harness.records.rundir import slug
    from harness.report.registry import (
        COMPARE_FORMATS,
        ReportInput,
        render,
        write_reports,
    )
    from harness.report.text import gate_text

    if len(args.runs) < 2:
        raise HarnessError("compare needs at least two run directories: the baseline first, then candidates")
    if args.out is not None:
        ensure_writable(args.out, "--out folder", create=False)
    comp = compare_runs(args.runs, category_field=args.category_field)
    inp = ReportInput(comp)
    rendered = render(inp, args.formats or COMPARE_FORMATS)
    print(gate_text(inp))
    for name, sc in comp.scores.items():
        for v in sc.vs_baseline:
            if v.regressions:
                shown = ", ".join(v.regressions[:10]) + (f" ... (+{len(v.regressions) - 10})" if len(v.regressions) > 10 else "")
                print(f"{name}: {len(v.regressions)} regression(s) in {v.label}: {shown}")
    # the name is a record's field (anyone may have written summary.json): slugged, so the folder stays under comparisons/
    out = args.out or args.reports / "comparisons" / f"{slug(comp.runs[0].summary.suite.name, 'suite')}-{time.strftime('%Y%m%dT%H%M%S')}"
    write_reports(rendered, out)
    print(f"comparison files: {out}")
    return track(args, None, 0, lambda t: t.log_comparison(out), "the comparison", suite_name=comp.runs[0].summary.suite.name)
