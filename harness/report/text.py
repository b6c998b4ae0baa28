"""The plain-text reporter: what `harness compare` and `harness gate` print."""

from __future__ import annotations

from harness.compare.table import format_comparison
from harness.gating.rules import format_rules
from harness.report.registry import ReportInput, reporter


def gate_text(inp: ReportInput) -> str:
    parts = [format_comparison(inp.comparison)]
    if inp.decision is not None:
        d = inp.decision
        parts += [format_rules(d.rules) if d.rules else "no gates", d.verdict_line]
    return "\n\n".join(parts)


@reporter("text")
def text_report(inp: ReportInput) -> dict[str, str]:
    return {"summary.txt": gate_text(inp) + "\n"}
