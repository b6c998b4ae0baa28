"""--harness-sample N [--harness-seed S]: the plugin draws with the same sampler as `harness run --sample`
and records the ids; with --harness-limit it is a usage error naming both."""

from __future__ import annotations

import json

import pytest

from tests.pytest_plugin.test_pytest_plugin import _run, _setup

pytest_plugins = ["pytester"]


def test_harness_sample_draws_and_records(pytester) -> None:
    _setup(pytester)
    res = _run(pytester, "--harness-model", "scripted:good.jsonl", "--harness-sample", "6", "--harness-seed", "1")
    assert res.ret == 0, "\n".join(res.outlines + res.errlines)
    [d] = (pytester.path / "reports" / "runs").iterdir()
    summary = json.loads((d / "summary.json").read_text())
    sample = summary["dataset"]["sample"]
    assert (sample["n"], sample["seed"], sample["strata"], summary["counts"]["examples"]) == (6, 1, None, 6)

    from harness.data.sample import draw

    assert sample["ids"] == draw([f"ex{i}" for i in range(20)], None, 6, seed=1).info.ids


def test_harness_limit_with_sample_is_a_usage_error(pytester) -> None:
    _setup(pytester)
    res = _run(pytester, "--harness-model", "scripted:good.jsonl", "--harness-limit", "5", "--harness-sample", "5")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    assert "--harness-limit 5 and --harness-sample 5 together" in "\n".join(res.outlines + res.errlines)
