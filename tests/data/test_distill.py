"""`harness data prepare --from-recording`: recorded answers become chat training data, through the
same cleaning, dedup and contamination checks as any training file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from tests.conftest import write_jsonl

pytestmark = pytest.mark.timeout(120)

POOL = [
    {"id": "p1", "text": "my parcel has not arrived yet"},
    {"id": "p2", "text": "please cancel the order I placed"},
    {"id": "p3", "text": "please cancel the order I placed"},  # an exact duplicate input: dropped by dedup
    {"id": "p4", "text": "refund me for the broken tent"},
    {"id": "p5", "text": "the teacher failed on this one"},
]
TEACHER = [{"id": "p1", "output": "order_status"}, {"id": "p2", "output": "cancel_order"},
           {"id": "p3", "output": "cancel_order"}, {"id": "p4", "output": "refund_request"},
           {"id": "p5", "error": "HTTP 500"}]


def _record_pool(tiny_suite: Path, pool: list[dict]) -> Path:
    folder = tiny_suite.parent
    inputs = write_jsonl(folder / "pool.jsonl", pool)
    teacher = write_jsonl(folder / "teacher.jsonl", TEACHER + [{"id": "p6", "output": "order_status"}])
    code = main(["record", str(tiny_suite), "--inputs", str(inputs), "--id-field", "id", "--model", f"scripted:{teacher}",
                 "--out", str(folder / "rec"), "--cache", str(folder / "c.sqlite"), "--no-progress"])
    assert code == 3  # p5 failed: recorded without an answer
    return folder / "rec"


def test_recorded_answers_become_chat_training_data(tiny_suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rec = _record_pool(tiny_suite, POOL)
    out = tiny_suite.parent / "prepared"
    code = main(["data", "prepare", "--from-recording", str(rec), "--out", str(out), "--suite", str(tiny_suite),
                 "--category-from-output", "--tokenizer", "estimate", "--validation-fraction", "0"])
    assert code == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "distilled 4 recorded answers of scripted:" in printed and "1 inputs without an answer left out" in printed
    distilled = [json.loads(x) for x in (out / "distilled.jsonl").read_text().splitlines()]
    assert distilled[0] == {"id": "p1", "category": "order_status", "messages": [
        {"role": "user", "content": "Classify: my parcel has not arrived yet"}, {"role": "assistant", "content": "order_status"}]}
    train = [json.loads(x) for x in (out / "train.jsonl").read_text().splitlines()]
    assert sorted(r["id"] for r in train) == ["p1", "p2", "p4"]  # p3 a duplicate, p5 never answered
    assert {r["id"]: r["messages"][-1]["content"] for r in train}["p4"] == "refund_request"
    report = json.loads((out / "prepare_report.json").read_text())
    assert report["counts"]["exact_duplicates"] == 1 and report["from_recording"]["n_skipped"] == 1
    assert report["from_recording"]["skipped_no_output"] == ["p5"] and report["from_recording"]["teacher"].startswith("scripted:")


def test_recorded_test_inputs_are_refused_as_contamination(tiny_suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pool = POOL + [{"id": "p6", "text": "where is my parcel"}]  # word for word the suite's test example e1
    rec = _record_pool(tiny_suite, pool)
    out = tiny_suite.parent / "prepared"
    capsys.readouterr()
    code = main(["data", "prepare", "--from-recording", str(rec), "--out", str(out), "--suite", str(tiny_suite),
                 "--tokenizer", "estimate"])
    assert code == 2 and "e1" in capsys.readouterr().err and not (out / "train.jsonl").exists()


def test_from_recording_bad_input(tiny_suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tiny_suite.parent / "prepared"
    assert main(["data", "prepare", "--from-recording", str(tiny_suite.parent), "--out", str(out)]) == 2
    assert "not a recording (no recording.json)" in capsys.readouterr().err
    assert main(["data", "prepare", "--out", str(out)]) == 2
    assert "give INPUT or --from-recording DIR" in capsys.readouterr().err


def test_with_split_adds_the_labelled_set_and_the_label_wins(tiny_suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Production traffic answered by the teacher plus the suite's labelled split: where both have a
    prompt, the ground truth is the target (and a teacher that disagreed is counted)."""
    folder = tiny_suite.parent
    labelled = [{"id": "t1", "text": "my parcel has not arrived yet", "intent": "delivery"},  # p1's text: teacher said order_status
                {"id": "t2", "text": "refund me for the broken tent", "intent": "refund_request"},  # p4's: teacher agreed
                {"id": "t3", "text": "change my delivery address", "intent": "change_address"}]
    write_jsonl(folder / "train.jsonl", labelled)
    tiny_suite.write_text(tiny_suite.read_text().replace("splits: {test: test.jsonl}", "splits: {test: test.jsonl, train: train.jsonl}"))
    rec = _record_pool(tiny_suite, POOL)
    out = folder / "prepared"
    code = main(["data", "prepare", "--from-recording", str(rec), "--with-split", "train", "--out", str(out),
                 "--suite", str(tiny_suite), "--category-from-output", "--tokenizer", "estimate", "--validation-fraction", "0"])
    assert code == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "distilled 2 recorded answers of scripted:" in printed and "plus 3 labelled examples of train" in printed
    assert "2 recorded inputs had a label, which won; the teacher disagreed with it on 1" in printed
    train = {r["id"]: r["messages"][-1]["content"] for r in map(json.loads, (out / "train.jsonl").read_text().splitlines())}
    assert train == {"train:t1": "delivery", "train:t2": "refund_request", "train:t3": "change_address", "p2": "cancel_order"}
    mixed = json.loads((out / "prepare_report.json").read_text())["from_recording"]["with_split"]
    assert mixed == {"suite": str(tiny_suite), "split": "train", "labelled": 3, "teacher_only": 2, "overlap": 2,
                     "teacher_disagreed_with_label": 1}
    # without a suite, or a split the suite lacks: one line, exit 2
    assert main(["data", "prepare", "--from-recording", str(rec), "--with-split", "train", "--out", str(out)]) == 2
    assert "name the suite whose split it is with --suite SUITE" in capsys.readouterr().err
    assert main(["data", "prepare", "--from-recording", str(rec), "--with-split", "dev", "--suite", str(tiny_suite),
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--with-split dev:" in err and "it has: test, train" in err
