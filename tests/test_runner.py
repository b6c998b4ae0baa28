"""The runner end to end with the scripted provider: run directory, cache, resume after a kill."""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.cli import main
from harness.providers.base import ModelSpec
from harness.records.rundir import load_run
from harness.records.run import Counts, RunSummary
from harness.evaluate.run import RunConfig, run_suite
from tests.conftest import ROOT, write_jsonl

OUTPUTS = [
    {"id": "e1", "output": "order_status"},
    {"id": "e2", "output": "Cancel order."},
    {"id": "e3", "output": "I think it is a refund"},
    {"id": "e4", "output": "order_status"},
]


def run(tiny_suite: Path, script: Path, **kw) -> tuple[Path, RunSummary]:
    cfg = RunConfig(suite=tiny_suite, model=ModelSpec.parse(f"scripted:{script}"), reports_dir=tiny_suite.parent / "reports",
                    progress=False, **kw)
    out = run_suite(cfg)
    return out.directory, out.summary


def test_run_writes_directory_with_full_spec(tiny_suite: Path) -> None:
    script = write_jsonl(tiny_suite.parent / "out.jsonl", OUTPUTS)
    directory, summary = run(tiny_suite, script)
    assert summary.metrics["accuracy"].mean == 0.75
    assert summary.metrics["exact_match"].mean == 0.5
    assert summary.metrics["macro_f1"].level == "corpus"
    assert summary.suite.sha256 and summary.dataset.sha256 and summary.model.fingerprint["sha256"]
    assert summary.generation["max_tokens"] == 8
    assert summary.harness_version
    assert summary.artifacts["classification"]["confusion_matrix"]["matrix"][0] == [2, 0, 0, 0]
    s2, rows = load_run(directory)
    assert s2 == summary
    assert [r["id"] for r in rows] == ["e1", "e2", "e3", "e4"]
    assert rows[1]["prompt"] == [{"role": "user", "content": "Classify: stop my order"}]
    assert rows[1]["scores"] == {"accuracy": 1.0, "exact_match": 0.0}
    with open(directory / "results.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [r["accuracy"] for r in table] == ["1.0", "1.0", "0.0", "1.0"]
    import pandas as pd

    summ = pd.read_csv(directory / "summary.csv")
    assert summ.set_index("score").loc["accuracy", "mean"] == 0.75


def test_rerun_is_fully_cached(tiny_suite: Path) -> None:
    script = write_jsonl(tiny_suite.parent / "out.jsonl", OUTPUTS)
    _, first = run(tiny_suite, script)
    _, again = run(tiny_suite, script)
    assert first.counts.generated == 4 and again.counts == Counts(examples=4, errors=0, cached=4, generated=0)
    assert again.metrics == first.metrics
    # a different model (other script) or other settings miss the cache
    script.write_text(script.read_text().replace("order_status", "cancel_order"))
    _, changed = run(tiny_suite, script)
    assert changed.counts.generated == 4


def test_failed_examples_recorded_not_cached_and_retried(tiny_suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = OUTPUTS[:2] + [{"id": "e3", "error": "RateLimitError: 429 after 6 attempts"}] + OUTPUTS[3:]
    script = write_jsonl(tiny_suite.parent / "out.jsonl", rows)
    reports = tiny_suite.parent / "reports"
    code = main(["run", str(tiny_suite), "--model", f"scripted:{script}", "--reports", str(reports), "--no-progress"])
    assert code == 3
    out = capsys.readouterr().out
    assert "1 example(s) failed" in out
    run_dir = Path(out.split("run directory: ")[1].split()[0])
    summary, results = load_run(run_dir)
    assert results[2]["error"] == "RateLimitError: 429 after 6 attempts" and results[2]["output"] is None
    assert summary.metrics["accuracy"].n == 3 and summary.metrics["accuracy"].n_failed == 1
    # the script is fixed; the rerun generates only the failed example
    write_jsonl(script, OUTPUTS)
    _, again = run(tiny_suite, script)
    assert again.counts.errors == 0
    assert main(["run", str(tiny_suite), "--model", f"scripted:{script}", "--reports", str(reports), "--no-progress"]) == 0


def test_unknown_provider_and_split_are_clear(tiny_suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(tiny_suite), "--model", "opnai:gpt-4o"]) == 2
    assert "unknown provider 'opnai'. Did you mean: openai?" in capsys.readouterr().err
    script = write_jsonl(tiny_suite.parent / "out.jsonl", OUTPUTS)
    assert main(["run", str(tiny_suite), "--model", f"scripted:{script}", "--split", "train"]) == 2
    assert "no split 'train'; the suite has: test" in capsys.readouterr().err
    assert main(["run", str(tiny_suite), "--model", f"scripted:{script}?concurency=3"]) == 2
    assert "?concurency=3': concurency: unknown key; allowed: provider, name, label, concurrency," in capsys.readouterr().err


def test_killed_run_resumes_without_redoing_or_losing_work(tmp_path: Path) -> None:
    """SIGKILL a real `harness run` halfway; the rerun generates only what was not finished."""
    n = 12
    rows = [{"id": f"k{i:02d}", "text": f"message {i}", "intent": "order_status"} for i in range(n)]
    write_jsonl(tmp_path / "test.jsonl", rows)
    (tmp_path / "suite.yaml").write_text((ROOT / "tests" / "conftest.py").read_text().split('INTENT_SUITE = """\\\n')[1].split('"""')[0])
    script = write_jsonl(tmp_path / "out.jsonl", [{"id": r["id"], "output": "order_status", "delay_s": 0.25} for r in rows])
    cache = tmp_path / "reports" / "cache.sqlite"
    cmd = [sys.executable, "-m", "harness.cli", "run", str(tmp_path / "suite.yaml"), "--model",
           f"scripted:{script}?concurrency=1", "--reports", str(tmp_path / "reports"), "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def cached() -> int:
        if not cache.exists():
            return 0
        try:
            with sqlite3.connect(cache) as db:
                return db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
        except sqlite3.OperationalError:
            return 0

    deadline = time.time() + 60
    while cached() < 4 and time.time() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = cached()
    assert 4 <= done_before < n, "the run should have been killed halfway"
    out = subprocess.run(cmd[:-1] + ["--no-progress"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"examples={n} (cached {done_before}, errors 0)" in out.stdout
    run_dir = Path(out.stdout.split("run directory: ")[1].split()[0])
    summary, results = load_run(run_dir)
    assert summary.counts.generated == n - done_before
    assert [r["id"] for r in results] == [r["id"] for r in rows] and all(r["output"] == "order_status" for r in results)


def test_runs_in_the_same_second_never_share_a_directory(tiny_suite: Path) -> None:
    script = write_jsonl(tiny_suite.parent / "out.jsonl", OUTPUTS)
    dirs = {run(tiny_suite, script)[0] for _ in range(3)}
    assert len(dirs) == 3 and all((d / "summary.json").is_file() for d in dirs)
