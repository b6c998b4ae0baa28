"""The one way to open the store's SQLite file: autocommit (callers open their own transactions),
WAL journal so a reader never blocks the writer, a 30 s busy timeout, the folder made if missing.

SQLite's own errors never leave the store raw (:func:`storage_error`): a full disk, a read-only
folder or an I/O error is an :class:`EnvironmentFailure` (exit 4) naming the file; a file that is
not a database, or a damaged one, is a :class:`HarnessError` (exit 2) naming the file and saying to
move it aside (the cache is only a cache: a rerun without it asks the model again)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness.core.errors import EnvironmentFailure, HarnessError

_ENVIRONMENT = ("disk is full", "readonly", "read-only", "unable to open", "disk i/o error", "locked")


def storage_error(path: Path, e: sqlite3.Error) -> HarnessError:
    """One located line for what SQLite said about the cache file at ``path``."""
    text = str(e)
    if isinstance(e, sqlite3.OperationalError) and any(w in text.lower() for w in _ENVIRONMENT):
        return EnvironmentFailure(f"the response cache {path} could not be written: {text} "
                                  "(a full disk or a read-only folder?)")
    return HarnessError(f"{path}: not a readable harness cache ({text}); move it aside "
                        f"(mv {path} {path}.bad) and rerun: the responses are asked for again")


@contextmanager
def guarded(path: Path) -> Iterator[None]:
    """Turn SQLite's errors on ``path`` into the located ones above."""
    try:
        yield
    except sqlite3.Error as e:
        raise storage_error(path, e) from None


def connect(path: str | Path) -> sqlite3.Connection:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with guarded(path):
        db = sqlite3.connect(path, isolation_level=None, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error:
            db.close()
            raise
    return db
