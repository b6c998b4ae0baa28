"""harness train SUITE [--data FILE] --base MODEL [--trainer local|openai] [--epochs N] [--out DIR]"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli.common import add_trust_options, with_trust


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="fine-tune a base model once on a suite's training data",
                       description="Prepare the data the way the suite prompts (clean, deduplicate, split, refuse test "
                                   "overlap), fine-tune once with the chosen trainer, and write OUT/train_record.json "
                                   "with the full spec and the candidate model to evaluate (e.g. with harness run).")
    p.add_argument("suite", type=Path, help="suite YAML file")
    p.add_argument("--data", type=Path, metavar="FILE", help="training examples (default: the suite's train split)")
    p.add_argument("--base", default="local", metavar="MODEL",
                   help="base model spec: local (SmolLM2-135M-Instruct), local:PATH, openai:gpt-4o-mini-2024-07-18, "
                        "'openai:MODEL?base_url=URL' (default local)")
    p.add_argument("--trainer", metavar="NAME", help="local or openai (default: from the base model's provider)")
    p.add_argument("--out", type=Path, metavar="DIR", help="output folder (default reports/train/<suite>-<base>-<time>)")
    p.add_argument("--method", choices=("supervised", "dpo"),
                   help="dpo: --data is a preference file (input, preferred_output, non_preferred_output); local: TRL's "
                        "DPOTrainer with LoRA, openai: a dpo job (default supervised)")
    h = p.add_argument_group("hyperparameters")
    h.add_argument("--beta", type=float, metavar="B", help="dpo: KL penalty weight (default 0.1 locally, auto for openai)")
    h.add_argument("--epochs", type=int, metavar="N")
    h.add_argument("--learning-rate", type=float, metavar="LR", help="local: AdamW peak rate (default 5e-4)")
    h.add_argument("--lr-multiplier", type=float, metavar="X", help="openai: learning-rate multiplier (default auto)")
    h.add_argument("--batch-size", type=int, metavar="N")
    h.add_argument("--lora-r", type=int, metavar="R")
    h.add_argument("--lora-alpha", type=int, metavar="A")
    h.add_argument("--lora-targets", metavar="NAMES", help="comma-separated module names, or all-linear (default)")
    h.add_argument("--seed", type=int, default=0)
    h.add_argument("--patience", type=int, metavar="N", help="early-stopping patience in epochs (default 1)")
    h.add_argument("--max-steps", type=int, metavar="N")
    h.add_argument("--max-length", type=int, metavar="N", help="local: tokens per example; longer ones are dropped (default 512)")
    h.add_argument("--device", help="local: cpu, cuda or auto")
    h.add_argument("--grad-accum", type=int, metavar="N", help="local: batches accumulated per optimizer step (default 1)")
    h.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"],
                   help="local: auto (default) is bf16 or fp16 on a CUDA GPU, fp32 on CPU")
    h.add_argument("--quantization", choices=["none", "4bit", "8bit"], help="local: QLoRA through bitsandbytes (CUDA)")
    h.add_argument("--gradient-checkpointing", action="store_true", help="local: recompute activations (less memory)")
    h.add_argument("--checkpoint-every", type=int, metavar="N",
                   help="local: evaluate and checkpoint every N steps instead of each epoch")
    add_launch_options(p)
    d = p.add_argument_group("data")
    d.add_argument("--validation-fraction", type=float, default=0.1, metavar="F",
                   help="share of the data held out for validation loss (default 0.1)")
    d.add_argument("--allow-contamination", action="store_true",
                   help="drop examples that overlap the suite's test split instead of refusing")
    o = p.add_argument_group("openai jobs")
    o.add_argument("--suffix", help="added to the fine-tuned model's name")
    o.add_argument("--resume", action="store_true", help="reattach to the job this --out folder started")
    o.add_argument("--job-id", metavar="ID", help="reattach to this job")
    o.add_argument("--poll-interval", type=float, metavar="S", help="first wait between polls (default 5 s)")
    o.add_argument("--max-poll-interval", type=float, metavar="S", help="longest wait between polls as they back off (default 60 s)")
    add_trust_options(p)
    p.set_defaults(func=with_trust(main))


def add_launch_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("several processes (local trainer)",
                             "Train data-parallel through HF accelerate; rerunning the same command after a crash "
                             "resumes from the last checkpoint in the output folder.")
    g.add_argument("--num-processes", type=int, metavar="N",
                   help="train in N processes under `accelerate launch` (one per GPU; gloo on CPUs)")
    g.add_argument("--accelerate-config", type=Path, metavar="FILE",
                   help="accelerate config for the workers (DeepSpeed ZeRO, FSDP, several machines)")


def launch_params(args: argparse.Namespace) -> dict:
    return {k: v for k, v in {"num_processes": args.num_processes, "accelerate_config": args.accelerate_config}.items()
            if v is not None}


def main(args: argparse.Namespace) -> int:
    from harness.suite.load import load_suite
    from harness.train.base import TrainConfig, make_config
    from harness.train.driver import default_out, default_trainer, train_on_suite

    ls = load_suite(args.suite, trust=args.trust)
    out = args.out or default_out(ls.suite.name, args.base)
    targets = None
    if args.lora_targets:
        targets = "all-linear" if args.lora_targets == "all-linear" else [t.strip() for t in args.lora_targets.split(",") if t.strip()]
    train = {k: v for k, v in {
        "method": args.method, "beta": args.beta, "epochs": args.epochs, "learning_rate": args.learning_rate, "learning_rate_multiplier": args.lr_multiplier,
        "batch_size": args.batch_size, "lora_r": args.lora_r, "lora_alpha": args.lora_alpha, "lora_targets": targets,
        "seed": args.seed, "early_stopping_patience": args.patience, "max_steps": args.max_steps,
        "max_length": args.max_length, "device": args.device, "suffix": args.suffix, "resume": args.resume or None,
        "job_id": args.job_id, "poll_interval_s": args.poll_interval,
        "max_poll_interval_s": args.max_poll_interval, "gradient_accumulation_steps": args.grad_accum,
        "precision": args.precision, "quantization": args.quantization,
        "gradient_checkpointing": args.gradient_checkpointing or None,
        "checkpoint_every_steps": args.checkpoint_every}.items() if v is not None} | launch_params(args)
    # Check the hyperparameters before spending time on data (train_file is a placeholder here).
    make_config(TrainConfig, trainer=args.trainer or default_trainer(args.base), train_file=Path("-"), out_dir=out,
                **train)
    run = train_on_suite(ls, args.data, out, base=args.base, trainer=args.trainer,
                         prepare={"seed": args.seed, "validation_fraction": args.validation_fraction,
                                  "allow_contamination": args.allow_contamination}, train=train, trust=args.trust)
    r = run.result
    losses = "; ".join(f"epoch {e.epoch}: train {e.train_loss}" + (f", val {e.val_loss}" if e.val_loss is not None else "")
                       for e in r.epochs)
    print(f"trained in {r.seconds:.0f} s ({r.steps} steps{', stopped early' if r.stopped_early else ''}): {losses}")
    print(f"candidate: {r.candidate}")
    print(f"record: {run.record_path}")
    return 0
