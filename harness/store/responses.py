"""A response cache in SQLite, keyed by the model's fingerprint and the request.

Each response is committed as it arrives (WAL journal), so a run killed halfway keeps every
finished response and a rerun redoes none of them. "As it arrives": in an event loop, responses that
arrive in the same turn of the loop share one commit, made on the loop's next turn (a fast provider's
100,000 responses are a few hundred commits, not 100,000: 7 s of a 100k run); outside a loop, each
put commits at once. Failed responses are never stored: a
rerun retries them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.core.errors import HarnessError
from harness.core.hashing import canonical_json
from harness.core.types import Request, Response
from harness.store.sqlite import connect, guarded

SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
  key TEXT PRIMARY KEY,
  fingerprint TEXT NOT NULL,
  response TEXT NOT NULL,
  created REAL NOT NULL
);
"""

def request_key(fingerprint: dict[str, Any], request: Request) -> str:
    """The cache key: sha256 of canonical JSON of ``{"model": fingerprint, "request": {messages, settings}}``;
    plus ``loglik`` (the kind and what is scored) for a log-likelihood request and ``prompt`` for a
    plain-text one;
    plus the example id for providers whose answer depends on it (``fingerprint["keyed_by"] ==
    "example_id"``: the scripted provider); plus the repeat index when the suite asks for several
    (``generation.repeats > 1``), so that each repeat is its own sample. A suite without repeats
    (``request.repeat is None``) keeps the keys it always had."""
    return request_keys(fingerprint, [request])[0]


def request_keys(fingerprint: dict[str, Any], requests: Sequence[Request]) -> list[str]:
    """The cache key of each request (defined in :func:`request_key`), with the model and each distinct
    settings object serialised once (a cached 100,000-example rerun spent 3 s of CPU keying one at a time)."""
    head = '{"model":' + canonical_json(fingerprint) + ',"request":{'
    by_example = fingerprint.get("keyed_by") == "example_id"
    settings: dict[int, str] = {}
    dumps, sha = json.dumps, hashlib.sha256
    out = []
    for r in requests:
        s = settings.get(id(r.settings))
        if s is None:
            s = settings[id(r.settings)] = canonical_json(r.settings.model_dump(mode="json"))
        # canonical_json's key order: example_id < loglik < messages < prompt < repeat < settings
        parts = ['"example_id":' + dumps(r.example_id, ensure_ascii=False)] if by_example else []
        if r.loglik is not None:  # the request kind and what it scores (absent for generation: keys unchanged)
            parts.append('"loglik":' + canonical_json(r.loglik.key()))
        parts.append('"messages":' + dumps(r.messages, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str))
        if r.prompt is not None:  # a plain-text prompt (no chat template) is not the same request as its chat form
            parts.append('"prompt":' + dumps(r.prompt, ensure_ascii=False))
        if r.repeat is not None:
            parts.append('"repeat":' + dumps(r.repeat))
        parts.append('"settings":' + s)
        out.append(sha((head + ",".join(parts) + "}}").encode()).hexdigest())
    return out


class ResponseCache:
    """Errors of the file are located lines (harness.store.sqlite.guarded). A commit that fails on the
    event loop's turn (a full disk) is kept and raised by the next put, commit or read, so a run stops
    at the first failed commit instead of paying for answers it can no longer keep."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        # autocommit; each put is its own small durable transaction.
        self.db = connect(self.path)
        with guarded(self.path):
            self.db.executescript(SCHEMA)
        self._commit_pending = False
        self._failed: HarnessError | None = None

    def get_many(self, keys: list[str]) -> dict[str, Response]:
        self._raise_failed()
        out: dict[str, Response] = {}
        with guarded(self.path):
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                q = f"SELECT key, response FROM responses WHERE key IN ({','.join('?' * len(chunk))})"
                for key, blob in self.db.execute(q, chunk):
                    try:
                        out[key] = Response.from_json(json.loads(blob))
                    except (ValueError, TypeError, KeyError, AttributeError):
                        continue  # an entry edited by hand is a miss: that request is asked again
        return out

    def put(self, key: str, fingerprint: dict[str, Any] | str, response: Response) -> None:
        """Store a successful response (a failed one is skipped). ``fingerprint`` may be given as its
        canonical JSON, so that a run of many puts serialises it once."""
        self._raise_failed()
        if response.error is not None:
            return
        fp = fingerprint if isinstance(fingerprint, str) else canonical_json(fingerprint)
        try:
            with guarded(self.path):
                if not self.db.in_transaction:
                    self.db.execute("BEGIN")
                self.db.execute(
                    "INSERT OR REPLACE INTO responses (key, fingerprint, response, created) VALUES (?, ?, ?, ?)",
                    # vars(): Response holds only JSON values, so this is to_json() without asdict's deep copy
                    (key, fp, json.dumps(vars(response), ensure_ascii=False), time.time()),
                )
        except HarnessError as e:
            self._failed = e
            raise
        self._commit_soon()

    def _commit_soon(self) -> None:
        """Commit on the event loop's next turn (one commit for everything put in this turn), or now."""
        if self._commit_pending:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.commit()
            return
        self._commit_pending = True
        loop.call_soon(self._commit_on_loop)

    def _commit_on_loop(self) -> None:
        """The scheduled commit: a failure is kept for the next put (an exception here would only be
        logged by the event loop, and the run would go on sending)."""
        try:
            self.commit()
        except HarnessError:
            pass

    def _raise_failed(self) -> None:
        if self._failed is not None:
            raise self._failed

    def commit(self) -> None:
        self._commit_pending = False
        self._raise_failed()
        if self.db is not None and self.db.in_transaction:
            try:
                with guarded(self.path):
                    self.db.commit()
            except HarnessError as e:
                self._failed = e
                raise

    def __len__(self) -> int:
        with guarded(self.path):
            return self.db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        """Commit and close; after a failed commit, roll back and close without raising it again."""
        if self.db is None:
            return
        try:
            if self._failed is None:
                self.commit()
        finally:
            try:
                if self.db.in_transaction:
                    self.db.rollback()
                self.db.close()
            except sqlite3.Error:
                pass
            self.db = None  # type: ignore[assignment]  # a commit still scheduled on the loop finds nothing to do
