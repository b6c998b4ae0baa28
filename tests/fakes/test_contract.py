"""The Batch and fine-tuning fakes refuse what the openai SDK's own request types refuse (a 400 naming
the field), and accept the shapes the harness's trainer and batch client send: the harness is tested
against OpenAI's contract, not against our reading of it."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from openai.types.batch_create_params import BatchCreateParams

from fakes import contract
from fakes import finetune_rules as rules
from fakes.fake_batch_api import FakeBatchAPI
from fakes.fake_finetune_api import FakeFineTuneAPI
from fakes.server import ApiError
from harness.train.base import TrainConfig
from harness.train.openai import method_field

pytestmark = pytest.mark.timeout(60)

BASE = "gpt-4o-mini-2024-07-18"


def post(url: str, body: Any, key: str = "test-key") -> tuple[int, dict]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json", "authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def sdk_accepts(params: Any, body: Any) -> bool:
    try:
        contract.check(params, body)
    except ApiError:
        return False
    return True


JOB = {"model": BASE, "training_file": "FILE"}
SDK_REJECTED_JOBS = [  # (what is wrong, the body, the param the 400 names)
    ("no training_file", {"model": BASE}, "training_file"),
    ("an unknown field", JOB | {"epochs": 3}, "epochs"),
    ("n_epochs as text", JOB | {"method": {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": "3"}}}},
     "method.supervised.hyperparameters.n_epochs"),
    ("n_epochs a bool", JOB | {"hyperparameters": {"n_epochs": True}}, "hyperparameters.n_epochs"),
    ("beta for supervised", JOB | {"method": {"type": "supervised", "supervised": {"hyperparameters": {"beta": 0.1}}}},
     "method.supervised.hyperparameters.beta"),
    ("beta in the deprecated field", JOB | {"hyperparameters": {"beta": 0.1}}, "hyperparameters.beta"),
    ("an unknown method", JOB | {"method": {"type": "ppo"}}, "method.type"),
    ("a suffix that is not text", JOB | {"suffix": 7}, "suffix"),
    ("metadata values that are not text", JOB | {"metadata": {"run": 1}}, "metadata.run"),
    ("an integration without its settings", JOB | {"integrations": [{"type": "wandb"}]}, "integrations.0.wandb"),
]


@pytest.mark.parametrize(("what", "body", "param"), SDK_REJECTED_JOBS, ids=[c[0] for c in SDK_REJECTED_JOBS])
def test_a_job_the_sdk_types_reject_is_a_400_naming_the_field(what: str, body: dict, param: str) -> None:
    with FakeFineTuneAPI() as api:
        fid = api.file_store.store(b'{"messages": [{"role": "user", "content": "x"}]}\n', "t.jsonl", "fine-tune")["id"]
        body = json.loads(json.dumps(body).replace("FILE", fid))
        assert not sdk_accepts(rules.JobCreateParams, body), what
        status, answer = post(api.base_url + "/fine_tuning/jobs", body)
        assert (status, answer["error"]["param"]) == (400, param), answer
        assert api.jobs == {}


BATCH = {"input_file_id": "FILE", "endpoint": "/v1/chat/completions", "completion_window": "24h"}
SDK_REJECTED_BATCHES = [
    ("a 48h window", BATCH | {"completion_window": "48h"}, "completion_window"),
    ("an endpoint the API has not", BATCH | {"endpoint": "/v1/chat"}, "endpoint"),
    ("no input file", {k: v for k, v in BATCH.items() if k != "input_file_id"}, "input_file_id"),
    ("an unknown field", BATCH | {"window": "24h"}, "window"),
    ("an expiry without its anchor", BATCH | {"output_expires_after": {"seconds": 3600}}, "output_expires_after.anchor"),
]


@pytest.mark.parametrize(("what", "body", "param"), SDK_REJECTED_BATCHES, ids=[c[0] for c in SDK_REJECTED_BATCHES])
def test_a_batch_the_sdk_types_reject_is_a_400_naming_the_field(what: str, body: dict, param: str) -> None:
    with FakeBatchAPI() as api:
        fid = api.file_store.store(b"{}\n", "in.jsonl", "batch")["id"]
        body = json.loads(json.dumps(body).replace("FILE", fid))
        assert not sdk_accepts(BatchCreateParams, body), what
        status, answer = post(api.base_url + "/batches", body)
        assert (status, answer["error"]["param"]) == (400, param), answer
        assert api.batches == {}


def test_the_rules_are_read_off_the_sdk_types() -> None:
    assert rules.METHODS == ("supervised", "dpo", "reinforcement")
    assert set(rules.METHOD_HYPERPARAMETERS["supervised"]) == {"n_epochs", "batch_size", "learning_rate_multiplier"}
    assert set(rules.METHOD_HYPERPARAMETERS["dpo"]) == {"n_epochs", "batch_size", "learning_rate_multiplier", "beta"}
    assert set(rules.RANGES) == {k for hp in rules.METHOD_HYPERPARAMETERS.values() for k in hp}  # a bound for each


@pytest.mark.parametrize("method", ["supervised", "dpo"])
def test_the_method_field_the_trainer_sends_is_what_the_sdk_types_accept(method: str, tmp_path) -> None:
    for kw in ({}, {"batch_size": 4, "learning_rate_multiplier": 0.5, "beta": 0.3}):
        config = TrainConfig(base=f"openai:{BASE}", train_file=tmp_path / "t.jsonl", out_dir=tmp_path, epochs=2,
                             method=method, **kw)
        body = JOB | {"method": method_field(config), "seed": 0, "suffix": "s", "metadata": {"harness_run": "r"}}
        assert contract.check(rules.JobCreateParams, body) == body
        assert rules.service_rules(body)[0] == method
