"""metrics.csv (one row per logged step or epoch) and the loss curve, loss_curve.svg.

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


def _series(rows: Sequence[dict[str, Any]]) -> dict[str, list[tuple[float, float]]]:
    out: dict[str, list[tuple[float, float]]] = {"train": [], "validation": []}
    for r in rows:
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
    path.write_text(svg_plot(series, title), encoding="utf-8")
    return path


def svg_plot(series: dict[str, list[tuple[float, float]]], title: str, w: int = 600, h: int = 340) -> str:
    left, right, top, bottom = 60, 20, 30, 40
    pts = [p for s in series.values() for p in s]
    x0, x1 = min(p[0] for p in pts), max(p[0] for p in pts)
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
    out.append("</svg>")
    return "\n".join(out) + "\n"
