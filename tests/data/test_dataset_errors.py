"""Dataset reading: every bad line is reported with file and line, none dropped silently."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.core.errors import InputProblems
from harness.data.examples import load_split, render_messages
from harness.suite.load import load_suite
from tests.conftest import INTENT_SUITE


def split_problems(suite: Path) -> list[str]:
    loaded = load_suite(suite)
    with pytest.raises(InputProblems) as e:
        load_split(loaded.suite.dataset, loaded.dataset_dir(), "test", loaded.suite.prompt)
    return [str(p) for p in e.value.problems]


def test_bad_jsonl_lines_each_located(tmp_path: Path) -> None:
    data = tmp_path / "test.jsonl"
    data.write_text(
        '{"id": "a", "text": "hi", "intent": "order_status"}\n'
        '{"id": "b", "text": "oops", "intent": \n'          # 2: invalid JSON
        "\n"                                                # 3: blank, allowed
        '["not", "an", "object"]\n'                         # 4
        '{"id": "c", "intent": "cancel_order"}\n'           # 5: text missing
        '{"id": "a", "text": "dup", "intent": "order_status"}\n'  # 6: duplicate id
        '{"id": "d", "text": "ok", "intent": "refund_request"}\n',
        encoding="utf-8",
    )
    suite = tmp_path / "suite.yaml"
    suite.write_text(INTENT_SUITE)
    got = split_problems(suite)
    assert got[0].startswith(f"{data}:2: invalid JSON: ")
    assert got[1:] == [
        f"{data}:4: expected a JSON object, got list",
        (f"{data}:5: missing field 'text' (used in dataset.fields.input, prompt.messages[0].content) in 1 of 4 examples, "
         "first on line 5; that record has: id, intent"),
        f"{data}:6: duplicate id 'a' (first seen on line 1)",
    ]


def test_invalid_utf8_is_located(tmp_path: Path) -> None:
    data = tmp_path / "test.jsonl"
    data.write_bytes(b'{"id": "a", "text": "hi", "intent": "order_status"}\n{"id": "b", "text": "\xff\xfe"}\n')
    suite = tmp_path / "suite.yaml"
    suite.write_text(INTENT_SUITE)
    (p,) = split_problems(suite)
    assert p == f"{data}:2: not UTF-8 (invalid start byte at byte 21)"


def test_csv_ragged_row_located_and_values_read(tmp_path: Path) -> None:
    csv_suite = INTENT_SUITE.replace("format: jsonl", "format: csv").replace("test.jsonl", "test.csv")
    suite = tmp_path / "suite.yaml"
    suite.write_text(csv_suite)
    data = tmp_path / "test.csv"
    data.write_text('id,text,intent\n1,"where, is it",order_status\n2,cancel,cancel_order,extra\n')
    assert split_problems(suite) == [f"{data}:3: expected 3 fields (id, text, intent), saw 4"]
    data.write_text('id,text,intent\n1,"where, is it",order_status\n007,"two\nlines",cancel_order\n')
    loaded = load_suite(suite)
    split = load_split(loaded.suite.dataset, loaded.dataset_dir(), "test", loaded.suite.prompt)
    assert [(e.id, e.input, e.reference, e.line) for e in split.examples] == [
        ("1", "where, is it", "order_status", 2),
        ("007", "two\nlines", "cancel_order", 3),  # ids stay strings: "007" is not 7
    ]


CHAT_SUITE = """\
name: chat
version: 1
dataset:
  format: chat
  splits: {test: test.jsonl}
  fields: {id: id}
prompt:
  from_dataset: true
  system: Be brief.
metrics:
  - name: rouge
"""


def test_chat_format_reference_is_last_assistant(tmp_path: Path) -> None:
    rows = [
        {"id": "x", "messages": [{"role": "system", "content": "old"}, {"role": "user", "content": "hello"},
                                 {"role": "assistant", "content": "hi there"}]},
        {"id": "y", "messages": [{"role": "user", "content": "q"}]},                    # 2: no assistant
        {"id": "z", "messages": [{"role": "bot", "content": "q"}, {"role": "assistant", "content": 3}]},  # 3
        {"id": "w", "messages": []},                                                   # 4
    ]
    (tmp_path / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    suite = tmp_path / "suite.yaml"
    suite.write_text(CHAT_SUITE)
    data = tmp_path / "test.jsonl"
    assert split_problems(suite) == [
        f"{data}:2: no assistant message: the last assistant message is the reference",
        f"{data}:3: messages[0].role: got 'bot'; expected one of system, user, assistant, tool",
        f"{data}:3: messages[1].content: expected a string",
        f"{data}:4: `messages` must be a non-empty list of {{role, content}} objects",
    ]
    (tmp_path / "test.jsonl").write_text(json.dumps(rows[0]) + "\n")
    loaded = load_suite(suite)
    (ex,) = load_split(loaded.suite.dataset, loaded.dataset_dir(), "test", loaded.suite.prompt).examples
    assert ex.reference == "hi there" and ex.input == "hello"
    assert render_messages(loaded.suite.prompt, ex) == [("system", "Be brief."), ("user", "hello")]


def test_dataset_hash_changes_with_content(tmp_path: Path, tiny_suite: Path) -> None:
    loaded = load_suite(tiny_suite)
    a = load_split(loaded.suite.dataset, loaded.dataset_dir(), "test").sha256
    p = tmp_path / "test.jsonl"
    p.write_text(p.read_text().replace("parcel", "package"))
    b = load_split(loaded.suite.dataset, loaded.dataset_dir(), "test").sha256
    assert a != b and len(a) == 64


def test_ids_without_id_column_are_stable_content_hashes(tmp_path: Path, tiny_suite: Path) -> None:
    tiny_suite.write_text(INTENT_SUITE.replace("fields: {id: id, ", "fields: {"))
    loaded = load_suite(tiny_suite)
    ids = [e.id for e in load_split(loaded.suite.dataset, loaded.dataset_dir(), "test").examples]
    p = tmp_path / "test.jsonl"
    lines = p.read_text().splitlines()
    p.write_text("\n".join(reversed(lines)) + "\n")  # reordering keeps each example's id
    again = [e.id for e in load_split(loaded.suite.dataset, loaded.dataset_dir(), "test").examples]
    assert sorted(ids) == sorted(again) and ids != again


def test_cli_validate_reports_bad_dataset_line_exit_2(tmp_path: Path, tiny_suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "test.jsonl"
    p.write_text(p.read_text() + '{"id": "e9", "text": "x"}\n')
    assert main(["validate", str(tiny_suite)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        (f"{p}:5: missing field 'intent' (used in dataset.fields.reference, dataset.fields.category) in 1 of 5 examples, "
         "first on line 5; that record has: id, text"),
        "1 problem found",
    ]
