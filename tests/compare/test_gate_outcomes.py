"""Three outcomes, hand-derived: every rule kind ends PROMOTE, BLOCK or INCONCLUSIVE on scripted
support_intent runs (120 examples, 8 intents x 15), Holm over ``category: each`` on a worked example,
the sign test of max_regressions, and the newcomer's case from issue 21."""

from __future__ import annotations

import math
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.cli.main import main
from harness.evaluate.run import RunConfig, run_suite
from harness.gating.kinds import ALPHA, MIN_EXAMPLES, sign_test_p
from harness.gating.rules import holm
from harness.promote.gate import EXIT_INCONCLUSIVE, gate_runs
from harness.providers.base import ModelSpec
from harness.records.gate import GateDecision, RuleRecord, gate_outcome
from tests.compare.gate_fixtures import BROKEN, INTENTS, ROOT, ROWS, SUITE, breaks, make_run, right, write_script
from tests.compare.test_gate_decision import tmp_suite

OTHER = "order_status"  # a second intent, != BROKEN


@pytest.fixture(autouse=True)
def _data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tmp suites include the repository's suite and read its data: a data root above both (--data-root)."""
    monkeypatch.setenv("HARNESS_DATA_ROOT", os.path.commonpath([tmp_path, ROOT]))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("outcomes")
    return {"right": make_run(tmp, "right", right), "broken": make_run(tmp, "broken", breaks(BROKEN)),
            "other": make_run(tmp, "other", breaks(OTHER))}


def rules_of(tmp: Path, gates: str, base: Path, cand: Path) -> list[RuleRecord]:
    return gate_runs(tmp_suite(tmp, gates), base, cand, None).rules


def one(tmp: Path, gate: str, base: Path, cand: Path) -> RuleRecord:
    [r] = rules_of(tmp, f"  - {gate}\n", base, cand)
    return r


# Breaking one intent: 15 of 120 examples right -> wrong. The difference is -0.125 with SE
# sqrt(0.125 * 0.875 / 120) = 0.0302, so its 95% CI is about [-0.184, -0.066].
@pytest.mark.parametrize("margin, outcome", [(0.02, "block"),         # the whole CI lies below -0.02
                                             (0.1, "inconclusive"),   # it straddles -0.1
                                             (0.2, "promote")])       # its lower bound is above -0.2
def test_non_inferiority_outcomes(runs: dict[str, Path], tmp_path: Path, margin: float, outcome: str) -> None:
    r = one(tmp_path, f"{{metric: accuracy, non_inferiority_margin: {margin}}}", runs["right"], runs["broken"])
    assert r.outcome == outcome and r.verdict == {"block": "fail", "promote": "pass"}.get(outcome, outcome)
    assert r.figure == pytest.approx(-0.184, abs=0.02) and r.threshold == pytest.approx(-margin)
    if outcome == "inconclusive":
        # n * (half-width / distance to the threshold)^2 = 120 * (0.059 / 0.025)^2, about 670
        need = int(re.search(r"about (\d+) examples \(now 120\) would decide it", r.explanation).group(1))
        assert 500 < need < 900


# The candidate right everywhere, the baseline wrong on one intent: +0.125, CI about [+0.066, +0.184].
@pytest.mark.parametrize("value, outcome", [(0.05, "promote"),        # lower bound >= 0.05
                                            (0.1, "inconclusive"),    # the CI straddles 0.1
                                            (0.25, "block")])         # the whole CI lies below 0.25: shown smaller
def test_min_improvement_outcomes(runs: dict[str, Path], tmp_path: Path, value: float, outcome: str) -> None:
    r = one(tmp_path, f"{{metric: accuracy, min_improvement: {value}}}", runs["broken"], runs["right"])
    assert r.outcome == outcome and r.figure == pytest.approx(0.066, abs=0.02)


def wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    centre, half = (p + z * z / (2 * n)) / (1 + z * z / n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


# The candidate at 105/120 = 0.875: Wilson 95% CI [0.804, 0.923].
@pytest.mark.parametrize("gate, outcome", [("min: 0.75", "promote"), ("min: 0.9", "inconclusive"), ("min: 0.95", "block"),
                                           ("max: 0.95", "promote"), ("max: 0.9", "inconclusive"), ("max: 0.75", "block")])
def test_floor_and_ceiling_outcomes(runs: dict[str, Path], tmp_path: Path, gate: str, outcome: str) -> None:
    lo, hi = wilson(105, 120)
    assert (round(lo, 3), round(hi, 3)) == (0.804, 0.923)
    r = one(tmp_path, f"{{metric: accuracy, {gate}}}", runs["right"], runs["broken"])
    assert r.outcome == outcome and r.figure == pytest.approx(0.875)
    assert "[0.804, 0.923]" in r.explanation


def test_a_category_floor_on_its_own_ci(runs: dict[str, Path], tmp_path: Path) -> None:
    # 0 of 15 right in BROKEN: Wilson [0, 0.204] lies below 0.5; 15 of 15 in OTHER: [0.796, 1] above 0.5
    assert one(tmp_path, f"{{metric: accuracy, category: {BROKEN}, min: 0.5}}", runs["right"], runs["broken"]).outcome == "block"
    assert one(tmp_path / "b", f"{{metric: accuracy, category: {OTHER}, min: 0.5}}", runs["right"], runs["broken"]).outcome == "promote"
    assert one(tmp_path / "c", f"{{metric: accuracy, category: {OTHER}, min: 0.85}}", runs["right"], runs["broken"]).outcome == "inconclusive"


def test_sign_test_worked_example() -> None:
    # 5 regressions, no improvement: P(X >= 5 | 5, 1/2) = 1/32; 15 of 15: 2^-15; 9 against 39: P(X <= 9 | 48, 1/2)
    assert sign_test_p(5, 0) == pytest.approx(1 / 32)
    assert sign_test_p(15, 0) == pytest.approx(2 ** -15)
    assert sign_test_p(9, 39, "less") == pytest.approx(sum(math.comb(48, k) for k in range(10)) / 2 ** 48)
    assert sign_test_p(15, 15) == pytest.approx(sum(math.comb(30, k) for k in range(15, 31)) / 2 ** 30)
    assert sign_test_p(0, 0) == 1.0


def test_max_regressions_outcomes(runs: dict[str, Path], tmp_path: Path) -> None:
    # 15 regressions, 0 improvements: over the cap of 5 and p = 2^-15 < 0.025
    blocked = one(tmp_path / "a", "{metric: accuracy, max_regressions: 5}", runs["right"], runs["broken"])
    assert blocked.outcome == "block" and blocked.figure == 15 and len(blocked.examples) == 15
    # the same within a cap of 20
    assert one(tmp_path / "b", "{metric: accuracy, max_regressions: 20}", runs["right"], runs["broken"]).outcome == "promote"
    # one intent broken in each: 15 regressions against 15 improvements, p = 0.57 either way: churn, not a regression
    churn = one(tmp_path / "c", "{metric: accuracy, max_regressions: 5}", runs["other"], runs["broken"])
    assert churn.outcome == "inconclusive" and churn.figure == 15
    assert "15 regressions" in churn.explanation and "against 15 improvements" in churn.explanation


def test_holm_worked_example() -> None:
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1: 0.02, 0.03, 0.06, 0.04 -> monotone 0.02, 0.03, 0.06, 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5]) == [0.5] and holm([]) == [] and holm([0.4, 0.4, 0.4]) == pytest.approx([1.0, 1.0, 1.0])


def test_holm_over_the_categories(runs: dict[str, Path], tmp_path: Path) -> None:
    """BROKEN wholly wrong (p = 0) blocks; 6 of 15 wrong in OTHER: its CI lies below -0.1 (difference -0.4,
    SE 0.126: one-sided p about 0.009), but Holm's second step needs p <= 0.025 / 7 = 0.0036: inconclusive."""
    six = {r["id"] for r in ROWS if r["intent"] == OTHER}
    six = set(sorted(six)[:6])
    cand = make_run(tmp_path, "cand", lambda r: "refund_request" if r["intent"] == BROKEN or r["id"] in six else r["intent"])
    rules = {r.category: r for r in rules_of(tmp_path, "  - {metric: accuracy, category: each, non_inferiority_margin: 0.1}\n",
                                              runs["right"], cand)}
    assert set(rules) == set(INTENTS)
    assert rules[BROKEN].outcome == "block" and "adjusted p = 0.000" in rules[BROKEN].explanation
    other = rules[OTHER]
    assert other.outcome == "inconclusive" and "inconclusive after the correction" in other.explanation
    assert other.threshold == pytest.approx(-0.1) and "wholly below" in other.explanation
    adjusted = float(re.search(r"adjusted p = ([0-9.]+)", other.explanation).group(1))
    assert 0.025 < adjusted < 0.15  # 7 * 0.009
    for cat in set(INTENTS) - {BROKEN, OTHER}:
        assert rules[cat].outcome == "promote" and "Holm over 8 categories" in rules[cat].explanation
        assert f"family-wise alpha {ALPHA:g}" in rules[cat].explanation


def newcomer_scripts(folder: Path) -> tuple[Path, Path]:
    """Baseline 0.625 (45 wrong), candidate 0.875 (15 wrong): 9 regressions, 39 improvements, 6 wrong in both.
    Three intents have 3 regressions and 9 improvements each, four have 3 improvements, one holds the 6 shared misses."""
    by = {i: [r["id"] for r in ROWS if r["intent"] == i] for i in INTENTS}
    heavy, light, shared = INTENTS[:3], INTENTS[3:7], INTENTS[7]
    base_wrong = {*by[shared][:6]}
    cand_wrong = {*by[shared][:6]}
    for i in heavy:
        cand_wrong |= set(by[i][:3])
        base_wrong |= set(by[i][3:12])
    for i in light:
        base_wrong |= set(by[i][:3])
    assert (len(base_wrong), len(cand_wrong), len(cand_wrong - base_wrong), len(base_wrong - cand_wrong)) == (45, 15, 9, 39)

    def answer(wrong: set[str]):
        return lambda r: ("refund_request" if r["intent"] != "refund_request" else "order_status") if r["id"] in wrong else r["intent"]

    return write_script(folder, "newcomer-base", answer(base_wrong)), write_script(folder, "newcomer-cand", answer(cand_wrong))


def _run(tmp: Path, name: str, script: Path, limit: int | None = None) -> Path:
    cfg = RunConfig(suite=SUITE, model=ModelSpec.parse(f"scripted:{script}"), reports_dir=tmp / "reports",
                    out=tmp / "runs" / name, progress=False, limit=limit)
    return run_suite(cfg).directory


def test_the_newcomers_case_is_promoted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 21: 25 points better, 9 regressions against 39 improvements: the shipped suite promotes it."""
    b, c = newcomer_scripts(tmp_path / "scripts")
    base, cand = _run(tmp_path, "base", b), _run(tmp_path, "cand", c)
    out = gate_runs(SUITE, base, cand, tmp_path / "gate")
    acc = out.comparison.scores["accuracy"]
    assert (acc.runs[0].mean, acc.runs[1].mean) == (0.625, 0.875)
    by = {r.name: r for r in out.rules}
    assert by["accuracy at most 12 regressions"].outcome == "promote" and by["accuracy at most 12 regressions"].figure == 9
    # the suite's old cap of 5, which blocked this candidate on a raw count: judged against the improvements now
    from harness.gating.rules import evaluate_gates
    from harness.suite.schema import Gate

    (reg,) = evaluate_gates([Gate(metric="accuracy", max_regressions=5)], out.comparison)
    assert reg.outcome == "promote" and reg.figure == 9 and "against 39 improvements" in reg.explanation
    assert "significantly fewer than the improvements" in reg.explanation
    assert out.outcome == "promote" and out.passed and out.exit_code == 0, out.text
    assert out.text.rstrip().endswith("PROMOTE: every blocking rule passed")


def test_the_newcomers_case_on_20_examples_is_inconclusive_per_category(tmp_path: Path) -> None:
    """The first 20 examples: 1-4 per intent, fewer than any rule decides on: too few, never a pass; no BLOCK."""
    b, c = newcomer_scripts(tmp_path / "scripts")
    base, cand = _run(tmp_path, "base", b, 20), _run(tmp_path, "cand", c, 20)
    out = gate_runs(SUITE, base, cand, tmp_path / "gate")
    cats = [r for r in out.rules if r.category is not None]
    assert len(cats) >= 5 and all(r.outcome == "inconclusive" for r in cats)
    assert all(re.search(rf"too few examples to test \(n=[1-{MIN_EXAMPLES - 1}]\)", r.explanation) for r in cats)
    assert out.outcome != "block" and not out.passed


def test_inconclusive_gate_exit_code_and_reports(runs: dict[str, Path], tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    suite = tmp_suite(tmp_path, "  - {metric: accuracy, non_inferiority_margin: 0.1}\n"
                                "  - {metric: accuracy, min: 0.5}\n")
    code = main(["gate", str(suite), "--baseline", str(runs["right"]), "--candidate", str(runs["broken"]),
                 "--out", str(tmp_path / "gate")])
    assert code == EXIT_INCONCLUSIVE == 5
    text = capsys.readouterr().out
    assert "INCONCLUSIVE  accuracy non-inferior within 0.1" in text
    assert "INCONCLUSIVE: 1 rule(s) cannot be decided on these examples (none blocks)" in text
    gate = tmp_path / "gate"
    record = GateDecision.model_validate_json((gate / "gate.json").read_text())
    assert record.outcome == "inconclusive" and record.exit_code == 5 and not record.passed
    assert [r.outcome for r in record.rules] == ["inconclusive", "promote"]
    assert "❔ INCONCLUSIVE" in (gate / "gate_summary.md").read_text()
    assert 'data-verdict="inconclusive"' in (gate / "report.html").read_text()
    root = ET.parse(gate / "gate_junit.xml").getroot()
    skipped = [c for c in root.iter("testcase") if c.find("skipped") is not None]
    assert len(skipped) == 1 and skipped[0].find("skipped").get("message").startswith("INCONCLUSIVE: ")
    assert root.find("testsuite").get("skipped") == "1" and root.find("testsuite").get("failures") == "0"


def test_gate_outcome_combines_rules() -> None:
    def rule(outcome: str, advisory: bool = False) -> RuleRecord:
        verdict = {"promote": "pass", "block": "fail", "inconclusive": "inconclusive"}[outcome]
        return RuleRecord(name="r", score="s", rule="min", figure=0.0, threshold=0.0, explanation="",
                          verdict=("advisory-" if advisory else "") + verdict, outcome=outcome)

    assert gate_outcome([rule("promote"), rule("inconclusive"), rule("block")]) == "block"
    assert gate_outcome([rule("promote"), rule("inconclusive")]) == "inconclusive"
    assert gate_outcome([rule("promote"), rule("block", advisory=True), rule("inconclusive", advisory=True)]) == "promote"
    assert gate_outcome([]) == "promote"
    # a record written before outcomes: read from its verdict
    old = RuleRecord.model_validate({"name": "r", "score": "s", "rule": "min", "figure": 1.0, "threshold": 0.5,
                                     "verdict": "fail", "explanation": ""})
    assert old.outcome == "block" and old.blocks


@pytest.mark.parametrize("gate, outcome", [("min: 0.9", "block"), ("min: 0.85", "promote"), ("max: 0.85", "block"),
                                           ("max: 0.9", "promote")])
def test_a_floor_on_the_point_estimate_where_the_suite_says_so(runs: dict[str, Path], tmp_path: Path, gate: str,
                                                               outcome: str) -> None:
    # 0.875 against 0.9 straddles on the CI (inconclusive above); on the mean itself it is below
    r = one(tmp_path, f"{{metric: accuracy, {gate}, point_estimate: true}}", runs["right"], runs["broken"])
    assert r.outcome == outcome and "the suite asks for the point estimate" in r.explanation


def test_point_estimate_is_for_floors_and_ceilings_and_leaves_suite_hashes_alone() -> None:
    from pydantic import ValidationError

    from harness.suite.schema import Gate

    with pytest.raises(ValidationError, match="point_estimate applies to min and max only"):
        Gate(metric="accuracy", non_inferiority_margin=0.1, point_estimate=True)
    assert "point_estimate" not in Gate(metric="accuracy", min=0.5).model_dump()
    assert Gate(metric="accuracy", min=0.5, point_estimate=True).model_dump()["point_estimate"] is True


def test_the_loops_final_line_says_inconclusive() -> None:
    from harness.cli.iterate import _gate_word

    undecided = {"name": "r", "score": "s", "rule": "min", "figure": 0.8, "threshold": 0.9, "explanation": "",
                 "verdict": "inconclusive", "outcome": "inconclusive"}
    assert _gate_word({"gate_passed": True, "rules": []}) == "passes"
    assert _gate_word({"gate_passed": False, "rules": [undecided]}) == "is inconclusive (not enough evidence)"
    assert _gate_word({"gate_passed": False, "rules": [{**undecided, "verdict": "fail", "outcome": "block"}, undecided]}) == "blocks"
