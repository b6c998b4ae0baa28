"""Reporters are registered like metrics: a format defined here is written by `harness gate --format`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cli import main
from harness.gating import decide_gates
from harness.records import GateDecision
from harness.report.registry import REPORTERS, ReportInput
from harness.suite.load import load_suite
from tests.records.records_helpers import SUITE, copy_runs


def tsv(inp: ReportInput) -> dict[str, str]:
    """One line per rule: verdict, name; the comparison's scores after."""
    assert inp.decision is not None
    lines = [f"{r.verdict}\t{r.name}" for r in inp.decision.rules]
    lines += [f"{name}\t{sc.runs[1].mean}" for name, sc in inp.comparison.scores.items()]
    return {"rules.tsv": "\n".join(lines) + "\n"}


@pytest.fixture(autouse=True)
def _registered_reporter() -> Iterator[None]:
    """The tsv-test format exists for this module's tests only."""
    with REPORTERS.temporarily("tsv-test", tsv):
        yield


def test_a_reporter_defined_in_a_test_module_is_used_by_gate_format(tmp_path: Path, capsys) -> None:
    base, cand = copy_runs(tmp_path)
    out = tmp_path / "gate"
    code = main(["gate", str(SUITE), "--baseline", str(base), "--candidate", str(cand), "--out", str(out),
                 "--format", "tsv-test", "--format", "text"])
    assert code == 0, capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["gate.json", "rules.tsv", "summary.txt"]  # only what was asked
    lines = (out / "rules.tsv").read_text().splitlines()
    assert lines[0] == "pass\taccuracy candidate mean >= 0.5" and "accuracy\t1.0" in lines
    assert "PROMOTE" in (out / "summary.txt").read_text() and "PROMOTE" in capsys.readouterr().out


def test_an_unknown_format_is_exit_2_before_any_work(tmp_path: Path, capsys) -> None:
    base, cand = copy_runs(tmp_path)
    code = main(["gate", str(SUITE), "--baseline", str(base), "--candidate", str(cand), "--out", str(tmp_path / "g"),
                 "--format", "tsv-tset"])
    captured = capsys.readouterr()
    assert code == 2 and "unknown reporter 'tsv-tset'" in captured.err and "tsv-test" in captured.err
    assert captured.out == "" and not (tmp_path / "g").exists()


def test_the_built_in_formats_are_registered_lazily() -> None:
    assert {"text", "json", "markdown", "junit", "html", "csv"} <= set(REPORTERS.names())


def test_deciding_is_pure_and_gives_the_record_gate_json_holds(tmp_path: Path, monkeypatch) -> None:
    from harness.compare import compare_runs

    base, cand = copy_runs(tmp_path)
    comp = compare_runs([base, cand], labels=["baseline", "candidate"])
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    decision = decide_gates(load_suite(SUITE).suite.gates, comp, str(SUITE))
    assert list(work.iterdir()) == []  # deciding wrote nothing
    assert isinstance(decision, GateDecision) and decision.passed and decision.exit_code == 0
    again = GateDecision.model_validate_json(decision.to_json())
    assert again == decision


def test_a_temporary_registration_ends_with_its_block() -> None:
    from harness.core.registry import Registry

    reg: Registry[str] = Registry("thing")
    reg.register("kept")("first")
    with reg.temporarily("kept", "second"), reg.temporarily("new", "x"):
        assert (reg.get("kept"), reg.get("new")) == ("second", "x")
    assert reg.names() == ["kept"] and reg.get("kept") == "first"
