"""`harness record` through the real openai SDK against the fake server on loopback: provenance,
resume after a kill, and located errors for bad --inputs files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.cli import main
from harness.records.recording import load_recording
from fakes.fake_openai import FakeOpenAI
from tests.conftest import ROOT, write_jsonl

pytestmark = pytest.mark.timeout(120)

LABELS = {"parcel": "order_status", "stop": "cancel_order", "money": "refund_request", "tracking": "order_status"}


def label_answer(body: dict) -> str:
    text = body["messages"][-1]["content"]
    return next((v for k, v in LABELS.items() if k in text), "refund_request")


def test_record_suite_keeps_outputs_and_provenance(tiny_suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tiny_suite.parent / "rec"
    with FakeOpenAI(answer=label_answer, reported={"gpt-4o-mini": "gpt-4o-mini-2024-07-18"}) as srv:
        code = main(["record", str(tiny_suite), "--model", f"openai:gpt-4o-mini?base_url={srv.url}", "--out", str(out),
                     "--cache", str(tiny_suite.parent / "c.sqlite"), "--no-progress"])
        assert code == 0 and srv.count == 4
    rec = load_recording(out)
    h = rec.header
    assert h.kind == "suite" and h.reported_models == {"gpt-4o-mini-2024-07-18": 4} and h.system_fingerprints == {"fp_fake": 4}
    assert h.model["spec"]["name"] == "gpt-4o-mini" and h.generation["max_tokens"] == 8
    assert h.suite is not None and h.suite.split == "test" and len(h.suite.split_sha256) == 64
    assert [rec.output(i) for i in ("e1", "e2", "e3", "e4")] == ["order_status", "cancel_order", "refund_request", "order_status"]
    assert rec.by_id["e2"]["messages"] == [{"role": "user", "content": "Classify: stop my order"}]
    assert rec.by_id["e2"]["reference"] == "cancel_order" and rec.by_id["e2"]["model"] == "gpt-4o-mini-2024-07-18"
    chat = [json.loads(x) for x in (out / "chat.jsonl").read_text().splitlines()]
    assert chat[1]["messages"][-1] == {"role": "assistant", "content": "cancel_order"}
    assert "gpt-4o-mini-2024-07-18 (4)" in capsys.readouterr().out


def test_killed_recording_resumes_without_redoing_answers(tmp_path: Path) -> None:
    rows = [{"id": f"q{i}", "text": f"question number {i} about my parcel"} for i in range(12)]
    inputs = write_jsonl(tmp_path / "pool.jsonl", rows)
    out, cache = tmp_path / "rec", tmp_path / "cache.sqlite"
    args = ["record", "--inputs", str(inputs), "--id-field", "id", "--out", str(out), "--cache", str(cache), "--no-progress"]
    with FakeOpenAI(latency=0.4, answer=lambda b: "answer to " + b["messages"][-1]["content"]) as srv:
        model = f"openai:m?base_url={srv.url}&concurrency=1"
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        proc = subprocess.Popen([sys.executable, "-m", "harness.cli", *args, "--model", model], env=env, cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while sum(r.status == 200 for r in srv.chat_requests()) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.1)  # let the client commit the last answer it read
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        first = [r for r in srv.chat_requests() if r.status == 200]
        assert 4 <= len(first) < 12 and not (out / "recording.json").exists()
        srv.reset()
        srv.latency = 0.0
        assert main([*args, "--model", model]) == 0
        again = {r.body["messages"][-1]["content"] for r in srv.chat_requests()}
    answered_before = {r.body["messages"][-1]["content"] for r in first}
    # Every answer the killed run read back may be requested at most once more (the one in flight at
    # the kill is the only one that may have been answered but not committed); none is redone twice.
    redone = answered_before & again
    assert len(redone) <= 1, f"answers redone after the kill: {sorted(redone)}"
    assert len(again) <= 12 - len(first) + 1
    rec = load_recording(out)
    assert rec.header.counts["outputs"] == 12 and rec.header.counts["cached"] >= len(first) - 1
    assert rec.output("q3") == "answer to question number 3 about my parcel"


def test_second_run_is_all_cache_hits(tmp_path: Path) -> None:
    inputs = write_jsonl(tmp_path / "pool.jsonl", [{"text": "hello"}, {"text": "bye"}, {"text": "hello"}])
    base = ["record", "--inputs", str(inputs), "--out", str(tmp_path / "r"), "--cache", str(tmp_path / "c.sqlite"), "--no-progress"]
    with FakeOpenAI() as srv:
        assert main([*base, "--model", f"openai:m?base_url={srv.url}"]) == 0
        assert main([*base, "--model", f"openai:m?base_url={srv.url}"]) == 0
        assert srv.count == 2  # the repeated input is recorded once, the second run asks nothing
    assert load_recording(tmp_path / "r").header.counts == {"examples": 2, "outputs": 2, "errors": 0, "cached": 2}


def test_failed_inputs_exit_3_and_are_retried(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inputs = write_jsonl(tmp_path / "pool.jsonl", [{"text": "a"}, {"text": "b"}])
    base = ["record", "--inputs", str(inputs), "--out", str(tmp_path / "r"), "--cache", str(tmp_path / "c.sqlite"), "--no-progress"]
    with FakeOpenAI() as srv:
        srv.script({"status": 400})
        assert main([*base, "--model", f"openai:m?base_url={srv.url}&max_retries=0&concurrency=1"]) == 3
        assert "1 input(s) failed" in capsys.readouterr().out
        assert load_recording(tmp_path / "r").header.counts["errors"] == 1
        assert main([*base, "--model", f"openai:m?base_url={srv.url}&max_retries=0&concurrency=1"]) == 0
        assert srv.count == 3


@pytest.mark.parametrize(("name", "text", "extra", "expected"), [
    ("pool.jsonl", '{"text": "ok"}\nnot json\n{"body": "x"}\n', [], ["pool.jsonl:2: invalid JSON", "pool.jsonl:3: missing field 'text'"]),
    ("pool.csv", "text,other\nhello,1\nbad,row,extra\n", [], ["pool.csv:3: expected 2 fields"]),
    ("pool.csv", "body\nhello\n", [], ["pool.csv:2: missing field 'text' (--field)"]),
    ("pool.csv", "body\nhello\n", ["--field", "body"], []),
    ("pool.txt", "hello\n", [], ["pool.txt: expected a .jsonl"]),
    ("chat.jsonl", '{"messages": [{"role": "user", "content": "hi"}]}\n{"messages": [{"role": "bot", "content": "x"}]}\n',
     [], ["chat.jsonl:2: messages[0].role: got 'bot'"]),
])
def test_bad_inputs_are_located(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str,
                                extra: list[str], expected: list[str]) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with FakeOpenAI() as srv:
        code = main(["record", "--inputs", str(path), *extra, "--model", f"openai:m?base_url={srv.url}",
                     "--out", str(tmp_path / "r"), "--cache", str(tmp_path / "c.sqlite"), "--no-progress"])
    err = capsys.readouterr().err
    if not expected:
        assert code == 0
        return
    assert code == 2 and srv.count == 0
    for e in expected:
        assert e in err, err


def test_record_needs_a_source(tiny_suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["record", "--model", "scripted:x"]) == 2
    assert main(["record", str(tiny_suite), "--inputs", "x.jsonl", "--split", "test", "--model", "scripted:x"]) == 2
    assert "--split reads the suite's data" in capsys.readouterr().err


def test_inputs_asked_with_the_suites_prompt(tiny_suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pool = write_jsonl(tiny_suite.parent / "pool.jsonl", [{"body": "no text column"}])
    base = ["--out", str(tiny_suite.parent / "r"), "--cache", str(tiny_suite.parent / "c.sqlite"), "--no-progress"]
    with FakeOpenAI(answer=label_answer) as srv:
        model = f"openai:m?base_url={srv.url}"
        assert main(["record", str(tiny_suite), "--inputs", str(pool), "--field", "body", "--model", model, *base]) == 2
        assert "pool.jsonl:1: missing field 'text' (used in the prompt of" in capsys.readouterr().err
        pool.write_text('{"text": "where is it"}\n{"text": "stop it"}\n')
        assert main(["record", str(tiny_suite), "--inputs", str(pool), "--model", model, *base]) == 0
        sent = {r.body["messages"][0]["content"]: r.body for r in srv.chat_requests()}  # arrival order is the server's
    first = sent["Classify: where is it"]
    assert first["messages"] == [{"role": "user", "content": "Classify: where is it"}] and first["max_tokens"] == 8
    h = load_recording(tiny_suite.parent / "r").header
    assert h.kind == "inputs" and h.inputs is not None and h.inputs.suite_path == str(tiny_suite)
    assert h.inputs.prompt_sha256 is not None and h.generation["max_tokens"] == 8
