"""`harness plan` (harness.gating.power): its rates against an independent simulation through the real gate,
validate's warnings, the table's three outcome columns, Holm over a family of rules on one score, and a suite's
retention checks planned in the same decision."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import numpy as np
import pytest

from harness.cli.main import main
from harness.gating.power import (IDENTICAL, Score, Setting, comparison_of, draw, expected_regressions, real_outcomes, simulate,
                                  simulate_outcomes, with_parts)
from harness.promote.plan import plan_suite
from harness.gating.rules import evaluate_gates
from harness.suite.schema import Gate
from tests.compare.gate_fixtures import ROOT
from tests.compare.test_gate_decision import tmp_suite


@pytest.fixture(autouse=True)
def _data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_DATA_ROOT", os.path.commonpath([tmp_path, ROOT]))


def setting(gates: list[Gate], n: int = 60, p: float = 0.8, seed: int = 0) -> Setting:
    rng = np.random.default_rng(seed)
    x = (rng.random(n) < p).astype(float)
    cats = ["a" if i % 2 else "b" for i in range(n)]
    return Setting("t", f"synthetic {n}", [f"e{i}" for i in range(n)], cats, gates,
                   {"accuracy": Score("accuracy", "higher", 0.0, 1.0, True, x)})


GATES = [Gate(metric="accuracy", non_inferiority_margin=0.1), Gate(metric="accuracy", max_regressions=3),
         Gate(metric="accuracy", category="each", non_inferiority_margin=0.25), Gate(metric="accuracy", min=0.7)]


def test_plan_rates_match_an_independent_simulation_through_the_real_gate() -> None:
    """The plan's identical-candidate rates (S1 = 400 simulations on the vectorised path) against S2 = 60 other
    simulations each judged by compare_aligned + evaluate_gates in a loop: equal within 4 standard errors of the
    difference of two Monte-Carlo rates, 4 * sqrt(p (1 - p) (1/S1 + 1/S2)) (+0.02 for p near 0 or 1)."""
    st = setting(GATES)
    plan = simulate(st, sims=400, check=3, seed=11, gains=())
    s2 = 60
    rng = np.random.default_rng(99)
    x = st.scores["accuracy"].values
    a, b = {"accuracy": draw(x, s2, 0.8, rng)}, {"accuracy": draw(x, s2, 0.8, rng)}
    real = [real_outcomes(st, GATES, a, b, k)[0] for k in range(s2)]
    for i, row in enumerate(plan.rules):
        for outcome in ("promote", "block", "inconclusive"):
            p1 = getattr(row.rates[IDENTICAL], outcome)
            p2 = sum(r[i] == outcome for r in real) / s2
            p = (p1 * 400 + p2 * s2) / (400 + s2)
            tol = 4 * math.sqrt(p * (1 - p) * (1 / 400 + 1 / s2)) + 0.02
            assert abs(p1 - p2) <= tol, (row.name, outcome, p1, p2, tol)
    assert plan.checked == 3  # and the first 3 were the same as the gate's, one by one (simulate raises otherwise)


def test_expected_regressions_of_an_identical_model() -> None:
    """A/A regressions of a pass/fail score: sum_i p_i (1 - p_i), p_i = 0.8 x_i + 0.2 mean(x): for 60 examples at
    accuracy a the analytic figure; the plan's mean over 400 simulations within 4 SE (SD of a count <= sqrt(E))."""
    st = setting([Gate(metric="accuracy", max_regressions=3)])
    x = st.scores["accuracy"].values
    m = x.mean()
    hand = float(sum((0.8 * xi + 0.2 * m) * (1 - 0.8 * xi - 0.2 * m) for xi in x))
    assert expected_regressions(x, 0.8) == pytest.approx(hand)
    row = simulate(st, sims=400, check=0, seed=3, gains=()).rules[0]
    assert abs(row.expected_regressions - hand) <= 4 * math.sqrt(hand / 400)


def test_an_identical_model_and_a_gain() -> None:
    st = setting([Gate(metric="accuracy", non_inferiority_margin=0.1)], n=200)
    plan = simulate(st, sims=300, check=2, seed=5)
    aa, plus10 = plan.gate[IDENTICAL], plan.gate["+10"]
    assert aa.block <= 0.05 and aa.better <= 0.1  # one-sided 2.5% each
    assert plus10.promote > aa.promote and plus10.better > 0.5
    assert abs(aa.promote + aa.block + aa.inconclusive - 1) < 1e-9


def test_holm_over_two_rules_on_one_score_worked_example() -> None:
    """Baseline right on all 120, the candidate wrong on 6: difference -0.05, paired bootstrap CI [-0.092, -0.017]
    (SE read off it (0.075 / 3.92) = 0.0191, about sqrt(0.05 * 0.95 / 120) = 0.0199). non_inferiority_margin 0.008:
    the CI lies below -0.008, one-sided p = Phi((-0.05 + 0.008) / 0.0191) = Phi(-2.2) = 0.014 < 0.025: alone it
    BLOCKs. max_regressions 3: 6 regressions against 0 improvements, sign test p = 2^-6 = 0.0156 < 0.025: alone it
    BLOCKs. Together they are one family (accuracy, the whole split): Holm sorts 0.014, 0.0156; the first step needs
    2 * 0.014 = 0.028 <= 0.025 and fails, so nothing is rejected (the second's adjusted p is max(0.028, 0.0156)):
    both INCONCLUSIVE after the correction."""
    n = 120
    st = setting([], n=n)
    st.categories = [None] * n
    a = {"accuracy": np.ones((1, n))}
    b = {"accuracy": np.r_[np.zeros(6), np.ones(n - 6)][None, :]}
    comp = comparison_of(st, a, b)
    nim, cap = Gate(metric="accuracy", non_inferiority_margin=0.008), Gate(metric="accuracy", max_regressions=3)
    [alone_nim], [alone_cap] = evaluate_gates([nim], comp), evaluate_gates([cap], comp)
    assert alone_nim.outcome == "block" and "wholly below" in alone_nim.explanation and "Holm" not in alone_nim.explanation
    assert alone_cap.outcome == "block" and "6 regressions" in alone_cap.explanation
    both = evaluate_gates([nim, cap], comp)
    assert [r.outcome for r in both] == ["inconclusive", "inconclusive"]
    for r in both:
        assert "Holm over 2 tests of 2 rules on accuracy, family-wise alpha 0.025" in r.explanation
        assert "inconclusive after the correction" in r.explanation
    adjusted = [float(re.search(r"adjusted p = ([0-9.]+)", r.explanation).group(1)) for r in both]
    assert adjusted == pytest.approx([0.028, 0.028], abs=0.002)
    # a cap the regressions stay under (p = 1) is still in the family: 2 * 0.014 = 0.028 > 0.025
    loose = evaluate_gates([nim, Gate(metric="accuracy", max_regressions=10)], comp)
    assert [r.outcome for r in loose] == ["inconclusive", "promote"]
    # a rule on another scope is another family: no correction between them
    other = evaluate_gates([nim, Gate(metric="accuracy", max_regressions=3, category="x")], comp)
    assert other[0].outcome == "block"


def test_plan_cli_prints_the_three_outcomes(capsys: pytest.CaptureFixture[str]) -> None:
    suite = ROOT / "suites" / "support_intent_migrate.yaml"
    assert main(["plan", str(suite), "--simulations", "30", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("rule "))
    for col in ("PROMOTE", "BLOCK", "INCONCLUSIVE", "identical: better", "PROMOTE at +5 points", "PROMOTE at +10 points",
                "MDE", "n for 80%"):
        assert col in header
    assert "the gate (blocking rules above)" in out and "accuracy non-inferior within 0.05" in out
    assert "analytic (harness.stats.power" in out and "cross-checked" in out


def test_validate_power_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    suite = ROOT / "suites" / "support_intent_migrate.yaml"
    assert main(["validate", str(suite), "--power", "--simulations", "20"]) == 0
    out = capsys.readouterr().out
    assert "INCONCLUSIVE" in out and "the gate (blocking rules above)" in out


def test_validate_warns_for_a_rule_an_identical_model_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # margin 0: an identical candidate's CI lower bound is above 0 only ~2.5% of the time; a cap of 0 regressions is
    # below the ~8 an identical model flips at n=120
    bad = tmp_suite(tmp_path / "bad", "  - {metric: accuracy, non_inferiority_margin: 0.0}\n"
                                      "  - {metric: accuracy, max_regressions: 0}\n")
    assert main(["validate", str(bad)]) == 0
    lines = [x for x in capsys.readouterr().out.splitlines() if "warning" in x]
    assert any("rule 'accuracy non-inferior within 0.0': an identical candidate is PROMOTEd in only" in x for x in lines)
    assert any("rule 'accuracy at most 0 regressions': the cap of 0 regressions is below the" in x for x in lines)
    # a margin far above the MDE (0.09 at n=120): promoted nearly always, no warning
    good = tmp_suite(tmp_path / "good", "  - {metric: accuracy, non_inferiority_margin: 0.3}\n")
    assert main(["validate", str(good)]) == 0
    assert "warning" not in capsys.readouterr().out


def test_retention_parts_join_the_gate_simulation_by_simulation() -> None:
    """A part whose rule always blocks (a 0.99 floor on a 50% score) blocks the whole gate in every scenario, even at
    +10 points for the task; a part that always passes (margin 0.9) leaves the task's gate rates exactly as they were;
    an advisory part that always blocks changes nothing in the gate but shows its own row."""
    task = simulate_outcomes(setting([Gate(metric="accuracy", non_inferiority_margin=0.1)], n=200), 200, check=0, seed=4)
    always_block = simulate_outcomes(setting([Gate(metric="accuracy", min=0.99)], p=0.5, seed=1), 200, check=0, seed=5,
                                     gains=())
    always_pass = simulate_outcomes(setting([Gate(metric="accuracy", non_inferiority_margin=0.9)], seed=2), 200, check=0,
                                    seed=6, gains=())
    advisory = simulate_outcomes(setting([Gate(metric="accuracy", min=0.99, advisory=True)], p=0.5, seed=3), 200,
                                 check=0, seed=7, gains=())
    assert always_block[0].gate[IDENTICAL].block == 1.0 and always_pass[0].gate[IDENTICAL].promote == 1.0

    blocked = with_parts(*task, [("retention r", *always_block)])
    assert [r.name for r in blocked.rules] == ["accuracy non-inferior within 0.1", "retention r: accuracy candidate mean >= 0.99"]
    for scenario in task[0].scenarios:
        assert blocked.gate[scenario].block == 1.0 and blocked.gate[scenario].better == 0.0
    kept = with_parts(*task, [("retention r", *always_pass), ("retention adv", *advisory)])
    assert kept.gate == task[0].gate
    assert kept.rules[2].name == "retention adv: accuracy candidate mean >= 0.99" and kept.rules[2].advisory
    assert kept.rules[2].rates[IDENTICAL].block == 1.0
    assert "; retention r: synthetic 60" in kept.source


def test_plan_suite_plans_each_retention_check_of_the_release_suite() -> None:
    """support_intent_release: the task's rules, then one non-inferiority row per retention check on its demo split
    (the advisory ones marked so), and the corpus score (wikitext bits per byte) listed as not simulated, with why."""
    plan = plan_suite(ROOT / "suites" / "support_intent_release.yaml", sims=20, check=0)
    names = [r.name for r in plan.rules]
    assert "retention arc_easy: acc non-inferior within 0.15" in names
    assert "retention hellaswag: acc_norm non-inferior within 0.18" in names
    adv = {r.name: r.advisory for r in plan.rules if r.name.startswith("retention ")}
    assert adv["retention gsm8k: exact_match_flexible non-inferior within 0.2"] is True
    assert adv["retention arc_easy: acc non-inferior within 0.15"] is False
    (why,) = [w for name, w in plan.skipped if name.startswith("retention wikitext: bits_per_byte")]
    assert "corpus score" in why and "not simulated" in why
    arc = next(r for r in plan.rules if r.name.startswith("retention arc_easy"))
    assert "retention arc_easy: synthetic runs: %d examples of split demo" % arc.n in plan.source


def test_plan_reads_retention_from_the_baseline_runs_retention_folder(tmp_path: Path) -> None:
    """A baseline run written by `harness run` holds retention/ret/ (60 examples, all right): the check is planned on
    that run's scores. Every example right in the base: an identical candidate is right on all of them in every
    simulation (no example flips), the difference is exactly 0 with a CI of [0, 0], so the 0.05 margin PROMOTEs always."""
    from tests.promote.test_retention_gate import _project, _run, _script

    suite = _project(tmp_path)
    base = _run(tmp_path, suite, "base", _script(tmp_path, "base"))
    plan = plan_suite(suite, baseline=base, sims=50, check=0)
    (row,) = [r for r in plan.rules if r.name.startswith("retention ret: ")]
    assert row.name == "retention ret: exact_match non-inferior within 0.05" and row.n == 60
    assert row.rates[IDENTICAL].promote == 1.0
    assert f"retention ret: baseline run {base / 'retention' / 'ret'} (60 examples)" in plan.source
