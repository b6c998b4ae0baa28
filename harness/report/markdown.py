"""A Markdown summary of a gate, fit for $GITHUB_STEP_SUMMARY or a pull-request comment."""

from __future__ import annotations

import math
from collections.abc import Sequence

from harness.compare.comparison import Comparison
from harness.compare.table import ci, fmt, pval
from harness.gating.rules import format_figure
from harness.records.gate import RuleRecord
from harness.report.registry import ReportInput, reporter

ICON = {"pass": "✅ pass", "fail": "❌ FAIL", "inconclusive": "❔ INCONCLUSIVE", "advisory-pass": "ℹ️ advisory pass",
        "advisory-fail": "⚠️ advisory fail", "advisory-inconclusive": "ℹ️ advisory inconclusive"}
HEADLINE = {"promote": "✅ PROMOTE", "block": "❌ BLOCKED", "inconclusive": "❔ INCONCLUSIVE (not enough evidence)"}
MAX_IDS = 30


def cell(text: object) -> str:
    """Markdown table cells: no pipes, no newlines, no raw HTML."""
    s = str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
    return s.replace("<", "&lt;").replace(">", "&gt;")


def code(text: object) -> str:
    """An inline code span: shown literally, so only backticks, pipes and newlines need care."""
    return "`" + str(text).replace("`", "'").replace("|", "\\|").replace("\n", " ") + "`"


def header(comp: Comparison) -> str:
    """Suite, split, how many examples (and, for runs of different sizes, how many of them aligned), the runs."""
    base, cand = comp.runs[0], comp.runs[1]
    suite = base.summary.suite
    coverage = comp.aligned.coverage()
    count = f"**{cell(coverage)}**" if coverage else f"{len(comp.ids)} examples"
    return (f"Suite **{cell(suite.name)}** v{cell(suite.version)}, split {code(base.summary.dataset.split)}, "
            f"{count}. Baseline {code(base.name)}, candidate {code(cand.name)}.")


def scores_table(comp: Comparison) -> list[str]:
    lines = ["| score | baseline | candidate | delta (paired 95% CI) | McNemar p |", "|---|---:|---:|---:|---:|"]
    for name, sc in comp.scores.items():
        b, c, v = sc.runs[0], sc.runs[1], sc.vs_baseline[0]
        delta = fmt(v.delta.delta, signed=True) + ("" if math.isnan(v.delta.ci_low) else f" {ci(v.delta.ci_low, v.delta.ci_high, True)}")
        lines.append(f"| {cell(name)} | {fmt(b.mean)} | {fmt(c.mean)} | {delta} | {pval(v.p_value) or '-'} |")
    return lines


def comparison_markdown(comp: Comparison) -> str:
    """A comparison without a gate (`harness compare --format markdown`): the header and the scores."""
    return "\n".join(["## Comparison", "", header(comp), "", "### Scores", "", *scores_table(comp)]) + "\n"


def gate_markdown(comp: Comparison, results: Sequence[RuleRecord], passed: bool, outcome: str | None = None) -> str:
    """``outcome`` promote | block | inconclusive (default: promote when passed, else block)."""
    lines = [f"## Promotion gate: {HEADLINE[outcome or ('promote' if passed else 'block')]}", "", header(comp), "",
             "| verdict | rule | figure | threshold | why |", "|---|---|---:|---:|---|"]
    for r in results:
        lines.append(f"| {ICON.get(r.verdict, r.verdict)} | {cell(r.name)} | {format_figure(r.rule, r.figure)} | {format_figure(r.rule, r.threshold)} | {cell(r.explanation)} |")
    blocking = [r for r in results if r.verdict in ("fail", "advisory-fail") and r.examples]
    if blocking:
        lines += ["", "### Regressed examples of failing rules", ""]
        for r in blocking:
            shown = ", ".join(code(i) for i in r.examples[:MAX_IDS])
            more = f" and {len(r.examples) - MAX_IDS} more" if len(r.examples) > MAX_IDS else ""
            lines.append(f"- **{cell(r.name)}**" + (f" (category {code(r.category)})" if r.category else "")
                         + f": {shown}{more}")
    lines += ["", "### Scores", "", *scores_table(comp)]
    return "\n".join(lines) + "\n"


@reporter("markdown")
def markdown_report(inp: ReportInput) -> dict[str, str]:
    if inp.decision is None:
        return {"comparison_summary.md": comparison_markdown(inp.comparison)}
    return {"gate_summary.md": gate_markdown(inp.comparison, inp.decision.rules, inp.decision.passed, inp.decision.outcome)}
