"""max_flaky_share (a gate on the candidate's flaky examples) and the MDE printed next to each gate."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from harness.compare.comparison import compare_runs
from harness.gating import decide_gates, format_rules
from harness.providers.base import ModelSpec
from harness.report.html import render_report
from harness.evaluate.run import RunConfig, run_suite
from harness.stats.power import mde, mde_paired
from harness.suite.schema import Gate
from tests.conftest import write_jsonl
from tests.test_repeats import SAMPLED

STEADY = [{"id": "e1", "output": "order_status"}, {"id": "e2", "output": "cancel_order"},
          {"id": "e3", "output": "refund_request"}, {"id": "e4", "output": "order_status"}]


def test_mde_by_hand() -> None:
    # (1.959964 + 0.841621) = 2.801585
    assert mde(0.3, 100) == pytest.approx(2.801585 * 0.03, abs=1e-6)
    # pass/fail, 20 of 100 examples discordant: 2.801585 * sqrt(0.2 / 100) = 0.125291
    a = [1.0] * 100
    b = [0.0] * 10 + [1.0] * 90
    a2 = a[:90] + [0.0] * 10
    assert mde_paired(a2, b, binary=True) == pytest.approx(0.125291, abs=1e-6)
    # continuous: differences 0.1 .3 .5 .7 -> sd 0.258199; 2.801585 * 0.258199 / 2 = 0.361683
    assert mde_paired([0.0] * 4, [0.1, 0.3, 0.5, 0.7], binary=False) == pytest.approx(0.361683, abs=1e-6)
    # identical pass/fail runs: a gain of delta needs delta * n discordant examples -> 2.801585**2 / n
    assert mde_paired([1.0, 0.0] * 50, [1.0, 0.0] * 50, binary=True) == pytest.approx(2.801585**2 / 100, abs=1e-5)
    assert math.isnan(mde_paired([1.0], [0.0], binary=True))


def _run(suite: Path, rows: list[dict], name: str, repeats: int | None) -> Path:
    script = write_jsonl(suite.parent / f"{name}.jsonl", rows)
    cfg = RunConfig(suite=suite, model=ModelSpec.parse(f"scripted:{script}"), reports_dir=suite.parent / "reports",
                    progress=False, out=suite.parent / name, repeats=repeats)
    return run_suite(cfg).directory


def test_max_flaky_share_gate_and_report(tiny_suite: Path) -> None:
    suite = tiny_suite
    suite.write_text(suite.read_text().replace("  max_tokens: 8\n", "  max_tokens: 8\n  reducer: majority\n"))
    base = _run(suite, STEADY, "base", 3)
    cand = _run(suite, SAMPLED, "cand", 3)
    comp = compare_runs([base, cand])
    gates = [Gate(metric="accuracy", max_flaky_share=0.5), Gate(metric="accuracy", max_flaky_share=0.8),
             Gate(metric="accuracy", non_inferiority_margin=0.1)]
    d = decide_gates(gates, comp, str(suite))
    strict, loose, ni = d.rules
    # candidate (majority of 3): e2, e3, e4 disagree among their repeats -> 3 of 4 flaky
    assert strict.figure == 0.75 and strict.verdict == "fail" and loose.verdict == "pass"
    assert "3 of 4 examples flaky" in strict.explanation
    # majority: baseline 1 1 1 1, candidate 1 1 0 0 -> 2 of 4 discordant; MDE = max(2.8016*sqrt(0.5/4), 2.8016**2/4) = 1.9622
    assert ni.mde == pytest.approx(2.801585**2 / 4, abs=1e-4)
    text = format_rules(d.rules)
    assert "MDE" in text.splitlines()[0] and "1.962" in text
    html = render_report(comp, d.rules, d.passed)
    assert html.count("flaky: accuracy (") == 3 and 'id="filter-flaky"' in html
    assert '<td class="num mde">1.962</td>' in html


def test_max_flaky_share_needs_repeats(tiny_suite: Path) -> None:
    base = _run(tiny_suite, STEADY, "base", None)
    comp = compare_runs([base, base])
    (r,) = decide_gates([Gate(metric="accuracy", max_flaky_share=0.5)], comp, str(tiny_suite)).rules
    assert r.verdict == "fail" and "no repeats" in r.explanation
