"""Every numeric option's range (harness.core.options) is checked when the command line is parsed,
in the CLI and the pytest plugin alike: one line naming the option and its range, exit 2 (pytest:
its usage error), and nothing run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main

pytest_plugins = ["pytester"]


def _usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert len(err) == 1, err
    return err[0]


@pytest.mark.parametrize(("cmd", "option", "value", "range_"), [
    ("run", "--limit", "0", "from 1 to"),
    ("run", "--limit", "-1", "from 1 to"),
    ("run", "--repeats", "100000000", "from 1 to 100,"),
    ("run", "--repeats", "0", "from 1 to 100,"),
    ("run", "--max-cost", "inf", "finite US dollar amount from 0"),
    ("run", "--max-cost", "nan", "finite US dollar amount from 0"),
    ("run", "--max-cost", "-1", "finite US dollar amount from 0"),
    ("run", "--max-connection-errors", "-1", "from 0 to"),
    ("record", "--limit", "0", "from 1 to"),
    ("record", "--limit", "-1", "from 1 to"),
    ("data validate", "--epochs", "-5", "from 1 to 1,000"),
    ("data validate", "--price-per-1k", "-1", "finite US dollar amount from 0"),
])
def test_out_of_range_is_one_line_naming_option_and_range(cmd: str, option: str, value: str, range_: str,
                                                          tiny_suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = cmd.split() + [str(tiny_suite)] + ([] if cmd.startswith("data") else ["--model", "scripted:x"])
    line = _usage_error([*argv, option, value], capsys)
    assert f"argument {option}: expected" in line and range_ in line and repr(value) in line, line


def test_minus_zero_dollars_reads_as_zero(tiny_suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tiny_suite.parent / "out.jsonl"
    out.write_text("".join(json.dumps({"id": f"e{i}", "output": "order_status"}) + "\n" for i in range(1, 5)))
    assert main(["run", str(tiny_suite), "--model", f"scripted:{out}", "--dry-run", "--max-cost", "-0"]) == 0
    printed = capsys.readouterr().out
    assert "cost cap:            $0.0000" in printed and "-0.0" not in printed


def test_data_validate_in_range_still_works(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "chat.jsonl"
    f.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}) + "\n")
    assert main(["data", "validate", str(f), "--epochs", "2", "--price-per-1k", "0"]) == 0
    assert "training tokens for 2 epoch(s): " in capsys.readouterr().out


SUITE = """
name: tiny
version: 1
dataset:
  path: data
  splits: {test: test.jsonl}
  fields: {id: id, input: text, reference: label}
prompt:
  messages:
    - {role: user, content: "{{ text }}"}
metrics:
  - name: exact_match
"""


@pytest.mark.parametrize("value", ["0", "-1", "many"])
def test_pytest_harness_limit_is_checked_as_the_cli_limit(value: str, pytester: pytest.Pytester) -> None:
    from tests.pytest_plugin.test_pytest_plugin import _plugin_args

    (pytester.path / "data").mkdir()
    (pytester.path / "data" / "test.jsonl").write_text("".join(json.dumps({"id": f"e{i}", "text": "t", "label": "a"}) + "\n"
                                                               for i in range(3)))
    (pytester.path / "suite.yaml").write_text(SUITE)
    (pytester.path / "out.jsonl").write_text("".join(json.dumps({"id": f"e{i}", "output": "a"}) + "\n" for i in range(3)))
    res = pytester.runpytest_subprocess(*_plugin_args(), "-p", "no:cacheprovider", "--harness-suite", "suite.yaml",
                                        "--harness-model", "scripted:out.jsonl", "--harness-reports", "reports",
                                        "--harness-limit", value)
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    err = [x for x in res.stderr.lines if x.strip()]
    assert len(err) == 1 and "--harness-limit: expected a whole number from 1 to" in err[0], err
    assert not (pytester.path / "reports" / "runs").exists()  # nothing was run


# issue 20, rule (e): the rest of the numeric options (train and iterate have their own tests)
@pytest.mark.parametrize(("argv", "option", "value", "range_"), [
    (["run", "SUITE", "--model", "scripted:x"], "--concurrency", "0", "a whole number from 1 to 1,024"),
    (["run", "SUITE", "--model", "scripted:x"], "--concurrency", "100000", "a whole number from 1 to 1,024"),
    (["run", "SUITE", "--model", "scripted:x"], "--concurrency", "many", "from 1 to 1,024"),
    (["record", "SUITE", "--model", "scripted:x"], "--concurrency", "0", "from 1 to 1,024"),
    (["record", "--inputs", "SUITE", "--model", "scripted:x"], "--max-tokens", "0", "a whole number from 1 to 32,768"),
    (["record", "--inputs", "SUITE", "--model", "scripted:x"], "--temperature", "-0.5", "finite amount from 0 to 2"),
    (["record", "--inputs", "SUITE", "--model", "scripted:x"], "--temperature", "nan", "finite amount from 0 to 2"),
    (["judge", "calibrate", "SUITE", "--labels", "x.jsonl"], "--resamples", "0", "a whole number from 10 to 1,000,000"),
    (["judge", "calibrate", "SUITE", "--labels", "x.jsonl"], "--resamples", "10000000000", "from 10 to 1,000,000"),
    (["data", "validate", "SUITE"], "--max-tokens", "0", "a whole number from 1 to 10,000,000"),
    (["data", "prepare", "SUITE", "--out", "o"], "--max-tokens", "-1", "a whole number from 1 to 10,000,000"),
    (["data", "prepare", "SUITE", "--out", "o"], "--validation-fraction", "1", "a number from 0 and under 1"),
    (["data", "prepare", "SUITE", "--out", "o"], "--validation-fraction", "-0.1", "a number from 0 and under 1"),
    (["data", "prepare", "SUITE", "--out", "o"], "--seed", "-1", "a whole number from 0 to 4,294,967,295"),
    (["data", "prepare", "SUITE", "--out", "o"], "--near-dup-threshold", "0", "a number over 0 to 1"),
    (["data", "prepare", "SUITE", "--out", "o"], "--near-dup-threshold", "1.5", "a number over 0 to 1"),
    (["data", "prepare", "SUITE", "--out", "o"], "--shingle-size", "0", "a whole number from 1 to 100"),
    (["data", "prepare", "SUITE", "--out", "o"], "--ngram", "1000", "a whole number from 1 to 100"),
    (["data", "prepare", "SUITE", "--out", "o"], "--overlap-threshold", "inf", "a number over 0 to 1"),
])
def test_every_numeric_option_is_ranged(argv: list[str], option: str, value: str, range_: str, tiny_suite: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    argv = [str(tiny_suite) if a == "SUITE" else a for a in argv]
    line = _usage_error([*argv, option, value], capsys)
    assert f"argument {option}: expected" in line and range_ in line and repr(value) in line, line


@pytest.mark.parametrize(("argv", "option", "range_"), [
    (["run"], "--concurrency", "from 1 to 1,024"),
    (["record"], "--temperature", "from 0 to 2"),
    (["judge", "calibrate"], "--resamples", "from 10 to"),
    (["data", "prepare"], "--overlap-threshold", "over 0 to 1"),
    (["data", "prepare"], "--validation-fraction", "from 0 and under 1"),
])
def test_the_range_is_stated_in_help(argv: list[str], option: str, range_: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([*argv, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert option in text and range_ in text


def test_in_range_numbers_still_parse() -> None:
    from harness.core.options import SHARE, THRESHOLD, TEMPERATURE

    assert (SHARE("0"), THRESHOLD("1"), TEMPERATURE("-0"), THRESHOLD(" 0.25 ")) == (0.0, 1.0, 0.0, 0.25)
