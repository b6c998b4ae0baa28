"""`local` trainer, ``method: dpo``: direct preference optimisation with TRL's ``DPOTrainer`` and
a peft LoRA adapter on an in-process causal LM (SmolLM2-135M-Instruct by default).

    preference JSONL (input, preferred_output, non_preferred_output)
    -> TRL's conversational preference rows (prompt, chosen, rejected)
    -> DPOTrainer + LoraConfig: the reference model is the base with the adapter disabled
       (TRL's behaviour with peft: no second copy of the weights)
    -> OUT/adapter, metrics.csv, log_history.json (TRL's own rows: rewards, margins), loss curve

Picked by ``TrainConfig(trainer="local", method="dpo")`` (see ``METHOD_TRAINERS`` in
harness.train.base). The candidate is ``local:NAME?adapter=OUT/adapter``, evaluated and exported
like the supervised trainer's.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

from pydantic import BaseModel

from harness.core.errors import HarnessError
from harness.core.jsonl import read_jsonl
from harness.train.base import (
    DPOParams,
    EpochLoss,
    Log,
    TrainConfig,
    Trainer,
    TrainResult,
    base_spec,
    data_hashes,
    trainer,
)
from harness.train.curves import MetricsLog, plot_losses
from harness.train.local import LocalParams

DEFAULT_LR = 5e-5  # LoRA DPO; supervised LoRA uses 5e-4, preference updates want a gentler step
DEFAULT_BETA = 0.1  # TRL's default
DEFAULT_BATCH_SIZE = 4


class LocalDPOParams(LocalParams, DPOParams):
    """The local trainer's settings (LoRA shape, device, logging) and the dpo method's ``beta``."""


def _plain(messages: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    return [{"role": m["role"], "content": m.get("content") or ""} for m in messages]


def read_pairs(path: Path) -> list[dict[str, Any]]:
    """A checked preference file as TRL's conversational rows ``{prompt, chosen, rejected}``."""
    return [{"prompt": _plain(obj["input"]["messages"]), "chosen": _plain(obj["preferred_output"]),
             "rejected": _plain(obj["non_preferred_output"])} for _, obj in read_jsonl(path, objects=True)]


def preference_margins(model: Any, tokenizer: Any, pairs: Sequence[dict[str, Any]]) -> list[float]:
    """Per pair: log p(chosen | prompt) - log p(rejected | prompt) under ``model`` (summed over the
    answer's tokens). What DPO pushes up; a test measures it before and after training."""
    from harness.local.models import score_continuations

    prompts = [p["prompt"] for p in pairs]
    good = score_continuations(model, tokenizer, prompts, [p["chosen"][0]["content"] for p in pairs])
    bad = score_continuations(model, tokenizer, prompts, [p["rejected"][0]["content"] for p in pairs])
    return [sum(g) - sum(b) for g, b in zip(good, bad)]


def _require() -> tuple[Any, Any, Any]:
    try:
        from peft import LoraConfig
        from trl import DPOConfig

        from datasets import Dataset
    except ImportError as e:
        raise HarnessError(f"dpo training needs trl, peft and datasets ({e.name} is missing): "
                           "pip install trl peft datasets") from None
    return Dataset, LoraConfig, DPOConfig


def _epochs(history: list[dict[str, Any]], metrics: MetricsLog) -> list[EpochLoss]:
    """metrics.csv rows from TRL's log history; one EpochLoss per epoch (mean train loss, eval loss)."""
    by_epoch: dict[int, dict[str, Any]] = {}
    for h in history:
        step, epoch = h.get("step", 0), h.get("epoch") or 0.0
        e = max(1, int(-(-epoch // 1)))  # the epoch this row ends in (1.0 -> 1, 1.5 -> 2)
        slot = by_epoch.setdefault(e, {"train": [], "val": None, "step": 0})
        slot["step"] = max(slot["step"], step)
        if "loss" in h:
            slot["train"].append(h["loss"])
            metrics.log(kind="step", step=step, epoch=epoch, train_loss=h["loss"], learning_rate=h.get("learning_rate", ""))
        if "eval_loss" in h:
            slot["val"] = h["eval_loss"]
            metrics.log(kind="epoch", step=step, epoch=epoch, val_loss=h["eval_loss"])
    return [EpochLoss(e, round(sum(s["train"]) / len(s["train"]), 6) if s["train"] else None,
                      None if s["val"] is None else round(s["val"], 6), s["step"]) for e, s in sorted(by_epoch.items())]


def _LogLines(log: Log) -> Any:
    """A transformers callback that sends each of TRL's log rows to the harness's log, one line."""
    from transformers import TrainerCallback

    class LogLines(TrainerCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any) -> None:
            logs = logs or {}
            if "loss" in logs:
                log(f"step {state.global_step}/{state.max_steps} loss {float(logs['loss']):.4f} reward margin "
                    f"{float(logs.get('rewards/margins', float('nan'))):.4f} accuracy "
                    f"{float(logs.get('rewards/accuracies', float('nan'))):.2f}")
            elif "eval_loss" in logs:
                log(f"epoch {state.epoch:.2f}: validation loss {float(logs['eval_loss']):.4f}")

    return LogLines()


@trainer("local-dpo")
class LocalDPOTrainer(Trainer):
    """DPO with LoRA on an in-process model; the candidate is ``local:NAME?adapter=OUT/adapter``.
    Its settings are the local trainer's (LoRA shape, device, logging) and the dpo method's beta."""

    Params: ClassVar[type[BaseModel]] = LocalDPOParams

    def train(self, config: TrainConfig, log: Log) -> TrainResult:
        Dataset, LoraConfig, DPOConfig = _require()
        from datasets.utils.logging import disable_progress_bar
        from transformers.trainer_callback import PrinterCallback
        from trl import DPOTrainer

        disable_progress_bar()  # TRL's tokenizing bars; the log says what is happening

        from harness.core.hashing import hash_path
        from harness.local import models as lm

        spec = base_spec(config.base)
        if spec.provider != "local":
            raise HarnessError(f"dpo with the local trainer fine-tunes local models; got base {config.base!r} "
                               "(for an OpenAI base use --trainer openai)")
        name = spec.name or lm.DEFAULT_LOCAL_MODEL
        p: LocalDPOParams = config.trainer_params()
        device = lm.resolve_device(p.device if p.device != "auto" else spec.params.device)
        model, tokenizer = lm.load_model_and_tokenizer(name, device=device, cache=False)  # a private copy: we train it
        tokenizer.padding_side = "right"  # training pads on the right; generation (left) reloads its own copy
        train = read_pairs(config.train_file)
        val = read_pairs(config.validation_file) if config.validation_file else []
        lr, bs, beta = config.learning_rate or DEFAULT_LR, config.batch_size or DEFAULT_BATCH_SIZE, p.beta or DEFAULT_BETA
        targets = "all-linear" if p.lora_targets == "all-linear" else list(p.lora_targets)
        lora = LoraConfig(r=p.lora_r, lora_alpha=p.lora_alpha, lora_dropout=p.lora_dropout,
                          target_modules=targets, task_type="CAUSAL_LM")
        per_epoch = math.ceil(len(train) / bs)
        max_steps = min(config.max_steps, per_epoch * config.epochs) if config.max_steps else -1  # as the sft trainer
        args = DPOConfig(
            output_dir=str(config.out_dir / "checkpoints"), beta=beta, learning_rate=lr, per_device_train_batch_size=bs,
            per_device_eval_batch_size=bs, num_train_epochs=config.epochs, max_steps=max_steps,
            max_length=config.max_length, seed=config.seed, data_seed=config.seed, logging_steps=p.log_every_steps,
            eval_strategy="epoch" if val else "no", save_strategy="no", report_to=[], disable_tqdm=True,
            gradient_checkpointing=False,  # 135M parameters on a CPU: memory is not the limit, time is
            use_cpu=device == "cpu", bf16=False, fp16=False, dataloader_num_workers=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            dpo = DPOTrainer(model=model, args=args, train_dataset=Dataset.from_list(train),
                             eval_dataset=Dataset.from_list(val) if val else None, processing_class=tokenizer,
                             peft_config=lora, callbacks=[_LogLines(log)])
            dpo.remove_callback(PrinterCallback)  # its raw dicts on stdout; _LogLines says the same in one line
            log(f"DPO (beta {beta}) with LoRA r={p.lora_r} on {name}: {len(train)} pairs, {len(val)} validation "
                f"pairs, learning rate {lr}, batch {bs}, on {device}")
            out = dpo.train()
        history = dpo.state.log_history
        (config.out_dir / "log_history.json").write_text(json.dumps(history, indent=1) + "\n", encoding="utf-8")
        metrics = MetricsLog(config.out_dir / "metrics.csv")
        try:
            epochs = _epochs(history, metrics)
        finally:
            metrics.close()
        adapter = config.out_dir / "adapter"
        peft_model = dpo.model
        peft_model.peft_config["default"].base_model_name_or_path = name  # not this machine's package path
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            peft_model.save_pretrained(str(adapter))
        curve = plot_losses(metrics.rows, config.out_dir / "loss_curve", title=f"DPO (LoRA) on {name}")
        hyper = {"base": name, "method": "dpo", "beta": beta, "epochs": config.epochs, "learning_rate": lr,
                 "batch_size": bs, "lora_r": p.lora_r, "lora_alpha": p.lora_alpha, "lora_targets": targets,
                 "seed": config.seed, "max_length": config.max_length, "train_pairs": len(train),
                 "validation_pairs": len(val), "reference": "base model with the adapter disabled (TRL + peft)",
                 "train_loss": round(out.training_loss, 6)}
        return TrainResult(
            trainer="local", base=config.base, candidate=f"local:{name}?adapter={quote(str(adapter), safe='/:')}",
            out_dir=config.out_dir, metrics_csv=metrics.path, loss_curve=curve, epochs=epochs,
            best_epoch=epochs[-1].epoch if epochs else None, stopped_early=False,  # the last epoch's adapter is kept
            steps=dpo.state.global_step, hyperparameters=hyper, data_hashes=data_hashes(config),
            adapter=adapter, adapter_sha256=hash_path(adapter))
