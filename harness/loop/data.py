"""The loop's training pool and each iteration's training file.

The pool is the user's training data prepared once the way the suite prompts (cleaned,
deduplicated, split for validation loss, checked against the suite's test split), so every
iteration trains on exactly what it will be asked. Iterations only re-weight it: extra copies of
a category's own pool rows. The suite's test and validation splits are never in the pool.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core.errors import HarnessError
from harness.core.trust import TrustPolicy
from harness.suite.load import LoadedSuite
from harness.train.base import Log


@dataclass
class Pool:
    """Prepared chat rows (``messages``, ``id``, ``category``) the loop may train on."""

    rows: list[dict[str, Any]]
    source: Path
    train_path: Path
    validation_path: Path | None
    report: dict[str, Any]

    def categories(self) -> Counter[str]:
        return Counter(category_of(r) for r in self.rows)


def category_of(row: dict[str, Any]) -> str:
    c = row.get("category")
    return "(none)" if c is None else str(c)


def read_rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def refuse_held_out(loaded: LoadedSuite, data: Path) -> None:
    """Training data must not be a split the loop evaluates on."""
    splits = loaded.suite.dataset.splits
    for split in (loaded.suite.default_split, "validation"):
        if split in splits and data.resolve() == loaded.split_path(split).resolve():
            use = "held out for the final evaluation" if split == loaded.suite.default_split else \
                  "what each iteration is evaluated on"
            raise HarnessError(f"{data}: this is the suite's {split!r} split, {use}; train on data held apart from it "
                               "(default: the suite's train split)")


def build_pool(loaded: LoadedSuite, data: Path | None, out_dir: Path, trainer: str, max_length: int, seed: int,
               allow_contamination: bool = False, log: Log = print, trust: TrustPolicy | None = None) -> Pool:
    """Prepare ``data`` (default: the suite's train split) once for the whole loop; the contamination
    check's suite stays inside ``trust``'s data root (None: :meth:`TrustPolicy.from_env`)."""
    from harness.data.prepare import prepare_data
    from harness.train.driver import suite_prepare_config

    if data is None:
        if "train" not in loaded.suite.dataset.split_names():
            raise HarnessError(f"{loaded.path}: the suite has no `train` split; pass --data FILE")
        data = loaded.split_path("train")
    data = Path(data)
    refuse_held_out(loaded, data)
    cfg = suite_prepare_config(loaded, data, out_dir, trainer, max_length, seed=seed,
                               allow_contamination=allow_contamination, trust=trust or TrustPolicy.from_env())
    prepared = prepare_data(cfg)
    c = prepared.report["counts"]
    log(f"data: {c['train']} train / {c['validation']} validation-loss examples from {data} "
        f"({c['exact_duplicates'] + c['near_duplicates']} duplicates, {c['empty'] + c['overlong']} empty or overlong "
        "dropped, contamination checked against the test split)")
    return Pool(read_rows(prepared.train_path), data, prepared.train_path, prepared.validation_path, prepared.report)


@dataclass
class BuiltData:
    path: Path
    sha256: str
    n_examples: int
    per_category: dict[str, int]
    changes: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "sha256": self.sha256, "examples": self.n_examples,
                "per_category": self.per_category, "changes": self.changes}


def write_training_file(rows: list[dict[str, Any]], path: Path, seed: int,
                        changes: dict[str, Any] | None = None) -> BuiltData:
    """Shuffle (seeded) and write chat JSONL; returns its hash and make-up."""
    rows = list(rows)
    random.Random(seed).shuffle(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    path.write_text(text, encoding="utf-8")
    per_cat = Counter(category_of(r) for r in rows)
    return BuiltData(path, hashlib.sha256(text.encode()).hexdigest(), len(rows), dict(sorted(per_cat.items())),
                     changes or {})
