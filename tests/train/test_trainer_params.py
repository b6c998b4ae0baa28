"""Each trainer owns its params: TrainConfig holds the shared fields, ``params`` the chosen trainer's
(validated by its model, strictly), flat keys still land there, and records keep the layout
train_result.json and checkpoints/run.json have always had."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.deps import requires_package
from harness.core.errors import HarnessError
from harness.train.base import TrainConfig, make_config
from harness.train.dpo import LocalDPOParams
from harness.train.local import LocalParams, find_resume_point, run_fingerprint
from harness.train.openai import OpenAIParams, method_field

BASE = "openai:gpt-4o-mini-2024-07-18"
SHARED = {"train_file": Path("t.jsonl"), "out_dir": Path("o")}


def test_each_trainer_validates_its_own_params_and_names_the_field() -> None:
    o = TrainConfig(trainer="openai", base=BASE, suffix="intent", learning_rate_multiplier=0.5, **SHARED)
    assert isinstance(o.trainer_params(), OpenAIParams) and o.params["suffix"] == "intent"
    assert (o.trainer_params().poll_interval_s, o.trainer_params().max_poll_interval_s) == (5.0, 60.0)  # its defaults
    assert "suffix" not in TrainConfig.model_fields and "beta" not in TrainConfig.model_fields
    with pytest.raises(HarnessError, match=r"^suffix: Extra inputs"):  # the local trainer has no suffix
        make_config(TrainConfig, trainer="local", suffix="x", **SHARED)
    with pytest.raises(HarnessError, match=r"^beta: Extra inputs"):  # beta is the dpo method's
        make_config(TrainConfig, trainer="local", beta=0.1, **SHARED)
    with pytest.raises(HarnessError, match=r"params\.poll_interval_s: Input should be greater than 0 "
                                           r"\(the openai trainer's params are: beta, learning_rate_multiplier"):
        make_config(TrainConfig, trainer="openai", base=BASE, poll_interval_s=0, **SHARED)
    with pytest.raises(HarnessError, match=r"params\.suffix: String should have at most 64"):
        make_config(TrainConfig, trainer="openai", base=BASE, params={"suffix": "x" * 65}, **SHARED)


def test_the_dpo_method_brings_beta_to_the_trainer_that_runs_it() -> None:
    local = TrainConfig(method="dpo", beta=0.3, lora_r=4, **SHARED)
    p = local.trainer_params()
    assert isinstance(p, LocalDPOParams) and isinstance(p, LocalParams) and (p.beta, p.lora_r) == (0.3, 4)
    o = TrainConfig(trainer="openai", base=BASE, method="dpo", beta=0.2, **SHARED)
    assert method_field(o) == {"type": "dpo", "dpo": {"hyperparameters": {
        "n_epochs": 2, "batch_size": "auto", "learning_rate_multiplier": "auto", "beta": 0.2}}}
    with pytest.raises(HarnessError, match=r"^params\.beta: Input should be greater than 0"):
        make_config(TrainConfig, method="dpo", beta=-1, **SHARED)


def test_the_base_names_the_trainer_when_none_is_given() -> None:
    assert TrainConfig(base=BASE, **SHARED).trainer == "openai"
    assert TrainConfig(base="local", **SHARED).trainer == "local"
    assert TrainConfig(base=BASE, trainer="local", **SHARED).trainer == "local"  # an explicit one stands


def test_a_copy_with_updates_is_validated_like_a_new_config() -> None:
    o = TrainConfig(trainer="openai", base=BASE, suffix="s", **SHARED)
    again = o.model_copy(update={"resume": True, "epochs": 3})
    assert again.trainer_params().resume is True and again.epochs == 3 and again.params["suffix"] == "s"
    assert o.scaled_learning_rate(0.5).trainer_params().learning_rate_multiplier == 0.5
    dpo = TrainConfig(lora_r=4, **SHARED).model_copy(update={"method": "dpo"})  # what the loop does for its dpo step
    assert isinstance(dpo.trainer_params(), LocalDPOParams) and dpo.params["lora_r"] == 4 and dpo.params["beta"] is None
    with pytest.raises(ValueError, match="suffix"):
        TrainConfig(**SHARED).model_copy(update={"suffix": "x"})


def test_a_copy_keeps_the_callers_trust_policy() -> None:
    from harness.core.trust import TrustPolicy

    policy = TrustPolicy(allowed_key_hosts=frozenset({"gpu-box.internal"}), data_root=None)
    o = TrainConfig(trainer="openai", base=BASE, trust=policy, **SHARED)
    assert o.model_copy(update={"epochs": 3}).trust is policy  # not re-read from the environment
    assert "trust" not in o.model_dump() and "trust" not in o.record_json()


# A train_result.json config block as the harness wrote it before these settings moved into params.
OLD_OPENAI = {"trainer": "openai", "method": "dpo", "beta": 0.2, "base": BASE, "train_file": "t.jsonl",
              "validation_file": None, "out_dir": "o", "epochs": 2, "learning_rate": None,
              "learning_rate_multiplier": 0.5, "batch_size": 2, "seed": 7, "early_stopping_patience": 1,
              "max_steps": None, "max_length": 512, "suffix": "intent", "resume": False, "job_id": None,
              "poll_interval_s": 0.005, "max_poll_interval_s": 0.02, "params": {}}
OLD_LOCAL_PARAMS = {"lora_r": 4, "lora_alpha": 32, "lora_dropout": 0.0, "lora_targets": "all-linear",
                    "gradient_accumulation_steps": 1, "precision": "auto", "quantization": "none",
                    "gradient_checkpointing": False, "checkpoint_every_steps": None, "save_total_limit": 2,
                    "log_every_steps": 10, "dataloader_workers": 0, "device": "cpu", "num_processes": None,
                    "accelerate_config": None}


def test_records_keep_the_layout_older_runs_wrote() -> None:
    o = TrainConfig(trainer="openai", base=BASE, method="dpo", beta=0.2, learning_rate_multiplier=0.5, batch_size=2,
                    seed=7, suffix="intent", poll_interval_s=0.005, max_poll_interval_s=0.02, **SHARED)
    assert o.record_json() == OLD_OPENAI
    assert json.dumps(o.record_json()) != json.dumps(o.model_dump(mode="json"))  # params nested in the dump
    assert TrainConfig.model_validate(o.model_dump(mode="json")) == o  # the dump round-trips (launch workers read it)


def test_checkpoints_written_before_the_move_are_still_this_run(tmp_path: Path) -> None:
    requires_package("transformers", "pip install transformers torch (scripts/setup.sh)")
    train = tmp_path / "t.jsonl"
    train.write_text('{"messages": []}\n', encoding="utf-8")
    cfg = TrainConfig(train_file=train, out_dir=tmp_path / "run", lora_r=4, device="cpu")
    from harness.core.hashing import sha256_file

    old = {"config": {"trainer": "local", "method": "supervised", "beta": None, "base": "local", "epochs": 2,
                      "learning_rate": None, "learning_rate_multiplier": None, "batch_size": None, "seed": 0,
                      "early_stopping_patience": 1, "max_steps": None, "max_length": 512, "suffix": None,
                      "resume": False, "job_id": None, "poll_interval_s": 5.0, "max_poll_interval_s": 60.0,
                      "params": OLD_LOCAL_PARAMS},
           "data_sha256": {"train": sha256_file(train)}}
    assert run_fingerprint(cfg) == old
    folder = tmp_path / "run" / "checkpoints"
    (folder / "checkpoint-3").mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps(old, indent=1) + "\n", encoding="utf-8")
    assert find_resume_point(cfg, lambda m: None) == str(folder / "checkpoint-3")
    with pytest.raises(HarnessError, match=r"different params"):
        find_resume_point(cfg.model_copy(update={"lora_r": 8}), lambda m: None)
