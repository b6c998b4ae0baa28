"""The ``scores`` table of the cache file: per-example scores keyed by item and metric (what to key
and when to read back is the run's business: harness/evaluate/score_cache.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.store.sqlite import connect, guarded

# Per-example scores (harness.evaluate.score_cache): item key (response key + what the metric saw) x metric key
# (name + params + version) -> the metric's example-level scores as JSON.
SCORES_SCHEMA = """
CREATE TABLE IF NOT EXISTS scores (
  item TEXT NOT NULL,
  metric TEXT NOT NULL,
  scores TEXT NOT NULL,
  PRIMARY KEY (item, metric)
) WITHOUT ROWID;
"""


class ScoreStore:
    """The ``scores`` table of the cache file; written in one transaction per metric."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.db = connect(self.path)
        with guarded(self.path):
            self.db.executescript(SCORES_SCHEMA)

    def get_many(self, metric: str, items: list[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        with guarded(self.path):
            for start in range(0, len(items), 500):
                chunk = items[start : start + 500]
                q = f"SELECT item, scores FROM scores WHERE metric = ? AND item IN ({','.join('?' * len(chunk))})"
                for key, blob in self.db.execute(q, [metric, *chunk]):
                    try:
                        out[key] = json.loads(blob)
                    except ValueError:
                        continue  # an entry edited by hand is a miss: that example is scored again
        return out

    def put_many(self, metric: str, rows: list[tuple[str, str | None]]) -> None:
        if not rows:
            return
        with guarded(self.path), self.db:  # one transaction: 100,000 scores are one fsync, not 100,000
            self.db.execute("BEGIN")
            self.db.executemany("INSERT OR REPLACE INTO scores (item, metric, scores) VALUES (?, ?, ?)",
                                [(item, metric, blob) for item, blob in rows if blob is not None])

    def close(self) -> None:
        self.db.close()
