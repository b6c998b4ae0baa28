"""harness iterate SUITE [--data FILE] --base MODEL --max-iterations N"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli.common import (
    add_executor_options,
    add_output_options,
    add_selection_options,
    add_trust_options,
    executor_from_args,
    selection_from_args,
    with_trust,
)
from harness.cli.train import add_launch_options, launch_params
from harness.tracking import add_track_option, track


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("iterate", help="the fine-tuning loop: train, evaluate, learn from regressions, gate, report",
                       description="Prepare the training data once, then per iteration: fine-tune, evaluate on the "
                                   "suite's validation split, compare with the best so far and build the next "
                                   "iteration's data and settings from what failed or regressed. Stops when the gate "
                                   "passes on validation, when an iteration brings no improvement, or after N. The best "
                                   "iteration is then evaluated once on the held-out test split and gated against the "
                                   "base; OUT/lineage.json and OUT/report/ record every step. Exit 0 when the candidate "
                                   "is promoted, 1 when not, 2 on bad input.")
    p.add_argument("suite", type=Path, help="suite YAML file (needs train, validation and test splits)")
    p.add_argument("--data", type=Path, metavar="FILE", help="training pool (default: the suite's train split)")
    p.add_argument("--base", default="local", metavar="MODEL",
                   help="base model spec (default local: SmolLM2-135M-Instruct); e.g. openai:gpt-4o-mini-2024-07-18")
    p.add_argument("--trainer", metavar="NAME", help="local or openai (default: from the base model's provider)")
    p.add_argument("--method", choices=("supervised", "dpo"),
                   help="dpo: after a supervised first iteration, train DPO on the candidate's wrong and regressed "
                        "validation answers (reference preferred); default: the suite's training.method, else supervised")
    p.add_argument("--max-iterations", type=int, default=3, metavar="N", help="at most N fine-tunes (default 3)")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="loop folder (default REPORTS/iterate/<suite>-<base>; a rerun there resumes)")
    p.add_argument("--score", metavar="NAME", help="score that ranks iterations (default: the first gate's)")
    p.add_argument("--min-gain", type=float, default=0.0, metavar="X",
                   help="an iteration must beat the best so far by more than X (default 0)")
    add_selection_options(p, prefix="eval-", what="examples of each split evaluated")
    p.add_argument("--allow-contamination", action="store_true",
                   help="drop training examples that overlap the test split instead of refusing")
    h = p.add_argument_group("first iteration's hyperparameters (later ones follow the loop's feedback)")
    h.add_argument("--epochs", type=int, metavar="N")
    h.add_argument("--learning-rate", type=float, metavar="LR", help="local: AdamW peak rate (default 5e-4)")
    h.add_argument("--lr-multiplier", type=float, metavar="X", help="openai: learning-rate multiplier")
    h.add_argument("--batch-size", type=int, metavar="N")
    h.add_argument("--lora-r", type=int, metavar="R")
    h.add_argument("--max-steps", type=int, metavar="N", help="local: optimizer steps per iteration at most")
    h.add_argument("--max-length", type=int, metavar="N")
    h.add_argument("--patience", type=int, metavar="N", help="early-stopping patience in epochs (default 1)")
    h.add_argument("--seed", type=int, default=0)
    h.add_argument("--poll-interval", type=float, metavar="S", help="openai: first wait between job polls")
    h.add_argument("--grad-accum", type=int, metavar="N", help="local: batches accumulated per optimizer step")
    h.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"], help="local: auto is bf16/fp16 on CUDA")
    add_launch_options(p)
    add_executor_options(p)
    add_output_options(p)
    add_trust_options(p)
    add_track_option(p)
    p.set_defaults(func=with_trust(main))


def main(args: argparse.Namespace) -> int:
    from harness.core.errors import HarnessError
    from harness.loop.iterate import IterateConfig, iterate
    from harness.train import launch

    if launch.launched() and launch.world_size() > 1:
        raise HarnessError("harness iterate evaluates between its trainings, so it runs as one process: instead of "
                           "accelerate launch/torchrun, give it --num-processes N (or --accelerate-config FILE) and it "
                           "launches each training's workers itself")

    train = {k: v for k, v in {
        "epochs": args.epochs, "learning_rate": args.learning_rate, "learning_rate_multiplier": args.lr_multiplier,
        "batch_size": args.batch_size, "lora_r": args.lora_r, "max_steps": args.max_steps,
        "max_length": args.max_length, "early_stopping_patience": args.patience,
        "poll_interval_s": args.poll_interval, "gradient_accumulation_steps": args.grad_accum,
        "precision": args.precision}.items() if v is not None} | launch_params(args)
    cfg = IterateConfig(suite=args.suite, data=args.data, base=args.base, trainer=args.trainer,
                        max_iterations=args.max_iterations, out_dir=args.out, reports_dir=args.reports,
                        score=args.score, min_gain=args.min_gain, train=train, seed=args.seed,
                        **{f"eval_{k}": v for k, v in selection_from_args(args, "eval-").items()}, allow_contamination=args.allow_contamination,
                        progress=not args.no_progress, method=args.method,
                        executor=executor_from_args(args), trust=args.trust)
    outcome = iterate(cfg, log=lambda m: print(m, flush=True))
    print()
    print(summary_table(outcome.lineage))
    final = outcome.lineage.get("final", {})
    if outcome.gate is not None:
        print()
        print(outcome.gate.text)
    if final.get("report"):
        print(f"report: {final['report']}")
    print(f"lineage: {outcome.lineage_path}")
    print(f"promoted: {outcome.promoted or 'nothing'}")
    return track(args, args.suite, outcome.exit_code, lambda t: t.log_iterate(outcome.lineage_path.parent), "the loop")


def summary_table(lineage: dict) -> str:
    """One line per iteration: model, data, score, and why the next one changed."""
    score = lineage["score"]["name"]
    rows = [("iter", "examples", "data", score, "improved", "next")]
    for e in lineage["iterations"]:
        data = e.get("data") or {}
        rows.append((str(e["iteration"]), str(data.get("examples", "-")), (e.get("dataset_sha256") or "-")[:10],
                     f"{e['score']['value']:.3f}", {True: "yes", False: "no"}.get(e.get("improved"), "-"),
                     (e.get("reason_next") or "")[:110]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    f = lineage.get("final") or {}
    if f.get("evaluated"):
        lines.append(f"test split: base {f['base_scores'].get(score, float('nan')):.3f} -> "
                     f"candidate (iteration {f['best_iteration']}) {f['candidate_scores'].get(score, float('nan')):.3f}; "
                     f"gate {_gate_word(f)}")
    return "\n".join(lines)


def _gate_word(final: dict) -> str:
    """passes / blocks / is inconclusive, from the final gate's rules (harness.records.gate.gate_outcome)."""
    from harness.records.gate import RuleRecord, gate_outcome

    if final.get("gate_passed"):
        return "passes"
    try:
        outcome = gate_outcome([RuleRecord.model_validate(r) for r in final.get("rules") or []])
    except ValueError:
        outcome = "block"
    return "is inconclusive (not enough evidence)" if outcome == "inconclusive" else "blocks"
