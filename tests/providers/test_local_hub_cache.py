"""`local:ORG/NAME`, a hub id already in the Hugging Face cache, resolves offline to that cache's
snapshot (the revision refs/main names) and loads from it: a fake cache under tmp (HF_HUB_CACHE)
holding a tiny random Llama's files, as `hf download` leaves them."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.core.errors import HarnessError
from harness.local import models as lm
from tests.deps import requires_module

requires_module("transformers", "pip install -e '.[local]'")
requires_module("huggingface_hub", "pip install -e '.[local]'")

OLD, NEW = "1" * 40, "2" * 40


def _tiny_model(folder: Path) -> None:
    """config.json, model.safetensors and a word-level tokenizer: a 2-layer Llama of width 16."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    words = ["<unk>", "<eos>", "hello", "world", "paris", "the", "capital"]
    tk = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="<unk>", eos_token="<eos>")
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(words), hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64, eos_token_id=1)
    LlamaForCausalLM(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)


@pytest.fixture()
def hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HF_HUB_CACHE=tmp/hub with models--northwind--tiny-llm: two snapshots, refs/main at the newer."""
    import huggingface_hub.constants as hconst

    cache = tmp_path / "hub"
    repo = cache / "models--northwind--tiny-llm"
    for rev in (OLD, NEW):
        _tiny_model(repo / "snapshots" / rev)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(NEW)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hconst, "HF_HUB_CACHE", str(cache))  # read once, when huggingface_hub is imported
    monkeypatch.setattr(hconst, "HF_HUB_OFFLINE", True)
    return repo


def test_a_cached_hub_id_resolves_offline_to_its_main_snapshot(hub_cache: Path) -> None:
    folder, gguf = lm.resolve_local_model("northwind/tiny-llm")
    assert gguf is None and folder == hub_cache / "snapshots" / NEW  # refs/main's revision, not the older one
    assert lm.display_name("northwind/tiny-llm") == "northwind/tiny-llm"  # not the snapshot's commit hash
    model, tok = lm.load_model_and_tokenizer("northwind/tiny-llm", device="cpu", cache=False)
    assert model.config.hidden_size == 16 and tok.convert_tokens_to_ids("paris") == 4
    assert tok.padding_side == "left" and tok.pad_token == "<eos>"


def test_a_hub_id_not_in_that_cache_is_one_line_naming_the_download(hub_cache: Path) -> None:
    with pytest.raises(HarnessError) as e:
        lm.resolve_local_model("northwind/not-downloaded")
    assert "'northwind/not-downloaded' (a hub id): it is not in the local Hugging Face cache" in str(e.value)
    assert "hf download northwind/not-downloaded" in str(e.value)
