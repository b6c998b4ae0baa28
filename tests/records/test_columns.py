"""Runs read as columns (harness.records.columns): the Arrow path, its Parquet copy, the per-row fallback,
and the same rows and errors whichever path a file takes."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from harness.core.errors import HarnessError
from harness.records.columns import PARQUET, PARQUET_MIN_ROWS
from harness.records.run import read_run
from tests.records.records_helpers import FIXTURES


def big_run(tmp: Path, n: int = PARQUET_MIN_ROWS + 10, edit=None) -> Path:
    """The fixture run with its rows repeated to ``n`` (fresh ids); ``edit(i, row)`` changes a row."""
    d = tmp / "run"
    shutil.copytree(FIXTURES / "cand", d)
    rows = [json.loads(x) for x in (d / "results.jsonl").read_text().splitlines()]
    out = []
    for i in range(n):
        row = dict(rows[i % len(rows)], id=f"x{i}")
        out.append(edit(i, row) if edit else row)
    (d / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in out))
    s = json.loads((d / "summary.json").read_text())
    s["counts"]["examples"] = n
    (d / "summary.json").write_text(json.dumps(s))
    return d


def test_a_big_run_leaves_a_parquet_copy_that_reads_back_the_same(tmp_path: Path) -> None:
    d = big_run(tmp_path)
    first = read_run(d)
    assert (d / PARQUET).exists()
    again = read_run(d)
    assert again.rows() == first.rows()
    assert first.rows()[0] == json.loads((d / "results.jsonl").read_text().splitlines()[0]) | {"id": "x0"}
    assert np.array_equal(again.frame["scores.accuracy"].to_numpy(), first.frame["scores.accuracy"].to_numpy(), equal_nan=True)


def test_a_stale_parquet_copy_is_not_used(tmp_path: Path) -> None:
    d = big_run(tmp_path)
    read_run(d)
    lines = (d / "results.jsonl").read_text().splitlines(True)
    lines[0] = lines[0].replace('"output": "order_status"', '"output": "changed"')
    (d / "results.jsonl").write_text("".join(lines))
    os.utime(d / "results.jsonl", ns=(1, 1))  # even an older mtime: the stamp must match exactly
    assert read_run(d).rows()[0]["output"] == "changed"


def test_mixed_types_take_the_per_row_path_and_read_the_same(tmp_path: Path) -> None:
    d = big_run(tmp_path, edit=lambda i, r: dict(r, input={"text": r["input"]}) if i == 7 else r)
    rec = read_run(d)
    assert not (d / PARQUET).exists()  # Arrow could not type `input`: no copy
    on_disk = [json.loads(x) for x in (d / "results.jsonl").read_text().splitlines()]
    assert isinstance(rec.rows()[7]["input"], dict) and rec.rows()[7] == on_disk[7]
    assert rec.rows()[8] == on_disk[8]


@pytest.mark.parametrize("edit, expected", [
    (lambda i, r: dict(r, cached="maybe") if i == 4321 else r, ["results.jsonl:4322", "field cached"]),
    (lambda i, r: dict(r, scores={**r["scores"], "accuracy": "high"}) if i == 99 else r, ["results.jsonl:100", "scores.accuracy"]),
    (lambda i, r: dict(r, colour="red") if i == 5000 else r, ["results.jsonl:5001", "colour"]),
    (lambda i, r: dict(r, id="x3") if i == 10 else r, ["appears twice", "'x3'"]),
])
def test_a_bad_row_in_a_big_run_is_named_by_line_and_field(tmp_path: Path, edit, expected) -> None:
    d = big_run(tmp_path, edit=edit)
    with pytest.raises(HarnessError) as e:
        read_run(d)
    for part in expected:
        assert part in str(e.value), (part, str(e.value))
