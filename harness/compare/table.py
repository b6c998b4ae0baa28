"""The compact text table `harness compare` and `harness gate` print."""

from __future__ import annotations

import math

from harness.compare.comparison import Comparison


def fmt(x: float | None, digits: int = 3, signed: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:+.{digits}f}" if signed else f"{x:.{digits}f}"


def ci(lo: float | None, hi: float | None, signed: bool = False) -> str:
    if lo is None or hi is None or math.isnan(lo) or math.isnan(hi):
        return "-"
    return f"[{fmt(lo, signed=signed)}, {fmt(hi, signed=signed)}]"


def pval(p: float | None) -> str:
    if p is None:
        return ""
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _render(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()
             for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def format_comparison(comp: Comparison) -> str:
    rows: list[tuple[str, ...]] = [("score", "run", "mean", "95% CI", "delta", "paired 95% CI", "McNemar p", "regr", "impr")]
    for name, sc in comp.scores.items():
        for r, rs in enumerate(sc.runs):
            label = name + ("" if sc.direction == "higher" else " (lower better)") if r == 0 else ""
            if r == 0:
                rows.append((label, rs.label, fmt(rs.mean), ci(rs.ci_low, rs.ci_high), "", "", "", "", ""))
                continue
            v = sc.vs_baseline[r - 1]
            ex = sc.level == "example"
            rows.append((label, rs.label, fmt(rs.mean), ci(rs.ci_low, rs.ci_high), fmt(v.delta.delta, signed=True),
                         ci(v.delta.ci_low, v.delta.ci_high, signed=True), pval(v.p_value),
                         str(len(v.regressions)) if ex else "", str(len(v.improvements)) if ex else ""))
    lines = [f"{comp.runs[0].summary.suite.name}  split={comp.runs[0].summary.dataset.split}  "
             f"examples={len(comp.ids)}  baseline={comp.runs[0].label}"]
    coverage = comp.aligned.coverage()
    if coverage:  # runs of different sizes: say so before any figure
        lines.append(coverage)
    lines += _render(rows)
    notes = [f"{n}: {sc.note}" for n, sc in comp.scores.items() if sc.note]
    methods = sorted({v.delta.method for sc in comp.scores.values() for v in sc.vs_baseline})
    lines.append(f"paired CIs: {', '.join(methods)} (seed {comp.seed})" if methods else "")
    lines += notes
    if comp.aligned.unmatched:
        lines.append("examples not in every run (left out): "
                     + ", ".join(f"{k}: {v}" for k, v in comp.aligned.unmatched.items()))
    return "\n".join(x for x in lines if x)
