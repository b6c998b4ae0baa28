"""Training speed and memory of the ``local`` trainer: the hand-written loop it replaced versus TRL.
A benchmark that prints figures, not a test.

    .venv/bin/python bench/train_throughput.py [--examples 48] [--variants old,trl,trl-stock]

The support-intent suite's training split, prepared as `harness train` prepares it; the first
--examples of it, one epoch at batch 8, LoRA r=16 on all linear layers of SmolLM2-135M-Instruct,
lr 5e-4, no validation. Each variant runs in its own process (so peak RSS is its own) and sees the
same examples, so the same tokens:

* old: the loop harness/train/local.py had before TRL (kept here only, for this comparison);
* trl: the local trainer as shipped (TRL's SFTTrainer, our loss on labelled positions only);
* trl-stock: the same with TRL's own compute_loss (its fused LM head scores every position on CPU).

Prints wall and CPU seconds of training (model loading and encoding excluded; from the first step's
start to the last step's end), tokens/s over the non-padding input tokens (per wall and per CPU
second: on a shared machine the CPU figure is the steadier comparison), seconds per 1,000 trained
(labelled) tokens, and peak RSS of the process.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def prepared_train_file(folder: Path, examples: int) -> Path:
    from harness.data.prepare import prepare_data
    from harness.suite.load import load_suite
    from harness.train.driver import suite_prepare_config

    ls = load_suite(ROOT / "suites" / "support_intent.yaml")
    prepared = prepare_data(suite_prepare_config(ls, ls.split_path("train"), folder / "data", "local", 512, seed=0))
    lines = prepared.train_path.read_text(encoding="utf-8").splitlines()[:examples]
    path = folder / "train.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def token_counts(path: Path) -> tuple[int, int]:
    from harness.local import models as lm
    from harness.train.chat_encoding import encode_file

    _, tok = lm.load_model_and_tokenizer("smollm2")
    enc, _ = encode_file(tok, path, 512)
    return sum(len(e.input_ids) for e in enc), sum(e.trained_tokens for e in enc)


# ---------------------------------------------------------------- the old loop (before TRL), trimmed to training


def old_loop(path: Path, batch: int, lr: float, seed: int) -> tuple[float, float]:
    import random

    import torch
    import torch.nn.functional as F
    from peft import LoraConfig, get_peft_model

    from harness.local import models as lm
    from harness.train.chat_encoding import encode_file

    random.seed(seed)
    torch.manual_seed(seed)
    model, tok = lm.load_model_and_tokenizer("smollm2", device="cpu", cache=False)
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    train, _ = encode_file(tok, path, 512)
    torch.manual_seed(seed)
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules="all-linear",
                                             task_type="CAUSAL_LM"))
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    total = math.ceil(len(train) / batch)
    warm = max(1, round(total * 0.05))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: (s + 1) / warm if s < warm else max(0.0, (total - s) / max(1, total - warm)))
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed)).tolist()
    t0, c0 = time.perf_counter(), time.process_time()
    for b in range(total):
        rows = [train[i] for i in order[b * batch : (b + 1) * batch]]
        width = max(len(e.input_ids) for e in rows)
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        labels = torch.full((len(rows), width), -100, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, e in enumerate(rows):
            ids[i, : len(e.input_ids)] = torch.tensor(e.input_ids)
            labels[i, : len(e.input_ids)] = torch.tensor(e.labels)
            mask[i, : len(e.input_ids)] = 1
        inner = model.get_base_model()
        hidden = inner.model(input_ids=ids, attention_mask=mask).last_hidden_state
        target = labels[:, 1:]
        keep = target != -100
        s = F.cross_entropy(inner.lm_head(hidden[:, :-1][keep]).float(), target[keep], reduction="sum")
        (s / max(int(keep.sum()), 1)).backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        s.item()
    return time.perf_counter() - t0, time.process_time() - c0


def trl_run(path: Path, batch: int, lr: float, seed: int, stock: bool) -> tuple[float, float]:
    from harness.train import TrainConfig, run_training, sft

    if stock:  # TRL's own compute_loss
        make = sft.make_sft_trainer
        sft.make_sft_trainer = lambda stock_loss=False, **kw: make(stock_loss=True, **kw)
    clock: dict[str, tuple[float, float]] = {}
    callback = sft.metrics_callback

    def timed(*args, **kw):  # wall and CPU time from the first step's start to the last step's log
        cb = callback(*args, **kw)
        begin, on_log = cb.on_train_begin, cb.on_log

        def on_train_begin(*a, **k):
            clock["start"] = (time.perf_counter(), time.process_time())
            return begin(*a, **k)

        def log_(*a, **k):
            if "loss" in (k.get("logs") or {}):  # a step's log, before that epoch's checkpoint is saved
                clock["end"] = (time.perf_counter(), time.process_time())
            return on_log(*a, **k)

        cb.on_train_begin, cb.on_log = on_train_begin, log_
        return cb

    sft.metrics_callback = timed
    with tempfile.TemporaryDirectory() as out:
        cfg = TrainConfig(base="local", train_file=path, out_dir=Path(out), epochs=1, batch_size=batch, learning_rate=lr,
                          seed=seed, lora_r=16, lora_alpha=32, log_every_steps=1, device="cpu")
        run_training(cfg, log=lambda m: None)
    return clock["end"][0] - clock["start"][0], clock["end"][1] - clock["start"][1]


def child(a: argparse.Namespace) -> None:
    path = Path(a.file)
    if a.variant == "old":
        seconds, cpu = old_loop(path, a.batch, a.lr, a.seed)
    else:
        seconds, cpu = trl_run(path, a.batch, a.lr, a.seed, stock=a.variant == "trl-stock")
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"variant": a.variant, "seconds": seconds, "cpu_seconds": cpu, "peak_rss_mb": peak_kb / 1024}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", type=int, default=48, help="training examples (one epoch; default 48 = 6 steps)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--variants", default="old,trl,trl-stock")
    ap.add_argument("--variant", help=argparse.SUPPRESS)
    ap.add_argument("--file", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.variant:
        return child(a)
    print(f"{os.cpu_count()} CPUs; torch threads {os.environ.get('OMP_NUM_THREADS', 'one per core')}; "
          f"load average {os.getloadavg()[0]:.1f} (figures move with it)")
    with tempfile.TemporaryDirectory() as tmp:
        path = prepared_train_file(Path(tmp), a.examples)
        tokens, trained = token_counts(path)
        n = len(path.read_text().splitlines())
        print(f"{n} examples, {math.ceil(n / a.batch)} steps of {a.batch}: {tokens} input tokens, {trained} trained tokens")
        print(f"{'variant':<10} {'train s':>8} {'cpu s':>7} {'tokens/s':>9} {'tokens/cpu-s':>13} {'s/1k trained':>13} "
              f"{'peak RSS MB':>12}")
        for v in a.variants.split(","):
            cmd = [sys.executable, __file__, "--variant", v, "--file", str(path), "--batch", str(a.batch),
                   "--lr", str(a.lr), "--seed", str(a.seed)]
            out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
            if out.returncode != 0:
                print(f"{v:<10} failed: {out.stderr[-2000:]}")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{v:<10} {r['seconds']:>8.1f} {r['cpu_seconds']:>7.1f} {tokens / r['seconds']:>9.0f} "
                  f"{tokens / r['cpu_seconds']:>13.0f} {1000 * r['seconds'] / trained:>13.2f} {r['peak_rss_mb']:>12.0f}",
                  flush=True)


if __name__ == "__main__":
    main()
