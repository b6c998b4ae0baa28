"""The checkpoint table in HTML: `harness checkpoints`' checkpoints.html and the loop's report (one
table per iteration that ranked checkpoints), each row's step, epoch, losses and validation metric,
the chosen one marked, and why."""

from __future__ import annotations

import re

from harness.records.checkpoints import CheckpointEntry, CheckpointTable
from harness.report.html import render_checkpoints

ENTRIES = [
    CheckpointEntry(name="checkpoint-10", path="/x/checkpoint-10", step=10, epoch=1.0, train_loss=1.25, loss=0.9,
                    metric="contains", value=1.0, why="contains 1 tied with checkpoint-30; validation loss 0.9 vs 0.6"),
    CheckpointEntry(name="checkpoint-20", step=20, epoch=2.0, train_loss=0.5, loss=0.3, metric="contains", value=0.0,
                    why="contains 0 vs 1 for checkpoint-30"),
    CheckpointEntry(name="checkpoint-30", step=30, epoch=3.0, train_loss=0.25, loss=0.6, metric="contains", value=1.0,
                    chosen=True, why="tied on highest validation contains (1) with checkpoint-10; lowest validation loss among them (0.6)"),
]


def rows_of(html: str, table_id: str) -> list[str]:
    table = html.split(f'id="{table_id}"')[1].split("</table>")[0]
    return re.findall(r"<tr class=\"checkpoint[^\"]*\".*?</tr>", table, flags=re.S)


def cells(row: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)]


def test_checkpoints_page_rows_and_the_chosen_marker() -> None:
    t = CheckpointTable(suite="capitals", split="validation", base="smollm2", metric="contains", direction="higher",
                        metric_source="the suite's first comparative gate's metric", chosen="checkpoint-30",
                        why=ENTRIES[2].why, checkpoints=ENTRIES, base_loads=1, seconds=12.5)
    html = render_checkpoints(t)
    assert html.startswith("<!DOCTYPE html>") and "<th>validation contains</th>" in html
    rows = rows_of(html, "checkpoints")
    assert [cells(r)[1] for r in rows] == ["checkpoint-10", "checkpoint-20", "checkpoint-30"]
    assert cells(rows[0])[2:7] == ["10", "1", "1.250", "0.900", "1.000"]
    chosen = [r for r in rows if 'data-chosen="yes"' in r]
    assert len(chosen) == 1 and cells(chosen[0])[0] == "✔ chosen" and cells(chosen[0])[1] == "checkpoint-30"
    assert [cells(r)[0] for r in rows[:2]] == ["", ""]
    assert "lowest validation loss among them (0.6)" in cells(chosen[0])[7]
    assert "chosen: checkpoint-30</b>: tied on highest validation contains" in html
    assert "1 base load(s)" in html
