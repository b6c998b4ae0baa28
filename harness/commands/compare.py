"""harness compare RUN_A RUN_B [RUN_C ...] [--out DIR] [--category-field F]"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from harness.tracking import add_track_option, track


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="compare runs of one suite example by example",
                       description="Align runs by example id (the first is the baseline) and print, per score, each run's "
                                   "mean with its 95%% CI, the paired difference to the baseline with a paired-bootstrap "
                                   "95%% CI, McNemar's exact test for pass/fail scores, and regression/improvement counts. "
                                   "Writes comparison.json, comparison_examples.csv, comparison_summary.csv and report.html.")
    p.add_argument("runs", type=Path, nargs="+", metavar="RUN", help="run directories (reports/runs/...); the first is the baseline")
    p.add_argument("--out", type=Path, help="folder for the comparison files (default: REPORTS/comparisons/<suite>-<time>)")
    p.add_argument("--category-field", metavar="F", help="dataset field for the per-category breakdown (default: the suite's)")
    p.add_argument("--reports", type=Path, default=Path(os.environ.get("HARNESS_REPORTS", "reports")), help=argparse.SUPPRESS)
    add_track_option(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from harness.compare import compare_runs
    from harness.compare.table import format_comparison
    from harness.errors import HarnessError
    from harness.report.csv import write_csvs
    from harness.report.html import write_report

    if len(args.runs) < 2:
        raise HarnessError("compare needs at least two run directories: the baseline first, then candidates")
    comp = compare_runs(args.runs, category_field=args.category_field)
    print(format_comparison(comp))
    for name, sc in comp.scores.items():
        for v in sc.vs_baseline:
            if v.regressions:
                shown = ", ".join(v.regressions[:10]) + (f" ... (+{len(v.regressions) - 10})" if len(v.regressions) > 10 else "")
                print(f"{name}: {len(v.regressions)} regression(s) in {v.label}: {shown}")
    out = args.out or args.reports / "comparisons" / f"{comp.runs[0].summary['suite']['name']}-{time.strftime('%Y%m%dT%H%M%S')}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "comparison.json").write_text(json.dumps(comp.to_dict(), indent=2, ensure_ascii=False), encoding="utf-8")
    write_csvs(comp, out)
    write_report(comp, out / "report.html")
    print(f"comparison files: {out}")
    return track(args, None, 0, lambda t: t.log_comparison(out), "the comparison", suite_name=comp.runs[0].summary["suite"]["name"])
