"""Inline SVG charts drawn in Python: no chart library, no script, nothing fetched. Every label is escaped."""

from __future__ import annotations

import math

import numpy as np
from markupsafe import Markup, escape

from harness.compare.comparison import ScoreComparison

PALETTE = ["#6b7280", "#2563eb", "#d97706", "#059669", "#7c3aed", "#db2777"]
W = 520


def color(run: int) -> str:
    return PALETTE[run % len(PALETTE)]


def _ok(x: float | None) -> bool:
    return x is not None and not math.isnan(x)


def _scale(lo: float, hi: float, x0: float, x1: float):
    span = (hi - lo) or 1.0
    return lambda v: x0 + (min(max(v, lo), hi) - lo) / span * (x1 - x0)


def _svg(height: float, body: list[str], title: str) -> Markup:
    return Markup(f'<svg viewBox="0 0 {W} {height:.0f}" width="{W}" height="{height:.0f}" '
                  f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>{"".join(body)}</svg>')


def _bounds(sc: ScoreComparison, values: list[float]) -> tuple[float, float]:
    lo, hi = (sc.range + [None, None])[:2]
    finite = [v for v in values if _ok(v)]
    lo = lo if lo is not None else min(finite + [0.0])
    hi = hi if hi is not None else max(finite + [1.0]) * 1.05
    return float(lo), float(hi)


def metric_bars(sc: ScoreComparison) -> Markup:
    """One bar per run (mean) with its 95% CI as a whisker."""
    lo, hi = _bounds(sc, [x for r in sc.runs for x in (r.mean, r.ci_low, r.ci_high)])
    x = _scale(lo, hi, 150, W - 60)
    body, y = [], 8
    for i, r in enumerate(sc.runs):
        if _ok(r.mean):
            body.append(f'<rect x="150" y="{y}" width="{max(0.0, x(r.mean) - 150):.1f}" height="16" fill="{color(i)}" opacity="0.8"/>')
            body.append(f'<text x="{W - 55}" y="{y + 12}" font-size="11">{r.mean:.3f}</text>')
        if _ok(r.ci_low) and _ok(r.ci_high):
            a, b = x(r.ci_low), x(r.ci_high)
            body.append(f'<path d="M{a:.1f},{y + 8}H{b:.1f}M{a:.1f},{y + 3}V{y + 13}M{b:.1f},{y + 3}V{y + 13}" stroke="#111" fill="none"/>')
        body.append(f'<text x="4" y="{y + 12}" font-size="11">{escape(r.label[:24])}</text>')
        y += 22
    body.append(f'<text x="150" y="{y + 10}" font-size="10" fill="#555">{lo:g}</text>'
                f'<text x="{W - 60}" y="{y + 10}" font-size="10" fill="#555" text-anchor="end">{hi:g}</text>')
    return _svg(y + 16, body, f"{sc.name}: mean and 95% CI per run")


def histogram(sc: ScoreComparison, bins: int = 10) -> Markup:
    """Distribution of per-example values, one colour per run."""
    if sc.values is None:
        return Markup("")
    flat = [v for vals in sc.values for v in vals if v is not None]
    lo, hi = _bounds(sc, flat)
    if sc.binary:
        edges = [0.0, 0.5, 1.0]
        bins = 2
    else:
        edges = [lo + (hi - lo) * k / bins for k in range(bins + 1)]
    counts = []
    for vals in sc.values:  # numpy: a 100,000-example run is one pass per run, not a Python loop
        arr = np.array([np.nan if v is None else v for v in vals], dtype=np.float64)
        arr = arr[~np.isnan(arr)]
        if sc.binary:
            k = (arr >= 0.5).astype(np.int64)
        else:
            k = np.clip(((arr - lo) / ((hi - lo) or 1.0) * bins).astype(np.int64), 0, bins - 1)
        counts.append(np.bincount(k, minlength=bins).tolist())
    top = max((n for c in counts for n in c), default=1) or 1
    h, x0, width = 120, 30, W - 40
    slot = width / bins
    bar = slot / (len(counts) + 1)
    body = [f'<line x1="{x0}" y1="{h}" x2="{x0 + width}" y2="{h}" stroke="#999"/>']
    for k in range(bins):
        for r, c in enumerate(counts):
            bh = c[k] / top * (h - 10)
            bx = x0 + k * slot + r * bar + bar / 2
            body.append(f'<rect x="{bx:.1f}" y="{h - bh:.1f}" width="{bar:.1f}" height="{bh:.1f}" fill="{color(r)}" opacity="0.85">'
                        f'<title>{escape(sc.runs[r].label)}: {c[k]}</title></rect>')
        label = ("fail", "pass")[k] if sc.binary else f"{edges[k]:.2g}"
        body.append(f'<text x="{x0 + k * slot + slot / 2:.1f}" y="{h + 13}" font-size="10" text-anchor="middle">{label}</text>')
    body.append(f'<text x="2" y="12" font-size="10" fill="#555">{top}</text>')
    return _svg(h + 20, body, f"{sc.name}: distribution of per-example values")


def category_deltas(sc: ScoreComparison) -> Markup:
    """Per category: each candidate's difference to the baseline, with its paired 95% CI."""
    cats = sc.categories
    if not cats or len(sc.runs) < 2:
        return Markup("")
    sign = 1 if sc.direction == "higher" else -1
    vals = [x for c in cats for d in c.deltas[1:] if d for x in (d.delta, d.ci_low, d.ci_high) if _ok(x)]
    m = max([abs(v) for v in vals] + [0.05])
    x = _scale(-m, m, 170, W - 50)
    body, y = [], 6
    for c in cats:
        body.append(f'<text x="4" y="{y + 11}" font-size="11">{escape(str(c.category)[:26])} (n={c.n})</text>')
        for r, d in enumerate(c.deltas[1:], start=1):
            if d is None or not _ok(d.delta):
                y += 16
                continue
            better = sign * d.delta >= 0
            a, b = sorted((x(0), x(d.delta)))
            fill = "#059669" if better else "#dc2626"
            body.append(f'<rect x="{a:.1f}" y="{y + 2}" width="{max(1.0, b - a):.1f}" height="11" fill="{fill}" opacity="0.75" '
                        f'stroke="{color(r)}"><title>{escape(sc.runs[r].label)}: {d.delta:+.3f}</title></rect>')
            if _ok(d.ci_low) and _ok(d.ci_high):
                body.append(f'<path d="M{x(d.ci_low):.1f},{y + 7}H{x(d.ci_high):.1f}" stroke="#111"/>')
            body.append(f'<text x="{W - 45}" y="{y + 11}" font-size="10">{d.delta:+.3f}</text>')
            y += 16
        y += 4
    body.append(f'<line x1="{x(0):.1f}" y1="0" x2="{x(0):.1f}" y2="{y}" stroke="#333" stroke-dasharray="3,2"/>')
    return _svg(y + 4, body, f"{sc.name}: difference to the baseline per category")
