"""`harness report --index` over hostile folders: summary, gate and lineage JSON with wrong-typed
fields are listed as unreadable (the page is still written); a FIFO named summary.json, gate.json
or lineage.json is refused, not waited on; a failed write leaves the previous index.html whole."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.report.index import scan

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parents[2]

SUMMARY = {"created": "2026-11-01T10:00:00+0000", "suite": {"name": "s", "version": 1},
           "model": {"display": "local"}, "dataset": {"split": "test"},
           "counts": {"examples": 4, "errors": 0}, "tokens": {"input": 10, "output": 4},
           "metrics": {"accuracy": {"mean": 0.5, "ci_low": 0.1, "ci_high": 0.9, "direction": "higher"}}}
GATE = {"passed": False, "comparison": {"suite": {"name": "s"}, "runs": [
    {"directory": "runs/a", "model": {"display": "local"}}, {"directory": "runs/b", "model": "m"}]},
    "rules": [{"name": "accuracy >= 0.9", "verdict": "fail"}]}
LINEAGE = {"created_at": "2026-11-30T10:00:00+0000", "config": {"base": "local"}, "suite": {"name": "s"},
           "score": {"name": "accuracy"}, "stop_reason": "done", "promoted": None,
           "final": {"evaluated": True, "gate_passed": True},
           "iterations": [{"iteration": 0, "model": "local", "score": {"value": 0.41}, "best": True}]}


def _set(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = json.loads(json.dumps(doc))
    *head, last = path.split(".")
    cur = out
    for k in head:
        cur = cur[int(k)] if isinstance(cur, list) else cur[k]
    if isinstance(cur, list):
        cur[int(last)] = value
    else:
        cur[last] = value
    return out


# (file, the document with one field of the wrong type, the field named in the message)
WRONG = [
    ("summary.json", _set(SUMMARY, "metrics", ["accuracy"]), "metrics"),
    ("summary.json", _set(SUMMARY, "suite", "s"), "suite"),
    ("summary.json", _set(SUMMARY, "suite.name", {"x": 1}), "suite.name"),
    ("summary.json", _set(SUMMARY, "model", ["local"]), "model"),
    ("summary.json", _set(SUMMARY, "dataset.split", 3), "dataset.split"),
    ("gate.json", _set(GATE, "comparison.runs", {"a": 1}), "comparison.runs"),
    ("gate.json", _set(GATE, "comparison.runs.0.directory", 7), "comparison.runs[0].directory"),
    ("gate.json", _set(GATE, "rules", ["accuracy"]), "rules[0]"),
    ("lineage.json", _set(LINEAGE, "iterations", [1, 2]), "iterations[0]"),
    ("lineage.json", _set(LINEAGE, "score", "accuracy"), "score"),
    ("lineage.json", _set(LINEAGE, "final", [True]), "final"),
]


def _put(folder: Path, name: str, doc: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(doc))
    if name == "summary.json":
        (folder / "results.jsonl").write_text("")
    return folder / name


def _good(root: Path) -> None:
    _put(root / "runs" / "good", "summary.json", SUMMARY)
    _put(root / "gates" / "good", "gate.json", GATE)
    _put(root / "loops" / "good", "lineage.json", LINEAGE)


@pytest.mark.parametrize("name, doc, field", WRONG, ids=[f"{n}:{f}" for n, _, f in WRONG])
def test_wrong_typed_fields_are_listed_and_the_page_is_written(tmp_path: Path, name: str, doc: Any, field: str,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "reports"
    _good(root)
    bad = _put(root / "bad", name, doc)
    assert main(["report", "--index", str(root)]) == 0
    cap = capsys.readouterr()
    assert "Traceback" not in cap.err
    skipped = [line for line in cap.err.splitlines() if line.startswith("skipped: ")]
    assert skipped == [f"skipped: {bad}: {field}: " + skipped[0].split(f"{field}: ", 1)[-1]], cap.err
    assert "expected" in skipped[0]
    idx = scan(root)
    assert (len(idx.runs), len(idx.gates), len(idx.loops)) == (1, 1, 1)  # the good ones still listed
    page = (root / "index.html").read_text()
    assert str(bad) in page and "1 runs, 1 gate decisions, 1 iterate loops" in page


def _scan_in_thread(root: Path, unblock: list[Path]) -> Any:
    got: list[Any] = []
    t = threading.Thread(target=lambda: got.append(scan(root)), daemon=True)
    t.start()
    t.join(10)
    if t.is_alive():  # it is waiting for a writer: give it one, so the test ends, and fail
        for fifo in unblock:
            with open(fifo, "w"):
                pass
        t.join(5)
        pytest.fail("scan waited on a FIFO")
    return got[0]


@pytest.mark.parametrize("name", ["summary.json", "gate.json", "lineage.json"])
def test_a_fifo_is_refused_not_waited_on(tmp_path: Path, name: str) -> None:
    root = tmp_path / "reports"
    _good(root)
    (root / "fifo").mkdir()
    fifo = root / "fifo" / name
    os.mkfifo(fifo)
    (root / "fifo" / "results.jsonl").write_text("")
    idx = _scan_in_thread(root, [fifo])
    assert idx.unreadable == [f"{fifo}: not a regular file (a FIFO, device or socket); not read"]
    assert (len(idx.runs), len(idx.gates), len(idx.loops)) == (1, 1, 1)


def test_a_failed_write_keeps_the_previous_index(tmp_path: Path) -> None:
    root = tmp_path / "reports"
    _good(root)
    old = "<html>the previous index, whole</html>\n" * 50
    (root / "index.html").write_text(old)
    # The file-size limit stands in for a full disk: every write past 1 kB fails (EFBIG), as ENOSPC would.
    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))

    proc = subprocess.run([sys.executable, "-m", "harness.cli", "report", "--index", str(root)], capture_output=True, text=True,
                          preexec_fn=limit, timeout=60, cwd=tmp_path,
                          # git (code_revision) under the size limit must not touch this repository's index
                          env={**os.environ, "PYTHONPATH": str(ROOT), "GIT_DIR": str(tmp_path / "no-git"), "GIT_OPTIONAL_LOCKS": "0"})
    assert proc.returncode == 4, proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert (root / "index.html").read_text() == old
    assert sorted(p.name for p in root.iterdir()) == ["gates", "index.html", "loops", "runs"]  # no temp file left
