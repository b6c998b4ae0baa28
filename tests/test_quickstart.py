"""`harness quickstart` runs the whole tour offline to a verdict and a report; `harness init` writes a
starter project whose pytest file passes, and never overwrites a file without --force."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from harness.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_quickstart_reaches_a_verdict_and_a_report_in_seconds(tmp_path: Path, capsys) -> None:
    start = time.perf_counter()
    assert main(["quickstart", str(tmp_path / "qs")]) == 0
    took = time.perf_counter() - start
    out = capsys.readouterr().out
    report = tmp_path / "qs" / "reports" / "gate" / "report.html"
    assert report.is_file() and f"report: {report.resolve()}" in out
    assert "verdict: PROMOTE (exit 0)" in out and "[6/6]" in out
    decision = json.loads((tmp_path / "qs" / "reports" / "gate" / "gate.json").read_text())
    assert decision["outcome"] == "promote" and decision["exit_code"] == 0
    assert took < 60
    # a rerun replaces the tour's own folders and decides the same
    assert main(["quickstart", str(tmp_path / "qs")]) == 0
    assert "verdict: PROMOTE" in capsys.readouterr().out


def test_quickstart_keeps_an_edited_file_unless_forced(tmp_path: Path, capsys) -> None:
    qs = tmp_path / "qs"
    assert main(["quickstart", str(qs)]) == 0
    (qs / "candidate.json").write_text(json.dumps({"q01": "5"}))
    assert main(["quickstart", str(qs)]) == 2
    assert "candidate.json: already there and different" in capsys.readouterr().err
    assert main(["quickstart", str(qs), "--force"]) == 0


def test_a_blocking_candidate_is_said(tmp_path: Path, capsys, monkeypatch) -> None:
    from harness.cli import starter

    files = starter.quickstart_files()
    files["candidate.json"] = json.dumps({i: "?" for i in json.loads(files["base.json"])})
    monkeypatch.setattr(starter, "quickstart_files", lambda: files)
    assert main(["quickstart", str(tmp_path / "qs")]) == 0  # the tour ran; the verdict is its news
    assert "verdict: BLOCK (exit 1)" in capsys.readouterr().out


def test_init_writes_a_project_whose_tests_pass(tmp_path: Path, capsys) -> None:
    proj = tmp_path / "my proj"
    assert main(["init", str(proj)]) == 0
    rows = (proj / "data" / "test.jsonl").read_text().splitlines()
    assert len(rows) == 10
    assert main(["validate", str(proj / "suite.yaml")]) == 0
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("HARNESS_MODEL", None)
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_suite.py"], cwd=proj,
                         env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and "3 passed" in res.stdout, res.stdout[-2000:] + res.stderr[-2000:]
    assert "test_exact_match_with_the_fixture(harness_run)" in (proj / "test_suite.py").read_text()


def test_init_refuses_to_overwrite_without_force(tmp_path: Path, capsys) -> None:
    (tmp_path / "suite.yaml").write_text("mine\n")
    assert main(["init", str(tmp_path)]) == 2
    assert "suite.yaml: already there; nothing was written" in capsys.readouterr().err
    assert (tmp_path / "suite.yaml").read_text() == "mine\n" and not (tmp_path / "data").exists()
    assert main(["init", str(tmp_path), "--force"]) == 0
    assert (tmp_path / "suite.yaml").read_text().startswith("# A starter suite")
