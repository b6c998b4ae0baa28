"""Tiny LoRA adapters made with peft for the checkpoint tests: zero (the base's own outputs) or
random with a given scale (visibly different outputs), saved as a Trainer would save them."""

from __future__ import annotations

import json
import warnings
from pathlib import Path


def make_adapter(base: str, out: Path, *, seed: int = 0, scale: float = 0.0, step: int | None = None,
                 val_loss: float | None = None, base_name: str | None = None) -> Path:
    """A LoRA adapter (r=4 on q_proj/v_proj) over ``base`` in ``out``: ``scale`` 0 leaves lora_B at
    zero (outputs exactly the base's), otherwise every LoRA weight is random times ``scale``. With
    ``step``, a trainer_state.json recording ``val_loss`` as the evaluation loss at that step."""
    import torch
    from peft import LoraConfig, get_peft_model

    from harness.local import models as lm

    model, _ = lm.load_model_and_tokenizer(base, device="cpu", cache=False)  # private copy: peft modifies it
    torch.manual_seed(seed)
    cfg = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=True)
    with warnings.catch_warnings():  # transformers 5 deprecates an attribute peft still reads
        warnings.simplefilter("ignore", FutureWarning)
        peft_model = get_peft_model(model, cfg)
    if scale:
        with torch.no_grad():
            for n, p in peft_model.named_parameters():
                if "lora_" in n:
                    p.copy_(torch.randn_like(p) * scale)
    peft_model.save_pretrained(out)
    config_path = out / "adapter_config.json"
    config = json.loads(config_path.read_text())
    config["base_model_name_or_path"] = base_name or base
    config_path.write_text(json.dumps(config))
    if step is not None:
        history = [{"step": step, "loss": (val_loss or 1.0) + 0.1}, {"step": step, "eval_loss": val_loss}]
        (out / "trainer_state.json").write_text(json.dumps({"global_step": step, "epoch": float(step),
                                                            "log_history": history}))
    return out
