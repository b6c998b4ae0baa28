"""Word tokens and fenced-JSON helpers shared by metrics and judges."""

from __future__ import annotations

import json
import re
from typing import Any

# A word: letters/digits (any script) with inner apostrophes ("don't", "l'été"). Punctuation and
# emoji are not words, so "Paris!" and "Paris" count the same.
_WORD = re.compile(r"\w+(?:['\u2019]\w+)*")
_FENCE = re.compile(r"^\s*```[A-Za-z0-9_-]*[ \t]*\n(.*?)\n?```\s*$", re.S)


def words(text: str, lower: bool = True) -> list[str]:
    return _WORD.findall(text.lower() if lower else text)


def ngrams(tokens: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def strip_fences(text: str) -> str:
    """The body of a single Markdown code fence (```json ... ```), or the text itself."""
    m = _FENCE.match(text)
    return m.group(1) if m else text


def parse_json(text: str, fences: bool = True) -> Any:
    """Parse the whole text as one JSON value (after removing one code fence if allowed).

    Raises ``ValueError`` (``json.JSONDecodeError``) with the position when it is not JSON.
    """
    body = strip_fences(text) if fences else text
    return json.loads(body)
