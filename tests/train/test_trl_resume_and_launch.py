"""The TRL-based local trainer past the happy path: kill and resume, two processes over gloo,
a folder of weights as base, and the errors for what this machine lacks."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from harness.core.errors import HarnessError
from harness.train import TrainConfig, run_training
from tests.train.conftest import chat_file, need

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(open(path)))


def worker(config_json: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "harness.train.launch", str(config_json)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_killed_during_epoch_two_resumes_from_the_checkpoint(tmp_path, tiny_llama):
    out = tmp_path / "run"
    cfg = TrainConfig(base=f"local:{tiny_llama}", train_file=chat_file(tmp_path / "t.jsonl", 64),
                      validation_file=chat_file(tmp_path / "v.jsonl", 8, offset=64), out_dir=out, epochs=3,
                      batch_size=4, learning_rate=1e-3, max_length=128, early_stopping_patience=None, seed=3,
                      lora_r=4, lora_alpha=8, log_every_steps=1, device="cpu")
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg.model_dump(mode="json")))
    per_epoch = 16

    first = worker(path)
    seen = []
    for line in first.stdout:  # "step N/48 train loss ..." per step
        seen.append(line)
        if line.startswith("step ") and int(line.split()[1].split("/")[0]) > per_epoch:
            first.send_signal(signal.SIGKILL)  # in epoch 2, after epoch 1's checkpoint
            break
    first.wait(timeout=60)
    assert first.returncode == -signal.SIGKILL, "".join(seen)
    assert not (out / "adapter").exists()
    saved = sorted(int(p.name.split("-")[1]) for p in (out / "checkpoints").glob("checkpoint-*"))
    assert saved and saved[-1] < 3 * per_epoch and saved[-1] % per_epoch == 0

    second = worker(path)
    log, _ = second.communicate(timeout=600)
    assert second.returncode == 0, log
    steps = [int(x.split()[1].split("/")[0]) for x in log.splitlines() if x.startswith("step ")]
    assert "resuming from" in log and steps[0] == saved[-1] + 1, log  # the counter continues, not from 1
    record = json.loads((out / "train_result.json").read_text())["result"]
    assert record["steps"] == 3 * per_epoch and record["hyperparameters"]["resumed_from_step"] == saved[-1]
    assert (out / "adapter" / "adapter_config.json").is_file() and record["adapter_sha256"]
    # metrics.csv is whole: the rows up to the checkpoint rewritten, each step and epoch once.
    m = rows(out / "metrics.csv")
    assert [int(r["step"]) for r in m if r["kind"] == "step"] == list(range(1, 3 * per_epoch + 1))
    assert [int(r["epoch"]) for r in m if r["kind"] == "epoch"] == [1, 2, 3]
    assert [e["epoch"] for e in record["epochs"]] == [1, 2, 3]


def test_a_rerun_with_other_settings_does_not_resume_foreign_checkpoints(tmp_path, tiny_llama):
    out = tmp_path / "run"
    base = {"base": f"local:{tiny_llama}", "train_file": chat_file(tmp_path / "t.jsonl", 8), "out_dir": out,
            "epochs": 1, "batch_size": 4, "max_length": 128, "lora_r": 2, "device": "cpu"}
    run_training(TrainConfig(**base), log=lambda m: None)
    with pytest.raises(HarnessError, match=r"checkpoints of another run \(different params"):
        run_training(TrainConfig(**(base | {"lora_r": 4})), log=lambda m: None)


def test_two_processes_over_gloo_write_one_adapter_and_lower_the_loss(tmp_path, tiny_llama):
    need("accelerate")
    out = tmp_path / "ddp"
    cfg = TrainConfig(base=f"local:{tiny_llama}", train_file=chat_file(tmp_path / "t.jsonl", 64),
                      validation_file=chat_file(tmp_path / "v.jsonl", 8, offset=64), out_dir=out, epochs=3,
                      batch_size=4, learning_rate=2e-3, max_length=128, early_stopping_patience=None, seed=1,
                      lora_r=8, lora_alpha=16, log_every_steps=1, device="cpu", num_processes=2)
    result = run_training(cfg, log=lambda m: None)
    assert result.hyperparameters["processes"] == 2
    assert result.steps == 3 * 8  # 64 examples / (4 per process x 2 processes) a step
    assert sorted(p.name for p in out.rglob("adapter_config.json") if "checkpoint" not in str(p)) == ["adapter_config.json"]
    assert len(list(out.rglob("metrics.csv"))) == 1 and len(list(out.rglob("train_result.json"))) == 1
    epochs = [r for r in rows(out / "metrics.csv") if r["kind"] == "epoch"]
    assert len(epochs) == 3
    assert float(epochs[-1]["train_loss"]) < float(epochs[0]["train_loss"])
    assert float(epochs[-1]["val_loss"]) < float(epochs[0]["val_loss"])


def test_quantization_without_cuda_names_the_missing_piece(tmp_path, tiny_llama):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    cfg = TrainConfig(base=f"local:{tiny_llama}", train_file=chat_file(tmp_path / "t.jsonl", 4), out_dir=tmp_path / "q",
                      quantization="4bit")
    with pytest.raises(HarnessError, match="QLoRA.*needs a CUDA GPU"):
        run_training(cfg, log=lambda m: None)
    with pytest.raises(HarnessError, match="precision bf16: needs a CUDA GPU"):
        run_training(cfg.model_copy(update={"params": {**cfg.params, "quantization": "none", "precision": "bf16"}}),
                     log=lambda m: None)


def test_trainer_params_are_validated_with_their_location():
    from harness.train.base import make_config

    with pytest.raises(HarnessError, match=r"params\.gradient_accumulation_steps: Input should be greater"):
        make_config(TrainConfig, train_file=Path("t"), out_dir=Path("o"), gradient_accumulation_steps=0)
    with pytest.raises(HarnessError, match=r"lora_r: Extra inputs"):
        make_config(TrainConfig, trainer="openai", base="openai:gpt-4o-mini", train_file=Path("t"), out_dir=Path("o"),
                    lora_r=8)


def test_the_loss_on_labelled_positions_equals_the_full_logits_loss(tiny_llama):
    """Our compute_loss projects only labelled positions; it must equal transformers' own loss."""
    import torch
    from transformers import AutoModelForCausalLM

    from harness.train.sft import labelled_positions_loss

    model = AutoModelForCausalLM.from_pretrained(tiny_llama)
    ids = torch.randint(0, 1000, (3, 12))
    labels = torch.full_like(ids, -100)
    labels[0, 9:11], labels[1, 4:6], labels[2, 11] = ids[0, 9:11], ids[1, 4:6], ids[2, 11]
    mask = torch.ones_like(ids)
    mask[1, 8:] = 0
    ours = labelled_positions_loss(model, {"input_ids": ids, "attention_mask": mask, "labels": labels})
    theirs = model(input_ids=ids, attention_mask=mask, labels=labels).loss
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-5)
    # With num_items_in_batch (a step's tokens across accumulation and ranks) it is a sum over that count.
    half = labelled_positions_loss(model, {"input_ids": ids, "attention_mask": mask, "labels": labels}, 10)
    assert half.item() == pytest.approx(theirs.item() * 5 / 10, rel=1e-5)
