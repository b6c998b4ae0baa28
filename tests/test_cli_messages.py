"""The fixed messages of issue 9: --limit, a missing run directory, a different split, another
suite of the same name, and the scripted provider's cache key."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from harness.records.rundir import load_run
from tests.conftest import INTENT_ROWS, INTENT_SUITE, write_jsonl


def run(suite: Path, tmp: Path, name: str, *extra: str, outputs: dict[str, str] | None = None) -> Path:
    script = write_jsonl(tmp / f"{name}.jsonl", [{"id": r["id"], "output": (outputs or {}).get(r["id"], r["intent"])}
                                                 for r in INTENT_ROWS])
    out = tmp / "runs" / name
    assert main(["run", str(suite), "--model", f"scripted:{script}", "--reports", str(tmp / "r"), "--out", str(out),
                 "--no-progress", *extra]) in (0, 3)
    return out


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_limit_takes_positive_integers_only(tiny_suite: Path, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    for cmd in (["run", str(tiny_suite), "--model", "scripted:x"],
                ["gate", str(tiny_suite), "--baseline", "a", "--candidate", "b"]):
        with pytest.raises(SystemExit) as e:
            main([*cmd, "--limit", value])
        assert e.value.code == 2
        assert "argument --limit: expected a whole number from 1 to" in capsys.readouterr().err


def test_limit_one_runs_one_example(tiny_suite: Path, tmp_path: Path) -> None:
    out = run(tiny_suite, tmp_path, "one", "--limit", "1")
    assert len((out / "results.jsonl").read_text().splitlines()) == 1


def test_gate_with_a_missing_run_directory_says_so(tiny_suite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = run(tiny_suite, tmp_path, "base")
    for text in ("runs/nosuch", str(tmp_path / "nosuch"), "./nosuch"):
        assert main(["gate", str(tiny_suite), "--baseline", str(base), "--candidate", text, "--out", str(tmp_path / "g")]) == 2
        assert capsys.readouterr().err.strip() == f"error: --candidate {text}: no such run directory"
    afile = tmp_path / "notes.txt"
    afile.write_text("x")
    assert main(["gate", str(tiny_suite), "--baseline", str(afile), "--candidate", str(base), "--out", str(tmp_path / "g")]) == 2
    assert "--baseline " + str(afile) + ": is not a run directory" in capsys.readouterr().err
    assert main(["gate", str(tiny_suite), "--baseline", str(base), "--candidate", "nosuch", "--out", str(tmp_path / "g")]) == 2
    assert "--candidate nosuch: no such run directory, and not a model spec: " in capsys.readouterr().err


def test_compare_of_different_splits_says_different_split(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_jsonl(tmp_path / "test.jsonl", INTENT_ROWS)
    write_jsonl(tmp_path / "validation.jsonl", INTENT_ROWS[:3])
    suite = tmp_path / "suite.yaml"
    suite.write_text(INTENT_SUITE.replace("splits: {test: test.jsonl}", "splits: {test: test.jsonl, validation: validation.jsonl}"))
    a = run(suite, tmp_path, "a")
    b = run(suite, tmp_path, "b", "--split", "validation")
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "c")]) == 2
    assert "different split (test vs validation)" in capsys.readouterr().err


def test_gate_refuses_runs_of_another_suite_with_the_same_name(tiny_suite: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    base = run(tiny_suite, tmp_path, "base")
    cand = run(tiny_suite, tmp_path, "cand")
    gate = ["gate", str(tiny_suite), "--baseline", str(base), "--candidate", str(cand), "--out", str(tmp_path / "g")]
    assert main(gate) == 0
    # only the gates changed: the same evaluation, judged by other rules
    tiny_suite.write_text(tiny_suite.read_text().replace("min: 0.5", "min: 0.4"))
    assert main(gate) == 0
    # the prompt changed: not the suite these runs were made with
    tiny_suite.write_text(tiny_suite.read_text().replace("Classify: ", "Label: "))
    capsys.readouterr()
    assert main(gate) == 2
    err = capsys.readouterr().err
    assert f"error: {tiny_suite}: not the suite the runs were made with: sha256 " in err
    assert f" in {base}/summary.json (they differ in: prompt)" in err


def test_gate_counts_a_changed_included_file(tiny_suite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    top = tmp_path / "top.yaml"
    top.write_text("include: suite.yaml\n")
    base = run(top, tmp_path, "base")
    gate = ["gate", str(top), "--baseline", str(base), "--candidate", str(base), "--out", str(tmp_path / "g")]
    assert main(gate) == 0
    tiny_suite.write_text(tiny_suite.read_text().replace("max_tokens: 8", "max_tokens: 9"))
    assert main(gate) == 2
    assert "(they differ in: generation)" in capsys.readouterr().err


def test_scripted_cache_key_includes_the_example_id(tmp_path: Path) -> None:
    """Two examples with the same prompt: each keeps its own output on a rerun from the SQLite cache."""
    write_jsonl(tmp_path / "test.jsonl", [{"id": "a", "text": "same", "intent": "order_status"},
                                          {"id": "b", "text": "same", "intent": "cancel_order"}])
    suite = tmp_path / "suite.yaml"
    suite.write_text(INTENT_SUITE)
    script = write_jsonl(tmp_path / "out.jsonl", [{"id": "a", "output": "order_status"}, {"id": "b", "output": "cancel_order"}])
    for attempt in ("first", "rerun"):
        out = tmp_path / attempt
        assert main(["run", str(suite), "--model", f"scripted:{script}", "--reports", str(tmp_path / "r"),
                     "--out", str(out), "--no-progress"]) == 0
        _, rows = load_run(out)
        assert {r["id"]: r["output"] for r in rows} == {"a": "order_status", "b": "cancel_order"}
        assert [r["cached"] for r in rows] == [attempt == "rerun"] * 2
