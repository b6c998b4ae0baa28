"""The plain-text reporter: what `harness compare` and `harness gate` print."""

from __future__ import annotations

from typing import Any

from harness.compare.table import format_comparison
from harness.gating.rules import format_rules
from harness.report.registry import ReportInput, reporter


def gate_text(inp: ReportInput) -> str:
    parts = [format_comparison(inp.comparison)]
    if inp.decision is not None:
        d = inp.decision
        parts += [format_rules(d.rules) if d.rules else "no gates"]
        if d.retention:
            parts.append(retention_table(d.retention))
        parts.append(d.verdict_line)
    return "\n\n".join(parts)


@reporter("text")
def text_report(inp: ReportInput) -> dict[str, str]:
    return {"summary.txt": gate_text(inp) + "\n"}


def retention_table(rows: list[Any]) -> str:
    """The retention checks as text lines: base, candidate, the paired difference with its CI, the outcome."""
    if not rows:
        return ""

    def f(x: float | None, signed: bool = False) -> str:
        return "-" if x is None else (f"{x:+.3f}" if signed else f"{x:.3f}")

    width = max(len(r.name) for r in rows)
    lines = [f"retention (what the base could do; non-inferiority, paired 95% CI)",
             f"  {'check'.ljust(width)}  score                       n  base    cand    delta   95% CI             margin  outcome"]
    for r in rows:
        ci = "-" if r.ci_low is None else f"[{r.ci_low:+.3f}, {r.ci_high:+.3f}]"
        out = r.outcome.upper() + (" (advisory)" if r.advisory else "")
        lines.append(f"  {r.name.ljust(width)}  {r.score[:26].ljust(26)} {str(r.n or '-').rjust(3)}  {f(r.baseline)}   "
                     f"{f(r.candidate)}   {f(r.delta, True)}  {ci.ljust(17)}  {r.margin:<6g}  {out}")
    return "\n".join(lines)
