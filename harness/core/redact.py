"""Secrets stripped from anything stored or printed: the one place that knows what a secret in a
value looks like.

Today that is URL userinfo: ``http://user:password@host/v1`` is stored and shown as
``http://host/v1``. A value without userinfo comes back unchanged, byte for byte (the same object),
so every cache key, fingerprint and record of an endpoint written without a password is what it
always was. API keys are never in a stored value in the first place (:mod:`harness.providers.keys`
reads them from the environment when a request is sent).
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

__all__ = ["redacted", "strip_userinfo"]

T = TypeVar("T")

# ``scheme://USERINFO@``: the userinfo is everything up to the last ``@`` before the authority ends
# (the first ``/``, ``?``, ``#``), as urllib.parse.urlsplit reads it; also matched inside a longer
# string (a model spec ``openai:x?base_url=http://u:p@h/v1``, a command line).
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/?#\s@]*(?:@[^/?#\s@]*)*@")


def strip_userinfo(text: str) -> str:
    """``text`` with the userinfo of every URL in it removed; ``text`` itself when it has none."""
    if "@" not in text or "://" not in text:
        return text
    return _USERINFO.sub(r"\g<scheme>", text)


def redacted(value: T) -> T:
    """``value`` (a string, or JSON-like lists, tuples and dicts of them) with :func:`strip_userinfo`
    applied to every string in it, keys included; the same object when nothing changed."""
    return _redact(value)  # type: ignore[no-any-return]


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        return strip_userinfo(value)
    if isinstance(value, dict):
        items = [(_redact(k), _redact(v)) for k, v in value.items()]
        if all(a is k and b is v for (a, b), (k, v) in zip(items, value.items(), strict=True)):
            return value
        return type(value)(items) if type(value) is dict else dict(items)
    if isinstance(value, (list, tuple)):
        out = [_redact(v) for v in value]
        if all(a is b for a, b in zip(out, value, strict=True)):
            return value
        return type(value)(out) if type(value) in (list, tuple) else out
    return value
