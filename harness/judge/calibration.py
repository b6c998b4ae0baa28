"""Judge calibration's parts: the labels file, agreement with human grades, and the store keyed by
the rubric's sha256 and the judge model's fingerprint (read by the judge_rubric metric). The
workflow that grades a labelled set with a suite's metric is :mod:`harness.evaluate.calibrate`.

Labels file (JSONL), one judged answer a line::

    {"id": "cal-001", "example": "sr-val-003", "output": "<the answer a person graded>", "label": 4,
     "note": "why (optional)"}

``example`` is the id of an example in one of the suite's splits (its request and reference are
what the judge sees); ``label`` is a grade 1..N, or true/false for a pass/fail rubric.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.core.errors import InputProblems, Problem
from harness.core.jsonl import read_jsonl
from harness.core.types import Failure
from harness.judge.agreement import accuracy, spearman, with_ci
from harness.judge.rubric import Rubric
from harness.stats.agreement import cohen_kappa

if TYPE_CHECKING:
    from harness.core.types import ScoreValue

STORE_DIR = "calibration"


def store_path(reports_dir: str | Path | None) -> Path:
    """The calibration store: ``REPORTS/calibration/``, one file per rubric sha256."""
    base = reports_dir if reports_dir is not None else os.environ.get("HARNESS_REPORTS", "reports")
    return Path(base) / STORE_DIR


class CalibrationStore:
    """``<dir>/<rubric_sha256>.json``: {"version": 1, "rubric_sha256": ..., "entries": {judge fingerprint sha256: entry}}.

    Keyed by the rubric's hash (one file per rubric) and, inside, by the judge model's fingerprint:
    a calibration holds for exactly that rubric text graded by exactly that model.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def file(self, rubric_sha256: str) -> Path:
        return self.path / f"{rubric_sha256}.json"

    def _read(self, rubric_sha256: str) -> dict[str, Any]:
        f = self.file(rubric_sha256)
        if not f.is_file():
            return {"version": 1, "rubric_sha256": rubric_sha256, "entries": {}}
        return json.loads(f.read_text(encoding="utf-8"))

    def get(self, rubric_sha256: str, judge_fingerprint_sha256: str) -> dict[str, Any] | None:
        return self._read(rubric_sha256)["entries"].get(judge_fingerprint_sha256)

    def put(self, entry: dict[str, Any]) -> Path:
        rubric = entry["rubric_sha256"]
        data = self._read(rubric)
        data["entries"][entry["judge"]["fingerprint_sha256"]] = entry
        f = self.file(rubric)
        f.parent.mkdir(parents=True, exist_ok=True)
        tmp = f.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, f)  # atomic: a reader never sees half a file
        return f


@dataclass(frozen=True)
class Label:
    id: str
    example: str
    output: str
    grade: int  # 0/1 for pass/fail
    line: int


def load_labels(path: Path, rubric: Rubric) -> list[Label]:
    """Read and check a labels file; every bad line is reported, together."""
    problems: list[Problem] = []
    labels: list[Label] = []
    seen: dict[str, int] = {}
    name = str(path)
    if not path.is_file():
        raise InputProblems([Problem(name, "", "no such labels file")])
    for n, row in read_jsonl(path, objects=True, collect=problems):
        missing = [k for k in ("id", "example", "output", "label") if k not in row]
        extra = sorted(set(row) - {"id", "example", "output", "label", "note"})
        if missing or extra:
            what = (f"missing {', '.join(missing)}" if missing else "") + ("; " if missing and extra else "") + \
                   (f"unknown key {', '.join(extra)}" if extra else "")
            problems.append(Problem(name, "", f"{what}; a line has id, example, output, label and optional note", line=n))
            continue
        grade = _grade(row["label"], rubric)
        if isinstance(grade, str):
            problems.append(Problem(name, "label", grade, line=n))
            continue
        if not isinstance(row["output"], str):
            problems.append(Problem(name, "output", "expected a string", line=n))
            continue
        rid = str(row["id"])
        if rid in seen:
            problems.append(Problem(name, "id", f"duplicate id {rid!r} (first on line {seen[rid]})", line=n))
            continue
        seen[rid] = n
        labels.append(Label(rid, str(row["example"]), row["output"], grade, n))
    if not labels and not problems:
        problems.append(Problem(name, "", "no labels"))
    if problems:
        raise InputProblems(problems)
    return labels


def _grade(value: Any, rubric: Rubric) -> int | str:
    if rubric.scale == "pass_fail":
        if isinstance(value, bool):
            return int(value)
        return f"expected true or false for a pass/fail rubric, got {value!r}"
    if isinstance(value, bool) or not isinstance(value, int) or value not in rubric.grades:
        return f"expected an integer grade from 1 to {rubric.scale}, got {value!r}"
    return value


def judge_grade(score: float, rubric: Rubric) -> int:
    """The judge's score as a grade: nearest grade on a scale, pass when P(pass) >= 0.5."""
    if rubric.scale == "pass_fail":
        return int(score >= 0.5)
    return min(rubric.top, max(1, math.floor(score + 0.5)))


def agreement(human: list[int], judge: list[ScoreValue], rubric: Rubric, resamples: int = 1000) -> dict[str, Any]:
    """Agreement of judge scores with human grades. Unparseable verdicts are left out and counted."""
    pairs = [(h, float(j)) for h, j in zip(human, judge, strict=True) if not isinstance(j, Failure)]
    n_failed = len(human) - len(pairs)
    h = [p[0] for p in pairs]
    g = [judge_grade(p[1], rubric) for p in pairs]
    raw = [p[1] for p in pairs]
    cats = rubric.grades
    out: dict[str, Any] = {"n": len(pairs), "n_unparseable": n_failed, "resamples": resamples}
    if rubric.scale == "pass_fail":
        out["statistic"] = "cohen_kappa"
        out["cohen_kappa"] = with_ci(len(pairs), lambda i: cohen_kappa([h[k] for k in i], [g[k] for k in i], cats), resamples)
        out["accuracy"] = with_ci(len(pairs), lambda i: accuracy([h[k] for k in i], [g[k] for k in i]), resamples)
    else:
        out["statistic"] = "quadratic_weighted_kappa"
        out["quadratic_weighted_kappa"] = with_ci(
            len(pairs), lambda i: cohen_kappa([h[k] for k in i], [g[k] for k in i], cats, "quadratic"), resamples)
        out["spearman"] = with_ci(len(pairs), lambda i: spearman([h[k] for k in i], [raw[k] for k in i]), resamples)
        out["exact_accuracy"] = with_ci(len(pairs), lambda i: accuracy([h[k] for k in i], [g[k] for k in i]), resamples)
    out["agreement"] = out[out["statistic"]]["value"]
    return out


def finite(x: Any) -> Any:
    """JSON has no NaN: store null."""
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: finite(v) for k, v in x.items()}
    if isinstance(x, list):
        return [finite(v) for v in x]
    return x


def summary(entry: dict[str, Any] | None) -> str:
    """One line for reports: 'qw-kappa 0.62 [0.41, 0.78] vs 30 human labels'."""
    if entry is None:
        return "not calibrated"
    stat = entry["statistic"]
    s = entry.get(stat) or {}
    v, lo, hi = s.get("value"), s.get("ci_low"), s.get("ci_high")

    def f(x: Any) -> str:
        return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.2f}"

    short = {"quadratic_weighted_kappa": "qw-kappa", "cohen_kappa": "kappa"}.get(stat, stat)
    return f"{short} {f(v)} [{f(lo)}, {f(hi)}] vs {entry['n']} human labels ({entry['n_unparseable']} unparseable)"
