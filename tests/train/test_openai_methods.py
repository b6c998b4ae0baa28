"""The `openai` trainer, current: the `method` field (supervised, dpo), shutdown dates from
/v1/models, and a closed fine-tuning platform; through the real SDK against the fake API."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from openai import OpenAI

from harness.cli import main
from harness.core.errors import HarnessError
from fakes import contract
from fakes import finetune_rules as rules
from fakes.fake_finetune_api import FakeFineTuneAPI, Script
from harness.train.base import TrainConfig, run_training

ROOT = Path(__file__).resolve().parents[2]
INTENT_SUITE = ROOT / "suites" / "support_intent.yaml"
BASE = "gpt-4o-mini-2024-07-18"
TODAY = dt.date.today()

pytestmark = pytest.mark.timeout(60)


def pair(i: int, good: str, bad: str) -> dict:
    return {"id": f"p{i}", "category": good,
            "input": {"messages": [{"role": "system", "content": "Route the message."},
                                   {"role": "user", "content": f"message {i} about parcel {i * 7}"}]},
            "preferred_output": [{"role": "assistant", "content": good}],
            "non_preferred_output": [{"role": "assistant", "content": bad}]}


PAIRS = [pair(i, "order_status", "cancel_order") for i in range(6)]
CHAT = [{"messages": [{"role": "user", "content": f"where is parcel {i}"}, {"role": "assistant", "content": "order_status"}]}
        for i in range(6)]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.setenv("HARNESS_KEY_HOSTS", "127.0.0.1")  # the fake API's host may receive the key: allowed explicitly


def config(api: FakeFineTuneAPI, tmp_path: Path, rows: list[dict] = CHAT, **kw) -> TrainConfig:
    values = {"trainer": "openai", "base": f"openai:{BASE}?base_url={api.base_url}",
              "train_file": write_jsonl(tmp_path / "train.jsonl", rows), "out_dir": tmp_path / "out", "epochs": 1,
              "seed": 3, "suffix": "pref", "poll_interval_s": 0.005, "max_poll_interval_s": 0.02}
    return TrainConfig(**(values | kw))


def created(api: FakeFineTuneAPI) -> list:
    return [c for c in api.calls("POST", "/v1/fine_tuning/jobs") if c.path == "/v1/fine_tuning/jobs"]


def test_dpo_job_sends_the_dpo_method_and_preference_lines(env: None, tmp_path: Path) -> None:
    with FakeFineTuneAPI() as api:
        result = run_training(config(api, tmp_path, PAIRS, method="dpo", beta=0.2, batch_size=2), lambda _: None)
        (call,) = created(api)
        assert call.status == 200
        assert call.body["method"] == {"type": "dpo", "dpo": {"hyperparameters": {
            "n_epochs": 1, "batch_size": 2, "learning_rate_multiplier": "auto", "beta": 0.2}}}
        assert "hyperparameters" not in call.body  # the deprecated top-level field is not sent
        assert contract.check(rules.JobCreateParams, call.body) == call.body  # the SDK's JobCreateParams accept it
        assert (call.body["suffix"], call.body["seed"], set(call.body["metadata"])) == ("pref", 3, {"harness_run"})
        # the upload keeps what the API reads of a preference line; ids and categories stay here
        (up,) = api.uploads()
        sent = [json.loads(x) for x in api.contents[up["id"]].decode().splitlines()]
        assert sent == [{k: p[k] for k in ("input", "preferred_output", "non_preferred_output")} for p in PAIRS]
        (job,) = api.jobs.values()
        assert job["status"] == "succeeded" and job["method"]["type"] == "dpo"
        assert (result.hyperparameters["method"], result.hyperparameters["beta"]) == ("dpo", 0.2)
        assert result.candidate.startswith("openai:ft:")


def test_dpo_with_a_chat_file_is_refused_before_upload(env: None, tmp_path: Path) -> None:
    with FakeFineTuneAPI() as api:
        with pytest.raises(HarnessError, match=r"train.jsonl:1: missing key 'input'"):
            run_training(config(api, tmp_path, CHAT, method="dpo"), lambda _: None)
        assert not api.uploads() and not api.jobs


def test_a_shut_down_base_model_is_refused_with_its_date(env: None, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    gone = (TODAY - dt.timedelta(days=1)).isoformat()
    with FakeFineTuneAPI(models={BASE: gone}) as api:
        with pytest.raises(HarnessError) as e:
            run_training(config(api, tmp_path), lambda _: None)
        msg = str(e.value)
        assert "\n" not in msg
        assert msg.startswith(f"base model {BASE} was shut down on {gone} (its /v1/models entry)")
        assert "the local trainer" in msg and "--trainer local" in msg
        assert not api.uploads() and not api.jobs
        # the CLI: one line, exit 2
        raw = write_jsonl(tmp_path / "raw.jsonl", [{"id": f"r{i}", "text": f"where is parcel {i}", "intent": "order_status"}
                                                   for i in range(12)])
        code = main(["train", str(INTENT_SUITE), "--data", str(raw), "--base", f"openai:{BASE}?base_url={api.base_url}",
                     "--out", str(tmp_path / "cli"), "--trainer", "openai"])
        err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert code == 2
        assert len(err) == 1 and gone in err[0] and "local trainer" in err[0]
        # the API itself refuses such a model too (if asked directly)
        client = OpenAI(base_url=api.base_url, api_key=api.api_key, max_retries=0)
        fid = client.files.create(file=("t.jsonl", write_jsonl(tmp_path / "t.jsonl", CHAT).read_bytes()), purpose="fine-tune").id
        with pytest.raises(openai.BadRequestError) as bad:
            client.fine_tuning.jobs.create(model=BASE, training_file=fid)
        assert bad.value.body["code"] == "model_not_available"


def test_a_coming_shutdown_is_named_and_the_job_goes_on(env: None, tmp_path: Path) -> None:
    coming = (TODAY + dt.timedelta(days=44)).isoformat()
    lines: list[str] = []
    with FakeFineTuneAPI(models={BASE: coming}) as api:
        result = run_training(config(api, tmp_path), lines.append)
        assert result.candidate.startswith("openai:ft:")
    (note,) = [x for x in lines if x.startswith("note:")]
    assert f"shuts down on {coming}" in note and "2027-01-06" in note and "local trainer" in note


def test_a_closed_platform_refusal_is_one_line_naming_the_date_and_the_local_trainer(env: None, tmp_path: Path) -> None:
    with FakeFineTuneAPI(closed_since="2027-01-06") as api:
        with pytest.raises(HarnessError) as e:
            run_training(config(api, tmp_path), lambda _: None)
        (call,) = created(api)
        assert call.status == 403  # refused as the service does: a 4xx with an OpenAI-shaped error body
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith("OpenAI's fine-tuning API refused the job: fine-tuning is closed (no new jobs from 2027-01-06")
    assert "the local trainer" in msg and e.value.exit_code == 2


# ------------------------------------------------------------------------------ the fake's contract


GRADER = {"type": "string_check", "name": "exact", "input": "{{sample.output_text}}", "reference": "{{item.label}}",
          "operation": "eq"}


@pytest.fixture
def api() -> Iterator[FakeFineTuneAPI]:
    with FakeFineTuneAPI(script=Script(polls_per_state=None), models={BASE: "2027-01-14"}) as server:
        yield server


@pytest.fixture
def client(api: FakeFineTuneAPI) -> OpenAI:
    return OpenAI(base_url=api.base_url, api_key=api.api_key, max_retries=0)


def test_fake_checks_the_method_field_as_the_sdk_types_describe(api: FakeFineTuneAPI, client: OpenAI, tmp_path: Path) -> None:
    chat = client.files.create(file=("c.jsonl", write_jsonl(tmp_path / "c.jsonl", CHAT).read_bytes()), purpose="fine-tune").id
    cases = [
        ({"type": "dpo", "supervised": {"hyperparameters": {}}}, "method.supervised"),
        ({"type": "ppo"}, "method.type"),
        ({"dpo": {}}, "method.type"),
        ({"type": "supervised", "supervised": {"hyperparameters": {"beta": 0.1}}}, "method.supervised.hyperparameters.beta"),
        ({"type": "dpo", "dpo": {"hyperparameters": {"beta": -1}}}, "method.dpo.hyperparameters.beta"),
        ({"type": "reinforcement", "reinforcement": {}}, "method.reinforcement.grader"),  # the SDK's types require one
        ({"type": "reinforcement", "reinforcement": {"grader": GRADER}}, "method.type"),  # well formed; not run here
    ]
    for method, param in cases:
        with pytest.raises(openai.BadRequestError) as e:
            client.fine_tuning.jobs.create(model=BASE, training_file=chat, method=method)  # type: ignore[arg-type]
        assert e.value.body["param"] == param, method
    with pytest.raises(openai.BadRequestError, match="cannot be combined with 'method'"):
        client.fine_tuning.jobs.create(model=BASE, training_file=chat, hyperparameters={"n_epochs": 1},
                                       method={"type": "supervised"})
    job = client.fine_tuning.jobs.create(model=BASE, training_file=chat, method={"type": "dpo"})
    assert job.method.type == "dpo" and job.method.dpo.hyperparameters.beta == "auto"
    api.advance(job.id, "queued")  # a chat file for a dpo job fails at validation, as the service does
    failed = client.fine_tuning.jobs.retrieve(job.id)
    assert failed.status == "failed" and failed.error.code == "invalid_training_file"
    assert "preference examples" in failed.error.message

    prefs = client.files.create(file=("p.jsonl", write_jsonl(tmp_path / "p.jsonl", PAIRS).read_bytes()), purpose="fine-tune").id
    ok = client.fine_tuning.jobs.create(model=BASE, training_file=prefs, method={"type": "dpo"})
    api.advance(ok.id, "queued")
    assert client.fine_tuning.jobs.retrieve(ok.id).method.dpo.hyperparameters.beta == 0.1  # auto resolved


def test_fake_models_route_carries_shutdown_dates(api: FakeFineTuneAPI, client: OpenAI) -> None:
    m = client.models.retrieve(BASE)
    assert (m.id, m.shutdown_date) == (BASE, "2027-01-14")
    assert client.models.retrieve("gpt-4.1-2025-04-14").shutdown_date is None
    assert BASE in [x.id for x in client.models.list()]
    with pytest.raises(openai.NotFoundError) as e:
        client.models.retrieve("gpt-nope")
    assert e.value.body["code"] == "model_not_found"


def test_cli_train_method_dpo_prepares_pairs_and_sends_a_dpo_job(env: None, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    prefs = [pair(i, "order_status", "cancel_order") | {"id": f"q{i}"} for i in range(10)]
    for i, p in enumerate(prefs):
        p["input"]["messages"][-1]["content"] = f"has my {['tent', 'kayak', 'stove', 'lamp', 'map'][i % 5]} order {i} shipped"
    with FakeFineTuneAPI() as api:
        code = main(["train", str(INTENT_SUITE), "--data", str(write_jsonl(tmp_path / "prefs.jsonl", prefs)),
                     "--base", f"openai:{BASE}?base_url={api.base_url}", "--trainer", "openai", "--method", "dpo",
                     "--beta", "0.3", "--epochs", "1", "--out", str(tmp_path / "out"), "--poll-interval", "0.01",
                     "--max-poll-interval", "0.05"])
        assert code == 0, capsys.readouterr().err
        (call,) = created(api)
        assert call.body["method"]["type"] == "dpo" and call.body["method"]["dpo"]["hyperparameters"]["beta"] == 0.3
        train_up = api.uploads()[0]
        sent = [json.loads(x) for x in api.contents[train_up["id"]].decode().splitlines()]
        assert sent and all(set(s) == {"input", "preferred_output", "non_preferred_output"} for s in sent)
    record = json.loads((tmp_path / "out" / "train_record.json").read_text())
    assert record["config"]["method"] == "dpo" and record["data"]["counts"]["train"] + record["data"]["counts"]["validation"] == 10
