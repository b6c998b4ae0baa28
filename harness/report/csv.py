"""Two CSV tables of a comparison: per example (wide: one output and score columns per run) and per score."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from harness.compare.comparison import Comparison
from harness.core.csvsafe import safe_row
from harness.records.base import nan_to_none
from harness.report.registry import ReportInput, reporter


def _text(x: Any) -> Any:
    return x if x is None or isinstance(x, str) else json.dumps(x, ensure_ascii=False)


_num = nan_to_none  # an empty cell for a score that could not be computed


def examples_csv(comp: Comparison) -> str:
    """id, category, input, reference, then for each run: ``<label>:output`` and ``<label>:<score>``."""
    names = [n for n, sc in comp.scores.items() if sc.level == "example"]
    header = ["id", "category", "input", "reference"]
    for run in comp.runs:
        header += [f"{run.label}:output"] + [f"{run.label}:{n}" for n in names]
    with io.StringIO(newline="") as fh:
        w = csv.writer(fh)
        w.writerow(safe_row(header))
        for i, ex_id in enumerate(comp.ids):
            first = comp.aligned.rows[0][i]
            row = [ex_id, comp.aligned.categories[i], _text(first.get("input")), _text(first.get("reference"))]
            for r in range(len(comp.runs)):
                res = comp.aligned.rows[r][i]
                row += [res.get("output")] + [res.get("scores", {}).get(n) for n in names]
            w.writerow(safe_row(row))
        return fh.getvalue()


SUMMARY_COLUMNS = ["score", "run", "mean", "ci_low", "ci_high", "delta", "delta_ci_low", "delta_ci_high", "p_value",
                   "n", "n_failed", "regressions", "improvements", "direction", "level", "delta_method"]


def summary_csv(comp: Comparison) -> str:
    """One row per (score, run); the delta columns are empty for the baseline."""
    with io.StringIO(newline="") as fh:
        w = csv.writer(fh)
        w.writerow(safe_row(SUMMARY_COLUMNS))
        for name, sc in comp.scores.items():
            for r, rs in enumerate(sc.runs):
                v = sc.vs_baseline[r - 1] if r else None
                ex = sc.level == "example" and v is not None
                w.writerow(safe_row([name, rs.label, _num(rs.mean), _num(rs.ci_low), _num(rs.ci_high),
                            _num(v.delta.delta) if v else None, _num(v.delta.ci_low) if v else None,
                            _num(v.delta.ci_high) if v else None, v.p_value if v else None, rs.n, rs.n_failed,
                            len(v.regressions) if ex else None, len(v.improvements) if ex else None,
                            sc.direction, sc.level, v.delta.method if v else None]))
        return fh.getvalue()


@reporter("csv")
def csv_report(inp: ReportInput) -> dict[str, str]:
    return {"comparison_examples.csv": examples_csv(inp.comparison),
            "comparison_summary.csv": summary_csv(inp.comparison)}
