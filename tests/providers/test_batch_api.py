"""The Batch API path against the fake Batch API on loopback, through the real openai SDK."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from openai import AsyncOpenAI

from harness.providers.openai_batch import BatchPolicy, BatchRunner, chunk, jsonl_line
from harness.core.errors import HarnessError
from fakes.fake_batch_api import FakeBatchAPI, LineError, echo_responder

ROOT = Path(__file__).resolve().parents[2]
FAST = BatchPolicy(poll_first_s=0.01, poll_max_s=0.05)


def body(text: str, model: str = "gpt-4o-mini") -> dict:
    return {"model": model, "messages": [{"role": "user", "content": text}], "max_tokens": 8, "temperature": 0}


def items(n: int, model: str = "gpt-4o-mini") -> list[tuple[str, dict]]:
    return [(f"ex{i}", body(f"hello number {i}", model)) for i in range(n)]


def run(api: FakeBatchAPI, state: Path, todo, policy: BatchPolicy = FAST, **kw):
    async def go():
        client = AsyncOpenAI(base_url=api.base_url, api_key=api.api_key, max_retries=0)
        try:
            return await BatchRunner(client, state, policy, **kw).run(todo)
        finally:
            await client.close()
    return asyncio.run(go())


def test_a_batch_round_trip_maps_every_answer_to_its_custom_id(tmp_path):
    with FakeBatchAPI() as api:
        out = run(api, tmp_path / "batches.json", items(5))
        assert {k: v.text for k, v in out.items()} == {f"ex{i}": f"HELLO NUMBER {i}" for i in range(5)}
        assert all(v.error is None and v.input_tokens == 3 for v in out.values())
        [upload] = api.calls("POST", "/v1/files")
        assert upload.body["purpose"] == "batch"
        [create] = api.calls("POST", "/v1/batches")
        assert create.body["endpoint"] == "/v1/chat/completions" and create.body["completion_window"] == "24h"
        sent = api.contents[create.body["input_file_id"]].decode().splitlines()
        assert [json.loads(s)["custom_id"] for s in sent] == [f"ex{i}" for i in range(5)]
    state = json.loads((tmp_path / "batches.json").read_text())
    assert state["format_version"] == 1 and state["batches"][0]["collected"] is True


def test_files_are_cut_at_the_line_and_byte_limits():
    lines = [jsonl_line(f"c{i}", body("x" * 10), "/v1/chat/completions") for i in range(7)]
    assert chunk(lines, 3, 10**9) == [[0, 1, 2], [3, 4, 5], [6]]
    size = len(lines[0])
    assert chunk(lines, 100, 2 * size) == [[0, 1], [2, 3], [4, 5], [6]]
    with pytest.raises(HarnessError, match="over the 10-byte file limit"):
        chunk(lines, 100, 10)


def test_a_split_suite_goes_out_as_several_batches(tmp_path):
    with FakeBatchAPI() as api:
        out = run(api, tmp_path / "b.json", items(5), BatchPolicy(max_lines=2, poll_first_s=0.01, poll_max_s=0.05))
        assert len(api.calls("POST", "/v1/batches")) == 3
        assert sorted(out) == [f"ex{i}" for i in range(5)] and all(v.text for v in out.values())


def test_a_line_that_fails_inside_the_batch_is_that_examples_error(tmp_path):
    def responder(b):
        if "3" in b["messages"][0]["content"]:
            raise LineError(400, "This model's maximum context length is 8 tokens", "context_length_exceeded")
        return echo_responder(b)

    with FakeBatchAPI(responder=responder) as api:
        out = run(api, tmp_path / "b.json", items(5))
    assert out["ex3"].text is None and "HTTP 400" in out["ex3"].error and "maximum context length" in out["ex3"].error
    assert [k for k, v in out.items() if v.error] == ["ex3"]


def test_an_expired_batch_returns_what_ran_and_errors_for_the_rest(tmp_path):
    with FakeBatchAPI(hold=True) as api:
        async def go():
            client = AsyncOpenAI(base_url=api.base_url, api_key=api.api_key, max_retries=0)
            task = asyncio.create_task(BatchRunner(client, tmp_path / "b.json", FAST).run(items(5)))
            while not api.batches or next(iter(api.batches.values()))["status"] != "in_progress":
                await asyncio.sleep(0.01)
            api.expire(next(iter(api.batches)), after=2)
            try:
                return await task
            finally:
                await client.close()
        out = asyncio.run(go())
    assert [k for k, v in out.items() if v.text] == ["ex0", "ex1"]
    assert all("batch_expired" in out[f"ex{i}"].error for i in (2, 3, 4))


def test_a_refused_batch_names_the_rule_and_the_line(tmp_path):
    todo = items(2) + [("other", body("hi", model="gpt-4.1-mini"))]
    with FakeBatchAPI() as api, pytest.raises(HarnessError, match="mismatched_model"):
        run(api, tmp_path / "b.json", todo)
    with FakeBatchAPI(max_lines=2) as api, pytest.raises(HarnessError, match="too_many_requests: 3 requests"):
        run(api, tmp_path / "c.json", items(3))


def test_duplicate_custom_ids_are_refused_before_anything_is_sent(tmp_path):
    with FakeBatchAPI() as api:
        with pytest.raises(HarnessError, match="distinct custom ids"):
            run(api, tmp_path / "b.json", items(2) + items(1))
        assert api.requests == []


DRIVER = textwrap.dedent("""
    import asyncio, sys
    from pathlib import Path
    from openai import AsyncOpenAI
    from harness.providers.openai_batch import BatchPolicy, BatchRunner
    base_url, key, state = sys.argv[1:4]
    todo = [(f"ex{i}", {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"hello number {i}"}],
                        "max_tokens": 8, "temperature": 0}) for i in range(4)]  # the rerun's requests: items(4)
    async def go():
        client = AsyncOpenAI(base_url=base_url, api_key=key, max_retries=0)
        await BatchRunner(client, Path(state), BatchPolicy(poll_first_s=0.02, poll_max_s=0.05)).run(todo)
    asyncio.run(go())
""")


def test_a_killed_driver_reattaches_to_its_batch_instead_of_paying_twice(tmp_path):
    state = tmp_path / "run" / "batches.json"
    with FakeBatchAPI(hold=True) as api:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen([sys.executable, "-c", DRIVER, api.base_url, api.api_key, str(state)], env=env)
        deadline = time.monotonic() + 60
        while not (state.is_file() and len(api.calls("GET", "/v1/batches/")) >= 2):
            assert proc.poll() is None and time.monotonic() < deadline, "the driver never created its batch"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert len(api.calls("POST", "/v1/batches")) == 1
        api.release()
        out = run(api, state, items(4))
        assert len(api.calls("POST", "/v1/batches")) == 1, "the rerun created a second batch"
        assert {k: v.text for k, v in out.items()} == {f"ex{i}": f"HELLO NUMBER {i}" for i in range(4)}


def test_a_cancelled_batch_gives_every_request_an_error_to_retry(tmp_path):
    with FakeBatchAPI(hold=True) as api:
        async def go():
            client = AsyncOpenAI(base_url=api.base_url, api_key=api.api_key, max_retries=0)
            task = asyncio.create_task(BatchRunner(client, tmp_path / "b.json", FAST).run(items(3)))
            while not api.batches:
                await asyncio.sleep(0.01)
            await client.batches.cancel(next(iter(api.batches)))
            try:
                return await task
            finally:
                await client.close()
        out = asyncio.run(go())
    assert all(v.text is None and "batch_cancelled" in v.error for v in out.values())


def test_a_state_file_that_is_not_ours_is_refused_with_its_path(tmp_path):
    bad = tmp_path / "batches.json"
    bad.write_text('{"hello": 1}')
    with FakeBatchAPI() as api, pytest.raises(HarnessError, match="batches.json: not a batch state file"):
        run(api, bad, items(1))


def test_a_malformed_result_line_fails_only_its_example_and_the_rest_are_kept(tmp_path):
    def mangle(lines):
        lines[1] = lines[1][: len(lines[1]) // 2]  # a truncated line: its custom_id is still readable
        lines[3] = "not json at all"               # a line with no id at all
        return lines

    state = tmp_path / "b.json"
    with FakeBatchAPI(mangle=mangle) as api:
        out = run(api, state, items(5))
    assert {k for k, v in out.items() if v.text} == {"ex0", "ex2", "ex4"}
    assert "line 2 of its output file is not a batch result" in out["ex1"].error
    assert "no result line" in out["ex3"].error and "line 4" in out["ex3"].error
    assert json.loads(state.read_text())["batches"][0]["collected"] is True  # a rerun sends only the failed two


@pytest.mark.parametrize("line", [
    {"custom_id": "ex1", "response": "oops", "error": None},
    {"custom_id": "ex1", "response": None, "error": "rate limited"},
    {"custom_id": "ex1", "response": {"status_code": 500, "body": "down"}, "error": None},
    {"custom_id": "ex1", "response": {"status_code": 200, "body": ["x"]}, "error": None},
    {"custom_id": 7, "response": None, "error": None},
    ["ex1"],
])
def test_a_result_line_of_the_wrong_shape_is_that_examples_failure(tmp_path, line):
    def mangle(lines):
        lines[1] = json.dumps(line)
        return lines

    with FakeBatchAPI(mangle=mangle) as api:
        out = run(api, tmp_path / "b.json", items(3))
    assert out["ex0"].text == "HELLO NUMBER 0" and out["ex2"].text == "HELLO NUMBER 2"
    assert out["ex1"].text is None and out["ex1"].error.startswith("batch")


def test_a_custom_id_twice_in_a_result_file_is_a_located_error_for_that_id(tmp_path):
    def mangle(lines):
        other = json.loads(lines[0])
        other["response"]["body"]["choices"][0]["message"]["content"] = "SOMETHING ELSE"
        return lines + [json.dumps(other)]

    with FakeBatchAPI(mangle=mangle) as api:
        out = run(api, tmp_path / "b.json", items(3))
    assert out["ex0"].text is None
    assert "custom_id 'ex0' appears twice" in out["ex0"].error and "lines 1 and 4" in out["ex0"].error
    assert out["ex1"].text == "HELLO NUMBER 1" and out["ex2"].text == "HELLO NUMBER 2"


def test_a_live_batch_is_reattached_only_for_the_same_request_not_the_same_id(tmp_path):
    state = tmp_path / "b.json"
    with FakeBatchAPI(hold=True) as api:
        async def killed():  # a driver that dies while its batch runs: batches.json names a live batch
            client = AsyncOpenAI(base_url=api.base_url, api_key=api.api_key, max_retries=0)
            task = asyncio.create_task(BatchRunner(client, state, FAST).run(items(3)))
            while not state.is_file():
                await asyncio.sleep(0.01)
            task.cancel()
            await client.close()
        asyncio.run(killed())
        api.release()
        changed = [(cid, body(f"a new prompt {i}")) for i, (cid, _) in enumerate(items(3))]
        changed[2] = items(3)[2]  # ex2 still asks what the live batch asks: that one is reattached
        out = run(api, state, changed)
        assert len(api.calls("POST", "/v1/batches")) == 2, "the changed requests were not sent again"
        second = api.calls("POST", "/v1/batches")[1]
        sent = [json.loads(x)["custom_id"] for x in api.contents[second.body["input_file_id"]].decode().splitlines()]
    assert sent == ["ex0", "ex1"]
    assert {k: v.text for k, v in out.items()} == {"ex0": "A NEW PROMPT 0", "ex1": "A NEW PROMPT 1", "ex2": "HELLO NUMBER 2"}


OLD_STATE = {"format_version": 1, "batches": [
    {"id": "batch_1", "input_file_id": "file_1", "custom_ids": ["ex0", "ex1"], "status": "in_progress", "collected": False},
    {"id": "batch_0", "input_file_id": "file_0", "custom_ids": ["ex9"], "status": "completed", "collected": True}]}


def test_a_state_file_of_an_earlier_release_reads_and_is_rewritten_byte_for_byte(tmp_path):
    from harness.providers.openai_batch import BatchState

    path = tmp_path / "batches.json"
    old_text = json.dumps(OLD_STATE, indent=1)  # as BatchState.save wrote it before records/batches.py
    path.write_text(old_text)
    state = BatchState.load(path)
    assert [b.id for b in state.live()] == ["batch_1"] and state.live()[0].custom_ids == ["ex0", "ex1"]
    state.save()
    assert path.read_text() == old_text


def test_a_state_file_with_a_bad_entry_names_the_field(tmp_path):
    bad = tmp_path / "batches.json"
    bad.write_text(json.dumps({"format_version": 1, "batches": [{"id": "batch_1", "status": "completed"}]}))
    with FakeBatchAPI() as api, pytest.raises(HarnessError, match=r"batches.json: not a batch state file .*"
                                                                  r"field batches\[0\]\.input_file_id"):
        run(api, bad, items(1))
