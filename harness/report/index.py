"""`harness report --index DIR`: one self-contained page listing every run, gate decision and
iterate loop under a folder, with filters and, per suite, a chart of each score across runs.

It reads what the harness writes and nothing else: ``summary.json`` (a run), ``gate.json`` (a gate
decision) and ``lineage.json`` (an iterate loop). A file that cannot be read is listed on the page
and printed, never silently skipped. Same rules as the comparison report: inline CSS, JS and SVG,
autoescaped strings, nothing fetched.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from markupsafe import Markup, escape

from harness.report import svg

MAX_CHARTS = 8  # scores charted per suite; the table lists them all
SKIP_DIRS = {"mlartifacts", "mlruns", ".git"}


@dataclass
class Index:
    root: Path
    runs: list[dict[str, Any]] = field(default_factory=list)
    gates: list[dict[str, Any]] = field(default_factory=list)
    loops: list[dict[str, Any]] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)


def _read(path: Path, index: Index) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        index.unreadable.append(f"{path}: {type(e).__name__}: {e}")
        return None
    if not isinstance(data, dict):
        index.unreadable.append(f"{path}: expected a JSON object")
        return None
    return data


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) else None


def _run(path: Path, s: dict[str, Any], root: Path) -> dict[str, Any]:
    scores = {}
    for name, e in (s.get("metrics") or {}).items():
        if isinstance(e, dict):
            scores[name] = {"mean": _num(e.get("mean")), "lo": _num(e.get("ci_low")), "hi": _num(e.get("ci_high")),
                            "direction": e.get("direction", "higher")}
    cost = s.get("cost") if isinstance(s.get("cost"), dict) else {}
    return {"dir": str(path.parent.resolve()), "rel": os.path.relpath(path.parent, root),
            "suite": (s.get("suite") or {}).get("name", "?"), "version": (s.get("suite") or {}).get("version", ""),
            "model": (s.get("model") or {}).get("display", "?"), "split": (s.get("dataset") or {}).get("split", "?"),
            "created": str(s.get("created", "")), "counts": s.get("counts") or {}, "tokens": s.get("tokens") or {},
            "cost": _num(cost.get("total_usd", cost.get("usd"))), "scores": scores, "decision": None}


def scan(root: Path) -> Index:
    """Every run, gate decision and loop under ``root``, newest first."""
    index = Index(root)
    for dirpath, dirs, files in os.walk(root):
        # MLflow's artifact stores hold copies of summaries and gates: each would be counted twice.
        dirs[:] = sorted(x for x in dirs if x not in SKIP_DIRS)
        d = Path(dirpath)
        if "summary.json" in files and "results.jsonl" in files and (s := _read(d / "summary.json", index)):
            index.runs.append(_run(d / "summary.json", s, root))
        if "gate.json" in files and (g := _read(d / "gate.json", index)):
            runs = (g.get("comparison") or {}).get("runs") or []
            index.gates.append({"rel": os.path.relpath(d, root), "passed": bool(g.get("passed")),
                                "outcome": g.get("outcome") or ("promote" if g.get("passed") else "block"),
                                "suite": ((g.get("comparison") or {}).get("suite") or {}).get("name", "?"),
                                "runs": [str(Path(r.get("directory", "")).resolve()) for r in runs],
                                "models": [r.get("model", {}).get("display", "?") if isinstance(r.get("model"), dict) else str(r.get("model"))
                                           for r in runs],
                                "failed": [r.get("name") for r in g.get("rules") or [] if r.get("verdict") == "fail"]})
        if "lineage.json" in files and (lin := _read(d / "lineage.json", index)):
            index.loops.append(_loop(d, lin, root))
    by_dir = {r["dir"]: r for r in index.runs}
    for g in index.gates:  # the candidate run carries its gate's decision
        if len(g["runs"]) == 2 and g["runs"][1] in by_dir:
            by_dir[g["runs"][1]]["decision"] = {"promote": "promote", "inconclusive": "inconclusive"}.get(g["outcome"], "blocked")
    index.runs.sort(key=lambda r: r["created"], reverse=True)
    return index


def _loop(d: Path, lin: dict[str, Any], root: Path) -> dict[str, Any]:
    score = (lin.get("score") or {}).get("name")
    its = [{"iteration": it.get("iteration"), "model": it.get("model"), "value": _num((it.get("score") or {}).get("value")),
            "best": bool(it.get("best")), "promoted": bool(it.get("promoted"))} for it in lin.get("iterations") or []]
    final = lin.get("final") or {}
    return {"rel": os.path.relpath(d, root), "suite": (lin.get("suite") or {}).get("name", "?"),
            "created": str(lin.get("created_at", "")), "base": (lin.get("config") or {}).get("base", "?"),
            "score": score, "iterations": its, "stop": lin.get("stop_reason", ""), "promoted": lin.get("promoted"),
            "gate": None if not final.get("evaluated") else ("promote" if final.get("gate_passed") else "blocked")}


def trend(score: str, runs: list[dict[str, Any]], models: list[str]) -> Markup:
    """Each run's mean (a dot, coloured by model) with its 95% CI, oldest to newest."""
    pts = [(i, r) for i, r in enumerate(sorted(runs, key=lambda r: r["created"])) if r["scores"].get(score, {}).get("mean") is not None]
    h, left, right, top, bottom = 170, 44, svg.W - 10, 12, 140
    if not pts:
        return svg._svg(40, [f'<text x="{left}" y="24" font-size="12">no values of {escape(score)}</text>'], score)
    vals = [v for _, r in pts for v in (r["scores"][score]["lo"], r["scores"][score]["mean"], r["scores"][score]["hi"]) if v is not None]
    lo, hi = min(vals + [0.0]), max(vals + [1.0])
    y = svg._scale(lo, hi, bottom, top)
    x = svg._scale(0, max(1, len(runs) - 1), left, right)
    body = [f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#9ca3af"/>',
            f'<text x="{left - 4}" y="{y(hi) + 4:.1f}" font-size="10" text-anchor="end">{hi:.2g}</text>',
            f'<text x="{left - 4}" y="{y(lo) + 4:.1f}" font-size="10" text-anchor="end">{lo:.2g}</text>',
            f'<text x="{left}" y="{h - 12}" font-size="10">oldest</text>',
            f'<text x="{right}" y="{h - 12}" font-size="10" text-anchor="end">newest</text>']
    for i, r in pts:
        e = r["scores"][score]
        cx, c = x(i), svg.color(models.index(r["model"]) + 1)
        if e["lo"] is not None and e["hi"] is not None:
            body.append(f'<line x1="{cx:.1f}" y1="{y(e["lo"]):.1f}" x2="{cx:.1f}" y2="{y(e["hi"]):.1f}" stroke="{c}" opacity="0.5"/>')
        tip = f"{r['model']} {r['split']} {r['created']}: {e['mean']:.3f}"
        body.append(f'<circle cx="{cx:.1f}" cy="{y(e["mean"]):.1f}" r="3" fill="{c}"><title>{escape(tip)}</title></circle>')
    return svg._svg(h, body, f"{score} across runs")


def render_index(index: Index) -> str:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    from harness.report.html import TEMPLATES, json_for_script

    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"], default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = lambda x, d=3: "" if x is None else f"{x:.{d}f}"
    suites = []
    for name in sorted({r["suite"] for r in index.runs}):
        runs = [r for r in index.runs if r["suite"] == name]
        models = sorted({r["model"] for r in runs})
        names = list(dict.fromkeys(n for r in runs for n in r["scores"]))
        suites.append({"name": name, "n": len(runs), "models": [(m, svg.color(i + 1)) for i, m in enumerate(models)],
                       "charts": [(n, trend(n, runs, models)) for n in names[:MAX_CHARTS]], "more": names[MAX_CHARTS:]})
    return env.get_template("index.html.j2").render(
        root=str(index.root), index=index, suites=suites, generated=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        splits=sorted({r["split"] for r in index.runs}), data=json_for_script({"n_runs": len(index.runs)}))


def write_index(root: Path, out: Path) -> Index:
    index = scan(root)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_index(index), encoding="utf-8")
    return index
