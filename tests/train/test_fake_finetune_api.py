"""The fake fine-tuning API keeps the real API's contract, checked through the openai SDK."""

from __future__ import annotations

import json
from collections.abc import Iterator

import openai
import pytest
from openai import OpenAI

from fakes.fake_finetune_api import FakeFineTuneAPI, Script

pytestmark = pytest.mark.timeout(60)

LINE = json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]})


@pytest.fixture
def api() -> Iterator[FakeFineTuneAPI]:
    with FakeFineTuneAPI(script=Script(polls_per_state=None)) as server:
        yield server


@pytest.fixture
def client(api: FakeFineTuneAPI) -> OpenAI:
    return OpenAI(base_url=api.base_url, api_key=api.api_key, max_retries=0)


def upload(client: OpenAI, text: str = (LINE + "\n") * 4, purpose: str = "fine-tune") -> str:
    return client.files.create(file=("train.jsonl", text.encode()), purpose=purpose).id


def test_job_lifecycle_events_checkpoints_and_result_file(api: FakeFineTuneAPI, client: OpenAI) -> None:
    fid = upload(client)
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file=fid, suffix="s1", seed=5,
                                         hyperparameters={"n_epochs": 2, "batch_size": 2})
    assert (job.status, job.seed, job.hyperparameters.n_epochs, job.hyperparameters.learning_rate_multiplier) == (
        "validating_files", 5, 2, "auto")
    for status in ("queued", "running"):
        api.advance(job.id, status)
    assert client.fine_tuning.jobs.retrieve(job.id).hyperparameters.learning_rate_multiplier == 1.8  # auto resolved
    with pytest.raises(ValueError, match="running -> queued is not a transition"):
        api.advance(job.id, "queued")
    api.succeed(job.id)
    job = client.fine_tuning.jobs.retrieve(job.id)
    assert job.status == "succeeded" and job.fine_tuned_model == f"ft:gpt-4o-mini-2024-07-18:fake-org:s1:{job.id[6:14]}"

    # events: newest first, paginated with after/limit/has_more
    first = client.fine_tuning.jobs.list_events(job.id, limit=3)
    assert len(first.data) == 3 and first.has_more
    assert first.data[0].message == "The job has successfully completed"
    everything = list(client.fine_tuning.jobs.list_events(job.id, limit=3))  # the SDK follows `after`
    assert len(everything) == len(api.events[job.id]) and everything[-1].message.startswith("Validating training file")
    assert [c.query.get("after") for c in api.calls("GET", f"/v1/fine_tuning/jobs/{job.id}/events")][2:4] == [
        first.data[-1].id, everything[5].id]

    ckpts = list(client.fine_tuning.jobs.checkpoints.list(job.id))
    assert [c.step_number for c in ckpts] == [4, 2]  # newest first, one per epoch
    csv_text = client.files.content(job.result_files[0]).read().decode()
    assert csv_text.splitlines()[0] == "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"
    assert len(csv_text.splitlines()) == 1 + 4  # 4 examples / batch 2 * 2 epochs

    with pytest.raises(openai.BadRequestError, match="already completed and cannot be cancelled"):
        client.fine_tuning.jobs.cancel(job.id)


def test_errors_are_openai_shaped(api: FakeFineTuneAPI, client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as e:
        client.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file="file-missing")
    assert e.value.body == {"message": "invalid training_file: file-missing", "type": "invalid_request_error",
                            "param": "training_file", "code": "invalid_file"}
    batch = upload(client, purpose="batch")
    with pytest.raises(openai.BadRequestError, match="fine-tuning needs purpose 'fine-tune'"):
        client.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file=batch)
    with pytest.raises(openai.BadRequestError, match="Invalid value for 'n_epochs'"):
        client.fine_tuning.jobs.create(model="m", training_file=upload(client), hyperparameters={"n_epochs": 0})
    with pytest.raises(openai.NotFoundError) as nf:
        client.fine_tuning.jobs.retrieve("ftjob-unknown")
    assert nf.value.body["code"] == "fine_tune_not_found"
    with pytest.raises(openai.AuthenticationError):
        OpenAI(base_url=api.base_url, api_key="wrong", max_retries=0).fine_tuning.jobs.retrieve("x")
    api.inject(429, retry_after=7)
    with pytest.raises(openai.RateLimitError) as rl:
        client.fine_tuning.jobs.retrieve("ftjob-unknown")
    assert rl.value.response.headers["retry-after"] == "7" and rl.value.body["code"] == "rate_limit_exceeded"
    assert [c.status for c in api.requests[-3:]] == [404, 401, 429]


def test_invalid_training_file_fails_the_job_at_validation(api: FakeFineTuneAPI, client: OpenAI) -> None:
    api.script = Script(polls_per_state=1)
    fid = upload(client, LINE + "\n" + '{"prompt": "x", "completion": "y"}\n')
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file=fid)
    job = client.fine_tuning.jobs.retrieve(job.id)  # one poll: validation runs
    assert job.status == "failed"
    assert (job.error.code, job.error.param) == ("invalid_training_file", "training_file")
    assert "first: line 2" in job.error.message


def test_script_moves_jobs_per_poll_and_holds(api: FakeFineTuneAPI, client: OpenAI) -> None:
    api.script = Script(polls_per_state=2, hold="running")
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file=upload(client))
    seen = [client.fine_tuning.jobs.retrieve(job.id).status for _ in range(8)]
    assert seen == ["validating_files", "queued", "queued", "running", "running", "running", "running", "running"]
    api.release()
    seen = [client.fine_tuning.jobs.retrieve(job.id).status for _ in range(2)]
    assert seen == ["running", "succeeded"]
    # a user cancelling a live job
    other = client.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file=upload(client))
    assert client.fine_tuning.jobs.cancel(other.id).status == "cancelled"
    assert client.fine_tuning.jobs.retrieve(other.id).status == "cancelled"
