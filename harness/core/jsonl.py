"""The one JSONL reader: every file of one JSON value a line goes through here.

Each non-blank line is parsed on its own; a bad one is named ``path:line: what is wrong`` in one
wording for every file the harness reads:

- ``invalid JSON: <reason> (column N)`` (and, on the file's last line when the value stops short,
  ``(the file ends early: truncated by a full disk or a killed write?)``);
- ``not UTF-8 (<reason> at byte N)``, N counted from the start of the line;
- ``expected a JSON object, got <type>`` where the caller asks for objects.

:func:`read_jsonl` stops at the first bad line (raising :class:`JsonlError`) or, given a list to
``collect`` into, records every bad line there and goes on, so a user fixes a file in one pass.
Lines are split on ``\\n`` only: a JSON string may hold U+2028 or U+0085 unescaped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.core.errors import InputProblems, Problem

TRUNCATED = " (the file ends early: truncated by a full disk or a killed write?)"


class JsonlError(InputProblems):
    """Bad lines of a JSONL file, one ``path:line: what`` each (exit code 2, like every input problem)."""


def json_type(v: Any) -> str:
    """The name a user knows a parsed JSON value by: object, list, string, boolean, null, int, float."""
    return {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}.get(type(v), type(v).__name__)


def _lines(path: str | Path, data: str | bytes | None) -> list[str | bytes]:
    """The file's lines as text when it is all UTF-8 (one decode), else as bytes to decode one by one."""
    raw = Path(path).read_bytes() if data is None else data
    if isinstance(raw, str):
        return raw.split("\n")  # type: ignore[return-value]
    try:
        return raw.decode("utf-8").split("\n")  # type: ignore[return-value]
    except UnicodeDecodeError:
        return raw.split(b"\n")  # type: ignore[return-value]


def jsonl_lines(path: str | Path, *, data: str | bytes | None = None,
                objects: bool = False) -> Iterator[tuple[int, Any, str | None]]:
    """Each non-blank line as ``(line number, value, None)``, or ``(line number, None, what is wrong)``.

    ``data`` is the file's content when the caller already holds it (``path`` then only names it);
    ``objects`` makes a line that is not a JSON object a bad line.
    """
    lines = _lines(path, data)
    last = len(lines)
    while last > 0 and not lines[last - 1].strip():
        last -= 1
    loads = json.loads
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if isinstance(line, bytes):
            try:
                line = line.decode("utf-8")
            except UnicodeDecodeError as e:
                yield n, None, f"not UTF-8 ({e.reason} at byte {e.start})"
                continue
        try:
            value = loads(line)
        except json.JSONDecodeError as e:
            tail = line.rstrip()
            cut = n == last and (e.pos >= len(tail) or not tail.endswith(("}", "]")) or e.msg.startswith("Unterminated"))
            yield n, None, f"invalid JSON: {e.msg} (column {e.colno})" + (TRUNCATED if cut else "")
            continue
        if objects and type(value) is not dict:
            yield n, None, f"expected a JSON object, got {json_type(value)}"
            continue
        yield n, value, None


def read_jsonl(path: str | Path, *, data: str | bytes | None = None, objects: bool = False,
               collect: list[Problem] | None = None) -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` of each good non-blank line.

    The first bad line raises :class:`JsonlError`; with ``collect`` (a list), each bad line is
    appended there as a :class:`Problem` instead, before the next good line is yielded, so a caller
    that adds its own per-line problems to the same list keeps them in line order.
    """
    name = str(path)
    for n, value, err in jsonl_lines(path, data=data, objects=objects):
        if err is None:
            yield n, value
        elif collect is None:
            raise JsonlError([Problem(name, "", err, line=n)])
        else:
            collect.append(Problem(name, "", err, line=n))
