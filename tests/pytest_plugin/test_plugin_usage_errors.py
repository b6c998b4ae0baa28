"""A bad --harness-baseline (truncated or from another suite) or an unknown --harness-model is the
user's to fix: pytest's usage error (exit 4), said once in one line, no traceback, whatever the
number of gate items."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.pytest_plugin.test_pytest_plugin import _plugin_args, _run, _setup

pytest_plugins = ["pytester"]


def _assert_usage_error(res, needle: str) -> None:
    text = "\n".join(res.outlines + res.errlines)
    assert res.ret == pytest.ExitCode.USAGE_ERROR, text
    assert "Traceback" not in text and "raise " not in text, text
    hits = [x for x in text.splitlines() if needle in x]
    assert len(hits) == 1, text
    assert len(text.splitlines()) < 15, text


def _good_run(pytester) -> str:
    res = _run(pytester, "--harness-model", "scripted:good.jsonl")
    assert res.ret == 0
    [d] = (pytester.path / "reports" / "runs").iterdir()
    return str(d)


def test_truncated_baseline(pytester) -> None:
    _setup(pytester)
    d = _good_run(pytester)
    base = pytester.path / "base-run"
    shutil.copytree(d, base)
    text = (base / "summary.json").read_text()
    (base / "summary.json").write_text(text[: len(text) // 2])
    _assert_usage_error(_run(pytester, "--harness-model", "scripted:good.jsonl", "--harness-baseline", str(base)),
                        "summary.json")


def test_foreign_baseline(pytester) -> None:
    _setup(pytester)
    d = _good_run(pytester)
    base = pytester.path / "base-run"
    shutil.copytree(d, base)
    s = json.loads((base / "summary.json").read_text())
    s["suite"]["sha256"] = "0" * 64
    s["suite"]["name"] = "another-suite"
    (base / "summary.json").write_text(json.dumps(s))
    _assert_usage_error(_run(pytester, "--harness-model", "scripted:good.jsonl", "--harness-baseline", str(base)),
                        "different suite")


def test_unknown_model(pytester) -> None:
    _setup(pytester)
    _assert_usage_error(_run(pytester, "--harness-model", "nosuchprovider:x"), "nosuchprovider")
