"""Paths in an included suite file's metric parameters, made to point where their author meant.

Why: the code that reads a metric's files (a scripted judge's outputs, a pairwise ``baseline_run``,
an adapter or model folder, an embedding model folder, a model YAML file) opens them relative to
the working directory, as for the suite named on the command line. A file that is ``include:``d
from elsewhere was written next to its own files, so its relative paths are rewritten here,
once, relative to the working directory: ``judges/j.json`` in ``shared/base.yaml`` becomes
``shared/judges/j.json`` when the harness runs from the repository's top. Names that are not paths
(``local``, ``smollm2``, ``all-MiniLM-L6-v2``) stay as written: a model name is rebased only when
a file or folder of that name lies beside the included file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

MODEL_KEYS = ("judge", "baseline_model", "model")


def rebase_metric_paths(metrics: Any, folder: Path) -> None:
    """Rewrite, in place, the relative paths in ``metrics`` (an included file's list) written in ``folder``."""
    if not isinstance(metrics, list):
        return  # the schema reports it
    for m in metrics:
        if not isinstance(m, dict):
            continue
        if isinstance(m.get("baseline_run"), str):
            m["baseline_run"] = _path(m["baseline_run"], folder, always=True)
        for key in MODEL_KEYS:
            if isinstance(m.get(key), dict):
                m[key] = _mapping(m[key], folder)
            elif isinstance(m.get(key), str):
                m[key] = _string(m[key], folder)


def _path(value: str, folder: Path, always: bool = False) -> str:
    """``value`` relative to the working directory, if it is a relative path from ``folder``
    (``always``: it can only be a path; else only when it exists there)."""
    if not value or Path(value).is_absolute() or not (always or (folder / value).exists()):
        return value
    return os.path.relpath(folder / value, Path.cwd())


def _mapping(spec: dict[str, Any], folder: Path) -> dict[str, Any]:
    out = dict(spec)
    if isinstance(out.get("name"), str):
        out["name"] = _path(out["name"], folder, always=out.get("provider") == "scripted")
    if isinstance(out.get("adapter"), str):
        out["adapter"] = _path(out["adapter"], folder, always=True)
    return out


def _string(text: str, folder: Path) -> str:
    """A model string: a model YAML file, ``PROVIDER:NAME?adapter=...``, or a bare name or folder."""
    if text.endswith((".yaml", ".yml")) and "?" not in text:
        return _path(text, folder)
    head, sep, query = text.partition("?")
    provider, colon, name = head.partition(":")
    if not colon and not sep:  # a bare word: a provider (``local``) or an embedding model name/folder
        return _path(text, folder)
    name = _path(name, folder, always=provider == "scripted")
    pairs = parse_qsl(query, keep_blank_values=True) if query else []
    pairs = [(k, _path(v, folder, always=True) if k == "adapter" else v) for k, v in pairs]
    rebuilt = "&".join(f"{k}={quote(v, safe=':/')}" for k, v in pairs)
    return f"{provider}{colon}{name}" + (f"?{rebuilt}" if sep else "")
