"""The HTML report: ONE self-contained file (inline CSS, JS and SVG; nothing fetched).

Jinja2 with autoescape on: every model output and dataset string is escaped. Data for the page's
script is embedded as JSON in <script type="application/json"> with ``<`` of ``</`` and ``<!--``
escaped so no string can close the element.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from harness.compare.comparison import Comparison
from harness.compare.table import ci, fmt, pval
from harness.gating.rules import format_figure
from harness.records.run import RunSummary
from harness.report import svg
from harness.report.registry import ReportInput, reporter

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
TOKEN = re.compile(r"\s+|[^\s]+")
PAGE = 200  # examples per page of the table; the static HTML holds the first page


def word_diff(before: str | None, after: str | None) -> list[tuple[str, str]]:
    """Segments (op, text) turning ``before`` into ``after`` word by word; op is eq, del or ins."""
    a, b = TOKEN.findall(before or ""), TOKEN.findall(after or "")
    out: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(("eq", "".join(a[i1:i2])))
            continue
        if op in ("delete", "replace"):
            out.append(("del", "".join(a[i1:i2])))
        if op in ("insert", "replace"):
            out.append(("ins", "".join(b[j1:j2])))
    return out


def json_for_script(data: Any) -> Markup:
    """JSON safe inside <script type="application/json">: no ``<``, ``>`` or ``&`` at all (escaped
    as \\u003c...), so no string can end the element or read as markup; JSON.parse restores them."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, default=str, separators=(",", ":"))
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _text(x: Any) -> str:
    return "" if x is None else x if isinstance(x, str) else json.dumps(x, ensure_ascii=False)


def _score_cell(v: Any) -> str:
    return "–" if v is None else (f"{v:g}" if isinstance(v, (int, float)) and not math.isnan(v) else str(v))


def _num_or_none(values: Any) -> list[float | None]:
    return [None if math.isnan(v) else float(v) for v in values.tolist()]


def _flags(comp: Comparison, index: dict[str, int]) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
    """Example position -> "score (run)" it regressed / improved on, for the few that did."""
    regressed: dict[int, list[str]] = {}
    improved: dict[int, list[str]] = {}
    for name, sc in comp.scores.items():
        for v in sc.vs_baseline:
            for i in v.regressions:
                regressed.setdefault(index[i], []).append(f"{name} ({v.label})")
            for i in v.improvements:
                improved.setdefault(index[i], []).append(f"{name} ({v.label})")
    return regressed, improved


def example_data(comp: Comparison) -> dict[str, Any]:
    """Every example as columns (one array per field, not one object per example): the page's script
    pages and filters over these arrays, and draws word diffs only for the rows on screen."""
    al = comp.aligned
    index = {ex_id: i for i, ex_id in enumerate(comp.ids)}
    regressed, improved = _flags(comp, index)
    cats = sorted({c for c in al.categories if c})
    cat_index = {c: k for k, c in enumerate(cats)}
    names = [n for n, sc in comp.scores.items() if sc.level == "example"]
    base = al.frames[0]
    runs = []
    for r, (run, frame) in enumerate(zip(comp.runs, al.frames, strict=True)):
        errors = {i: e for i, e in enumerate(frame["error"].tolist()) if e}
        runs.append({"label": run.label, "output": [_text(x) for x in frame["output"].tolist()], "error": errors,
                     "scores": [[n, _num_or_none(al.score_column(r, n))] for n in names]})
    return {"ids": list(comp.ids), "cats": cats, "cat": [cat_index.get(c, -1) if c else -1 for c in al.categories],
            "input": [_text(x) for x in base["input"].tolist()], "reference": [_text(x) for x in base["reference"].tolist()],
            "runs": runs, "regression": {str(k): v for k, v in regressed.items()},
            "improvement": {str(k): v for k, v in improved.items()}, "flaky": _flaky(comp)}


def _flaky(comp: Comparison) -> dict[str, list[str]]:
    """Example position -> 'score (run): flakiness' where a run's repeats disagreed (harness.evaluate.repeats)."""
    out: dict[str, list[str]] = {}
    for run, frame in zip(comp.runs, comp.aligned.frames, strict=True):
        if "flakiness" not in frame.columns:
            continue
        for i, f in enumerate(frame["flakiness"].tolist()):
            for name, v in (f or {}).items() if isinstance(f, dict) else ():
                if v is not None and v > 0:
                    out.setdefault(str(i), []).append(f"{name} ({run.label}): {v:.2f}")
    return out


def first_page(data: dict[str, Any], size: int) -> list[dict[str, Any]]:
    """The first ``size`` examples for the static table (what shows before, or without, the script)."""
    out = []
    for i in range(min(size, len(data["ids"]))):
        runs = []
        for r, run in enumerate(data["runs"]):
            runs.append({"label": run["label"], "output": run["output"][i], "error": run["error"].get(i),
                         "diff": word_diff(data["runs"][0]["output"][i], run["output"][i]) if r else None,
                         "scores": [(n, _score_cell(vals[i])) for n, vals in run["scores"]]})
        out.append({"id": data["ids"][i], "category": data["cats"][data["cat"][i]] if data["cat"][i] >= 0 else "",
                    "input": data["input"][i], "reference": data["reference"][i], "runs": runs,
                    "regression": data["regression"].get(str(i), []), "improvement": data["improvement"].get(str(i), []),
                    "flaky": data["flaky"].get(str(i), [])})
    return out


def _metric_rows(comp: Comparison) -> list[dict[str, Any]]:
    rows = []
    for name, sc in comp.scores.items():
        for r, rs in enumerate(sc.runs):
            v = sc.vs_baseline[r - 1] if r else None
            rows.append({"score": name if r == 0 else "", "direction": sc.direction, "run": rs.label, "mean": fmt(rs.mean),
                         "ci": ci(rs.ci_low, rs.ci_high), "n": rs.n, "n_failed": rs.n_failed,
                         "delta": fmt(v.delta.delta, signed=True) if v else "",
                         "delta_ci": ci(v.delta.ci_low, v.delta.ci_high, signed=True) if v else "",
                         "p": pval(v.p_value) if v else "", "method": v.delta.method if v else "",
                         "regressions": len(v.regressions) if v and sc.level == "example" else "",
                         "improvements": len(v.improvements) if v and sc.level == "example" else "",
                         "better": None if not v or math.isnan(v.delta.delta) or v.delta.delta == 0
                         else (v.delta.delta > 0) == (sc.direction == "higher"),
                         "advisory": sc.advisory_reason or ""})
    return rows


def render_report(comp: Comparison, rules: list[Any] | None = None, passed: bool | None = None,
                  lineage: list[dict[str, Any]] | None = None, title: str | None = None, outcome: str | None = None,
                  retention: list[Any] | None = None) -> str:
    """``outcome`` promote | block | inconclusive (default: from ``passed``)."""
    env = _env()
    env.globals["figure"] = format_figure
    env.globals["mde"] = lambda x: "–" if x is None or math.isnan(x) else fmt(x)
    base = comp.runs[0].summary
    examples = example_data(comp)
    charts = [{"name": n, "bars": svg.metric_bars(sc), "hist": svg.histogram(sc), "cats": svg.category_deltas(sc),
               "direction": sc.direction}
              for n, sc in comp.scores.items()]
    data = {"examples": examples, "page": PAGE, "verdict": None if passed is None else
            ("inconclusive" if outcome == "inconclusive" else "promote" if passed else "blocked")}
    lineage_cols = sorted({k for it in lineage or [] for k in (it.get("scores") or {})})
    return env.get_template("report.html.j2").render(
        title=title or f"{base.suite.name}: {' vs '.join(r.label for r in comp.runs)}",
        suite=base.suite, dataset=base.dataset, comp=comp, runs=comp.runs, n=len(comp.ids), coverage=comp.aligned.coverage(),
        rules=rules, retention=retention, passed=passed, outcome=outcome, metric_rows=_metric_rows(comp), charts=charts,
        examples=first_page(examples, PAGE), categories=examples["cats"], data=json_for_script(data), lineage=lineage, lineage_cols=lineage_cols,
        costs=[cost_line(r.summary) for r in comp.runs],
        palette=svg.PALETTE, json=lambda x: json.dumps(x, ensure_ascii=False, sort_keys=True, default=str),
    )


def _env() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"], default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = lambda x: "" if x is None else fmt(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else x
    return env


def render_checkpoints(table: Any) -> str:
    """A checkpoint table (:class:`~harness.records.checkpoints.CheckpointTable`) as one self-contained
    HTML page: each checkpoint's step, epoch, train and validation loss and validation metric, the
    chosen one marked, and why (the same table the loop's report shows per iteration)."""
    entries = [e.model_dump(mode="json") for e in table.checkpoints]
    return _env().get_template("checkpoints.html.j2").render(t=table, entries=entries)


def write_checkpoints_html(table: Any, out: Path) -> Path:
    """checkpoints.html in ``out`` (beside checkpoints.json, .csv and .md)."""
    from harness.core.io import atomic_write_text

    path = Path(out) / "checkpoints.html"
    atomic_write_text(path, render_checkpoints(table))
    return path


def cost_line(summary: RunSummary) -> str:
    """One run's tokens and dollars, per model (the candidate and each judge), from its cost block."""
    from harness.pricing import format_dollars

    cost, tokens = summary.cost, summary.tokens
    if cost is None:  # a run written before cost accounting
        return f"{tokens.input} input / {tokens.output} output tokens; cost not recorded"
    parts = [f"{name}: {m.input_tokens} in / {m.output_tokens} out tokens, {format_dollars(m.cost_usd)}"
             for name, m in cost.models.items()]
    head = f"{format_dollars(cost.total_usd)}" + (" (Batch API)" if cost.batch else "")
    tail = f"; prices as of {cost.prices_as_of}" if cost.prices_as_of else ""
    return f"{head} ({'; '.join(parts) or 'no calls'}){tail}"


@reporter("html")
def html_report(inp: ReportInput) -> dict[str, str]:
    d = inp.decision
    return {"report.html": render_report(inp.comparison, d.rules if d else None, d.passed if d else None,
                                         inp.lineage, inp.title, d.outcome if d else None, d.retention if d else None)}
