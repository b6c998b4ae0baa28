"""The response cache file failing under a run: a full disk at a commit, or a file that is not a
cache at all. One line and the documented exit code (4: the machine; 2: a file to move aside),
never a traceback, and no paid request sent after the cache stopped keeping them."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.core.errors import EnvironmentFailure, HarnessError
from harness.core.types import Response
from harness.providers.scripted import ScriptedProvider
from harness.store import responses
from harness.store.responses import ResponseCache
from tests.conftest import echo_suite, write_jsonl

N = 40


class FullAfter:
    """A connection whose commits fail with SQLite's full-disk error after the first ``ok``."""

    def __init__(self, db: sqlite3.Connection, ok: int):
        self.db, self.ok, self.commits = db, ok, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db, name)

    def commit(self) -> None:
        self.commits += 1
        if self.commits > self.ok:
            raise sqlite3.OperationalError("database or disk is full")
        self.db.commit()


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    write_jsonl(tmp_path / "cases.jsonl", [{"id": f"c{i}", "question": f"q {i}", "answer": f"a {i}"} for i in range(N)])
    write_jsonl(tmp_path / "outputs.jsonl", [{"id": f"c{i}", "output": f"a {i}", "delay_s": 0.01 * i} for i in range(N)])
    (tmp_path / "suite.yaml").write_text(echo_suite("cached"))
    return tmp_path / "suite.yaml"


def _run(suite: Path, cache: Path) -> list[str]:
    return ["run", str(suite), "--model", f"scripted:{suite.parent / 'outputs.jsonl'}", "--cache", str(cache),
            "--out", str(suite.parent / "run"), "--reports", str(suite.parent / "reports"), "--no-progress"]


def test_a_full_disk_at_a_commit_stops_the_run_with_one_line_and_exit_4(suite: Path, monkeypatch, capsys,
                                                                        caplog) -> None:
    real_connect, sent = responses.connect, []
    monkeypatch.setattr(responses, "connect", lambda path: FullAfter(real_connect(path), ok=2))
    real_complete = ScriptedProvider.complete

    async def complete(self: ScriptedProvider, request: Any) -> Response:
        out = await real_complete(self, request)
        sent.append(request.example_id)  # answered (and paid for)
        return out

    monkeypatch.setattr(ScriptedProvider, "complete", complete)
    code = main(_run(suite, suite.parent / "cache.sqlite"))
    err = capsys.readouterr().err
    assert code == 4, err
    assert "Traceback" not in err and "Exception in callback" not in caplog.text + err
    [line] = err.strip().splitlines()
    assert "cache.sqlite" in line and "database or disk is full" in line
    assert len(sent) < 8, f"{len(sent)} answers taken, most after the cache stopped keeping them"


def test_a_failed_commit_is_raised_by_the_next_put_not_lost_in_the_event_loop(tmp_path: Path) -> None:
    import asyncio

    cache = ResponseCache(tmp_path / "c.sqlite")
    cache.db = FullAfter(cache.db, ok=0)  # type: ignore[assignment]

    async def go() -> None:
        cache.put("k1", "{}", Response(text="x"))
        await asyncio.sleep(0)  # the loop's next turn: the commit fails there
        await asyncio.sleep(0)
        cache.put("k2", "{}", Response(text="y"))

    with pytest.raises(EnvironmentFailure, match="c.sqlite.*database or disk is full"):
        asyncio.run(go())
    cache.close()  # closing after the failure raises nothing more


@pytest.mark.parametrize("content", [b"this is not a database, just text\n" * 100, b"SQLite format 3\x00" + b"\x00" * 50])
def test_a_garbage_or_truncated_cache_file_is_one_line_naming_it_exit_2(suite: Path, content: bytes, capsys) -> None:
    cache = suite.parent / "cache.sqlite"
    cache.write_bytes(content)
    code = main(_run(suite, cache))
    err = capsys.readouterr().err
    assert code == 2, err
    [line] = err.strip().splitlines()
    assert str(cache) in line and "move it aside" in line


def test_a_truncated_cache_that_opens_but_cannot_be_read_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    cache = ResponseCache(path)
    for i in range(300):
        cache.put(f"k{i}", "{}", Response(text="x" * 500))
    cache.close()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(HarnessError, match="c.sqlite.*move it aside"):
        c = ResponseCache(path)
        c.get_many([f"k{i}" for i in range(300)])
