"""Every CSV the harness writes neutralises cells a spreadsheet would run as formulas (OWASP): a
dataset string or a model output that begins with = + - @ tab or CR is written with a leading
single quote; numbers, negative ones included, stay numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from harness.cli import main
from tests.conftest import INTENT_SUITE, write_jsonl

DANGEROUS = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+2", "-2+3", "@SUM(1)", "\tstarts with a tab", "\rstarts with CR"]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture
def runs(tmp_path: Path) -> dict[str, Path]:
    rows = [{"id": f"e{i}", "text": t, "intent": "order_status" if i % 2 else "=cmd|' /C calc'!A0"}
            for i, t in enumerate(DANGEROUS)]
    write_jsonl(tmp_path / "test.jsonl", rows)
    suite = tmp_path / "suite.yaml"
    suite.write_text(INTENT_SUITE.replace("  - name: classification\n    labels: [order_status, cancel_order, refund_request]\n", "")
                     .replace("gates:\n  - metric: accuracy\n    min: 0.5\n", ""))
    out = {}
    for name, answer in (("base", lambda r: r["intent"]), ("cand", lambda r: DANGEROUS[int(r["id"][1:])])):
        script = write_jsonl(tmp_path / f"{name}.jsonl", [{"id": r["id"], "output": answer(r)} for r in rows])
        out[name] = tmp_path / "runs" / name
        assert main(["run", str(suite), "--model", f"scripted:{script}", "--reports", str(tmp_path / "r"),
                     "--out", str(out[name]), "--no-progress"]) == 0
    out["compare"] = tmp_path / "cmp"
    assert main(["compare", str(out["base"]), str(out["cand"]), "--out", str(out["compare"])]) == 0
    return out


def cells(path: Path) -> pd.DataFrame:
    return pd.read_csv(path)  # as a spreadsheet user would: empty cells are NaN, numbers are numbers


def test_every_csv_cell_is_neutralised_and_numbers_stay_numbers(runs: dict[str, Path]) -> None:
    csvs = [*runs["base"].glob("*.csv"), *runs["cand"].glob("*.csv"), *runs["compare"].glob("*.csv")]
    assert {p.name for p in csvs} >= {"results.csv", "summary.csv", "comparison_examples.csv", "comparison_summary.csv"}
    for path in csvs:
        frame = cells(path)
        for col in frame.columns:
            assert not str(col).startswith(FORMULA_START), (path, col)
            for v in frame[col]:
                assert not (isinstance(v, str) and v.startswith(FORMULA_START)), (path.name, col, v)

    results = cells(runs["cand"] / "results.csv").set_index("id")
    for i, text in enumerate(DANGEROUS):
        assert results.loc[f"e{i}", "input"] == "'" + text
        assert results.loc[f"e{i}", "output"] == "'" + text
    assert results.loc["e0", "reference"] == "'=cmd|' /C calc'!A0"
    assert results["exact_match"].dtype.kind == "f" and set(results["exact_match"]) == {0.0}

    ex = cells(runs["compare"] / "comparison_examples.csv")
    assert "'=HYPERLINK(\"http://evil.example\",\"x\")" in set(ex["input"])
    per_score = cells(runs["compare"] / "comparison_summary.csv")
    delta = per_score.loc[per_score["run"] != per_score["run"].iloc[0], "delta"]
    assert delta.dtype.kind == "f" and (delta < 0).all()  # a negative number, not the text "'-0.5"


def test_results_jsonl_keeps_the_raw_text(runs: dict[str, Path]) -> None:
    """Only the CSVs (opened by spreadsheets) are neutralised; the JSON record keeps what the model said."""
    rows = [json.loads(line) for line in (runs["cand"] / "results.jsonl").read_text().splitlines()]
    assert [r["output"] for r in sorted(rows, key=lambda r: int(r["id"][1:]))] == DANGEROUS
