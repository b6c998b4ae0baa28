"""Text normalisation shared by matching metrics."""

from __future__ import annotations

import re
import string
import unicodedata
from typing import Any

_PUNCT = re.compile(f"[{re.escape(string.punctuation)}\u2018\u2019\u201c\u201d\u2013\u2014\u2026]")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_WS = re.compile(r"\s+")


def normalize(text: str, articles: bool = True) -> str:
    """Lowercase, NFKC, drop punctuation (and English articles), collapse whitespace."""
    t = unicodedata.normalize("NFKC", text).lower()
    t = _PUNCT.sub(" ", t)
    if articles:
        t = _ARTICLES.sub(" ", t)
    return _WS.sub(" ", t).strip()


def references(ref: Any) -> list[str]:
    """A reference may be one string or a list of acceptable strings."""
    if ref is None:
        return []
    if isinstance(ref, list):
        return [str(r) for r in ref]
    return [str(ref)]
