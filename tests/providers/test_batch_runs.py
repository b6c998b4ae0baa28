"""`harness run` through the Batch API (openai:MODEL?batch=true / --batch) against the fake Batch
API on loopback, through the real openai SDK: the same outputs as the synchronous path, the same
cache, a reattach after a killed driver, and an expired batch's unrun examples retried by a rerun."""

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
from harness.records.rundir import load_run
from fakes.fake_batch_api import FakeBatchAPI, echo_responder
from fakes.fake_openai import FakeOpenAI
from tests.conftest import echo_suite, write_jsonl

pytestmark = pytest.mark.timeout(180)
ROOT = Path(__file__).resolve().parents[2]
N = 6
SUITE = echo_suite("batched", max_tokens=8)


@pytest.fixture(autouse=True)
def _key_for_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("HARNESS_PRICES", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")  # the fake's key; the host must be allowed to get it
    monkeypatch.setenv("HARNESS_KEY_HOSTS", "127.0.0.1")


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    write_jsonl(tmp_path / "cases.jsonl", [{"id": f"c{i}", "question": f"hello number {i}", "answer": f"HELLO NUMBER {i}"}
                                           for i in range(N)])
    (tmp_path / "suite.yaml").write_text(SUITE)
    return tmp_path / "suite.yaml"


def _run(suite: Path, url: str, out: Path, *extra: str, batch: bool = True) -> list[str]:
    q = "&batch=true&batch_poll_s=0.02" if batch else ""
    # price_as: the fake stands in for api.openai.com, whose list price a loopback server is otherwise not charged
    return ["run", str(suite), "--model", f"openai:gpt-4o-mini?base_url={url}&price_as=gpt-4o-mini{q}", "--out", str(out),
            "--reports", str(suite.parent / "reports"), "--no-progress", *extra]


def _outputs(run_dir: Path) -> dict[str, str | None]:
    return {r["id"]: r["output"] for r in load_run(run_dir)[1]}


def _echo(body: dict) -> str:
    return echo_responder(body)["choices"][0]["message"]["content"]


def test_a_batched_run_gives_the_synchronous_outputs_and_fills_the_same_cache(suite: Path, capsys) -> None:
    tmp = suite.parent
    with FakeOpenAI(answer=_echo) as srv:
        assert main(_run(suite, srv.url, tmp / "sync", batch=False)) == 0
        sync_bodies = [r.body for r in srv.chat_requests()]
    with FakeBatchAPI() as api:
        assert main(_run(suite, api.base_url, tmp / "batch")) == 0, capsys.readouterr()
        [create] = api.calls("POST", "/v1/batches")
        lines = [json.loads(x) for x in api.contents[create.body["input_file_id"]].decode().splitlines()]
        # a rerun reads the cache the batch filled: nothing new is sent
        assert main(_run(suite, api.base_url, tmp / "again")) == 0
        assert len(api.calls("POST", "/v1/batches")) == 1
    assert _outputs(tmp / "batch") == _outputs(tmp / "sync") == {f"c{i}": f"HELLO NUMBER {i}" for i in range(N)}
    assert [x["custom_id"] for x in lines] == [f"c{i}" for i in range(N)]
    by_text = {b["messages"][0]["content"]: b for b in sync_bodies}
    assert all(x["body"] == by_text[x["body"]["messages"][0]["content"]] for x in lines)  # the same request bodies
    assert json.loads((tmp / "batch" / "batches.json").read_text())["batches"][0]["collected"] is True
    summary, _ = load_run(tmp / "again")
    assert summary.counts.cached == N
    cost = load_run(tmp / "batch")[0].cost
    assert cost.batch is True and cost.models["openai:gpt-4o-mini"].input_tokens == 3 * N
    # gpt-4o-mini at half price: 3 in + 3 out tokens an example at $0.15 / $0.60 per 1M
    assert cost.spent_usd == pytest.approx(N * (3 * 0.15 + 3 * 0.60) / 1e6 / 2)


def test_the_key_goes_only_to_an_allowed_host(suite: Path, monkeypatch, capsys) -> None:
    monkeypatch.delenv("HARNESS_KEY_HOSTS")
    with FakeBatchAPI() as api:
        assert main(_run(suite, api.base_url, suite.parent / "nokey")) == 3
        assert api.calls("POST", "/v1/batches") == []  # the placeholder was refused at the upload
    rows = load_run(suite.parent / "nokey")[1]
    assert all(r["output"] is None and "401" in r["error"] for r in rows)


DRIVER = """
import sys
from harness.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_killed_driver_reattaches_with_the_same_out_and_creates_no_second_batch(suite: Path, capsys) -> None:
    out = suite.parent / "killed"
    with FakeBatchAPI(hold=True) as api:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen([sys.executable, "-c", DRIVER, *_run(suite, api.base_url, out)], env=env)
        deadline = time.monotonic() + 90
        while not ((out / "batches.json").is_file() and len(api.calls("GET", "/v1/batches/")) >= 2):
            assert proc.poll() is None and time.monotonic() < deadline, "the driver never created its batch"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        api.release()
        assert main(_run(suite, api.base_url, out)) == 0, capsys.readouterr()
        assert len(api.calls("POST", "/v1/batches")) == 1, "the rerun created a second batch"
    assert _outputs(out) == {f"c{i}": f"HELLO NUMBER {i}" for i in range(N)}


def test_an_expired_batch_leaves_errors_and_a_rerun_sends_only_those(suite: Path, capsys) -> None:
    import threading

    out = suite.parent / "expired"
    with FakeBatchAPI(hold=True) as api:
        def expire() -> None:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                live = [b for b in list(api.batches.values()) if b["status"] == "in_progress"]
                if live:
                    api.expire(live[0]["id"], after=2)
                    return
                time.sleep(0.01)

        t = threading.Thread(target=expire)
        t.start()
        assert main(_run(suite, api.base_url, out)) == 3
        t.join()
        rows = {r["id"]: r for r in load_run(out)[1]}
        assert [k for k, r in rows.items() if r["output"]] == ["c0", "c1"]
        assert all("batch_expired" in rows[f"c{i}"]["error"] for i in range(2, N))
        api.release()
        assert main(_run(suite, api.base_url, out)) == 0, capsys.readouterr()
        second = api.calls("POST", "/v1/batches")[1]
        sent = [json.loads(x)["custom_id"] for x in api.contents[second.body["input_file_id"]].decode().splitlines()]
        assert sent == [f"c{i}" for i in range(2, N)]
    assert _outputs(out) == {f"c{i}": f"HELLO NUMBER {i}" for i in range(N)}
