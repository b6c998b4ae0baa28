"""The local trainer keeps every checkpoint's adapter past TRL's rotation and lists each with the
spec that runs it; `harness checkpoints` reads them back with their losses and evaluates all three
over one base load. A tiny random llama as base: fast, and its answers are all wrong, so every
checkpoint ties on the metric and the lowest validation loss decides."""

from __future__ import annotations

import json
from pathlib import Path

from harness.cli.main import main
from harness.records.checkpoints import read_checkpoint_table
from harness.train import TrainConfig, run_training
from tests.train.conftest import chat_file, need, tiny_llama  # noqa: F401  (the fixture)


def test_every_checkpoint_adapter_is_kept_listed_and_evaluated_over_one_base(tmp_path: Path, tiny_llama, capsys) -> None:  # noqa: F811
    need("trl", "peft", "transformers")
    from harness.local import models as lm

    out = tmp_path / "run"
    cfg = TrainConfig(base=f"local:{tiny_llama}", train_file=chat_file(tmp_path / "t.jsonl", 16),
                      validation_file=chat_file(tmp_path / "v.jsonl", 8, offset=16), out_dir=out, epochs=3,
                      batch_size=4, learning_rate=1e-3, max_length=128, early_stopping_patience=None, seed=0,
                      lora_r=4, lora_alpha=8, device="cpu")
    result = run_training(cfg, log=lambda m: None)
    assert len(list((out / "checkpoints").glob("checkpoint-*"))) == 2  # save_total_limit 2 rotates full checkpoints
    kept = sorted((out / "checkpoint-adapters").iterdir(), key=lambda p: int(p.name.split("-")[1]))
    assert [p.name for p in kept] == ["checkpoint-4", "checkpoint-8", "checkpoint-12"]
    for p in kept:  # adapter weights and the trainer's state, no optimizer state
        assert sorted(f.name for f in p.iterdir()) == ["adapter_config.json", "adapter_model.safetensors",
                                                        "trainer_state.json"]
        assert json.loads((p / "adapter_config.json").read_text())["base_model_name_or_path"] == str(tiny_llama)
    entries = result.checkpoints
    assert [(c["epoch"], c["step"], c["path"]) for c in entries] == [(e, 4 * e, str(kept[e - 1])) for e in (1, 2, 3)]
    assert all(c["candidate"] == f"local:{tiny_llama}?adapter={c['path']}" and c["val_loss"] > 0 for c in entries)
    best_step = min(entries, key=lambda c: c["val_loss"])["step"]
    assert [c["adapter"] is not None for c in entries] == [c["step"] == best_step for c in entries]

    suite = tmp_path / "intent.yaml"
    (tmp_path / "validation.jsonl").write_text("".join(
        json.dumps({"id": f"v{i}", "text": r["messages"][1]["content"], "intent": r["messages"][2]["content"]}) + "\n"
        for i, r in enumerate(json.loads(x) for x in (tmp_path / "v.jsonl").read_text().splitlines()[:3])))
    suite.write_text("name: tiny-intent\nversion: 1\ndefault_split: validation\ndataset:\n  path: .\n  format: jsonl\n"
                     "  splits:\n    validation: validation.jsonl\n  fields:\n    id: id\n    input: text\n"
                     "    reference: intent\nprompt:\n  messages:\n    - role: user\n      content: \"{{ text }}\"\n"
                     "generation:\n  max_tokens: 4\n  temperature: 0\nmetrics:\n  - name: exact_match\n")
    lm.clear_model_cache()
    code = main(["checkpoints", str(out / "checkpoint-adapters"), "--suite", str(suite), "--reports",
                 str(tmp_path / "reports"), "--no-progress", "--out", str(tmp_path / "table")])
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    t = read_checkpoint_table(tmp_path / "table" / "checkpoints.json")
    assert t.base_loads == 1 and t.metric == "exact_match"
    assert t.metric_source == "the first score of the suite's first metric (no gate names one)"
    assert [e.step for e in t.checkpoints] == [4, 8, 12]
    assert [e.loss for e in t.checkpoints] == [round(c["val_loss"], 6) for c in entries] or all(
        abs(e.loss - c["val_loss"]) < 1e-6 for e, c in zip(t.checkpoints, entries))
    assert [e.value for e in t.checkpoints] == [0.0, 0.0, 0.0]  # a random model: all wrong, a three-way tie
    chosen = next(e for e in t.checkpoints if e.chosen)
    assert chosen.step == best_step and "lowest validation loss among them" in t.why
