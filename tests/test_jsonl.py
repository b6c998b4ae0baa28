"""The one JSONL reader (harness.core.jsonl): every bad line named `path:line: what`, one wording."""

from __future__ import annotations

import pytest

from harness.core.errors import InputProblems, Problem
from harness.core.jsonl import JsonlError, jsonl_lines, read_jsonl


def _write(tmp_path, data: bytes):
    p = tmp_path / "f.jsonl"
    p.write_bytes(data)
    return p


def test_blank_lines_are_skipped_and_numbers_are_file_lines(tmp_path):
    p = _write(tmp_path, b'{"a": 1}\n\n   \n{"a": 2}\r\n\n')
    assert list(read_jsonl(p)) == [(1, {"a": 1}), (4, {"a": 2})]


def test_a_json_string_may_hold_line_separators(tmp_path):
    p = _write(tmp_path, '{"t": "x\u2028y\x85z"}\n'.encode())
    assert list(read_jsonl(p)) == [(1, {"t": "x\u2028y\x85z"})]


def test_bad_json_raises_at_its_line(tmp_path):
    p = _write(tmp_path, b'{"a": 1}\nnot json\n{"a": 3}\n')
    with pytest.raises(JsonlError) as e:
        list(read_jsonl(p))
    assert str(e.value) == f"{p}:2: invalid JSON: Expecting value (column 1)"
    assert isinstance(e.value, InputProblems) and e.value.exit_code == 2
    assert e.value.problems == [Problem(str(p), "", "invalid JSON: Expecting value (column 1)", line=2)]


def test_a_cut_last_line_says_the_file_ends_early(tmp_path):
    p = _write(tmp_path, b'{"a": 1}\n{"a": 2, "b": \n\n')
    with pytest.raises(JsonlError) as e:
        list(read_jsonl(p))
    assert str(e.value) == (f"{p}:2: invalid JSON: Expecting value (column 15)"
                            " (the file ends early: truncated by a full disk or a killed write?)")


def test_non_utf8_names_the_line_and_byte(tmp_path):
    p = _write(tmp_path, b'{"a": 1}\n{"a": "\xff"}\n')
    with pytest.raises(JsonlError) as e:
        list(read_jsonl(p))
    assert str(e.value) == f"{p}:2: not UTF-8 (invalid start byte at byte 7)"


def test_non_object_is_bad_only_where_objects_are_needed(tmp_path):
    p = _write(tmp_path, b'{"a": 1}\n[1, 2]\n"s"\n')
    assert [v for _, v in read_jsonl(p)] == [{"a": 1}, [1, 2], "s"]
    with pytest.raises(JsonlError) as e:
        list(read_jsonl(p, objects=True))
    assert str(e.value) == f"{p}:2: expected a JSON object, got list"


def test_collect_gathers_every_bad_line_in_order_and_keeps_the_good(tmp_path):
    p = _write(tmp_path, b'[1]\n{"a": 1}\n{oops\n\n\xfe\n{"a": 2}\nnull\n')
    problems: list[Problem] = []
    seen = []
    for n, v in read_jsonl(p, objects=True, collect=problems):
        seen.append((n, v))
        problems.append(Problem(str(p), "a", "caller's own check", line=n))  # interleaves by line
    assert seen == [(2, {"a": 1}), (6, {"a": 2})]
    assert [str(x) for x in problems] == [
        f"{p}:1: expected a JSON object, got list",
        f"{p}:2: a: caller's own check",
        f"{p}:3: invalid JSON: Expecting property name enclosed in double quotes (column 2)",
        f"{p}:5: not UTF-8 (invalid start byte at byte 0)",
        f"{p}:6: a: caller's own check",
        f"{p}:7: expected a JSON object, got null",
    ]


def test_data_given_names_the_path_and_lines_report_errors(tmp_path):
    assert list(jsonl_lines("batch b1 result file", data='{"x": 1}\n3\n', objects=True)) == [
        (1, {"x": 1}, None), (2, None, "expected a JSON object, got int")]
    with pytest.raises(JsonlError, match=r"^batch b1 result file:1: invalid JSON: Expecting value \(column 1\)$"):
        list(read_jsonl("batch b1 result file", data=b"?\n{}\n"))
