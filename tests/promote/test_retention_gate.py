"""Retention checks in the decision: a suite's `retention:` suites run beside the task (harness run writes
<run>/retention/<name>/), and the gate judges each by non-inferiority in the same decision, report and JUnit."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.cli.main import main

TASK = """name: task
version: 1
dataset: {{path: data/task, format: jsonl, splits: {{test: test.jsonl}}, fields: {{id: id, input: q, reference: a}}}}
prompt: {{messages: [{{role: user, content: "{{{{ q }}}}"}}]}}
metrics: [{{name: exact_match}}]
gates:
  - {{metric: exact_match, non_inferiority_margin: 0.1}}
retention:
  - {{suite: {ret}, non_inferiority_margin: 0.05}}
"""
RET = """name: ret
version: 1
dataset: {path: data/ret, format: jsonl, splits: {test: test.jsonl}, fields: {id: id, input: q, reference: a}}
prompt: {messages: [{role: user, content: "{{ q }}"}]}
metrics: [{name: exact_match}]
"""


def _project(tmp: Path, ret: str = "ret.yaml") -> Path:
    for name, n in (("task", 40), ("ret", 60)):
        (tmp / "data" / name).mkdir(parents=True)
        (tmp / "data" / name / "test.jsonl").write_text(
            "".join(json.dumps({"id": f"{name}{i}", "q": f"{name} question {i}", "a": f"answer {i}"}) + "\n" for i in range(n)))
    (tmp / "ret.yaml").write_text(RET)
    (tmp / "task.yaml").write_text(TASK.format(ret=ret))
    return tmp / "task.yaml"


def _script(tmp: Path, name: str, wrong_ret: int = 0) -> str:
    rows = [{"id": f"task{i}", "output": f"answer {i}"} for i in range(40)]
    rows += [{"id": f"ret{i}", "output": "no idea" if i < wrong_ret else f"answer {i}"} for i in range(60)]
    path = tmp / f"{name}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return f"scripted:{path}"


def _run(tmp: Path, suite: Path, name: str, model: str, *extra: str) -> Path:
    out = tmp / "runs" / name
    assert main(["run", str(suite), "--model", model, "--out", str(out), "--reports", str(tmp / "reports"),
                 "--no-progress", *extra]) == 0
    return out


def _gate(tmp: Path, suite: Path, base: Path, cand: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, dict]:
    capsys.readouterr()
    code = main(["gate", str(suite), "--baseline", str(base), "--candidate", str(cand), "--out", str(tmp / "gate"),
                 "--reports", str(tmp / "reports")])
    return code, capsys.readouterr().out, json.loads((tmp / "gate" / "gate.json").read_text())


def test_run_writes_retention_runs_and_an_equal_candidate_is_promoted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = _project(tmp_path)
    base = _run(tmp_path, suite, "base", _script(tmp_path, "base"))
    assert (base / "retention" / "ret" / "summary.json").is_file()
    assert "retention ret: exact_match 1.000 (60 examples)" in capsys.readouterr().out
    cand = _run(tmp_path, suite, "cand", _script(tmp_path, "cand"))
    code, text, record = _gate(tmp_path, suite, base, cand, capsys)
    assert code == 0 and "\nPROMOTE: every blocking rule passed\n" in text, text
    (row,) = record["retention"]
    assert (row["name"], row["score"], row["n"], row["baseline"], row["candidate"], row["delta"]) == ("ret", "exact_match", 60, 1.0, 1.0, 0.0)
    assert row["outcome"] == "promote"
    assert "retention (what the base could do" in text and "retention ret: exact_match non-inferior within 0.05" in text


def test_a_candidate_that_forgets_is_blocked_in_the_same_decision(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = _project(tmp_path)
    base = _run(tmp_path, suite, "base", _script(tmp_path, "base"))
    cand = _run(tmp_path, suite, "cand", _script(tmp_path, "cand", wrong_ret=30))  # task equal, half the retention items lost
    code, text, record = _gate(tmp_path, suite, base, cand, capsys)
    assert code == 1 and "BLOCKED" in text
    (row,) = record["retention"]
    assert row["delta"] == -0.5 and row["ci_high"] < -0.05 and row["outcome"] == "block"
    task_rule = next(r for r in record["rules"] if not r["name"].startswith("retention"))
    assert task_rule["outcome"] == "promote"  # the task alone would promote it
    root = ET.parse(tmp_path / "gate" / "gate_junit.xml").getroot()
    failed = [c.get("name") for c in root.iter("testcase") if c.find("failure") is not None]
    assert failed == ["retention ret: exact_match non-inferior within 0.05"]
    html = (tmp_path / "gate" / "report.html").read_text()
    assert '<table id="retention">' in html and "[-0.6" in html and "BLOCK" in html


def test_missing_retention_runs_are_inconclusive_not_a_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = _project(tmp_path)
    base = _run(tmp_path, suite, "base", _script(tmp_path, "base"))
    cand = _run(tmp_path, suite, "cand", _script(tmp_path, "cand"), "--no-retention")
    assert not (cand / "retention").exists()
    code, text, record = _gate(tmp_path, suite, base, cand, capsys)
    assert code == 5 and "INCONCLUSIVE" in text
    (row,) = record["retention"]
    assert row["outcome"] == "inconclusive" and "no run of retention suite ret.yaml in the candidate run" in row["explanation"]


def test_a_retention_suite_outside_the_project_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / ".git").mkdir()
    suite = _project(project, ret="../outside.yaml")
    (tmp_path / "outside.yaml").write_text(RET)
    assert main(["validate", str(suite), "--data-root", str(project)]) == 2
    err = capsys.readouterr().err
    assert "retention[0].suite" in err or "retention.0.suite" in err, err
    assert "outside the project root" in err
