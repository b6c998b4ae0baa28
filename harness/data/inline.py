"""Examples written in the suite itself (``dataset.examples``): a split of them, hashed as a file is.

The suite loader has checked them (ids, duplicates, template columns, each located at its YAML
line), so reading them cannot fail. Their hash is the sha256 of their canonical JSON, one example a
line, so an edited example changes the split's sha256 (and the score cache's key) as an edited
file would; the id of an example without one is the hash of its record, as for a file.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from harness.core.types import Example
from harness.suite.schema import DatasetSpec


def inline_path(base: Path, split: str) -> Path:
    """What a run records as the split's path: the suite folder and the key the examples are under."""
    return base / f"dataset.examples.{split}"


def inline_split(spec: DatasetSpec, base: Path, split: str) -> tuple[Path, str, list[Example]]:
    """The split's recorded path, its sha256 and its examples (data.examples.load_split makes the Split)."""
    rows = spec.inline_splits()[split]
    examples: list[Example] = []
    lines: list[str] = []
    for n, row in enumerate(rows, start=1):
        rec = row.record()
        text = json.dumps(rec, sort_keys=True, ensure_ascii=False)
        lines.append(text + "\n")
        ex_id = rec["id"] if "id" in rec else hashlib.sha1(json.dumps(rec, sort_keys=True).encode()).hexdigest()[:12]
        ref = rec.get("reference")
        examples.append(Example(id=ex_id, record=rec, line=n, input=rec["input"], reference=ref, category=rec.get("category")))
    digest = hashlib.sha256("".join(lines).encode()).hexdigest()
    return inline_path(base, split), digest, examples
