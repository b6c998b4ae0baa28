"""JUnit XML of a gate: one testcase per rule verdict, a <failure> for each blocking rule, a <skipped>
with its reason for each inconclusive one (the data cannot tell: neither a pass nor a failure; the
gate's exit code 5 says so to CI). CI systems show it as a test report; advisory verdicts go to
<system-out>, never <failure> or <skipped>."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from harness.records.gate import RuleRecord
from harness.report.registry import ReportInput, reporter


def junit_xml(suite_name: str, results: Sequence[RuleRecord]) -> str:
    failures = sum(r.blocks for r in results)
    skipped = sum(r.undecided for r in results)
    root = ET.Element("testsuites", name="harness gate", tests=str(len(results)), failures=str(failures),
                      skipped=str(skipped))
    ts = ET.SubElement(root, "testsuite", name=f"gate: {suite_name}", tests=str(len(results)), failures=str(failures),
                       errors="0", skipped=str(skipped))
    for r in results:
        tc = ET.SubElement(ts, "testcase", classname=f"gate.{suite_name}.{r.score}", name=r.name)
        detail = r.explanation + (f"\nregressed examples: {', '.join(r.examples)}" if r.examples else "")
        if r.blocks:
            f = ET.SubElement(tc, "failure", message=r.explanation, type=r.rule)
            f.text = detail
        elif r.undecided:
            sk = ET.SubElement(tc, "skipped", message=f"INCONCLUSIVE: {r.explanation}")
            sk.text = detail
        else:
            out = ET.SubElement(tc, "system-out")
            out.text = f"{r.verdict.upper()}: {detail}"
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


@reporter("junit")
def junit_report(inp: ReportInput) -> dict[str, str]:
    if inp.decision is None:  # no gate, no test cases
        return {}
    return {"gate_junit.xml": junit_xml(inp.decision.comparison.suite["name"], inp.decision.rules)}
