"""Rule (d) of issue 20: every reader of a file a user or another tool may have written turns
malformed content into a located HarnessError (or a per-item failure), never another exception.
A seeded loop of mutations (truncations, type swaps, huge numbers, non-UTF-8 bytes) per reader;
the whole file runs in seconds."""

from __future__ import annotations

import json
import os
import re
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


# ------------------------------------------------------------------ through the command line
# Each mutated file goes through main() as a user would run it: exit 0 (the mutation left a
# readable file, or `report --index` listed it as unreadable and wrote the page) or the documented
# 2 / 4 with one stderr line, and never a traceback.

def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    from harness.cli import main

    try:
        rc = main(argv)
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else 2
    except Exception as e:  # noqa: BLE001 - the point of the test
        pytest.fail(f"{' '.join(argv)}: {type(e).__name__}: {e}")
    return rc, capsys.readouterr().err


def cli_fuzz(seed: int, count: int, original: bytes, place: Callable[[bytes], None], argv: list[str],
             capsys: pytest.CaptureFixture[str], ok: tuple[int, ...] = (0, 2, 4), place_path: Path | None = None) -> set[int]:
    rng, codes = random.Random(seed), set()
    for i in range(count):
        data = mutate(original, rng)
        place(data)
        rc, err = _cli(argv, capsys)
        # the located line; InputProblems' closing count ("1 problem found") is the CLI's own format
        lines = [x for x in err.splitlines() if x.strip() and not re.fullmatch(r"\d+ problems? found", x.strip())]
        assert rc in ok and "Traceback" not in err, (i, rc, err[-2000:], data[:300])
        if rc:  # one located line; an importer's union-typed field may name each variant that failed
            assert lines and all(x.startswith(str(place_path)) for x in lines) if place_path else len(lines) == 1, \
                (i, rc, lines, data[:300])
        codes.add(rc)
    return codes


def test_compare_over_mutated_run_directories(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base, cand = tmp_path / "base", tmp_path / "cand"
    shutil.copytree(V0.parent / "base", base)
    codes: set[int] = set()
    for name, seed in (("summary.json", 11), ("results.jsonl", 12)):
        original = (V0 / name).read_bytes()

        def place(data: bytes, name: str = name) -> None:
            shutil.rmtree(cand, ignore_errors=True)
            shutil.copytree(V0, cand)
            (cand / name).write_bytes(data)

        codes |= cli_fuzz(seed, 40, original, place, ["compare", str(base), str(cand), "--out", str(tmp_path / "cmp"),
                                                      "--reports", str(tmp_path / "reports")], capsys)
    assert 2 in codes  # the mutations did reach the reader


def test_report_index_over_mutated_summary_gate_and_lineage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.report.test_index_files import GATE, LINEAGE

    root = tmp_path / "reports"
    shutil.copytree(V0, root / "runs" / "cand")
    (root / "gates" / "g").mkdir(parents=True)
    (root / "loops" / "l").mkdir(parents=True)
    files = {"runs/cand/summary.json": (V0 / "summary.json").read_bytes(),
             "gates/g/gate.json": json.dumps(GATE).encode(), "loops/l/lineage.json": json.dumps(LINEAGE).encode()}
    for f, data in files.items():
        (root / f).write_bytes(data)
    for seed, (name, original) in enumerate(files.items(), start=13):
        def place(data: bytes, name: str = name) -> None:
            (root / name).write_bytes(data)

        cli_fuzz(seed, 40, original, place, ["report", "--index", str(root)], capsys)
        (root / name).write_bytes(original)
        assert _cli(["report", "--index", str(root)], capsys)[0] == 0


def test_import_over_mutated_eval_files(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    fixtures = ROOT / "importers" / "fixtures"
    monkeypatch.chdir(tmp_path)
    src, items = tmp_path / "eval.json", tmp_path / "items.jsonl"
    items.write_bytes((fixtures / "items.jsonl").read_bytes())
    argv = ["import", "openai-eval", str(src), "--data", str(items), "--force"]
    src.write_bytes((fixtures / "openai_eval.json").read_bytes())
    assert _cli(argv, capsys)[0] == 0
    codes = cli_fuzz(15, 60, (fixtures / "openai_eval.json").read_bytes(), src.write_bytes, argv, capsys, place_path=src)
    src.write_bytes((fixtures / "openai_eval.json").read_bytes())
    codes |= cli_fuzz(16, 40, (fixtures / "items.jsonl").read_bytes(), items.write_bytes, argv, capsys)
    assert 2 in codes


# ------------------------------------------------------------------ FIFOs in place of files
# A FIFO with no writer blocks open() forever: every reader must refuse it (exit 2 or 4, one line)
# without waiting. A thread guards each call so a hang fails the test instead of the session.

def _no_hang(call: Callable[[], Any], seconds: float = 10.0) -> Any:
    import threading

    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = call()
        except BaseException as e:  # noqa: BLE001 - handed back below
            box["error"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(seconds)
    if t.is_alive():
        for fifo in _FIFOS:  # unblock the reader so the thread can end
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                os.close(fd)
            except OSError:
                pass
        pytest.fail(f"hung for {seconds} s on a FIFO")
    if "error" in box:
        raise box["error"]
    return box.get("value")


_FIFOS: list[Path] = []


def _fifo(path: Path) -> Path:
    path.unlink(missing_ok=True)
    os.mkfifo(path)
    _FIFOS.append(path)
    return path


def test_a_fifo_summary_in_compare_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base, cand = tmp_path / "base", tmp_path / "cand"
    shutil.copytree(V0.parent / "base", base)
    shutil.copytree(V0, cand)
    _fifo(cand / "summary.json")
    rc, err = _no_hang(lambda: _cli(["compare", str(base), str(cand), "--out", str(tmp_path / "cmp")], capsys))
    assert rc in (2, 4) and len(err.strip().splitlines()) <= 2 and "summary.json" in err.splitlines()[0], err


def test_a_fifo_recording_outputs_is_refused(tmp_path: Path) -> None:
    from harness.cli import main
    from tests.conftest import write_jsonl

    write_jsonl(tmp_path / "pool.jsonl", [{"id": "q0", "text": "question"}])
    write_jsonl(tmp_path / "answers.jsonl", [{"id": "q0", "output": "answer"}])
    rec = tmp_path / "rec"
    assert main(["record", "--inputs", str(tmp_path / "pool.jsonl"), "--id-field", "id", "--out", str(rec),
                 "--cache", str(tmp_path / "c.sqlite"), "--no-progress",
                 "--model", f"scripted:{tmp_path / 'answers.jsonl'}"]) == 0
    _fifo(rec / "outputs.jsonl")
    with pytest.raises(HarnessError, match="outputs.jsonl"):
        _no_hang(lambda: load_recording(rec))


def test_a_fifo_batches_json_is_refused(tmp_path: Path) -> None:
    path = _fifo(tmp_path / "batches.json")
    with pytest.raises(HarnessError, match="batches.json"):
        _no_hang(lambda: BatchState.load(path))


# ------------------------------------------------------------------ hand-edited batches.json entries

ENTRY = {"id": "batch-1", "input_file_id": "file-1", "custom_ids": ["a", "b"], "request_sha256": {"a": "0" * 64},
         "status": "in_progress", "collected": False}


@pytest.mark.parametrize(("field", "value"), [
    ("custom_ids", "a"), ("custom_ids", {"a": 1}), ("custom_ids", [1, 2]), ("custom_ids", None),
    ("request_sha256", ["a"]), ("request_sha256", {"a": 1}), ("id", 7), ("id", None), ("status", []),
    ("collected", "maybe"), ("input_file_id", {}), (None, None),
])
def test_hand_edited_batch_entries_are_located(tmp_path: Path, field: str | None, value: Any) -> None:
    entry = dict(ENTRY) if field else "batch-1"
    if field:
        entry[field] = value
    path = tmp_path / "batches.json"
    path.write_text(json.dumps({"format_version": 1, "batches": [entry]}))
    with pytest.raises(HarnessError) as e:
        BatchState.load(path)
    msg = str(e.value)
    assert len(msg.splitlines()) == 1 and str(path) in msg and "batches[0]" in msg, msg
    if field:
        assert field in msg, msg
