"""Serve-ready output: a LoRA adapter merged into its base, written as a plain transformers folder.

    adapter (adapter_config.json names its base) -> base + adapter (peft) -> merge_and_unload
    -> DIR/model.safetensors, config.json, generation_config.json, tokenizer files with the chat
       template -> DIR/harness-export.json (what was merged, hashes)

The folder loads with ``AutoModelForCausalLM.from_pretrained(DIR)`` and so with vLLM
(``vllm serve DIR``) or llama.cpp's converter, and with this harness as ``local:DIR``. Serving
the adapter unmerged is also possible (``vllm serve BASE --enable-lora --lora-modules NAME=ADAPTER``);
merging costs nothing at inference and needs no LoRA support in the server.
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from harness.core.errors import HarnessError


@dataclass
class ExportResult:
    out_dir: Path
    base: str
    adapter: Path
    files: list[str]


def adapter_base(adapter: Path) -> str:
    """The base model an adapter was trained on, from its adapter_config.json."""
    cfg = adapter / "adapter_config.json"
    if not cfg.is_file():
        raise HarnessError(f"{adapter}: not a LoRA adapter folder (no adapter_config.json); pass the adapter "
                           "folder a training run wrote (OUT/adapter)")
    try:
        base = json.loads(cfg.read_text(encoding="utf-8")).get("base_model_name_or_path")
    except ValueError as e:
        raise HarnessError(f"{cfg}: not valid JSON: {e}") from None
    if not base:
        raise HarnessError(f"{cfg}: base_model_name_or_path is empty; pass --base MODEL")
    return str(base)


def export_merged(adapter: Path, out_dir: Path, base: str | None = None, overwrite: bool = False) -> ExportResult:
    """Merge ``adapter`` into its base and write a transformers folder (safetensors, tokenizer, chat template)."""
    from harness.core.hashing import hash_path
    from harness.local import models as lm

    adapter = Path(adapter)
    base = base or adapter_base(adapter)
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise HarnessError(f"{out_dir}: the folder is not empty; choose a new one (or pass --force to replace its files)")
    if out_dir.resolve() == adapter.resolve():
        raise HarnessError(f"{out_dir}: that is the adapter's own folder; choose another")
    model, tok = lm.load_model_and_tokenizer(base, adapter=adapter, device="cpu", cache=False)
    if not getattr(tok, "chat_template", None):
        raise HarnessError(f"base model {base!r}: its tokenizer has no chat template; a served model would not know "
                           "how to render chat messages")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        merged = model.merge_and_unload()
    merged.eval()
    tok.padding_side = "left"  # what batched generation wants; vLLM ignores it
    out_dir.mkdir(parents=True, exist_ok=True)
    with lm._quiet_loading():
        merged.save_pretrained(str(out_dir), safe_serialization=True)
        tok.save_pretrained(str(out_dir))
    record = {"kind": "export", "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "base": base,
              "adapter": str(adapter), "adapter_sha256": hash_path(adapter), "merged": True, "dtype": str(merged.dtype),
              "serve": {"vllm": f"vllm serve {out_dir} --served-model-name {out_dir.resolve().name}",
                        "harness": [f"openai:{out_dir.resolve().name}?base_url=http://127.0.0.1:8000/v1", f"local:{out_dir}"]}}
    (out_dir / "harness-export.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return ExportResult(out_dir, base, adapter, sorted(p.name for p in out_dir.iterdir()))
