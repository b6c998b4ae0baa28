"""The checkpoint table as text (stdout), CSV and Markdown, and writing all three with checkpoints.json."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from harness.core.csvsafe import neutralise
from harness.core.io import atomic_write_text
from harness.records.checkpoints import CHECKPOINTS_JSON, CheckpointTable

COLUMNS = ("checkpoint", "step", "epoch", "train_loss", "val_loss", "metric", "value", "chosen", "why", "path")


def _f(x: float | None, digits: int = 4) -> str:
    return "" if x is None else f"{x:.{digits}f}"


def rows(t: CheckpointTable) -> list[dict[str, str]]:
    return [{"checkpoint": e.name, "step": "" if e.step is None else str(e.step),
             "epoch": "" if e.epoch is None else f"{e.epoch:g}", "train_loss": _f(e.train_loss), "val_loss": _f(e.loss),
             "metric": e.metric or t.metric, "value": _f(e.value), "chosen": "yes" if e.chosen else "",
             "why": e.why, "path": e.path or ""} for e in t.checkpoints]


def headline(t: CheckpointTable) -> str:
    return (f"chosen: {t.chosen}: {t.why} (validation {t.metric} on {t.split!r}, {t.direction} is better; "
            f"{t.metric_source or 'the metric given'})")


def text(t: CheckpointTable) -> str:
    """A fixed-width table, the chosen row marked with *, then the choice and its reason."""
    shown = ("checkpoint", "step", "epoch", "train_loss", "val_loss", "value")
    head = {"checkpoint": "checkpoint", "step": "step", "epoch": "epoch", "train_loss": "train loss",
            "val_loss": "val loss", "value": t.metric}
    body = rows(t)
    width = {c: max([len(head[c])] + [len(r[c]) for r in body]) for c in shown}
    lines = ["  " + "  ".join(head[c].ljust(width[c]) if c == "checkpoint" else head[c].rjust(width[c]) for c in shown)]
    for r in body:
        mark = "* " if r["chosen"] else "  "
        lines.append(mark + "  ".join(r[c].ljust(width[c]) if c == "checkpoint" else r[c].rjust(width[c]) for c in shown))
    lines.append(headline(t))
    if t.base_loads is not None:
        lines.append(f"{len(t.checkpoints)} checkpoint(s) over {t.base}: {t.base_loads} base load(s), "
                     f"{t.seconds if t.seconds is not None else '?'} s")
    return "\n".join(lines) + "\n"


def csv_text(t: CheckpointTable) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in rows(t):
        w.writerow({k: neutralise(v) for k, v in r.items()})
    return buf.getvalue()


def _md(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def markdown(t: CheckpointTable) -> str:
    out = [f"# Checkpoints: {_md(t.suite)}, {_md(t.split)} split", "",
           f"Base `{_md(t.base)}`; chosen by validation **{_md(t.metric)}** ({t.direction} is better; "
           f"{_md(t.metric_source or 'the metric given')}), the lowest validation loss breaking ties.", "",
           "| | checkpoint | step | epoch | train loss | val loss | " + _md(t.metric) + " | why |",
           "|---|---|---:|---:|---:|---:|---:|---|"]
    for r in rows(t):
        out.append(f"| {'**chosen**' if r['chosen'] else ''} | {_md(r['checkpoint'])} | {r['step']} | {r['epoch']} | "
                   f"{r['train_loss']} | {r['val_loss']} | {r['value']} | {_md(r['why'])} |")
    out += ["", f"**{_md(headline(t))}**", ""]
    if t.base_loads is not None:
        out.append(f"{len(t.checkpoints)} checkpoint(s), {t.base_loads} base load(s), {t.seconds} s.")
    return "\n".join(out) + "\n"


def write(t: CheckpointTable, out: Path) -> dict[str, Path]:
    """checkpoints.json, checkpoints.csv and checkpoints.md in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / CHECKPOINTS_JSON, "csv": out / "checkpoints.csv", "markdown": out / "checkpoints.md"}
    atomic_write_text(paths["json"], t.to_json() + "\n")
    atomic_write_text(paths["csv"], csv_text(t))
    atomic_write_text(paths["markdown"], markdown(t))
    return paths
