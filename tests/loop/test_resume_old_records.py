"""A loop rerun reuses a finished training run from its train_result.json, including one written
before the trainer-specific settings moved from TrainConfig into the trainers' params."""

from __future__ import annotations

import json
from pathlib import Path

from harness.core.hashing import sha256_file
from harness.loop.resume import reuse_training, train
from harness.records.train_result import TRAIN_RESULT, read_train_result
from harness.train.base import TrainConfig

LOCAL_PARAMS = {"lora_r": 8, "lora_alpha": 32, "lora_dropout": 0.0, "lora_targets": "all-linear",
                "gradient_accumulation_steps": 1, "precision": "auto", "quantization": "none",
                "gradient_checkpointing": False, "checkpoint_every_steps": None, "save_total_limit": 2,
                "log_every_steps": 10, "dataloader_workers": 0, "device": "auto", "num_processes": None,
                "accelerate_config": None}


def old_config(train_file: Path, out: Path, **changes) -> dict:
    """The config block as train_result.json held it before the move (every setting at the top level)."""
    return {"trainer": "local", "method": "supervised", "beta": None, "base": "local", "train_file": str(train_file),
            "validation_file": None, "out_dir": str(out), "epochs": 3, "learning_rate": 0.001,
            "learning_rate_multiplier": None, "batch_size": None, "seed": 0, "early_stopping_patience": 1,
            "max_steps": None, "max_length": 512, "suffix": None, "resume": False, "job_id": None,
            "poll_interval_s": 5.0, "max_poll_interval_s": 60.0, "params": LOCAL_PARAMS} | changes


def write_old_run(out: Path, config: dict, train_file: Path) -> None:
    """A finished run's folder, train_result.json without a version (as older harnesses wrote it)."""
    (out / "adapter").mkdir(parents=True)
    result = {"trainer": config["trainer"], "base": config["base"], "candidate": f"local:smollm2?adapter={out}/adapter",
              "out_dir": str(out), "metrics_csv": None, "loss_curve": None,
              "epochs": [{"epoch": 1, "train_loss": 1.5, "val_loss": None, "steps": 4}], "best_epoch": 1,
              "stopped_early": False, "steps": 4, "hyperparameters": {"epochs": 3},
              "data_hashes": {"train": sha256_file(train_file)}, "checkpoints": [], "adapter": str(out / "adapter"),
              "adapter_sha256": None, "job_id": None, "seconds": 2.0, "val_trend": None}
    (out / TRAIN_RESULT).write_text(json.dumps({"config": config, "result": result}, indent=2), encoding="utf-8")


def test_an_old_train_result_is_recognised_as_the_same_config_and_reused(tmp_path: Path) -> None:
    data, out = tmp_path / "train.jsonl", tmp_path / "run"
    data.write_text('{"messages": []}\n', encoding="utf-8")
    write_old_run(out, old_config(data, out, params=LOCAL_PARAMS | {"lora_r": 8}), data)
    config = TrainConfig(train_file=data, out_dir=out, epochs=3, learning_rate=1e-3, lora_r=8)
    assert read_train_result(out / TRAIN_RESULT).format_version == 0
    lines: list[str] = []
    reused = train(config, lines.append)  # would train (and fail: no model here) if not recognised
    assert reused.steps == 4 and reused.adapter == out / "adapter"
    assert lines == [f"training: reusing the finished run in {out} (same config and data)"]
    # A setting that differs is another run, old layout or not.
    assert reuse_training(config.model_copy(update={"lora_r": 16})) is None
    assert reuse_training(config.model_copy(update={"epochs": 2})) is None


def test_an_old_openai_train_result_with_its_flat_settings_is_reused(tmp_path: Path) -> None:
    data, out = tmp_path / "train.jsonl", tmp_path / "job"
    data.write_text('{"messages": []}\n', encoding="utf-8")
    base = "openai:gpt-4o-mini-2024-07-18"
    old = old_config(data, out, trainer="openai", base=base, method="dpo", beta=0.2, learning_rate=None,
                     learning_rate_multiplier=0.5, suffix="intent", poll_interval_s=0.5, params={})
    write_old_run(out, old, data)
    config = TrainConfig(trainer="openai", base=base, method="dpo", train_file=data, out_dir=out, epochs=3,
                         beta=0.2, learning_rate_multiplier=0.5, suffix="intent", poll_interval_s=0.5)
    assert config.record_json() == old
    assert reuse_training(config) is not None
    assert reuse_training(config.model_copy(update={"suffix": "other"})) is None
    assert reuse_training(config.scaled_learning_rate(0.5)) is None  # the loop halved the multiplier: train again
