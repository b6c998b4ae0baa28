"""CSV cells that a spreadsheet will not run as formulas (OWASP's CSV-injection advice).

A model's output or a dataset string that begins with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return is a formula to Excel and LibreOffice (``=HYPERLINK(...)`` opens a link). Such a
cell is written with a leading single quote, which spreadsheets show as text; numbers, booleans
and empty cells are written as they are. Every CSV the harness writes goes through
:func:`safe_row`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """The cell as text a spreadsheet will not evaluate; non-strings unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def safe_row(values: Iterable[Any]) -> list[Any]:
    return [("'" + v if v and v[0] in _STARTS else v) if isinstance(v, str) else v for v in values]


_STARTS = frozenset(c for c in FORMULA_START)  # one character each: a set lookup, not startswith(tuple) a cell
