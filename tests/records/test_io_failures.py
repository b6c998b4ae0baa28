"""The machine misbehaving: a full disk, read-only folders, a second writer, undecodable files.

Disk-full and read-only cases use a real 64 KiB tmpfs (mounted here: the tests run as root, for
whom chmod 0555 would not stop a write), remounted read-only where a read-only folder is needed.
Exit 4 is an environment failure, 2 bad input; never a traceback, never 1 (a blocked gate).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness.cli import main
from harness.records.files import FolderLock
from tests.records.records_helpers import (
    FIXTURES,
    SUITE,
    copy_runs,
    fill,
    mount_tmpfs,
    remount_read_only,
)

BASE_SCRIPT, CAND_SCRIPT = FIXTURES / "base.jsonl", FIXTURES / "cand.jsonl"


@pytest.fixture
def small_fs(tmp_path: Path):
    yield from mount_tmpfs(tmp_path / "mnt")


def run_cli(tmp_path: Path, script: Path, out: Path, *extra: str) -> int:
    return main(["run", str(SUITE), "--model", f"scripted:{script}", "--reports", str(tmp_path / "reports"),
                 "--cache", str(tmp_path / "cache.sqlite"), "--out", str(out), "--no-progress", *extra])


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def snapshot(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir()) if p.is_file()}


def test_disk_full_on_a_rerun_leaves_the_previous_run_whole(tmp_path: Path, small_fs: Path, capsys) -> None:
    out = small_fs / "run"
    assert run_cli(tmp_path, BASE_SCRIPT, out) == 0
    before = snapshot(out)
    capsys.readouterr()
    fill(small_fs)
    code = run_cli(tmp_path, CAND_SCRIPT, out)  # different outputs: every file would change
    line = one_line(capsys.readouterr().err)
    assert code == 4 and "ENOSPC" in line and str(out) in line
    after = snapshot(out)
    for name in ("summary.json", "results.jsonl", "results.csv", "summary.csv"):
        assert after[name] == before[name], f"{name} was damaged"
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]  # no temporaries left behind
    from harness.records.rundir import load_run

    summary, rows = load_run(out)  # still a consistent run: the baseline's
    assert summary.model.display.endswith("base.jsonl") and len(rows) == summary.counts.examples == 5


def test_a_read_only_out_fails_before_the_first_request(tmp_path: Path, small_fs: Path, capsys) -> None:
    remount_read_only(small_fs)
    code = run_cli(tmp_path, BASE_SCRIPT, small_fs / "run")
    line = one_line(capsys.readouterr().err)
    assert code == 4 and "EROFS" in line and "--out folder" in line
    assert not (tmp_path / "cache.sqlite").exists()  # the cache was never opened: no request was made


def test_a_read_only_reports_folder_fails_before_the_first_request(tmp_path: Path, small_fs: Path, capsys) -> None:
    remount_read_only(small_fs)
    code = main(["run", str(SUITE), "--model", f"scripted:{BASE_SCRIPT}", "--reports", str(small_fs / "reports"),
                 "--cache", str(tmp_path / "cache.sqlite"), "--out", str(tmp_path / "run"), "--no-progress"])
    line = one_line(capsys.readouterr().err)
    assert code == 4 and "reports folder" in line and "EROFS" in line
    assert not (tmp_path / "cache.sqlite").exists()


def test_gate_into_a_read_only_folder_is_exit_4_before_the_decision(tmp_path: Path, small_fs: Path, capsys) -> None:
    base, cand = copy_runs(tmp_path)
    remount_read_only(small_fs)
    code = main(["gate", str(SUITE), "--baseline", str(base), "--candidate", str(cand), "--out", str(small_fs / "gate")])
    captured = capsys.readouterr()
    assert code == 4 and "EROFS" in one_line(captured.err) and captured.out == ""


@pytest.mark.parametrize("flag", ["--junit", "--html", "--markdown"])
def test_a_bad_report_path_fails_before_the_decision_is_printed(tmp_path: Path, small_fs: Path, flag: str, capsys) -> None:
    base, cand = copy_runs(tmp_path)
    remount_read_only(small_fs)
    args = ["gate", str(SUITE), "--baseline", str(base), "--candidate", str(cand), "--out", str(tmp_path / "gate")]
    assert main([*args, flag, str(small_fs / "ci" / "report")]) == 4
    captured = capsys.readouterr()
    assert "EROFS" in one_line(captured.err) and flag in captured.err and captured.out == ""
    (tmp_path / "adir").mkdir()
    assert main([*args, flag, str(tmp_path / "adir")]) == 4  # a folder where a file should go
    captured = capsys.readouterr()
    assert "is a folder" in one_line(captured.err) and captured.out == ""


def test_gate_disk_full_keeps_the_previous_reports(tmp_path: Path, small_fs: Path, capsys) -> None:
    base, cand = copy_runs(tmp_path)
    out = small_fs / "gate"
    args = ["gate", str(SUITE), "--baseline", str(base), "--candidate", str(cand), "--out", str(out),
            "--format", "json", "--format", "markdown", "--format", "junit"]
    assert main(args) == 0
    before = snapshot(out)
    fill(small_fs)
    assert main([*args, "--format", "csv"]) == 4
    assert "ENOSPC" in one_line(capsys.readouterr().err)
    assert snapshot(out) == before


def test_a_second_run_on_the_same_out_is_refused_naming_the_holder(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    out.mkdir()
    held = FolderLock(out)  # another open file description: flock conflicts even within one process
    try:
        code = run_cli(tmp_path, BASE_SCRIPT, out)
        line = one_line(capsys.readouterr().err)
        assert code == 4 and f"pid {os.getpid()}" in line and "another harness run" in line
        assert not (out / "summary.json").exists() and not (tmp_path / "cache.sqlite").exists()
    finally:
        held.release()
    assert run_cli(tmp_path, BASE_SCRIPT, out) == 0  # released: the next run proceeds


def test_a_full_disk_under_the_response_cache_is_exit_4(tmp_path: Path, small_fs: Path, capsys) -> None:
    fill(small_fs)
    code = main(["run", str(SUITE), "--model", f"scripted:{BASE_SCRIPT}", "--reports", str(tmp_path / "reports"),
                 "--cache", str(small_fs / "cache.sqlite"), "--out", str(tmp_path / "run"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 4, err
    one_line(err)


CSV_SUITE = """\
name: csv-suite
version: 1
dataset:
  format: csv
  splits: {test: test.csv}
  fields: {id: id, input: text, reference: label}
prompt:
  messages:
    - role: user
      content: "{{ text }}"
metrics:
  - name: exact_match
"""


def test_a_non_utf8_csv_is_exit_2_with_file_and_line(tmp_path: Path, capsys) -> None:
    (tmp_path / "suite.yaml").write_text(CSV_SUITE)
    (tmp_path / "test.csv").write_bytes(b"id,text,label\na,fine,x\nb,caf\xe9,y\n")
    script = tmp_path / "s.jsonl"
    script.write_text(json.dumps({"id": "a", "output": "x"}) + "\n" + json.dumps({"id": "b", "output": "y"}) + "\n")
    for argv in (["validate", str(tmp_path / "suite.yaml")],
                 ["run", str(tmp_path / "suite.yaml"), "--model", f"scripted:{script}", "--reports", str(tmp_path / "r"),
                  "--no-progress"],
                 ["data", "prepare", str(tmp_path / "test.csv"), "--out", str(tmp_path / "prep")]):
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 2, (argv, err)
        assert f"{tmp_path / 'test.csv'}:3: not UTF-8" in err and "Traceback" not in err, (argv, err)


def test_a_model_yaml_with_a_syntax_error_is_exit_2_with_file_and_line(tmp_path: Path, capsys) -> None:
    model = tmp_path / "model.yaml"
    model.write_text("provider: scripted\nname: [unclosed\n")
    code = main(["run", str(SUITE), "--model", str(model), "--reports", str(tmp_path / "r"), "--no-progress"])
    line = one_line(capsys.readouterr().err)
    assert code == 2 and f"{model}:3: invalid YAML" in line
