"""Read a suite's dataset split into examples, locating every bad line.

Formats: ``jsonl`` (harness.core.jsonl), ``csv`` (pandas, with a stdlib pre-pass so a ragged row is
reported by its line), ``chat`` (OpenAI chat fine-tuning JSONL: the last assistant
message is the reference, the messages before it are the prompt), ``parquet`` (pyarrow) and ``hf``
(a Hugging Face ``datasets`` save_to_disk folder, or ``path: hub:ORG/NAME`` read from the local
cache offline): harness.data.tabular. Text formats locate a problem by line, tables by row.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.core.errors import InputProblems, Problem
from harness.core.jsonl import read_jsonl
from harness.core.types import Example
from harness.suite.schema import TEMPLATE_VAR, DatasetSpec, PromptSpec

ROLES = ("system", "user", "assistant", "tool")


@dataclass
class Split:
    name: str
    path: Path
    sha256: str
    examples: list[Example]


def _read_jsonl(path: Path, problems: list[Problem], data: bytes | None = None) -> list[tuple[int, dict[str, Any]]]:
    """(line number, record) of each non-blank line; every bad line is a located problem (core.jsonl)."""
    return list(read_jsonl(path, data=data, objects=True, collect=problems))


def _first_bad_utf8(path: Path) -> tuple[int, str]:
    """The line and reason of the first bytes that are not UTF-8 (csv reads in chunks, so its error has no line)."""
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as e:
                return n, f"{e.reason} at byte {e.start} of the line"
    return 1, "invalid UTF-8"


def _read_csv(path: Path, problems: list[Problem]) -> list[tuple[int, dict[str, Any]]]:
    try:
        return _read_csv_utf8(path, problems)
    except UnicodeDecodeError:
        line, why = _first_bad_utf8(path)
        problems.append(Problem(str(path), "", f"not UTF-8 ({why}); save the file as UTF-8", line=line))
        return []


def _read_csv_utf8(path: Path, problems: list[Problem]) -> list[tuple[int, dict[str, Any]]]:
    import csv

    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if not header:
            problems.append(Problem(str(path), "", "empty CSV: expected a header row", line=1))
            return []
        starts: list[int] = []
        bad = False
        line = reader.line_num
        for row in reader:
            if row and len(row) != len(header):
                problems.append(Problem(str(path), "", f"expected {len(header)} fields ({', '.join(header)}), saw {len(row)}", line=line + 1))
                bad = True
            elif row:
                starts.append(line + 1)
            line = reader.line_num
    if bad:
        return []
    import pandas as pd

    frame = pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=True)
    return [(starts[i], rec) for i, rec in enumerate(frame.to_dict(orient="records"))]


def _chat_problems(obj: dict[str, Any]) -> list[str]:
    msgs = obj.get("messages")
    if not isinstance(msgs, list) or not msgs:
        return ["`messages` must be a non-empty list of {role, content} objects"]
    errs = []
    for i, m in enumerate(msgs):
        if not isinstance(m, dict):
            errs.append(f"messages[{i}]: expected an object with role and content")
            continue
        if m.get("role") not in ROLES:
            errs.append(f"messages[{i}].role: got {m.get('role')!r}; expected one of {', '.join(ROLES)}")
        if not isinstance(m.get("content"), str):
            errs.append(f"messages[{i}].content: expected a string")
    if not errs and not any(m.get("role") == "assistant" for m in msgs):
        errs.append("no assistant message: the last assistant message is the reference")
    return errs


def _text(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)


def load_split(spec: DatasetSpec, base: Path, split: str, prompt: PromptSpec | None = None) -> Split:
    """Read one split. Raises :class:`InputProblems` listing every bad line."""
    if spec.examples is not None:  # written in the suite (checked when it was loaded)
        from harness.data.inline import inline_split

        return Split(split, *inline_split(spec, base, split))
    problems: list[Problem] = []
    tabular = spec.format in ("parquet", "hf")
    if tabular:
        from harness.data import tabular as tab

        if spec.format == "parquet":
            path = base / spec.splits[split]
            rows, digest = tab.read_parquet(path, problems)
        else:
            hub = spec.path[len(tab.HUB_PREFIX):] if spec.path.startswith(tab.HUB_PREFIX) else None
            rows, digest, path = tab.read_hf(base, hub, spec.splits[split], problems)
        if problems:
            raise InputProblems(problems)
    else:
        path = base / spec.splits[split]
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        rows = _read_csv(path, problems) if spec.format == "csv" else _read_jsonl(path, problems, data)
    unit = "row" if tabular else "line"

    def located(msg: str, n: int) -> Problem:
        return Problem(str(path), f"row {n}", msg) if tabular else Problem(str(path), "", msg, line=n)
    f = spec.fields
    needed = {k: v for k, v in (("id", f.id), ("input", f.input), ("reference", f.reference), ("category", f.category)) if v}
    variables = prompt.variables() if prompt else set()
    examples: list[Example] = []
    seen: dict[str, int] = {}
    absent: dict[str, tuple[int, list[str]]] = {}  # column -> (first line lacking it, that record's fields)
    absent_n: dict[str, int] = {}
    columns = tuple(dict.fromkeys((*needed.values(), *sorted(variables))))
    for line, rec in rows:
        if spec.format == "chat":
            errs = _chat_problems(rec)
            for msg in errs:
                problems.append(Problem(str(path), "", msg, line=line))
            if errs:
                continue
        missing = [col for col in columns if col not in rec]
        if tabular and not missing:
            roles = {c: r for r, c in reversed(needed.items())} | {v: "a prompt variable" for v in variables if v not in needed.values()}
            wrong = [m for col in columns if col != f.reference and (m := tab.value_problem(rec[col], col, roles.get(col, col), rec.types))]
            if wrong:
                problems.extend(located(m, line) for m in wrong)
                continue
        if missing:
            for col in missing:  # one problem per column, not one per example (a typo would give thousands)
                absent.setdefault(col, (line, list(rec)))
                absent_n[col] = absent_n.get(col, 0) + 1
            continue
        ex_id = _text(rec[f.id]) if f.id else hashlib.sha1(json.dumps(rec, sort_keys=True).encode()).hexdigest()[:12]
        if ex_id in seen:
            what = f"duplicate id {ex_id!r}" if f.id else "duplicate record"
            problems.append(located(f"{what} (first seen on {unit} {seen[ex_id]})", line))
            continue
        seen[ex_id] = line
        ex = Example(id=ex_id, record=rec, line=line)
        if spec.format == "chat":
            msgs = rec["messages"]
            last = max(i for i, m in enumerate(msgs) if m["role"] == "assistant")
            ex.messages = [{"role": m["role"], "content": m["content"]} for m in msgs[:last]]
            ex.reference = msgs[last]["content"]
            users = [m["content"] for m in ex.messages if m["role"] == "user"]
            ex.input = users[-1] if users else None
        if f.input:
            ex.input = _text(rec[f.input])
        if f.reference:
            ex.reference = rec[f.reference]
        if f.category:
            ex.category = _text(rec[f.category])
        examples.append(ex)
    for col, (first, fields) in absent.items():
        what = "column" if tabular else "field"
        problems.append(located(f"missing {what} {col!r} ({_uses(col, needed, prompt)}) in {absent_n[col]} of "
                                f"{len(rows)} examples, first on {unit} {first}; that record has: {', '.join(fields) or 'no fields'}",
                                first))
    if not rows and not problems:
        problems.append(Problem(str(path), "", "no examples in this split"))
    if problems:
        raise InputProblems(sorted(problems, key=_position))
    return Split(split, path, digest, examples)


def _position(p: Problem) -> int:
    """A problem's line, or its row ("row 12") for a table; 0 for the whole file."""
    if p.line is not None:
        return p.line
    return int(p.location[4:]) if p.location.startswith("row ") and p.location[4:].isdigit() else 0


def _uses(col: str, needed: dict[str, str], prompt: PromptSpec | None) -> str:
    """Where the suite uses a column: its dataset.fields roles and the template messages naming it."""
    where = [f"dataset.fields.{role}" for role, c in needed.items() if c == col]
    where += [f"prompt.messages[{i}].content" for i, m in enumerate(prompt.messages or []) if col in TEMPLATE_VAR.findall(m.content)] if prompt else []
    return "used in " + ", ".join(where)


def render_messages(prompt: PromptSpec, ex: Example) -> list[tuple[str, str]]:
    """The chat messages sent for one example."""
    if prompt.from_dataset:
        msgs = [(m["role"], m["content"]) for m in ex.messages]
        if prompt.system is not None:
            msgs = [("system", prompt.system)] + [m for m in msgs if m[0] != "system"]
        return msgs
    rec = ex.record
    return [(m.role, TEMPLATE_VAR.sub(lambda mt: _text(rec[mt.group(1)]), m.content)) for m in prompt.messages or []]
