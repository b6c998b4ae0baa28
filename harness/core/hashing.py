"""Content hashes and canonical JSON: what makes cache keys and recorded hashes stable.

Two hashes of files, each defined once here:

- :func:`sha256_file`: the sha256 of a file's bytes (``sha256sum``): dataset, split and input files.
- :func:`hash_path`: a file's or a folder's content under its names (each file's relative name, then
  its bytes, in sorted order): adapters, model weights, anything that may be a folder.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


BLOCK = 1 << 20


def _update(h: Any, path: Path) -> None:
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(BLOCK), b""):
            h.update(block)


def sha256_file(path: str | Path) -> str:
    """The sha256 hexdigest of a file's bytes (what ``sha256sum`` prints), read in blocks."""
    h = hashlib.sha256()
    _update(h, Path(path))
    return h.hexdigest()


def hash_path(path: str | Path) -> str:
    """sha256 over a file, or over a folder's files (relative names and bytes), sorted.

    Not :func:`sha256_file` even for one file: a file's name is hashed before its bytes.
    """
    p = Path(path)
    h = hashlib.sha256()
    files = [p] if p.is_file() else sorted(q for q in p.rglob("*") if q.is_file())
    for f in files:
        h.update(str(f.relative_to(p) if p.is_dir() else f.name).encode())
        _update(h, f)
    return h.hexdigest()


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
