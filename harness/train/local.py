"""`local` trainer: LoRA supervised fine-tuning with TRL's SFTTrainer and peft, any causal LM as base.

    encode (chat template; labels on assistant tokens with weight 1) -> SFTTrainer + LoRA
    -> per-epoch validation loss, EarlyStoppingCallback, best checkpoint loaded at the end
    -> OUT/adapter, metrics.csv, loss curve; OUT/checkpoints/checkpoint-N each epoch (or every N steps),
       rotated by save_total_limit; every checkpoint's adapter also in OUT/checkpoint-adapters/, each
       listed in the result's ``checkpoints`` with the spec that evaluates it (the loop evaluates
       them and chooses its candidate by the suite's metric: harness.checkpoints)

The base is SmolLM2-135M-Instruct (the GGUF package) by default, or ``local:PATH`` for a folder of
transformers weights, or ``local:ORG/NAME`` for a hub id already in the Hugging Face cache.
A killed run is resumed: the same command finds the last checkpoint in OUT/checkpoints (written
by a run with the same settings and data) and continues from its step. Under ``accelerate launch``
or ``torchrun`` every process trains its share and only the main one writes.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from harness.core.errors import HarnessError, InputProblems, Problem
from harness.train import launch
from harness.train.base import (
    Log,
    TrainConfig,
    Trainer,
    TrainResult,
    data_hashes,
    trainer,
)
from harness.train.chat_encoding import Encoded, encode_chat, encode_file, read_chat  # noqa: F401  (re-exported)

DEFAULT_LR = 5e-4
DEFAULT_BATCH_SIZE = 8
CHECKPOINTS = "checkpoints"
CHECKPOINT_ADAPTERS = "checkpoint-adapters"  # every checkpoint's adapter weights, kept past TRL's rotation
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "adapter_model.bin", "trainer_state.json")


class LocalParams(BaseModel):
    """The local trainer's own settings (``TrainConfig.params``; flat keys such as ``lora_r`` work too)."""

    model_config = ConfigDict(extra="forbid")

    lora_r: int = Field(16, ge=1, le=512, description="LoRA rank.")
    lora_alpha: int = Field(32, ge=1, description="LoRA scaling numerator (scale = alpha / r).")
    lora_dropout: float = Field(0.0, ge=0, lt=1, description="Dropout on the LoRA path.")
    lora_targets: list[str] | Literal["all-linear"] = Field(
        "all-linear", description="Module names to adapt (q_proj, v_proj, ...) or all-linear.")
    gradient_accumulation_steps: int = Field(1, ge=1, le=1024, description="Batches summed into one optimizer step.")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto", description="auto: bf16 on a CUDA GPU that has it, else fp16 on CUDA, else fp32 (CPU).")
    quantization: Literal["none", "4bit", "8bit"] = Field(
        "none", description="QLoRA: load the base in 4 or 8 bits through bitsandbytes (CUDA only).")
    gradient_checkpointing: bool = Field(False, description="Recompute activations in the backward pass: less memory, "
                                                            "about a third more compute.")
    checkpoint_every_steps: int | None = Field(
        None, ge=1, description="Evaluate and checkpoint every N optimizer steps instead of at each epoch's end; "
                                "early-stopping patience then counts these evaluations.")
    save_total_limit: int = Field(2, ge=1, description="Resumable checkpoints kept in OUT/checkpoints (the best one is "
                                                       "always kept); every checkpoint's adapter stays in "
                                                       "OUT/checkpoint-adapters for the loop to evaluate.")
    log_every_steps: int = Field(10, ge=1, description="A train-loss row in metrics.csv every N steps.")
    dataloader_workers: int = Field(0, ge=0, description="Data-loading worker processes (0: in the training process).")
    device: str = Field("auto", description="cpu, cuda or auto.")
    num_processes: int | None = Field(None, ge=1, description="Train in N data-parallel processes under accelerate "
                                                              "launch (one per GPU, or gloo on CPUs).")
    accelerate_config: Path | None = Field(None, description="An accelerate config file for the workers (DeepSpeed "
                                                             "ZeRO, FSDP, several machines); see `accelerate config`.")


def base_reference(name: str) -> str:
    """What the candidate spec and the adapter's config name as the base: ``smollm2``, an absolute
    folder, or a hub id, so ``harness run`` loads the same weights from any directory."""
    from harness.local import models as lm

    if not name or name.lower() in (lm.DEFAULT_LOCAL_MODEL, lm.SMOLLM2_NAME.lower()):
        return lm.DEFAULT_LOCAL_MODEL
    p = Path(name).expanduser()
    return str(p.resolve()) if p.exists() else name


def precision_flags(precision: str, device: str) -> dict[str, bool]:
    import torch

    cuda = device.startswith("cuda") and torch.cuda.is_available()
    if precision == "auto":
        precision = ("bf16" if torch.cuda.is_bf16_supported() else "fp16") if cuda else "fp32"
    if precision in ("bf16", "fp16") and not cuda:
        raise HarnessError(f"params.precision {precision}: needs a CUDA GPU (this run is on {device}); use fp32 or auto")
    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        raise HarnessError("params.precision bf16: this GPU has no bfloat16 (before Ampere); use fp16 or auto")
    return {"bf16": precision == "bf16", "fp16": precision == "fp16"}


def load_for_training(name: str, p: LocalParams, device: str) -> tuple[Any, Any]:
    """(model, tokenizer) on the CPU (the Trainer places it), or quantised on this rank's GPU for QLoRA."""
    from harness.local import models as lm

    if p.quantization == "none":
        return lm.load_model_and_tokenizer(name, device="cpu", cache=False)  # a private copy: we change it
    import importlib.util

    import torch

    if not torch.cuda.is_available() or not device.startswith("cuda"):
        raise HarnessError(f"params.quantization {p.quantization} (QLoRA): needs a CUDA GPU and there is none here; "
                           "use quantization: none")
    if importlib.util.find_spec("bitsandbytes") is None:
        raise HarnessError(f"params.quantization {p.quantization} (QLoRA): bitsandbytes is not installed: "
                           "pip install bitsandbytes")
    from peft import prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

    folder, gguf = lm.resolve_local_model(name)
    if gguf is not None:
        folder = lm._converted_gguf(folder, gguf)
    bits = (BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                               bnb_4bit_compute_dtype=torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)
            if p.quantization == "4bit" else BitsAndBytesConfig(load_in_8bit=True))
    model = AutoModelForCausalLM.from_pretrained(folder, quantization_config=bits,
                                                 device_map={"": torch.cuda.current_device()})
    tok = AutoTokenizer.from_pretrained(folder)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return prepare_model_for_kbit_training(model, use_gradient_checkpointing=p.gradient_checkpointing), tok


def run_fingerprint(config: TrainConfig) -> dict[str, Any]:
    """What must match for a rerun to continue from this folder's checkpoints (paths excluded:
    each worker may read its own copy of the same data); the config in its record layout, so
    checkpoints written before settings moved into params still match."""
    c = {k: v for k, v in config.record_json().items() if k not in ("train_file", "validation_file", "out_dir")}
    return {"config": c, "data_sha256": data_hashes(config)}


def find_resume_point(config: TrainConfig, log: Log) -> str | None:
    """The last checkpoint to continue from, or None; HarnessError when the folder's checkpoints
    belong to a different run."""
    from transformers.trainer_utils import get_last_checkpoint

    folder = config.out_dir / CHECKPOINTS
    mark = folder / "run.json"
    last = get_last_checkpoint(str(folder)) if folder.is_dir() else None
    if last is None:
        if launch.is_main_process():
            folder.mkdir(parents=True, exist_ok=True)
            mark.write_text(json.dumps(run_fingerprint(config), indent=1) + "\n", encoding="utf-8")
        return None
    old = json.loads(mark.read_text(encoding="utf-8")) if mark.is_file() else None
    new = run_fingerprint(config)
    if old != new:
        changed = sorted(k for k in set((old or {}).get("config", {})) | set(new["config"])
                         if (old or {}).get("config", {}).get(k) != new["config"].get(k))
        if old and old.get("data_sha256") != new["data_sha256"]:
            changed.append("the training data")
        raise HarnessError(f"{folder}: holds checkpoints of another run (different {', '.join(changed) or 'settings'}); "
                           "rerun with its settings to resume it, or give another --out")
    log(f"resuming from {last}")
    return last


@dataclass(frozen=True)
class LocalRun:
    """One local training run, ready to fit: its settings, the loaded base and the encoded data."""

    config: TrainConfig
    params: LocalParams
    name: str  # the base as the candidate and the adapter name it (base_reference)
    device: str
    model: Any
    tokenizer: Any
    train: list[Encoded]
    val: list[Encoded]
    resume: str | None  # the checkpoint to continue from
    main: bool  # this process writes (the only one, or the main one under accelerate launch)


@dataclass(frozen=True)
class Fitted:
    """What fitting left: TRL's trainer (state, best checkpoint, args), the progress callback and the trainable size."""

    sft: Any
    progress: Any
    trainable: int


@trainer("local")
class LocalTrainer(Trainer):
    default_learning_rate = DEFAULT_LR
    """LoRA through TRL on an in-process causal LM; the candidate is ``local:BASE?adapter=OUT/adapter``."""

    Params: ClassVar[type[BaseModel]] = LocalParams

    def train(self, config: TrainConfig, log: Log) -> TrainResult:
        from harness.local import models as lm
        from harness.train.base import base_spec

        spec = base_spec(config.base)
        if spec.provider != "local":
            raise HarnessError(f"the local trainer fine-tunes local models; got base {config.base!r} (try --trainer openai)")
        p: LocalParams = config.trainer_params()
        if launch.wants_relaunch(p.num_processes, p.accelerate_config):
            return launch.train_in_workers(config, p.num_processes, p.accelerate_config)
        main = launch.is_main_process()
        say: Log = log if main else (lambda m: None)
        name = base_reference(spec.name or lm.DEFAULT_LOCAL_MODEL)
        device = lm.resolve_device(p.device if p.device != "auto" else spec.params.device)
        torch = lm.setup_torch()
        torch.manual_seed(config.seed)

        model, tokenizer = load_for_training(name, p, device)
        train, dropped = encode_file(tokenizer, config.train_file, config.max_length)
        if not train:
            raise InputProblems([Problem(str(config.train_file), "",
                                         f"no example keeps an assistant token within max_length={config.max_length}")])
        val = encode_file(tokenizer, config.validation_file, config.max_length)[0] if config.validation_file else []
        if dropped:
            say(f"{dropped} training example(s) had no assistant token left after truncation to {config.max_length} tokens")
        resume = find_resume_point(config, say)
        run = LocalRun(config, p, name, device, model, tokenizer, train, val, resume, main)
        return self._result(run, self._fit(run, say))

    def _fit(self, run: LocalRun, log: Log) -> Fitted:
        from peft import LoraConfig
        from transformers import EarlyStoppingCallback, PrinterCallback

        import datasets
        from harness.train.chat_encoding import as_dataset
        from harness.train.curves import MetricsLog
        from harness.train.sft import make_sft_trainer, metrics_callback

        config, p, train, val = run.config, run.params, run.train, run.val
        datasets.disable_progress_bars()  # TRL's truncation pass over a few hundred rows: not worth a bar
        targets = "all-linear" if p.lora_targets == "all-linear" else list(p.lora_targets)
        lora = LoraConfig(r=p.lora_r, lora_alpha=p.lora_alpha, lora_dropout=p.lora_dropout, target_modules=targets,
                          task_type="CAUSAL_LM")
        args = sft_config(config, p, run.device, has_validation=bool(val))
        metrics = MetricsLog(config.out_dir / "metrics.csv") if run.main else None
        progress = metrics_callback(metrics, bool(val), p.log_every_steps, config.epochs, log)
        callbacks = [progress, keep_adapters_callback(config.out_dir, run.name)] if run.main else [progress]
        if val and config.early_stopping_patience:
            callbacks.append(EarlyStoppingCallback(early_stopping_patience=config.early_stopping_patience,
                                                   early_stopping_threshold=1e-4))
        with warnings.catch_warnings():  # deprecation notices raised inside peft/trl, nothing for the user to do
            warnings.simplefilter("ignore", FutureWarning)
            sft = make_sft_trainer(model=run.model, args=args, train_dataset=as_dataset(train),
                                   eval_dataset=as_dataset(val) if val else None, processing_class=run.tokenizer,
                                   peft_config=lora, callbacks=callbacks)
        sft.remove_callback(PrinterCallback)  # our callback logs; transformers' would print raw dicts
        trainable = sum(x.numel() for x in sft.model.parameters() if x.requires_grad)
        log(f"LoRA r={p.lora_r} on {run.name} ({trainable:,} trainable parameters), {len(train)} train / {len(val)} "
            f"validation examples, {launch.world_size()} process(es) on {args.device}")
        try:
            sft.train(resume_from_checkpoint=run.resume)
        finally:
            if metrics is not None:
                metrics.close()
        return Fitted(sft, progress, trainable)

    def _result(self, run: LocalRun, fitted: Fitted) -> TrainResult:
        from harness.core.hashing import hash_path
        from harness.train.curves import plot_losses

        config, p, name, train, val, resume, main = (run.config, run.params, run.name, run.train, run.val, run.resume,
                                                     run.main)
        sft, progress, trainable = fitted.sft, fitted.progress, fitted.trainable
        state = sft.state
        adapter = config.out_dir / "adapter"
        sft.model.peft_config["default"].base_model_name_or_path = name  # not this machine's cache path
        with warnings.catch_warnings():  # peft looks for a config named `name` to see if the vocabulary grew; it did not
            warnings.simplefilter("ignore", UserWarning)
            sft.save_model(str(adapter))  # the best weights (load_best_model_at_end); main process only
        epochs = progress.s.epochs
        best_step = int(Path(state.best_model_checkpoint).name.split("-")[-1]) if state.best_model_checkpoint else None
        best_epoch = next((e.epoch for e in epochs if e.steps == best_step), None) if best_step else None
        best_epoch = best_epoch or (epochs[-1].epoch if epochs else None)
        stopped = bool(val) and bool(config.early_stopping_patience) and state.global_step < state.max_steps
        bs = config.batch_size or DEFAULT_BATCH_SIZE
        hyper = {"base": name, "epochs": config.epochs, "learning_rate": config.learning_rate or DEFAULT_LR,
                 "batch_size": bs, "effective_batch_size": bs * p.gradient_accumulation_steps * launch.world_size(),
                 "lora_r": p.lora_r, "lora_alpha": p.lora_alpha, "lora_dropout": p.lora_dropout,
                 "lora_targets": p.lora_targets, "seed": config.seed, "max_length": config.max_length,
                 "warmup_steps": max(1, round(state.max_steps * 0.05)), "total_steps": state.max_steps,
                 "early_stopping_patience": config.early_stopping_patience, "device": str(sft.args.device),
                 "processes": launch.world_size(), "precision": "bf16" if sft.args.bf16 else "fp16" if sft.args.fp16 else "fp32",
                 "gradient_accumulation_steps": p.gradient_accumulation_steps, "quantization": p.quantization,
                 "train_examples": len(train), "validation_examples": len(val), "trainable_parameters": trainable,
                 "resumed_from_step": int(Path(resume).name.split("-")[-1]) if resume else None,
                 "trainer_library": "trl"}
        curve = plot_losses(progress.rows_written(), config.out_dir / "loss_curve", title=f"LoRA on {Path(name).name}") if main else None
        ckpt = checkpoint_entries(config.out_dir / CHECKPOINT_ADAPTERS, state.log_history, epochs, progress.steps_per_epoch,
                                  name, adapter, best_step or (epochs[-1].steps if epochs else None))
        return TrainResult(
            trainer="local", base=config.base, candidate=local_candidate(name, adapter),
            out_dir=config.out_dir, metrics_csv=config.out_dir / "metrics.csv", loss_curve=curve, epochs=epochs,
            best_epoch=best_epoch, stopped_early=stopped, steps=state.global_step, hyperparameters=hyper,
            data_hashes=data_hashes(config), checkpoints=ckpt, adapter=adapter,
            adapter_sha256=hash_path(adapter) if main else None)


def keep_adapters_callback(out_dir: Path, name: str) -> Any:
    """A TrainerCallback copying each checkpoint's adapter files and trainer_state.json (not the optimizer state) to
    OUT/checkpoint-adapters/checkpoint-N as it is saved, its config naming the base as the
    candidate does: TRL's ``save_total_limit`` rotation deletes full checkpoints, these stay."""
    import shutil

    from transformers import TrainerCallback

    class KeepAdapters(TrainerCallback):
        def on_save(self, args, state, control, **kw):
            src = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if not (src / "adapter_config.json").is_file():
                return control
            dst = out_dir / CHECKPOINT_ADAPTERS / src.name
            tmp = dst.with_name(f".{dst.name}.tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            for f in ADAPTER_FILES:
                if (src / f).is_file():
                    shutil.copy2(src / f, tmp / f)
            _name_base(tmp / "adapter_config.json", name)
            shutil.rmtree(dst, ignore_errors=True)
            tmp.rename(dst)
            return control

    return KeepAdapters()


def local_candidate(base: str, adapter: Path | str) -> str:
    """The candidate spec of an adapter over ``base``: ``local:BASE?adapter=PATH``, quoted."""
    return f"local:{quote(base, safe='/:')}?adapter={quote(str(adapter), safe='/:')}"


def checkpoint_entries(folder: Path, history: list[dict[str, Any]], epochs: list, steps_per_epoch: int, name: str,
                       adapter: Path, best_step: int | None) -> list[dict[str, Any]]:
    """TrainResult.checkpoints: one entry per evaluation or kept checkpoint (each epoch, or every N
    steps), oldest first: epoch, step, train_loss (the epoch's mean, or the mean since the previous
    entry), val_loss, ``adapter`` (OUT/adapter on the lowest-loss one, as before) and, where its
    adapter is kept in ``folder`` (OUT/checkpoint-adapters), ``path`` and ``candidate`` (the spec that
    evaluates it)."""
    kept = {}
    if folder.is_dir():
        for d in folder.glob("checkpoint-*"):
            if d.name.split("-")[-1].isdigit() and (d / "adapter_config.json").is_file():
                kept[int(d.name.split("-")[-1])] = d
    evals = {int(h["step"]): float(h["eval_loss"]) for h in history if "eval_loss" in h and "step" in h}
    by_epoch = {e.steps: e for e in epochs}
    out, since = [], 0
    for step in sorted(set(evals) | set(kept) | set(by_epoch)):
        e = by_epoch.get(step)
        losses = [float(h["loss"]) for h in history if "loss" in h and since < int(h.get("step", 0)) <= step]
        train = e.train_loss if e is not None else (round(sum(losses) / len(losses), 6) if losses else None)
        epoch = e.epoch if e is not None else round(step / max(1, steps_per_epoch), 4)
        val = e.val_loss if e is not None and e.val_loss is not None else evals.get(step)
        entry: dict[str, Any] = {"epoch": epoch, "step": step, "train_loss": train,
                                 "val_loss": None if val is None else round(val, 6),
                                 "adapter": str(adapter) if step == best_step else None}
        if step in kept:
            entry["path"] = str(kept[step])
            entry["candidate"] = local_candidate(name, kept[step])
        out.append(entry)
        since = step
    return out


def _name_base(config_path: Path, name: str) -> None:
    try:
        cfg = json.loads(config_path.read_text(encoding="utf-8"))
        if cfg.get("base_model_name_or_path") != name:
            cfg["base_model_name_or_path"] = name
            config_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    except (OSError, ValueError):
        pass  # the candidate spec names the base anyway


def checkpointing_flag(on: bool) -> dict[str, bool]:
    """Always explicit: TRL's SFTConfig turns gradient checkpointing on by default (a third more compute);
    transformers 5 renames it activation_checkpointing (and warns on the old name)."""
    from trl import SFTConfig

    fields = SFTConfig.__dataclass_fields__
    return {"activation_checkpointing" if "activation_checkpointing" in fields else "gradient_checkpointing": on}


def sft_config(config: TrainConfig, p: LocalParams, device: str, has_validation: bool) -> Any:
    """TRL's SFTConfig for this run: checkpoints in OUT/checkpoints, best by validation loss."""
    from trl import SFTConfig

    bs = config.batch_size or DEFAULT_BATCH_SIZE
    every = p.checkpoint_every_steps
    strategy = "steps" if every else "epoch"
    return SFTConfig(
        output_dir=str(config.out_dir / CHECKPOINTS), num_train_epochs=config.epochs,
        max_steps=config.max_steps or -1, per_device_train_batch_size=bs, per_device_eval_batch_size=bs,
        gradient_accumulation_steps=p.gradient_accumulation_steps, learning_rate=config.learning_rate or DEFAULT_LR,
        weight_decay=0.0, max_grad_norm=1.0, optim="adamw_torch", seed=config.seed, data_seed=config.seed,
        logging_strategy="steps", logging_steps=1, eval_strategy=strategy if has_validation else "no",
        eval_steps=every, save_strategy=strategy, save_steps=every, save_total_limit=p.save_total_limit,
        load_best_model_at_end=has_validation, metric_for_best_model="eval_loss" if has_validation else None,
        greater_is_better=False if has_validation else None, use_cpu=device == "cpu",
        **checkpointing_flag(p.gradient_checkpointing), dataloader_num_workers=p.dataloader_workers,
        ddp_find_unused_parameters=False, report_to="none", disable_tqdm=True, log_level="warning",
        max_length=config.max_length, packing=False, **precision_flags(p.precision, device))
