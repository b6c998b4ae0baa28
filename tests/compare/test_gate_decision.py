"""Gates on a comparison: promote, block, per-category rules, advisory rules, the CLI and its reports."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.cli import main
from harness.promote.gate import gate_runs
from tests.compare.gate_fixtures import (
    BROKEN,
    ROOT,
    ROWS,
    SUITE,
    breaks,
    ids_of,
    make_run,
    right,
    write_script,
)


@pytest.fixture(autouse=True)
def _data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tmp suites include the repository's suite and read its data: a data root above both (--data-root)."""
    monkeypatch.setenv("HARNESS_DATA_ROOT", os.path.commonpath([tmp_path, ROOT]))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("gate")
    return {"right": make_run(tmp, "right", right), "broken": make_run(tmp, "broken", breaks(BROKEN))}


def tmp_suite(folder: Path, gates: str) -> Path:
    """support_intent with other gates (include: keeps everything else)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "suite.yaml"
    path.write_text(f"include: {SUITE}\ndataset:\n  path: {ROOT / 'datasets' / 'support_intent'}\ngates:\n{gates}", encoding="utf-8")
    return path


def test_a_run_gated_against_itself_is_promoted(runs: dict[str, Path], tmp_path: Path) -> None:
    out = gate_runs(SUITE, runs["right"], runs["right"], tmp_path / "gate")
    assert out.passed and out.exit_code == 0
    # the per-category rules advise (15 examples per intent cannot decide a 0.25 margin)
    assert {r.verdict for r in out.rules if r.category is None} == {"pass"}
    assert {r.verdict for r in out.rules if r.category is not None} == {"advisory-pass"}
    # support_intent: an accuracy floor, overall non-inferiority, max regressions, and one
    # non-inferiority verdict per intent
    assert len(out.rules) == 3 + len({r["intent"] for r in ROWS})
    assert "PROMOTE" in out.text
    for p in (out.html_path, out.junit_path, out.markdown_path, *out.csv_paths.values()):
        assert p.is_file() and p.parent == tmp_path / "gate"


def test_breaking_one_intent_blocks_and_the_reports_name_it(runs: dict[str, Path], tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI with model specs: it runs both models itself, then gates."""
    base = write_script(tmp_path / "scripts", "base", right)
    cand = write_script(tmp_path / "scripts", "cand", breaks(BROKEN))
    step_summary = tmp_path / "step_summary.md"
    step_summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    code = main(["gate", str(SUITE), "--baseline", f"scripted:{base}", "--candidate", f"scripted:{cand}",
                 "--reports", str(tmp_path / "reports"), "--no-progress", "--out", str(tmp_path / "gate"),
                 "--junit", str(tmp_path / "ci" / "junit.xml"), "--markdown", str(tmp_path / "ci" / "gate.md"),
                 "--html", str(tmp_path / "ci" / "report.html")])
    assert code == 1
    text = capsys.readouterr().out
    assert "BLOCKED" in text and f"accuracy non-inferior within 0.25 [{BROKEN}]" in text
    broken_ids = ids_of(BROKEN)
    md = (tmp_path / "ci" / "gate.md").read_text()
    assert "BLOCKED" in md and f"[{BROKEN}]" in md
    assert all(i in md for i in broken_ids)
    assert step_summary.read_text().startswith("earlier step\n## Promotion gate: ❌ BLOCKED")
    html = (tmp_path / "ci" / "report.html").read_text()
    assert BROKEN in html and all(i in html for i in broken_ids) and 'data-verdict="blocked"' in html
    # JUnit: one testcase per rule verdict, a failure element for each blocking one
    root = ET.parse(tmp_path / "ci" / "junit.xml").getroot()
    cases = root.findall(".//testcase")
    failed = [c.get("name") for c in cases if c.find("failure") is not None]
    assert len(cases) == 3 + len({r["intent"] for r in ROWS})
    assert f"accuracy non-inferior within 0.25 [{BROKEN}]" not in failed  # advisory: reported, never a failure
    assert "accuracy at most 12 regressions" in failed  # 15 regressions against no improvements
    assert root.find("testsuite").get("failures") == str(len(failed))
    record = json.loads((tmp_path / "gate" / "gate.json").read_text())
    assert record["passed"] is False and record["exit_code"] == 1


def test_better_on_average_but_one_category_broken_is_blocked_by_the_each_rule(tmp_path: Path) -> None:
    suite = tmp_suite(tmp_path, "  - {metric: accuracy, non_inferiority_margin: 0.02}\n"
                                "  - {metric: accuracy, category: each, non_inferiority_margin: 0.10}\n")
    # baseline: right on cancel_order, wrong on every 3rd example elsewhere; candidate: the opposite, far better overall
    base = make_run(tmp_path, "base", lambda r: r["intent"] if r["intent"] == BROKEN or int(r["id"][-4:]) % 3 else
                    ("damaged_item" if r["intent"] != "damaged_item" else "order_status"), suite=suite)
    cand = make_run(tmp_path, "cand", breaks(BROKEN), suite=suite)
    out = gate_runs(suite, base, cand, tmp_path / "gate")
    acc = out.comparison.scores["accuracy"]
    assert acc.runs[1].mean > acc.runs[0].mean + 0.1  # better on average
    overall = [r for r in out.rules if r.category is None]
    assert [r.verdict for r in overall] == ["pass"]
    failing = [r for r in out.rules if r.verdict == "fail"]
    assert [r.category for r in failing] == [BROKEN]
    assert failing[0].figure == pytest.approx(-1.0) and failing[0].threshold == pytest.approx(-0.1)
    assert sorted(failing[0].examples) == sorted(ids_of(BROKEN))
    assert not out.passed and out.exit_code == 1
    assert main(["gate", str(suite), "--baseline", str(base), "--candidate", str(cand), "--out", str(tmp_path / "g2")]) == 1


def test_rule_kinds_directions_and_advisory_gates(runs: dict[str, Path], tmp_path: Path) -> None:
    suite = tmp_suite(tmp_path, "  - {metric: accuracy, min: 0.9}\n"
                                "  - {metric: accuracy, max: 0.9, name: not suspiciously high}\n"
                                "  - {metric: accuracy, min_improvement: 0.0, advisory: true}\n"
                                f"  - {{metric: accuracy, category: {BROKEN}, min: 0.5}}\n"
                                "  - {metric: accuracy, category: order_status, max_regressions: 0}\n"
                                "  - {metric: macro_f1, non_inferiority_margin: 0.5}\n")
    base = make_run(tmp_path, "base", right, suite=suite)
    cand = make_run(tmp_path, "cand", breaks(BROKEN), suite=suite)
    out = gate_runs(suite, base, cand, tmp_path / "gate")
    by_name = {r.name: r for r in out.rules}
    mean = 1 - len(ids_of(BROKEN)) / len(ROWS)
    floor = by_name["accuracy candidate mean >= 0.9"]  # 0.875, Wilson 95% CI [0.804, 0.923]: the data cannot tell
    assert mean == 0.875 and floor.verdict == "inconclusive" and floor.outcome == "inconclusive"
    assert "straddles 0.900" in floor.explanation and "examples (now 120) would decide it" in floor.explanation
    assert by_name["not suspiciously high"].figure == pytest.approx(mean)
    adv = by_name["accuracy improves by >= 0.0"]
    assert adv.verdict == "advisory-fail" and "advisory" in adv.explanation
    assert by_name[f"accuracy candidate mean >= 0.5 [{BROKEN}]"].verdict == "fail"
    assert by_name["accuracy at most 0 regressions [order_status]"].verdict == "pass"
    assert by_name["macro_f1 non-inferior within 0.5"].verdict == "pass"  # corpus score: recomputed per resample
    # an advisory failure alone never blocks
    only_adv = tmp_suite(tmp_path / "adv", "  - {metric: accuracy, min_improvement: 0.0, advisory: true}\n")
    out2 = gate_runs(only_adv, base, cand, tmp_path / "gate2")
    assert out2.passed and out2.exit_code == 0 and out2.rules[0].verdict == "advisory-fail"
    junit = ET.parse(out2.junit_path).getroot()
    assert junit.find(".//failure") is None and "ADVISORY-FAIL" in junit.find(".//system-out").text


def test_a_score_the_metric_marks_advisory_never_blocks(runs: dict[str, Path], tmp_path: Path) -> None:
    """A judge whose agreement with humans is unknown sets advisory_reason in the run summary."""
    import shutil

    cand = tmp_path / "cand"
    shutil.copytree(runs["broken"], cand)
    on_disk = json.loads((cand / "summary.json").read_text())
    on_disk["metrics"]["accuracy"]["advisory_reason"] = "judge not calibrated"
    (cand / "summary.json").write_text(json.dumps(on_disk))
    out = gate_runs(SUITE, runs["right"], cand, tmp_path / "gate")
    assert out.passed and {r.verdict for r in out.rules} <= {"advisory-pass", "advisory-fail", "advisory-inconclusive"}
    assert any(r.verdict == "advisory-fail" for r in out.rules)


def test_gate_errors_exit_2(runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "other.yaml"
    other.write_text((ROOT / "tests" / "conftest.py").read_text().split('INTENT_SUITE = """\\\n')[1].split('"""')[0])
    (tmp_path / "test.jsonl").write_text("")
    assert main(["gate", str(other), "--baseline", str(runs["right"]), "--candidate", str(runs["broken"])]) == 2
    assert "cannot gate runs of suite 'support-intent'" in capsys.readouterr().err
    assert main(["gate", str(SUITE), "--baseline", str(tmp_path / "missing"), "--candidate", str(runs["broken"])]) == 2


def test_lower_is_better_scores_flip_the_sign(runs: dict[str, Path], tmp_path: Path) -> None:
    """The same drop in a score whose direction is 'lower' is an improvement; rules read it that way."""
    import shutil

    copies = []
    for name in ("right", "broken"):
        d = tmp_path / name
        shutil.copytree(runs[name], d)
        on_disk = json.loads((d / "summary.json").read_text())
        on_disk["metrics"]["exact_match"]["direction"] = "lower"
        (d / "summary.json").write_text(json.dumps(on_disk))
        copies.append(d)
    suite = tmp_suite(tmp_path, "  - {metric: exact_match, min_improvement: 0.05}\n"
                                "  - {metric: exact_match, max_regressions: 0}\n")
    out = gate_runs(suite, copies[0], copies[1], tmp_path / "gate")
    v = out.comparison.scores["exact_match"].vs_baseline[0]
    assert v.delta.delta == pytest.approx(-len(ids_of(BROKEN)) / len(ROWS))
    assert v.regressions == [] and sorted(v.improvements) == sorted(ids_of(BROKEN))
    imp = out.rules[0]
    assert imp.figure == pytest.approx(-v.delta.ci_high) and imp.verdict == "pass"
    assert out.passed
    # and the same runs the other way round: a regression of 15 examples
    back = gate_runs(suite, copies[1], copies[0], tmp_path / "gate2")
    assert [r.verdict for r in back.rules] == ["fail", "fail"] and back.rules[1].figure == len(ids_of(BROKEN))


def test_runs_of_different_example_sets_compare_but_never_gate(runs: dict[str, Path], tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    script = write_script(tmp_path, "right", right)
    short = tmp_path / "short"
    assert main(["run", str(SUITE), "--model", f"scripted:{script}", "--limit", "10", "--out", str(short),
                 "--reports", str(tmp_path / "reports"), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["compare", str(runs["broken"]), str(short), "--out", str(tmp_path / "cmp")]) == 0
    assert "examples not in every run (left out)" in capsys.readouterr().out
    assert main(["gate", str(SUITE), "--baseline", str(runs["broken"]), "--candidate", str(short)]) == 2
    assert "the runs evaluated different examples (baseline 120, candidate 10)" in capsys.readouterr().err
