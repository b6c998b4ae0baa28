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
from harness.report import svg
from harness.report.registry import ReportInput, reporter

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
TOKEN = re.compile(r"\s+|[^\s]+")


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
    """JSON safe inside <script type="application/json">: nothing in it can end the element."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, default=str)
    return Markup(text.replace("</", "<\\/").replace("<!--", "\\u003c!--"))


def _text(x: Any) -> str:
    return "" if x is None else x if isinstance(x, str) else json.dumps(x, ensure_ascii=False)


def _score_cell(v: Any) -> str:
    return "–" if v is None else (f"{v:g}" if isinstance(v, (int, float)) and not math.isnan(v) else str(v))


def _examples(comp: Comparison) -> list[dict[str, Any]]:
    regressed: dict[str, list[str]] = {}
    improved: dict[str, list[str]] = {}
    for name, sc in comp.scores.items():
        for v in sc.vs_baseline:
            for i in v.regressions:
                regressed.setdefault(i, []).append(f"{name} ({v.label})")
            for i in v.improvements:
                improved.setdefault(i, []).append(f"{name} ({v.label})")
    names = [n for n, sc in comp.scores.items() if sc.level == "example"]
    out = []
    for i, ex_id in enumerate(comp.ids):
        rows = [comp.aligned.rows[r][i] for r in range(len(comp.runs))]
        base_out = rows[0].get("output")
        out.append({
            "id": ex_id, "category": comp.aligned.categories[i] or "",
            "input": _text(rows[0].get("input")), "reference": _text(rows[0].get("reference")),
            "runs": [{"label": run.label, "output": _text(row.get("output")), "error": row.get("error"),
                      "diff": word_diff(_text(base_out), _text(row.get("output"))) if r else None,
                      "scores": [(n, _score_cell(row.get("scores", {}).get(n))) for n in names]}
                     for r, (run, row) in enumerate(zip(comp.runs, rows, strict=True))],
            "regression": regressed.get(ex_id, []), "improvement": improved.get(ex_id, []),
        })
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
                  lineage: list[dict[str, Any]] | None = None, title: str | None = None) -> str:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"], default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = lambda x: "" if x is None else fmt(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else x
    env.globals["figure"] = format_figure
    base = comp.runs[0].summary
    examples = _examples(comp)
    categories = sorted({e["category"] for e in examples if e["category"]})
    charts = [{"name": n, "bars": svg.metric_bars(sc), "hist": svg.histogram(sc), "cats": svg.category_deltas(sc),
               "direction": sc.direction}
              for n, sc in comp.scores.items()]
    data = {"examples": [{"id": e["id"], "category": e["category"], "regression": bool(e["regression"]),
                          "improvement": bool(e["improvement"])} for e in examples],
            "verdict": None if passed is None else ("promote" if passed else "blocked")}
    lineage_cols = sorted({k for it in lineage or [] for k in (it.get("scores") or {})})
    return env.get_template("report.html.j2").render(
        title=title or f"{base['suite']['name']}: {' vs '.join(r.label for r in comp.runs)}",
        suite=base["suite"], dataset=base["dataset"], comp=comp, runs=comp.runs, n=len(comp.ids),
        rules=rules, passed=passed, metric_rows=_metric_rows(comp), charts=charts, examples=examples,
        categories=categories, data=json_for_script(data), lineage=lineage, lineage_cols=lineage_cols,
        costs=[cost_line(r.summary) for r in comp.runs],
        palette=svg.PALETTE, json=lambda x: json.dumps(x, ensure_ascii=False, sort_keys=True, default=str),
    )


def cost_line(summary: dict[str, Any]) -> str:
    """One run's tokens and dollars, per model (the candidate and each judge), from its cost block."""
    from harness.pricing import format_dollars

    cost = summary.get("cost")
    tokens = summary.get("tokens") or {}
    if not isinstance(cost, dict):  # a run written before cost accounting
        return f"{tokens.get('input', 0)} input / {tokens.get('output', 0)} output tokens; cost not recorded"
    parts = [f"{name}: {m['input_tokens']} in / {m['output_tokens']} out tokens, {format_dollars(m.get('cost_usd'))}"
             for name, m in (cost.get("models") or {}).items()]
    head = f"{format_dollars(cost.get('total_usd'))}" + (" (Batch API)" if cost.get("batch") else "")
    tail = f"; prices as of {cost['prices_as_of']}" if cost.get("prices_as_of") else ""
    return f"{head} ({'; '.join(parts) or 'no calls'}){tail}"


@reporter("html")
def html_report(inp: ReportInput) -> dict[str, str]:
    d = inp.decision
    return {"report.html": render_report(inp.comparison, d.rules if d else None, d.passed if d else None,
                                         inp.lineage, inp.title)}
