"""A hand-edited outputs.jsonl (a recording's, or a scripted model's): one located line, exit 2."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from harness.cli import main
from tests.conftest import echo_suite, write_jsonl


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    write_jsonl(tmp_path / "pool.jsonl", [{"id": f"q{i}", "text": f"question {i}"} for i in range(3)])
    write_jsonl(tmp_path / "answers.jsonl", [{"id": f"q{i}", "output": f"answer {i}"} for i in range(3)])
    out = tmp_path / "rec"
    assert main(["record", "--inputs", str(tmp_path / "pool.jsonl"), "--id-field", "id", "--out", str(out),
                 "--cache", str(tmp_path / "c.sqlite"), "--no-progress",
                 "--model", f"scripted:{tmp_path / 'answers.jsonl'}"]) == 0
    return out


def _edit(rec: Path, change) -> None:
    rows = [json.loads(x) for x in (rec / "outputs.jsonl").read_text().splitlines()]
    change(rows[1])
    write_jsonl(rec / "outputs.jsonl", rows)
    head = json.loads((rec / "recording.json").read_text())
    # rehashed, so the reader gets past the hash check to the rows themselves (a careful hand edit)
    head["outputs_sha256"] = hashlib.sha256((rec / "outputs.jsonl").read_bytes()).hexdigest()
    (rec / "recording.json").write_text(json.dumps(head))


@pytest.mark.parametrize("change", [lambda r: r.pop("messages"), lambda r: r.update(output=5),
                                    lambda r: r.update(messages="hi"), lambda r: r.update(id=None)])
def test_data_prepare_from_an_edited_recording_is_one_located_line(recording: Path, change, capsys) -> None:
    _edit(recording, change)
    capsys.readouterr()
    code = main(["data", "prepare", "--from-recording", str(recording), "--out", str(recording.parent / "prep")])
    err = capsys.readouterr().err
    assert code == 2, err
    [line] = err.strip().splitlines()
    assert "outputs.jsonl:2:" in line


@pytest.mark.parametrize("row", [{"id": "c1"}, {"output": "x"}, ["c1", "x"], {"id": "c1", "outputs": "abc"},
                                 {"id": "c1", "outputs": []}, {"id": "c1", "output": "x", "delay_s": "soon"},
                                 {"id": "c1", "output": {"text": "x"}}, 7])
def test_run_with_an_edited_scripted_outputs_file_is_one_located_line(tmp_path: Path, row, capsys) -> None:
    write_jsonl(tmp_path / "cases.jsonl", [{"id": f"c{i}", "question": "q", "answer": "a"} for i in range(2)])
    (tmp_path / "suite.yaml").write_text(echo_suite("s"))
    write_jsonl(tmp_path / "outputs.jsonl", [{"id": "c0", "output": "a"}, row])
    code = main(["run", str(tmp_path / "suite.yaml"), "--model", f"scripted:{tmp_path / 'outputs.jsonl'}",
                 "--cache", str(tmp_path / "c.sqlite"), "--out", str(tmp_path / "run"), "--reports",
                 str(tmp_path / "reports"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2, err
    [line] = err.strip().splitlines()
    assert "outputs.jsonl:2:" in line
