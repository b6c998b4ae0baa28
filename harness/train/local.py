"""`local` trainer: LoRA fine-tuning (peft) of an in-process model, SmolLM2-135M-Instruct by default.

    encode (chat template; labels only on assistant tokens) -> LoRA -> AdamW, linear warmup/decay
    -> per-epoch validation loss, early stopping -> best adapter, metrics.csv, loss curve

The loss covers assistant tokens only (labels are -100 elsewhere), and an assistant message with
``weight: 0`` is not learned from. The run is deterministic given the seed on one machine: LoRA
initialisation, shuffling and dropout all draw from seeded generators.
"""

from __future__ import annotations

import json
import math
import random
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from harness.core.errors import HarnessError, InputProblems, Problem
from harness.train.base import (
    EpochLoss,
    Log,
    TrainConfig,
    Trainer,
    TrainResult,
    data_hashes,
    trainer,
)
from harness.train.curves import MetricsLog, plot_losses

DEFAULT_LR = 5e-4
DEFAULT_BATCH_SIZE = 8
WARMUP_FRACTION = 0.05


@dataclass
class Encoded:
    input_ids: list[int]
    labels: list[int]  # -100 where the loss does not apply

    @property
    def trained_tokens(self) -> int:
        return sum(1 for x in self.labels if x != -100)


def _plain(messages: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    return [{"role": m["role"], "content": m.get("content") or ""} for m in messages]


def encode_chat(tokenizer: Any, messages: Sequence[dict[str, Any]], max_length: int) -> Encoded:
    """Token ids of the templated conversation, with labels on assistant turns (weight 1) only.

    Each assistant span runs from the end of the generation prompt before it to its end-of-turn
    token inclusive, found by rendering prefixes of the conversation, so the model learns to stop.
    """
    full = tokenizer.apply_chat_template(_plain(messages), tokenize=False)
    spans: list[tuple[int, int]] = []
    for k, m in enumerate(messages):
        if m["role"] != "assistant" or m.get("weight", 1) == 0:
            continue
        prompt = tokenizer.apply_chat_template(_plain(messages[:k]), tokenize=False, add_generation_prompt=True)
        upto = tokenizer.apply_chat_template(_plain(messages[: k + 1]), tokenize=False)
        if not (full.startswith(upto) and upto.startswith(prompt)):
            raise HarnessError("the tokenizer's chat template does not render conversations prefix by prefix; "
                               "cannot locate assistant tokens")
        spans.append((len(prompt), len(upto.rstrip())))
    enc = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    ids = list(enc["input_ids"])[:max_length]
    offsets = list(enc["offset_mapping"])[:max_length]
    labels = [t if any(s <= start < e for s, e in spans) else -100 for t, (start, _) in zip(ids, offsets, strict=True)]
    return Encoded(ids, labels)


def read_chat(path: Path) -> list[list[dict[str, Any]]]:
    return [json.loads(line)["messages"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def encode_file(tokenizer: Any, path: Path, max_length: int) -> tuple[list[Encoded], int]:
    """Encoded examples, and how many were dropped because truncation left no assistant token."""
    out, dropped = [], 0
    for msgs in read_chat(path):
        e = encode_chat(tokenizer, msgs, max_length)
        if e.trained_tokens:
            out.append(e)
        else:
            dropped += 1
    return out, dropped


def collate(batch: Sequence[Encoded], pad_id: int, device: Any) -> dict[str, Any]:
    import torch

    width = max(len(e.input_ids) for e in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for i, e in enumerate(batch):
        n = len(e.input_ids)
        ids[i, :n] = torch.tensor(e.input_ids)
        labels[i, :n] = torch.tensor(e.labels)
        mask[i, :n] = 1
    return {"input_ids": ids.to(device), "labels": labels.to(device), "attention_mask": mask.to(device)}


def loss_sum(model: Any, batch: dict[str, Any]) -> tuple[Any, int]:
    """Summed next-token cross-entropy over labelled tokens, and their count.

    The output projection (49k-word vocabulary for SmolLM2) runs only where a label is, not at
    every prompt position: about a fifth of the compute of a short-answer example.
    """
    import torch.nn.functional as F

    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    hidden = inner.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    target = batch["labels"][:, 1:]
    keep = target != -100
    logits = inner.lm_head(hidden[:, :-1][keep])
    return F.cross_entropy(logits.float(), target[keep], reduction="sum"), int(keep.sum())


def evaluate(model: Any, data: Sequence[Encoded], batch_size: int, pad_id: int, device: Any) -> float:
    import torch

    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(data), batch_size):
            s, n = loss_sum(model, collate(data[i : i + batch_size], pad_id, device))
            total += float(s)
            count += n
    model.train()
    return total / max(count, 1)


def _lora_state(model: Any) -> dict[str, Any]:
    return {k: v.detach().clone() for k, v in model.named_parameters() if v.requires_grad}


@trainer("local")
class LocalTrainer(Trainer):
    """LoRA on an in-process causal LM; the candidate is ``local:NAME?adapter=OUT/adapter``."""

    def train(self, config: TrainConfig, log: Log) -> TrainResult:
        import torch
        from peft import LoraConfig, get_peft_model

        from harness.models import local_models as lm
        from harness.train.base import base_spec

        spec = base_spec(config.base)
        if spec.provider != "local":
            raise HarnessError(f"the local trainer fine-tunes local models; got base {config.base!r} (try --trainer openai)")
        name = spec.name or lm.DEFAULT_LOCAL_MODEL
        lr = config.learning_rate or DEFAULT_LR
        bs = config.batch_size or DEFAULT_BATCH_SIZE
        device = lm.resolve_device(config.device if config.device != "auto" else spec.params.device)
        random.seed(config.seed)
        torch.manual_seed(config.seed)

        model, tokenizer = lm.load_model_and_tokenizer(name, device=device, cache=False)  # a private copy: we change it
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        train, dropped = encode_file(tokenizer, config.train_file, config.max_length)
        if not train:
            raise InputProblems([Problem(str(config.train_file), "", f"no example keeps an assistant token within max_length={config.max_length}")])
        val = encode_file(tokenizer, config.validation_file, config.max_length)[0] if config.validation_file else []
        if dropped:
            log(f"{dropped} training example(s) had no assistant token left after truncation to {config.max_length} tokens")

        torch.manual_seed(config.seed)  # LoRA's initialisation draws from this
        targets = "all-linear" if config.lora_targets == "all-linear" else list(config.lora_targets)
        lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                          target_modules=targets, task_type="CAUSAL_LM")
        with warnings.catch_warnings():  # transformers' deprecation notice raised inside peft
            warnings.simplefilter("ignore", FutureWarning)
            model = get_peft_model(model, lora).to(device)
        model.train()
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
        steps_per_epoch = math.ceil(len(train) / bs)
        total = steps_per_epoch * config.epochs if config.max_steps is None else min(config.max_steps, steps_per_epoch * config.epochs)
        warmup = max(1, round(total * WARMUP_FRACTION))
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: (s + 1) / warmup if s < warmup else max(0.0, (total - s) / max(1, total - warmup)))
        hyper = {"base": name, "epochs": config.epochs, "learning_rate": lr, "batch_size": bs, "lora_r": config.lora_r,
                 "lora_alpha": config.lora_alpha, "lora_dropout": config.lora_dropout, "lora_targets": targets,
                 "seed": config.seed, "max_length": config.max_length, "warmup_steps": warmup, "total_steps": total,
                 "early_stopping_patience": config.early_stopping_patience, "device": str(device),
                 "train_examples": len(train), "validation_examples": len(val),
                 "trainable_parameters": sum(p.numel() for p in params)}
        log(f"LoRA r={config.lora_r} on {name} ({hyper['trainable_parameters']:,} trainable parameters), "
            f"{len(train)} train / {len(val)} validation examples, {total} steps on {device}")

        metrics = MetricsLog(config.out_dir / "metrics.csv")
        gen = torch.Generator().manual_seed(config.seed)
        t0 = time.perf_counter()
        step, epochs, best, bad, stopped = 0, [], (math.inf, 0, None), 0, False
        window: list[tuple[float, int]] = []
        try:
            for epoch in range(1, config.epochs + 1):
                e_sum, e_count = 0.0, 0
                order = torch.randperm(len(train), generator=gen).tolist()
                for b in range(steps_per_epoch):
                    if step >= total:
                        break
                    batch = collate([train[i] for i in order[b * bs : (b + 1) * bs]], pad_id, device)
                    s, n = loss_sum(model, batch)
                    (s / max(n, 1)).backward()
                    torch.nn.utils.clip_grad_norm_(params, 1.0)
                    opt.step()
                    sched.step()
                    opt.zero_grad(set_to_none=True)
                    step += 1
                    s_val = s.item()
                    e_sum, e_count = e_sum + s_val, e_count + n
                    window.append((s_val, n))
                    elapsed = time.perf_counter() - t0
                    if step % config.log_every_steps == 0 or step == total:
                        w_loss = sum(x for x, _ in window) / max(1, sum(k for _, k in window))
                        window = []
                        row = {"kind": "step", "step": step, "epoch": step / steps_per_epoch, "train_loss": w_loss,
                               "learning_rate": sched.get_last_lr()[0], "elapsed_s": elapsed}
                        if val and config.eval_every_steps and step % config.eval_every_steps == 0:
                            row["val_loss"] = evaluate(model, val, bs, pad_id, device)
                        metrics.log(**row)
                        log(f"epoch {epoch}/{config.epochs} step {step}/{total} train loss {w_loss:.4f} "
                            f"({elapsed / step:.2f} s/step)")
                train_loss = e_sum / max(e_count, 1)
                val_loss = evaluate(model, val, bs, pad_id, device) if val else None
                epochs.append(EpochLoss(epoch, round(train_loss, 6), None if val_loss is None else round(val_loss, 6), step))
                metrics.log(kind="epoch", step=step, epoch=epoch, train_loss=train_loss,
                            val_loss="" if val_loss is None else val_loss, learning_rate=sched.get_last_lr()[0],
                            elapsed_s=time.perf_counter() - t0)
                log(f"epoch {epoch}: train loss {train_loss:.4f}" + (f", validation loss {val_loss:.4f}" if val_loss is not None else ""))
                if val_loss is not None:
                    if val_loss < best[0] - 1e-4:
                        best, bad = (val_loss, epoch, _lora_state(model)), 0
                    else:
                        bad += 1
                        if config.early_stopping_patience and bad >= config.early_stopping_patience and epoch < config.epochs:
                            stopped = True
                            log(f"early stop: validation loss has not improved for {bad} epoch(s); keeping epoch {best[1]}")
                            break
                if step >= total:
                    break
        finally:
            metrics.close()

        best_epoch = best[1] if best[2] is not None else (epochs[-1].epoch if epochs else None)
        if best[2] is not None:
            with torch.no_grad():
                for k, v in model.named_parameters():
                    if k in best[2]:
                        v.copy_(best[2][k])
        adapter = config.out_dir / "adapter"
        model.peft_config["default"].base_model_name_or_path = name  # not this machine's package path
        with warnings.catch_warnings():  # peft looks for a config named `name` to see if the vocabulary grew; it did not
            warnings.simplefilter("ignore", UserWarning)
            model.save_pretrained(str(adapter))
        from harness.core.hashing import hash_path

        curve = plot_losses(metrics.rows, config.out_dir / "loss_curve", title=f"LoRA on {name}")
        ckpt = [{"epoch": e.epoch, "step": e.steps, "train_loss": e.train_loss, "val_loss": e.val_loss,
                 "adapter": str(adapter) if e.epoch == best_epoch else None} for e in epochs]
        return TrainResult(
            trainer="local", base=config.base, candidate=f"local:{name}?adapter={quote(str(adapter), safe='/:')}",
            out_dir=config.out_dir, metrics_csv=metrics.path, loss_curve=curve, epochs=epochs, best_epoch=best_epoch,
            stopped_early=stopped, steps=step, hyperparameters=hyper, data_hashes=data_hashes(config),
            checkpoints=ckpt, adapter=adapter, adapter_sha256=hash_path(adapter))
