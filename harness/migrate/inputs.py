"""Unlabelled inputs for `harness record --inputs FILE`: chat JSONL, or JSONL/CSV with a text column.

Every bad line is located (file:line) and all are reported together (exit 2). A chat line's
prompt is its messages up to its last assistant message when it ends with one (that answer is
the old one, not part of the question), else all of them. An input's id is ``--id-field``'s value,
else a hash of its messages, so it stays the same when lines move; a repeated input is recorded once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from harness.core.errors import InputProblems, Problem
from harness.core.hashing import sha256_file

ROLES = ("system", "user", "assistant", "tool")
Format = Literal["chat", "jsonl", "csv"]


@dataclass
class Input:
    id: str
    line: int
    messages: list[dict[str, str]]
    text: str  # the last user message: what reports show and the contamination check compares
    record: dict[str, Any]


@dataclass
class Inputs:
    path: Path
    format: Format
    sha256: str
    items: list[Input]
    duplicates: int


def detect_format(path: Path, rows: list[tuple[int, dict[str, Any]]] | None = None) -> Format:
    if path.suffix.lower() == ".csv":
        return "csv"
    if rows and "messages" in rows[0][1]:
        return "chat"
    return "jsonl"


def _chat_prompt(rec: dict[str, Any]) -> tuple[list[dict[str, str]] | None, list[str]]:
    msgs = rec.get("messages")
    if not isinstance(msgs, list) or not msgs:
        return None, ["`messages` must be a non-empty list of {role, content} objects"]
    errs = []
    for i, m in enumerate(msgs):
        if not isinstance(m, dict):
            errs.append(f"messages[{i}]: expected an object with role and content")
        elif m.get("role") not in ROLES:
            errs.append(f"messages[{i}].role: got {m.get('role')!r}; expected one of {', '.join(ROLES)}")
        elif not isinstance(m.get("content"), str):
            errs.append(f"messages[{i}].content: expected a string")
    if errs:
        return None, errs
    out = [{"role": m["role"], "content": m["content"]} for m in msgs]
    if out[-1]["role"] == "assistant":
        out = out[:-1]
    if not any(m["role"] == "user" for m in out):
        return None, ["no user message to send"]
    return out, []


def read_inputs(path: Path, field: str = "text", system: str | None = None, id_field: str | None = None) -> Inputs:
    """Read every input; raises :class:`InputProblems` listing every bad line."""
    from harness.data.examples import _read_csv, _read_jsonl

    name = str(path)
    if not path.is_file():
        raise InputProblems([Problem(name, "", "no such file")])
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".json", ".csv", ".ndjson"):
        raise InputProblems([Problem(name, "", f"expected a .jsonl (chat or with a {field!r} field) or .csv file, "
                                                f"got {suffix or 'no extension'}")])
    problems: list[Problem] = []
    try:
        rows = _read_csv(path, problems) if suffix == ".csv" else _read_jsonl(path, problems)
    except UnicodeDecodeError as e:
        raise InputProblems([Problem(name, "", f"not UTF-8 text ({e.reason} at byte {e.start})")]) from None
    fmt = detect_format(path, rows)
    items: list[Input] = []
    seen: set[str] = set()
    duplicates = 0
    for line, rec in rows:
        if fmt == "chat":
            msgs, errs = _chat_prompt(rec)
            problems += [Problem(name, "", e, line=line) for e in errs]
        elif field not in rec:
            have = ", ".join(rec) or "no fields"
            problems.append(Problem(name, "", f"missing field {field!r} (--field); the record has: {have}", line=line))
            msgs = None
        elif not isinstance(rec[field], str) or not rec[field].strip():
            problems.append(Problem(name, "", f"field {field!r}: expected non-empty text", line=line))
            msgs = None
        else:
            msgs = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": rec[field]}]
        if id_field and id_field not in rec:
            problems.append(Problem(name, "", f"missing field {id_field!r} (--id-field)", line=line))
            continue
        if msgs is None:
            continue
        if fmt == "chat" and system is not None:
            msgs = [{"role": "system", "content": system}] + [m for m in msgs if m["role"] != "system"]
        iid = str(rec[id_field]) if id_field else "in-" + hashlib.sha1(json.dumps(msgs, sort_keys=True).encode()).hexdigest()[:12]
        if iid in seen:
            duplicates += 1
            continue
        seen.add(iid)
        users = [m["content"] for m in msgs if m["role"] == "user"]
        items.append(Input(iid, line, msgs, users[-1], rec))
    if not rows and not problems:
        problems.append(Problem(name, "", "no inputs in this file"))
    if problems:
        raise InputProblems(problems)
    return Inputs(path, fmt, sha256_file(path), items, duplicates)
