"""Rule (d) of issue 20: every reader of a file a user or another tool may have written turns
malformed content into a located HarnessError (or a per-item failure), never another exception.
A seeded loop of mutations (truncations, type swaps, huge numbers, non-UTF-8 bytes) per reader;
the whole file runs in seconds."""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.core.errors import HarnessError
from harness.core.types import Response
from harness.providers.base import ModelSpec
from harness.providers.openai_batch import BatchState, ResultFiles
from harness.providers.scripted import ScriptedProvider
from harness.records.recording import load_recording
from harness.records.run import read_run
from harness.store.responses import ResponseCache

ROOT = Path(__file__).resolve().parent
V0 = ROOT / "records" / "fixtures" / "v0" / "cand"
SWAPS: list[Any] = [None, 0, -1, 10**400, 1e308, "x", "", [], {}, [1, "a"], {"a": None}, True]


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One of: truncate, flip bytes to non-UTF-8, swap a JSON value's type, inflate a number."""
    kind = rng.randrange(4)
    if kind == 0 or not data:
        return data[: rng.randrange(len(data) + 1)]
    if kind == 1:
        b = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] = rng.choice([0xFF, 0xC3, 0x80, 0x00, ord("{"), ord('"')])
        return bytes(b)
    lines = data.decode("utf-8", "replace").splitlines()
    n = rng.randrange(len(lines))
    try:
        obj = json.loads(lines[n])
    except ValueError:
        return data[::-1]
    lines[n] = json.dumps(_swap(obj, rng, huge=kind == 3))
    return ("\n".join(lines) + "\n").encode()


def _swap(obj: Any, rng: random.Random, huge: bool) -> Any:
    if isinstance(obj, dict) and obj:
        k = rng.choice(list(obj))
        obj[k] = _swap(obj[k], rng, huge) if rng.random() < 0.5 else (10**30 if huge else rng.choice(SWAPS))
        return obj
    if isinstance(obj, list) and obj:
        i = rng.randrange(len(obj))
        obj[i] = _swap(obj[i], rng, huge)
        return obj
    return 10**30 if huge else rng.choice(SWAPS)


def fuzz(seed: int, count: int, original: bytes, read: Callable[[bytes], Any]) -> None:
    rng = random.Random(seed)
    for i in range(count):
        data = mutate(original, rng)
        try:
            read(data)
        except HarnessError as e:
            assert "Traceback" not in str(e) and str(e).strip(), (i, data[:200])
        except Exception as e:  # noqa: BLE001 - the point of the test
            pytest.fail(f"mutation {i} (seed {seed}): {type(e).__name__}: {e}\n{data[:300]!r}")


def test_run_records(tmp_path: Path) -> None:
    for name, seed in (("summary.json", 1), ("results.jsonl", 2)):
        original = (V0 / name).read_bytes()

        def read(data: bytes, name: str = name) -> None:
            d = tmp_path / "run"
            shutil.rmtree(d, ignore_errors=True)
            shutil.copytree(V0, d)
            (d / name).write_bytes(data)
            for extra in ("results.csv", "summary.csv"):
                (d / extra).unlink(missing_ok=True)
            read_run(d)

        fuzz(seed, 150, original, read)


def test_recordings(tmp_path: Path) -> None:
    from harness.cli import main
    from tests.conftest import write_jsonl

    write_jsonl(tmp_path / "pool.jsonl", [{"id": f"q{i}", "text": f"question {i}"} for i in range(3)])
    write_jsonl(tmp_path / "answers.jsonl", [{"id": f"q{i}", "output": f"answer {i}"} for i in range(3)])
    rec = tmp_path / "rec"
    assert main(["record", "--inputs", str(tmp_path / "pool.jsonl"), "--id-field", "id", "--out", str(rec),
                 "--cache", str(tmp_path / "c.sqlite"), "--no-progress",
                 "--model", f"scripted:{tmp_path / 'answers.jsonl'}"]) == 0
    head, outputs = (rec / "recording.json").read_bytes(), (rec / "outputs.jsonl").read_bytes()
    unhashed = json.dumps({**json.loads(head), "outputs_sha256": ""}).encode()

    def read_head(data: bytes) -> None:
        (rec / "recording.json").write_bytes(data)
        (rec / "outputs.jsonl").write_bytes(outputs)
        load_recording(rec)

    def read_outputs(data: bytes) -> None:
        (rec / "recording.json").write_bytes(unhashed)
        (rec / "outputs.jsonl").write_bytes(data)
        load_recording(rec)

    fuzz(3, 150, head, read_head)
    fuzz(4, 150, outputs, read_outputs)


def test_batch_state_and_result_files(tmp_path: Path) -> None:
    state = json.dumps({"format_version": 1, "batches": [
        {"id": "batch-1", "input_file_id": "file-1", "custom_ids": ["a", "b"], "request_sha256": {"a": "0" * 64},
         "status": "in_progress", "collected": False}]}).encode()
    path = tmp_path / "batches.json"

    def read_state(data: bytes) -> None:
        path.write_bytes(data)
        s = BatchState.load(path)
        s.live()

    fuzz(5, 200, state, read_state)
    line = {"id": "r1", "custom_id": "a", "error": None, "response": {"status_code": 200, "request_id": "q", "body": {
        "id": "c", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}}}
    results = (json.dumps(line) + "\n" + json.dumps({**line, "custom_id": "b"}) + "\n").encode()

    def read_results(data: bytes) -> None:
        from harness.providers.openai import to_response

        files = ResultFiles("batch-1", to_response)
        files.add(data.decode("utf-8", "replace"))  # the SDK hands over text
        assert all(isinstance(r, Response) for r in files.responses.values())

    fuzz(6, 200, results, read_results)


def test_the_response_cache_file(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    cache = ResponseCache(path)
    for i in range(50):
        cache.put(f"k{i}", "{}", Response(text=f"answer {i}" * 20))
    cache.close()
    original = path.read_bytes()

    def read(data: bytes) -> None:
        for p in tmp_path.glob("c.sqlite*"):
            p.unlink()
        path.write_bytes(data)
        c = ResponseCache(path)
        try:
            c.get_many([f"k{i}" for i in range(50)])
            c.put("new", "{}", Response(text="x"))
        finally:
            c.close()

    fuzz(7, 100, original, read)


def test_scripted_outputs(tmp_path: Path) -> None:
    original = b'{"id": "a", "output": "x"}\n{"id": "b", "outputs": ["y", "z"]}\n{"id": "c", "error": "e", "delay_s": 0}\n'
    for suffix, seed in ((".jsonl", 8), (".json", 9)):
        path = tmp_path / f"outputs{suffix}"
        base = original if suffix == ".jsonl" else b'{"a": "x", "b": "y"}'

        def read(data: bytes, path: Path = path) -> None:
            path.write_bytes(data)
            ScriptedProvider(ModelSpec(provider="scripted", name=str(path)))

        fuzz(seed, 150, base, read)
