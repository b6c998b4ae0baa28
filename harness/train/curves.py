"""metrics.csv (one row per logged step or epoch) and the loss curve, loss_curve.svg.

When the loop has evaluated the run's checkpoints (harness.checkpoints), metrics.csv gains one
``checkpoint`` row per checkpoint with its validation metric (columns metric, value, chosen, why
after the loss columns) and the curve draws that metric on a right-hand axis beside the loss, the
chosen checkpoint ringed and named with the reason.

One chart path, whatever is installed: a small self-contained SVG drawn here, like the report's
charts (harness/report/svg.py), with no chart library and every label escaped.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from markupsafe import escape

from harness.core.csvsafe import neutralise

COLUMNS = ("kind", "step", "epoch", "train_loss", "val_loss", "learning_rate", "elapsed_s")
CHECKPOINT_COLUMNS = ("metric", "value", "chosen", "why")  # added by add_checkpoint_rows


class MetricsLog:
    """Appends rows to metrics.csv, flushed at once so a killed run leaves what it logged."""

    def __init__(self, path: Path):
        self.path = path
        self.rows: list[dict[str, Any]] = []
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(path, "w", newline="", encoding="utf-8")
        self._w = csv.DictWriter(self._fh, fieldnames=COLUMNS)
        self._w.writeheader()
        self._fh.flush()

    def log(self, **row: Any) -> None:
        row = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in row.items()}
        self.rows.append(row)
        self._w.writerow({k: neutralise(row.get(k, "")) for k in COLUMNS})
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


def add_checkpoint_rows(path: Path, checkpoints: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rewrite metrics.csv with one ``checkpoint`` row per entry (step, epoch, train_loss, val_loss,
    metric, value, chosen, why), replacing any such rows from before; returns every row."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r.get("kind") != "checkpoint"]
    for c in checkpoints:
        rows.append({"kind": "checkpoint", "step": c.get("step"), "epoch": c.get("epoch"),
                     "train_loss": c.get("train_loss"), "val_loss": c.get("val_loss"), "metric": c.get("metric"),
                     "value": c.get("value"), "chosen": "yes" if c.get("chosen") else "", "why": c.get("why", "")})
    columns = COLUMNS + CHECKPOINT_COLUMNS
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: neutralise("" if r.get(k) is None else r.get(k)) for k in columns})
    tmp.replace(path)
    return rows


def _series(rows: Sequence[dict[str, Any]]) -> dict[str, list[tuple[float, float]]]:
    out: dict[str, list[tuple[float, float]]] = {"train": [], "validation": []}
    for r in rows:
        if r.get("kind") == "checkpoint":
            continue
        for key, name in (("train_loss", "train"), ("val_loss", "validation")):
            v = r.get(key)
            if v not in (None, "") and not math.isnan(float(v)):
                out[name].append((float(r["step"]), float(v)))
    return out


def plot_losses(rows: Sequence[dict[str, Any]], stem: Path, title: str = "loss") -> Path | None:
    """Write stem.svg (train and validation loss by step); None when there is nothing to draw."""
    series = _series(rows)
    if not any(series.values()):
        return None
    path = stem.with_suffix(".svg")
    path.write_text(svg_plot(series, title, _metric(rows)), encoding="utf-8")
    return path


def _metric(rows: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The checkpoint rows' metric: name, (step, value) points, the chosen step and why."""
    pts, chosen, why, name = [], None, "", ""
    for r in rows:
        if r.get("kind") != "checkpoint" or r.get("value") in (None, ""):
            continue
        v = float(r["value"])
        if math.isnan(v):
            continue
        name = str(r.get("metric") or "metric")
        pts.append((float(r["step"]), v))
        if r.get("chosen") in ("yes", True):
            chosen, why = float(r["step"]), str(r.get("why") or "")
    return {"name": name, "points": sorted(pts), "chosen": chosen, "why": why} if pts else None


def svg_plot(series: dict[str, list[tuple[float, float]]], title: str, metric: dict[str, Any] | None = None,
             w: int = 600, h: int = 340) -> str:
    left, right, top, bottom = 60, 20, 30, 40
    pts = [p for s in series.values() for p in s]
    if metric is not None:
        right = 60
    x0, x1 = min(p[0] for p in pts), max(p[0] for p in pts)
    if metric is not None:
        x0, x1 = min([x0] + [p[0] for p in metric["points"]]), max([x1] + [p[0] for p in metric["points"]])
    y0, y1 = min(p[1] for p in pts), max(p[1] for p in pts)
    x1 = x1 if x1 > x0 else x0 + 1
    pad = (y1 - y0) * 0.05 or 0.5
    y0, y1 = y0 - pad, y1 + pad

    def sx(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * (w - left - right)

    def sy(y: float) -> float:
        return top + (y1 - y) / (y1 - y0) * (h - top - bottom)

    out = [(f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
            f'aria-label="{escape(title)}" font-family="sans-serif" font-size="11">'),
           f'<title>{escape(title)}</title>',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{w / 2}" y="18" text-anchor="middle" font-size="13">{escape(title)}</text>',
           f'<line x1="{left}" y1="{h - bottom}" x2="{w - right}" y2="{h - bottom}" stroke="black"/>',
           f'<line x1="{left}" y1="{top}" x2="{left}" y2="{h - bottom}" stroke="black"/>']
    for i in range(5):
        yv = y0 + (y1 - y0) * i / 4
        out.append(f'<text x="{left - 5}" y="{sy(yv) + 4:.1f}" text-anchor="end">{yv:.3g}</text>')
        xv = x0 + (x1 - x0) * i / 4
        out.append(f'<text x="{sx(xv):.1f}" y="{h - bottom + 15}" text-anchor="middle">{xv:.0f}</text>')
    out.append(f'<text x="{w / 2}" y="{h - 5}" text-anchor="middle">step</text>')
    colors = {"train": "#1f77b4", "validation": "#d62728"}
    for n, (name, s) in enumerate(series.items()):
        if not s:
            continue
        line = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in s)
        out.append(f'<polyline fill="none" stroke="{colors[name]}" stroke-width="2" points="{line}"/>')
        if name == "validation":
            out += [f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{colors[name]}"/>' for x, y in s]
        out.append(f'<text x="{w - right - 80}" y="{top + 14 * (n + 1)}" fill="{colors[name]}">{name}</text>')
    if metric is not None:
        out += _metric_marks(metric, sx, w, h, left, right, top, bottom)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _metric_marks(metric: dict[str, Any], sx: Any, w: int, h: int, left: int, right: int, top: int, bottom: int) -> list[str]:
    """The checkpoints' validation metric on a right-hand axis (green, dashed), the chosen one ringed."""
    vals = [v for _, v in metric["points"]]
    m0, m1 = min(vals), max(vals)
    pad = (m1 - m0) * 0.05 or 0.05
    m0, m1 = m0 - pad, m1 + pad

    def my(v: float) -> float:
        return top + (m1 - v) / (m1 - m0) * (h - top - bottom)

    green, name = "#2ca02c", str(metric["name"])
    out = [f'<line x1="{w - right}" y1="{top}" x2="{w - right}" y2="{h - bottom}" stroke="{green}"/>']
    for i in range(5):
        v = m0 + (m1 - m0) * i / 4
        out.append(f'<text x="{w - right + 5}" y="{my(v) + 4:.1f}" fill="{green}">{v:.3g}</text>')
    line = " ".join(f"{sx(x):.1f},{my(v):.1f}" for x, v in metric["points"])
    out.append(f'<polyline fill="none" stroke="{green}" stroke-width="2" stroke-dasharray="5,3" points="{line}"/>')
    out += [f'<rect x="{sx(x) - 3:.1f}" y="{my(v) - 3:.1f}" width="6" height="6" fill="{green}">'
            f'<title>step {x:.0f}: validation {escape(name)} {v:.4g}</title></rect>' for x, v in metric["points"]]
    out.append(f'<text x="{left + 10}" y="{top + 14}" fill="{green}">validation {escape(name)} (right axis)</text>')
    if metric["chosen"] is not None:
        v = dict(metric["points"]).get(metric["chosen"])
        if v is not None:
            out.append(f'<circle cx="{sx(metric["chosen"]):.1f}" cy="{my(v):.1f}" r="8" fill="none" stroke="black" '
                       f'stroke-width="1.5"><title>chosen: {escape(metric["why"])}</title></circle>')
            why = metric["why"] if len(metric["why"]) <= 90 else metric["why"][:87] + "..."
            out.append(f'<text x="{left + 10}" y="{top + 28}">chosen: step {metric["chosen"]:.0f}: {escape(why)}</text>')
    return out
