"""The `openai` trainer against a local server that follows the fine-tuning API's contract.

The server (tests.fakes.fake_finetune_api) runs on a free loopback port in a thread; the
trainer talks to it through the real openai SDK. Jobs advance one state per poll, so with
poll intervals of a few milliseconds a whole job takes well under a second.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cli import main
from harness.core.errors import HarnessError, InputProblems
from harness.providers.base import ModelSpec
from fakes.fake_finetune_api import FakeFineTuneAPI, Script
from harness.train.base import TrainConfig, TrainingFailed, run_training

ROOT = Path(__file__).resolve().parents[2]
INTENT_SUITE = ROOT / "suites" / "support_intent.yaml"
BASE = "gpt-4o-mini-2024-07-18"

pytestmark = pytest.mark.timeout(60)


def chat(user: str, answer: str, **extra: str) -> dict:
    return extra | {"messages": [{"role": "system", "content": "Route the message."}, {"role": "user", "content": user},
                                 {"role": "assistant", "content": answer}]}


TRAIN = [chat(f"question number {i} about parcel {i * 7}", "order_status", id=f"t{i}") for i in range(6)]
VALID = [chat("where has my parcel 99 gone", "order_status", id="v1"), chat("please stop order 12", "cancel_order", id="v2")]

# raw data for `harness train` on the support-intent suite (fields id, text, intent)
RAW = [{"id": f"r{i}", "text": text, "intent": intent} for i, (text, intent) in enumerate([
    ("Has the blue kayak paddle left your warehouse yet", "order_status"),
    ("When should the snowshoes reach Glasgow", "order_status"),
    ("Is parcel NW-00417 still stuck at the depot", "order_status"),
    ("Please scrap my purchase of the camping stove", "cancel_order"),
    ("I changed my mind about the trekking poles, cancel them", "cancel_order"),
    ("Do not ship the climbing harness, I no longer want it", "cancel_order"),
    ("The zipper on my new sleeping bag came off on day one", "damaged_item"),
    ("My headlamp arrived with a shattered lens", "damaged_item"),
    ("The water filter housing was cracked in the box", "damaged_item"),
    ("Send my money back for the returned rain jacket", "refund_request"),
    ("I returned the boots a week ago and still wait for my refund", "refund_request"),
    ("Refund the gloves please, they went back on Monday", "refund_request"),
])]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeFineTuneAPI]:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.setenv("HARNESS_KEY_HOSTS", "127.0.0.1")  # the fake API's host may receive the key: allowed explicitly
    with FakeFineTuneAPI(api_key="test-key") as server:
        yield server


def base_spec(api: FakeFineTuneAPI, **query: str) -> str:
    extra = "".join(f"&{k}={v}" for k, v in query.items())
    return f"openai:{BASE}?base_url={api.base_url}{extra}"


def config(api: FakeFineTuneAPI, tmp_path: Path, **kw) -> TrainConfig:
    values = {"trainer": "openai", "base": base_spec(api), "train_file": write_jsonl(tmp_path / "train.jsonl", TRAIN),
              "validation_file": write_jsonl(tmp_path / "valid.jsonl", VALID), "out_dir": tmp_path / "out",
              "epochs": 2, "batch_size": 2, "learning_rate_multiplier": 0.5, "suffix": "intent", "seed": 7,
              "poll_interval_s": 0.005, "max_poll_interval_s": 0.02}
    return TrainConfig(**(values | kw))


def jobs_created(api: FakeFineTuneAPI) -> list:
    return [c for c in api.calls("POST", "/v1/fine_tuning/jobs") if c.path == "/v1/fine_tuning/jobs" and c.status == 200]


# ------------------------------------------------------------------------------ success

def test_success_uploads_creates_polls_and_collects_results(api: FakeFineTuneAPI, tmp_path: Path) -> None:
    lines: list[str] = []
    cfg = config(api, tmp_path)
    result = run_training(cfg, lines.append)

    # two uploads, purpose fine-tune, holding only what the API reads (no ids)
    ups = api.uploads()
    assert [(u["filename"], u["purpose"]) for u in ups] == [("train.jsonl", "fine-tune"), ("valid.jsonl", "fine-tune")]
    sent = [json.loads(line) for line in api.contents[ups[0]["id"]].decode().splitlines()]
    assert sent == [{"messages": r["messages"]} for r in TRAIN]

    # one job with the hyperparameters, suffix, seed and validation file
    (create,) = jobs_created(api)
    body = create.body
    assert (body["model"], body["training_file"], body["validation_file"], body["suffix"], body["seed"]) == (
        BASE, ups[0]["id"], ups[1]["id"], "intent", 7)
    assert body["method"] == {"type": "supervised", "supervised": {"hyperparameters": {
        "n_epochs": 2, "batch_size": 2, "learning_rate_multiplier": 0.5}}}
    (job,) = api.jobs.values()
    assert job["status"] == "succeeded"

    # the candidate is the fine-tuned model on the same endpoint
    assert job["fine_tuned_model"].startswith(f"ft:{BASE}:fake-org:intent:")
    assert result.candidate == f"openai:{job['fine_tuned_model']}?base_url={api.base_url}"
    spec = ModelSpec.parse(result.candidate)  # what `harness run --model CANDIDATE` does
    assert (spec.provider, spec.name, spec.params.base_url) == ("openai", job["fine_tuned_model"], api.base_url)
    assert result.job_id == job["id"]
    hp = result.hyperparameters
    assert (hp["n_epochs"], hp["batch_size"], hp["learning_rate_multiplier"], hp["seed"], hp["suffix"]) == (2, 2, 0.5, 7, "intent")

    # result file downloaded; metrics.csv in the harness's columns; per-epoch losses; a curve
    expected = api.step_metrics(job["id"])
    assert len(expected) == 6  # 6 examples / batch 2 * 2 epochs
    raw = list(csv.DictReader((cfg.out_dir / "result_metrics.csv").open()))
    assert [r["step"] for r in raw] == [str(r["step"]) for r in expected]
    assert list(raw[0]) == ["step", "train_loss", "train_accuracy", "valid_loss", "valid_mean_token_accuracy"]
    rows = list(csv.DictReader(result.metrics_csv.open()))
    assert result.metrics_csv == cfg.out_dir / "metrics.csv"
    assert [r["kind"] for r in rows] == ["step"] * 6 + ["epoch"] * 2
    assert [float(r["train_loss"]) for r in rows[:6]] == [r["train_loss"] for r in expected]
    assert [(e.epoch, e.steps) for e in result.epochs] == [(1, 3), (2, 6)]
    assert result.epochs[1].val_loss == expected[5]["valid_loss"]
    assert result.steps == 6 and result.loss_curve is not None and result.loss_curve.is_file()

    # checkpoints, one per epoch here, in step order, with the final model last
    assert [(c["step"], c["model"]) for c in result.checkpoints] == [
        (3, f"{job['fine_tuned_model']}:ckpt-step-3"), (6, job["fine_tuned_model"])]
    assert result.checkpoints[0]["metrics"]["train_loss"] == expected[2]["train_loss"]

    # job state for reattaching, and the run's record
    state = json.loads((cfg.out_dir / "job.json").read_text())
    assert (state["job_id"], state["training_file_id"], state["validation_file_id"]) == (job["id"], ups[0]["id"], ups[1]["id"])
    assert state["status"] == "succeeded" and state["candidate"] == result.candidate and len(state["checkpoints"]) == 2
    record = json.loads((cfg.out_dir / "train_result.json").read_text())
    assert record["result"]["candidate"] == result.candidate

    # progress: statuses in order, each server event once, oldest first
    text = "\n".join(lines)
    assert text.index(f"job {job['id']}: running") < text.index("Step 1/6") < text.index("Step 6/6") < text.index(
        f"job {job['id']}: succeeded")
    events = [line for line in lines if line.startswith(f"  [{job['id']}] ")]
    assert len(events) == len(api.events[job["id"]]) == len(set(events))
    assert "training file" in lines[0] and "6 examples" in lines[0]


def test_polls_back_off_until_something_changes(api: FakeFineTuneAPI, tmp_path: Path) -> None:
    api.script = Script(hold="running")
    cfg = config(api, tmp_path, poll_interval_s=0.01, max_poll_interval_s=0.04)

    def release_after_polls() -> None:
        api.wait_for(lambda: len(job_polls()) >= 8, timeout=20)
        api.release()

    def job_polls() -> list:
        return [c for c in api.calls("GET", "/v1/fine_tuning/jobs/") if c.path.count("/") == 4]

    t = threading.Thread(target=release_after_polls)
    t.start()
    run_training(cfg, lambda _: None)
    t.join()
    polls = job_polls()
    gaps = [b.at - a.at for a, b in zip(polls, polls[1:])]
    # polls 3..8 see nothing new: waits grow 0.015, 0.0225, 0.034, then stay at the 0.04 cap
    want = [0.01 * 1.5**k for k in range(1, 4)] + [0.04, 0.04]
    assert all(g >= w * 0.95 for g, w in zip(gaps[2:7], want)), (gaps, want)
    assert max(gaps) < 2.0


# ------------------------------------------------------------------------------ failures

def test_bad_file_is_refused_before_anything_is_uploaded(api: FakeFineTuneAPI, tmp_path: Path) -> None:
    bad = write_jsonl(tmp_path / "bad.jsonl", [TRAIN[0], {"messages": [{"role": "user", "content": "no answer"}]}])
    with pytest.raises(InputProblems) as e:
        run_training(config(api, tmp_path, train_file=bad), lambda _: None)
    assert f"{bad}:2: no assistant message" in str(e.value)
    assert api.requests == []


def test_failed_job_names_job_and_reason(api: FakeFineTuneAPI, tmp_path: Path) -> None:
    api.script = Script(outcome="failed", error_code="training_error",
                        error_message="Training diverged: the loss became NaN at step 2.")
    with pytest.raises(TrainingFailed) as e:
        run_training(config(api, tmp_path), lambda _: None)
    (job,) = api.jobs.values()
    assert str(e.value) == f"fine-tuning job {job['id']} failed: Training diverged: the loss became NaN at step 2. (code training_error)"
    assert not (tmp_path / "out" / "metrics.csv").exists()
    with pytest.raises(Exception, match=f"job {job['id']} failed here; choose another --out"):
        run_training(config(api, tmp_path), lambda _: None)


def test_cancelled_job(api: FakeFineTuneAPI, tmp_path: Path) -> None:
    api.script = Script(outcome="cancelled")
    with pytest.raises(TrainingFailed) as e:
        run_training(config(api, tmp_path), lambda _: None)
    (job,) = api.jobs.values()
    assert str(e.value) == f"fine-tuning job {job['id']} was cancelled before it finished; no model was made"


def test_rate_limit_on_create_is_honoured(api: FakeFineTuneAPI, tmp_path: Path) -> None:
    api.inject(429, method="POST", path="/v1/fine_tuning/jobs", retry_after=0.3)
    result = run_training(config(api, tmp_path), lambda _: None)
    creates = [c for c in api.calls("POST", "/v1/fine_tuning/jobs") if c.path == "/v1/fine_tuning/jobs"]
    assert [c.status for c in creates] == [429, 200]
    assert creates[1].at - creates[0].at >= 0.3  # Retry-After waited out
    assert len(api.jobs) == 1 and result.candidate.startswith("openai:ft:")


def test_client_retries_by_the_shared_policy(api: FakeFineTuneAPI) -> None:
    """The trainer's SDK client makes the harness's retry decisions (harness.providers.retry): the
    spec's retries and backoff, x-should-retry honoured; two 500s on create are retried."""
    import httpx2

    from harness.providers.base import ModelSpec
    from harness.train.openai import _client

    client = _client(ModelSpec.parse(base_spec(api, max_retries="3", retry_base_s="0.01")))
    assert client.max_retries == 3 and type(client).__name__ == "PolicyOpenAI"
    assert client._should_retry(httpx2.Response(503, headers={"x-should-retry": "false"})) is False
    api.inject(500, times=2, method="POST", path="/v1/files")
    client.files.create(file=("a.jsonl", b'{"messages": []}\n'), purpose="fine-tune")
    assert [c.status for c in api.calls("POST", "/v1/files")] == [500, 500, 200]


def test_server_errors_while_polling_are_waited_out(api: FakeFineTuneAPI, tmp_path: Path) -> None:
    # the first two polls; the SDK does not retry (max_retries=0)
    api.inject(500, times=2, method="GET", path="/v1/fine_tuning/jobs")
    lines: list[str] = []
    result = run_training(config(api, tmp_path, base=base_spec(api, max_retries="0")), lines.append)
    assert [c.status for c in api.calls("GET", "/v1/fine_tuning/")][:2] == [500, 500]
    assert sum("failed (InternalServerError); trying again" in line for line in lines) == 2
    assert result.candidate.startswith("openai:ft:")


def test_unknown_job_id(api: FakeFineTuneAPI, tmp_path: Path) -> None:
    with pytest.raises(TrainingFailed, match="fine-tuning job ftjob-nope was not found on this endpoint"):
        run_training(config(api, tmp_path, job_id="ftjob-nope"), lambda _: None)


def test_create_refused_then_resume_reuses_uploads(api: FakeFineTuneAPI, tmp_path: Path) -> None:
    api.inject(500, times=1, method="POST", path="/v1/fine_tuning/jobs")
    cfg = config(api, tmp_path, base=base_spec(api, max_retries="0"))
    with pytest.raises(TrainingFailed, match="fine-tuning API error 500: .*rerun with --resume to reuse them"):
        run_training(cfg, lambda _: None)
    assert len(api.uploads()) == 2 and not api.jobs
    with pytest.raises(Exception, match="pass --resume"):
        run_training(cfg, lambda _: None)
    result = run_training(cfg.model_copy(update={"resume": True}), lambda _: None)
    assert len(api.uploads()) == 2 and len(api.jobs) == 1  # no second upload
    assert result.job_id == next(iter(api.jobs))


# ------------------------------------------------------------------------------ the CLI

def train_args(api: FakeFineTuneAPI, tmp_path: Path, out: Path) -> list[str]:
    return ["train", str(INTENT_SUITE), "--data", str(write_jsonl(tmp_path / "raw.jsonl", RAW)), "--base", base_spec(api),
            "--out", str(out), "--epochs", "2", "--batch-size", "4", "--suffix", "si", "--poll-interval", "0.01",
            "--max-poll-interval", "0.05"]


def test_cli_failed_job_exits_non_zero(api: FakeFineTuneAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    api.script = Script(outcome="failed", error_code="invalid_training_file",
                        error_message="Training file has 3 examples with identical prompts.", error_param="training_file")
    code = main([*train_args(api, tmp_path, tmp_path / "out"), "--trainer", "openai"])
    err = capsys.readouterr().err
    (job,) = api.jobs.values()
    assert code == 2
    assert (f"error: fine-tuning job {job['id']} failed: Training file has 3 examples with identical prompts. "
            "(code invalid_training_file, parameter training_file)") in err


def test_cli_reattaches_after_the_driver_is_killed(api: FakeFineTuneAPI, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    api.script = Script(hold="running")  # the job runs until the test lets it finish
    out = tmp_path / "out"
    args = train_args(api, tmp_path, out)  # no --trainer: an openai base picks the openai trainer
    env = os.environ | {"OPENAI_API_KEY": "test-key", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", *args], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        state_file = out / "job.json"

        def polling_a_running_job() -> bool:
            if not state_file.is_file():
                return False
            state = json.loads(state_file.read_text())
            job = api.jobs.get(state.get("job_id", ""))
            return job is not None and job["status"] == "running" and state.get("status") == "running"

        api.wait_for(polling_a_running_job, timeout=40)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    first_out = proc.stdout.read().decode()
    assert proc.returncode == -signal.SIGKILL, first_out
    (job_id,) = api.jobs
    assert api.jobs[job_id]["status"] == "running"  # the job outlived the driver
    assert len(api.uploads()) == 2

    api.release()
    code = main([*args, "--resume"])
    stdout = capsys.readouterr().out
    assert code == 0, stdout
    assert len(api.jobs) == 1 and len(jobs_created(api)) == 1  # no second job
    assert len(api.uploads()) == 2  # no second upload
    job = api.jobs[job_id]
    assert job["status"] == "succeeded"
    assert f"reattaching to fine-tuning job {job_id}" in stdout
    assert f"candidate: openai:{job['fine_tuned_model']}?base_url={api.base_url}" in stdout
    record = json.loads((out / "train_record.json").read_text())
    assert record["result"]["job_id"] == job_id and record["config"]["resume"] is True
    assert (out / "metrics.csv").is_file()


def test_resume_finds_a_job_whose_id_never_reached_job_json(api: FakeFineTuneAPI, tmp_path: Path) -> None:
    """A driver killed between the create request and saving its answer: the run id in the job's metadata finds it."""
    cfg = config(api, tmp_path)
    first = run_training(cfg, lambda _: None)
    state_file = cfg.out_dir / "job.json"
    state = json.loads(state_file.read_text())
    kept = {k: state[k] for k in ("run_id", "data_hashes", "training_file_id", "validation_file_id", "base")}
    state_file.write_text(json.dumps(kept))  # what job.json held just before the job was created
    lines: list[str] = []
    again = run_training(cfg.model_copy(update={"resume": True}), lines.append)
    assert len(api.jobs) == 1 and len(api.uploads()) == 2
    assert f"reattaching to fine-tuning job {first.job_id} (found by run id {kept['run_id']})" in lines
    assert again.candidate == first.candidate


def test_key_goes_only_to_an_allowed_host(api: FakeFineTuneAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the allow-list the trainer refuses before any request: the fake API records none and
    the key appears in no message; allowing host:port (as --allow-key-host does) lets it through."""
    monkeypatch.delenv("HARNESS_KEY_HOSTS")
    with pytest.raises(HarnessError) as err:
        run_training(config(api, tmp_path))
    assert str(err.value) == ("the openai trainer will not send $OPENAI_API_KEY to 127.0.0.1: only api.openai.com receives "
                              "the key unless you allow the host with --allow-key-host 127.0.0.1 (or HARNESS_KEY_HOSTS=127.0.0.1)")
    assert "test-key" not in str(err.value) and api.requests == []
    port = api.base_url.split(":")[2].split("/")[0]
    monkeypatch.setenv("HARNESS_KEY_HOSTS", f"127.0.0.1:{port}")
    assert run_training(config(api, tmp_path)).candidate.startswith("openai:ft:")


def test_train_command_refuses_an_unallowed_host_with_exit_2(api: FakeFineTuneAPI, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.delenv("HARNESS_KEY_HOSTS")
    raw = write_jsonl(tmp_path / "raw.jsonl", RAW)
    args = ["train", str(INTENT_SUITE), "--data", str(raw), "--base", base_spec(api), "--trainer", "openai",
            "--out", str(tmp_path / "out"), "--epochs", "1"]
    assert main(args) == 2
    assert "--allow-key-host 127.0.0.1" in capsys.readouterr().err and api.requests == []
