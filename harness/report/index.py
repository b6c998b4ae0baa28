"""`harness report --index DIR`: one self-contained page listing every run, gate decision and
iterate loop under a folder, with filters and, per suite, a chart of each score across runs.

It reads what the harness writes and nothing else: ``summary.json`` (a run), ``gate.json`` (a gate
decision) and ``lineage.json`` (an iterate loop), regular files only (a FIFO is not waited on). A
file that cannot be read, or whose fields have the wrong types, is listed on the page and printed
(naming the field), never silently skipped; the page is written atomically. Same rules as the comparison report: inline CSS, JS and SVG,
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

from harness.core.io import NotRegularFile, atomic_write_text, read_regular_text
from harness.report import svg

MAX_CHARTS = 8  # scores charted per suite; the table lists them all
SKIP_DIRS = {"mlartifacts", "mlruns", ".git"}


@dataclass
class Index:
    root: Path
    runs: list[dict[str, Any]] = field(default_factory=list)
    gates: list[dict[str, Any]] = field(default_factory=list)
    loops: list[dict[str, Any]] = field(default_factory=list)
    comparisons: list[dict[str, Any]] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)


def _read(path: Path, index: Index) -> dict[str, Any] | None:
    try:
        data = json.loads(read_regular_text(path))
    except NotRegularFile as e:  # a FIFO would block the scan until a writer came
        index.unreadable.append(f"{path}: {e.strerror}")
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        index.unreadable.append(f"{path}: {type(e).__name__}: {e}")
        return None
    if not isinstance(data, dict):
        index.unreadable.append(f"{path}: expected a JSON object")
        return None
    return data


class WrongType(ValueError):
    """A field of a record that is not of the type the harness writes there: the file is listed as unreadable."""


_KIND = {dict: "an object", list: "a list", str: "a string"}
_SCALAR = (str, int, float, bool)


def _get(d: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any, where: str = "") -> Any:
    """``d[key]`` when it has the type ``kind``; ``default`` when it is missing or null; else WrongType naming the field."""
    value = d.get(key)
    if value is None:
        return default
    if not isinstance(value, kind):
        want = _KIND.get(kind, "") if isinstance(kind, type) else "a number or a string"
        raise WrongType(f"{where}{key}: expected {want}, got {type(value).__name__}")
    return value


def _items(d: dict[str, Any], key: str, where: str = "") -> list[dict[str, Any]]:
    """The list ``d[key]`` of objects (missing or null: empty)."""
    out = _get(d, key, list, [], where)
    for i, x in enumerate(out):
        if not isinstance(x, dict):
            raise WrongType(f"{where}{key}[{i}]: expected an object, got {type(x).__name__}")
    return out


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) else None


def _run(path: Path, s: dict[str, Any], root: Path) -> dict[str, Any]:
    scores = {}
    for name, e in _get(s, "metrics", dict, {}).items():
        if isinstance(e, dict):
            scores[name] = {"mean": _num(e.get("mean")), "lo": _num(e.get("ci_low")), "hi": _num(e.get("ci_high")),
                            "direction": str(_get(e, "direction", _SCALAR, "higher", f"metrics.{name}."))}
    cost = _get(s, "cost", dict, {})
    suite, model, dataset = (_get(s, k, dict, {}) for k in ("suite", "model", "dataset"))
    display = _get(model, "display", str, "?", "model.")
    d = path.parent
    return {"dir": str(d.resolve()), "rel": os.path.relpath(d, root),
            "files": {name: str((d / name).resolve()) for name in ("summary.json", "results.csv", "summary.csv")
                      if (d / name).is_file()},
            "reports": [],  # the gate and comparison reports this run is part of (filled by scan)
            "suite": _get(suite, "name", str, "?", "suite."), "version": _get(suite, "version", _SCALAR, "", "suite."),
            "model": display, "label": _label(model, display), "split": _get(dataset, "split", str, "?", "dataset."),
            "created": str(_get(s, "created", _SCALAR, "")), "counts": _get(s, "counts", dict, {}),
            "tokens": _get(s, "tokens", dict, {}),
            "cost": _num(cost.get("total_usd", cost.get("usd"))), "scores": scores, "decision": None}


def _label(model: dict[str, Any], display: str) -> str:
    """The short name of a run's model: its label, else its display shortened (harness.records.run)."""
    from harness.records.run import short_label, spec_label

    return spec_label(model.get("spec")) or short_label(display)


def _files(d: Path, names: tuple[str, ...]) -> dict[str, str]:
    return {name: str((d / name).resolve()) for name in names if (d / name).is_file()}


def _models(comp: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    runs = _items(comp, "runs", "comparison.")
    models = []
    for i, r in enumerate(runs):
        m = r.get("model")
        models.append(_get(m, "display", str, "?", f"comparison.runs[{i}].model.") if isinstance(m, dict)
                      else str(_get(r, "model", _SCALAR, "?", f"comparison.runs[{i}].")))
    return runs, models


def _gate(d: Path, g: dict[str, Any], root: Path) -> dict[str, Any]:
    comp = _get(g, "comparison", dict, {})
    runs, models = _models(comp)
    passed = bool(g.get("passed"))
    return {"rel": os.path.relpath(d, root), "passed": passed, "files": _files(d, ("report.html", "gate.json", "gate_summary.md")),
            "outcome": _get(g, "outcome", str, "promote" if passed else "block"),
            "suite": _get(_get(comp, "suite", dict, {}, "comparison."), "name", str, "?", "comparison.suite."),
            "runs": [str(Path(_get(r, "directory", str, "", f"comparison.runs[{i}].")).resolve()) for i, r in enumerate(runs)],
            "models": models, "labels": [_short(m) for m in models],
            "failed": [str(_get(r, "name", _SCALAR, "?", f"rules[{i}].")) for i, r in enumerate(_items(g, "rules"))
                       if r.get("verdict") == "fail"]}


def _short(display: str) -> str:
    from harness.records.run import short_label

    return short_label(display)


def _comparison(d: Path, c: dict[str, Any], root: Path) -> dict[str, Any]:
    runs, models = _models(c)
    return {"rel": os.path.relpath(d, root), "files": _files(d, ("report.html", "comparison.json")),
            "suite": _get(_get(c, "suite", dict, {}), "name", str, "?", "suite."),
            "runs": [str(Path(_get(r, "directory", str, "", f"runs[{i}].")).resolve()) for i, r in enumerate(runs)],
            "models": models, "labels": [_short(m) for m in models]}


def scan(root: Path) -> Index:
    """Every run, gate decision and loop under ``root``, newest first. A file that cannot be read,
    is not a regular file or has a field of the wrong type is listed in ``unreadable``; the rest is read."""
    index = Index(root)
    for dirpath, dirs, files in os.walk(root):
        # MLflow's artifact stores hold copies of summaries and gates: each would be counted twice.
        dirs[:] = sorted(x for x in dirs if x not in SKIP_DIRS)
        d = Path(dirpath)
        for name, kept, read in (("summary.json", index.runs, lambda p, x: _run(p, x, root)),
                                 ("gate.json", index.gates, lambda p, x: _gate(p.parent, x, root)),
                                 ("lineage.json", index.loops, lambda p, x: _loop(p.parent, x, root)),
                                 ("comparison.json", index.comparisons, lambda p, x: _comparison(p.parent, x, root))):
            if name not in files or (name == "summary.json" and "results.jsonl" not in files):
                continue
            if name == "comparison.json" and "gate.json" in files:
                continue  # a gate's own comparison: the gate lists it
            if (data := _read(d / name, index)) is None:
                continue
            try:
                kept.append(read(d / name, data))
            except WrongType as e:
                index.unreadable.append(f"{d / name}: {e}")
    by_dir = {r["dir"]: r for r in index.runs}
    for g in index.gates:  # the candidate run carries its gate's decision
        if len(g["runs"]) == 2 and g["runs"][1] in by_dir:
            by_dir[g["runs"][1]]["decision"] = {"promote": "promote", "inconclusive": "inconclusive"}.get(g["outcome"], "blocked")
    for kind, kept in (("gate", index.gates), ("comparison", index.comparisons)):  # each run links the reports it is in
        for x in kept:
            if "report.html" in x["files"]:
                for d in dict.fromkeys(x["runs"]):
                    if d in by_dir:
                        by_dir[d]["reports"].append((kind, x["files"]["report.html"]))
    index.runs.sort(key=lambda r: r["created"], reverse=True)
    return index


def _loop(d: Path, lin: dict[str, Any], root: Path) -> dict[str, Any]:
    score = _get(_get(lin, "score", dict, {}), "name", str, None, "score.")
    its = [{"iteration": _get(it, "iteration", _SCALAR, None, f"iterations[{i}]."),
            "model": _get(it, "model", _SCALAR, None, f"iterations[{i}]."),
            "value": _num(_get(it, "score", dict, {}, f"iterations[{i}].").get("value")),
            "best": bool(it.get("best")), "promoted": bool(it.get("promoted"))} for i, it in enumerate(_items(lin, "iterations"))]
    final = _get(lin, "final", dict, {})
    return {"rel": os.path.relpath(d, root), "files": _files(d, ("report.html", "lineage.json")),
            "suite": _get(_get(lin, "suite", dict, {}), "name", str, "?", "suite."),
            "created": str(_get(lin, "created_at", _SCALAR, "")), "base": _get(_get(lin, "config", dict, {}), "base", _SCALAR, "?", "config."),
            "score": score, "iterations": its, "stop": _get(lin, "stop_reason", _SCALAR, ""),
            "promoted": _get(lin, "promoted", _SCALAR, None),
            "gate": None if not final.get("evaluated") else _final_gate(final)}


def _final_gate(final: dict[str, Any]) -> str:
    """promote / blocked / inconclusive; lineages written before the three outcomes say only gate_passed."""
    if final.get("gate_passed"):
        return "promote"
    return "inconclusive" if final.get("outcome") == "inconclusive" else "blocked"


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
        cx, c = x(i), svg.color(models.index(r["label"]) + 1)
        if e["lo"] is not None and e["hi"] is not None:
            body.append(f'<line x1="{cx:.1f}" y1="{y(e["lo"]):.1f}" x2="{cx:.1f}" y2="{y(e["hi"]):.1f}" stroke="{c}" opacity="0.5"/>')
        tip = f"{r['label']} ({r['model']}) {r['split']} {r['created']}: {e['mean']:.3f}"
        body.append(f'<circle cx="{cx:.1f}" cy="{y(e["mean"]):.1f}" r="3" fill="{c}"><title>{escape(tip)}</title></circle>')
    return svg._svg(h, body, f"{score} across runs")


def href(path: str, base: Path) -> str:
    """A link to ``path`` relative to the folder of the page (``base``), as a URL path."""
    from urllib.request import pathname2url

    return pathname2url(os.path.relpath(path, base))


def render_index(index: Index, base: Path | None = None) -> str:
    """``base``: the folder the page is written in (links are relative to it); default the scanned root."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    from harness.report.html import TEMPLATES, json_for_script

    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"], default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = lambda x, d=3: "" if x is None else f"{x:.{d}f}"
    page_dir = Path(base if base is not None else index.root).resolve()
    env.filters["href"] = lambda p: href(p, page_dir)
    suites = []
    for name in sorted({r["suite"] for r in index.runs}):
        runs = [r for r in index.runs if r["suite"] == name]
        models = sorted({r["label"] for r in runs})
        names = list(dict.fromkeys(n for r in runs for n in r["scores"]))
        suites.append({"name": name, "n": len(runs), "models": [(m, svg.color(i + 1)) for i, m in enumerate(models)],
                       "charts": [(n, trend(n, runs, models)) for n in names[:MAX_CHARTS]], "more": names[MAX_CHARTS:]})
    return env.get_template("index.html.j2").render(
        root=str(index.root), index=index, suites=suites, generated=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        splits=sorted({r["split"] for r in index.runs}), data=json_for_script({"n_runs": len(index.runs)}))


def write_index(root: Path, out: Path) -> Index:
    index = scan(root)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, render_index(index, out.parent))  # a full disk leaves the previous page whole
    return index
