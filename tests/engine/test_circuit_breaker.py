"""The circuit breaker end to end: the fake OpenAI server is killed in the middle of a `harness run`;
the run stops sending at once, writes its directory and exits 3 with one line naming the endpoint;
with the server back, the rerun requests exactly the examples that were missing."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from harness.cli import main
from harness.records.rundir import load_run
from fakes.fake_openai import FakeOpenAI
from tests.conftest import echo_suite, write_jsonl

pytestmark = pytest.mark.timeout(180)

N = 60
SUITE = echo_suite("breaker")


@pytest.fixture(autouse=True)
def _no_real_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_server_killed_mid_run_stops_the_run_and_the_rerun_resumes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_jsonl(tmp_path / "cases.jsonl", [{"id": f"c{i:02d}", "question": f"q{i}", "answer": "ok"} for i in range(N)])
    (tmp_path / "suite.yaml").write_text(SUITE)
    tenth = threading.Event()
    seen = 0

    def answer(body: dict) -> str:
        nonlocal seen
        seen += 1
        if seen == 10:
            tenth.set()
        return "ok"

    srv = FakeOpenAI(latency=0.05, answer=answer).start()
    url, port = srv.url, srv.port

    def kill() -> None:  # the server goes away under the run: listener closed, open connections reset
        tenth.wait(60)
        srv.stop()

    killer = threading.Thread(target=kill)
    killer.start()
    # the default retry schedule (5 retries, 0.5 s doubling): without the breaker each of the ~50
    # remaining examples would take 6 attempts and about 15 s of backoff, minutes in all
    args = ["run", str(tmp_path / "suite.yaml"), "--model", f"openai:fake?base_url={url}&concurrency=4",
            "--reports", str(tmp_path / "reports"), "--no-progress", "--max-connection-errors", "8"]
    t0 = time.monotonic()
    code = main(args)
    elapsed = time.monotonic() - t0
    killer.join()
    out, err = capsys.readouterr()
    assert code == 3, out + err

    run_dir = Path(out.split("run directory: ")[1].split()[0])
    _, rows = load_run(run_dir)  # the run wrote its directory
    done = [r for r in rows if r["output"] == "ok"]
    failed = [r for r in rows if r["output"] is None]
    not_attempted = [r for r in failed if r["attempts"] == 0]
    assert len(rows) == N and 0 < len(done) < 20 and len(done) + len(failed) == N
    assert all(r["error"].startswith("not attempted: endpoint down") for r in not_attempted)
    assert len(not_attempted) >= N - len(done) - 4  # at most the 4 in flight were tried at all
    assert sum(r["attempts"] for r in failed) <= 8 + 4  # 8 consecutive connection errors, plus those already in flight
    assert elapsed < 60, elapsed
    lines = [line for line in err.splitlines() if "endpoint down" in line]
    assert lines == [(f"endpoint down: {url} (8 consecutive connection errors); {len(not_attempted)} example(s) not attempted; "
                      "rerun to resume")]

    # the server is back on the same port: only the missing examples are requested
    with FakeOpenAI(port=port, latency=0.01, answer=lambda body: "ok") as again:
        assert main(args) == 0
        asked = sorted(r.body["messages"][0]["content"] for r in again.chat_requests())
    assert asked == sorted(f"q{int(r['id'][1:])}" for r in failed)
    out = capsys.readouterr().out
    assert f"examples={N} (cached {len(done)}, errors 0)" in out
