"""Run records: typed, versioned, validated on read; directories written by harness 0.1.0 still load."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from pydantic import ValidationError

from harness.cli import main
from harness.core.errors import HarnessError
from harness.promote.gate import gate_runs
from harness.records import (
    FORMAT_VERSION,
    GateDecision,
    RunRecord,
    read_record,
    read_run,
)
from harness.records.run import MetricEntry
from tests.records.records_helpers import FIXTURES, SUITE, copy_runs


def test_a_run_directory_written_by_the_current_release_still_loads() -> None:
    rec = read_run(FIXTURES / "cand")
    assert isinstance(rec, RunRecord) and rec.summary.format_version == 0  # no version field: 0.1.0
    assert rec.summary.suite.name == "tiny-intent" and rec.summary.counts.errors == 1
    assert rec.summary.metrics["accuracy"].mean == 1.0 and rec.summary.metrics["accuracy"].n == 4
    failed = [r for r in rec.results if r.error]
    assert [r.id for r in failed] == ["e4"] and failed[0].scores["accuracy"] is None
    base = read_run(FIXTURES / "base")
    rows = base.rows()
    assert base.summary.metrics["exact_match"].mean == 0.6 and len(rows) == 5 and rows[1]["output"] == "Cancel order."


def test_a_metric_entry_refuses_an_unknown_field_and_writes_an_added_one_only_where_set() -> None:
    core = {"metric": "judge_rubric", "name": "helpful", "direction": "higher", "range": [1.0, 5.0], "level": "example",
            "binary": False, "description": "", "mean": 4.0, "ci_low": 3.5, "ci_high": 4.5, "n": 3, "ci_method": "t",
            "n_failed": 0, "failure_reasons": {}}
    with pytest.raises(ValidationError, match="calibraton"):
        MetricEntry.model_validate({**core, "calibraton": None})
    assert json.dumps(MetricEntry.model_validate(core).to_dict()) == json.dumps(core)  # nothing added: as before
    judged = {**core, "advisory_reason": "uncalibrated", "judge": {"model": "m"}, "calibration": None, "min_kappa": 0.6,
              "flaky_share": 0.5, "n_flaky": 1}
    assert json.dumps(MetricEntry.model_validate(judged).to_dict()) == json.dumps(judged)  # same keys, same order


def test_an_old_gate_json_loads_and_gating_the_old_runs_decides_the_same(tmp_path: Path) -> None:
    old = read_record(GateDecision, FIXTURES / "gate.json")
    assert old.format_version == 0 and old.passed
    base, cand = copy_runs(tmp_path)
    new = gate_runs(SUITE, base, cand, tmp_path / "gate")
    assert [(r.name, r.verdict, r.figure) for r in new.rules] == [(r.name, r.verdict, r.figure) for r in old.rules]
    written = read_record(GateDecision, tmp_path / "gate" / "gate.json")
    assert written.format_version == FORMAT_VERSION and written.passed == old.passed
    acc_old, acc_new = old.comparison.scores["accuracy"], written.comparison.scores["accuracy"]
    assert acc_new.vs_baseline[0].regressions == acc_old.vs_baseline[0].regressions == ["e4"]


def _edit_summary(run: Path, edit) -> None:
    p = run / "summary.json"
    data = json.loads(p.read_text())
    edit(data)
    p.write_text(json.dumps(data))


@pytest.mark.parametrize("damage, expected", [
    (lambda d: (d / "summary.json").write_text((d / "summary.json").read_text()[:700]), ["summary.json", "truncated"]),
    (lambda d: (d / "results.jsonl").unlink(), ["results.jsonl", "missing"]),
    (lambda d: _edit_summary(d, lambda s: s["metrics"]["accuracy"].__setitem__("mean", "high")),
     ["summary.json", "field metrics.accuracy.mean", "'high'"]),
    (lambda d: _edit_summary(d, lambda s: s["counts"].pop("errors")), ["summary.json", "field counts.errors", "required"]),
    (lambda d: _edit_summary(d, lambda s: s.__setitem__("format_version", 99)), ["summary.json", "newer harness"]),
    (lambda d: (d / "results.jsonl").write_text((d / "results.jsonl").read_text().replace('"cached": false', '"cached": "maybe"', 1)),
     ["results.jsonl:1", "field cached"]),
    (lambda d: (d / "results.jsonl").write_text("".join((d / "results.jsonl").read_text().splitlines(True)[:3])),
     ["results.jsonl", "3 example rows", "counts 5"]),
])
def test_a_damaged_run_is_one_line_naming_file_and_field_exit_2(tmp_path: Path, damage, expected, capsys) -> None:
    base, cand = copy_runs(tmp_path)
    damage(cand)
    with pytest.raises(HarnessError):
        read_run(cand)
    assert main(["compare", str(base), str(cand), "--out", str(tmp_path / "cmp")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    for part in expected:
        assert part in err, (part, err)
    assert not (tmp_path / "cmp").exists()


def test_a_cut_results_file_names_its_last_line_and_says_it_ends_early(tmp_path: Path, capsys) -> None:
    base, cand = copy_runs(tmp_path)
    (cand / "results.jsonl").write_text((cand / "results.jsonl").read_text()[:-30])
    assert main(["compare", str(base), str(cand), "--out", str(tmp_path / "cmp")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith(f"{cand / 'results.jsonl'}:5: invalid JSON: "), err
    assert err[0].endswith(" (the file ends early: truncated by a full disk or a killed write?)"), err
    assert err[1:] == ["1 problem found"] and not (tmp_path / "cmp").exists()


def test_a_summary_the_os_cannot_read_is_exit_4(tmp_path: Path, capsys) -> None:
    base, cand = copy_runs(tmp_path)
    (cand / "summary.json").unlink()
    (cand / "summary.json").mkdir()  # EISDIR on read
    assert main(["compare", str(base), str(cand)]) == 4
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "summary.json" in err and "EISDIR" in err


def test_a_new_run_is_versioned_and_nan_is_null_on_disk(tmp_path: Path) -> None:
    from harness.records.run import RunSummary

    data = json.loads((FIXTURES / "base" / "summary.json").read_text())
    data["metrics"]["bleu"]["ci_low"] = float("nan")
    s = RunSummary.model_validate(data)
    assert s.metrics["bleu"].ci_low is None
    text = s.to_json()
    assert "NaN" not in text and json.loads(text)["metrics"]["bleu"]["ci_low"] is None


def test_the_runner_writes_format_version_and_reads_back(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert main(["run", str(SUITE), "--model", f"scripted:{FIXTURES / 'cand.jsonl'}", "--reports", str(tmp_path / "r"),
                 "--out", str(out), "--no-progress"]) == 3  # e4 fails in the script: exit 3
    rec = read_run(out)
    assert rec.summary.format_version == FORMAT_VERSION
    old = read_run(FIXTURES / "cand")
    for name, e in old.summary.metrics.items():  # the same numbers as 0.1.0 wrote for the same run
        assert math.isclose(rec.summary.metrics[name].mean, e.mean) and rec.summary.metrics[name].n == e.n
    assert sorted(p.name for p in out.iterdir()) == [".harness.lock", "results.csv", "results.jsonl", "summary.csv",
                                                    "summary.json"]


def test_every_row_the_writer_builds_validates_as_an_example_row() -> None:
    """results.jsonl rows are built as plain dicts (no pydantic pass a row): they must still be
    exactly what ExampleRow reads, with NaN and failures null and every score a float."""
    from harness.core.settings import GenerationSettings
    from harness.core.types import Example, Failure, Request, Response
    from harness.records.run import ExampleResult, ExampleRow, RepeatResult
    from harness.records.rundir import _json_line, _result_row

    req = Request((("user", "q"),), GenerationSettings(), "a")
    ex = Example(id="a", record={}, line=3, input="q", reference={"x": float("nan")}, category="c")
    resp = Response(text="out", latency_s=0.5, input_tokens=4, output_tokens=2, attempts=1, finish_reason="stop")
    plain = ExampleResult(ex, req, resp, True, {"em": 1, "f1": float("nan"), "judge": Failure("no reply")})
    row = json.loads(_json_line(_result_row(plain)))
    assert "repeats" not in row and "flaky" not in row  # a run without repeats writes the rows it always wrote
    assert row["scores"] == {"em": 1.0, "f1": None, "judge": None} and isinstance(row["scores"]["em"], float)
    assert row["score_errors"] == {"judge": "no reply"} and row["reference"] == {"x": None}
    assert ExampleRow.model_validate(row).model_dump(mode="json", exclude={"repeats", "flakiness", "flaky"}) == row

    reps = [RepeatResult(Request(req.messages, req.settings, "a", repeat=k), resp, False, {"em": float(k)}) for k in (0, 1)]
    repeated = ExampleResult(ex, req, resp, False, {"em": 0.5}, reps, {"em": 0.5})
    row = json.loads(_json_line(_result_row(repeated)))
    assert row["flaky"] is True and [r["scores"]["em"] for r in row["repeats"]] == [0.0, 1.0]
    assert ExampleRow.model_validate(row).model_dump(mode="json") == row
