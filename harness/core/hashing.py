"""Content hashes and canonical JSON: what makes cache keys and recorded hashes stable."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


def hash_path(path: str | Path) -> str:
    """sha256 over a file, or over a folder's files (relative names and bytes), sorted."""
    p = Path(path)
    h = hashlib.sha256()
    files = [p] if p.is_file() else sorted(q for q in p.rglob("*") if q.is_file())
    for f in files:
        h.update(str(f.relative_to(p) if p.is_dir() else f.name).encode())
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
