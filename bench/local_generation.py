"""Generation speed of the ``local`` provider (SmolLM2-135M-Instruct, float32) on this machine's CPU.
A benchmark that prints figures, not a test.

    .venv/bin/python bench/local_generation.py [--n 16] [--max-tokens 64] [--repeat 1]

One batch of the first N prompts of suites/support_intent.yaml's test split (its system and user
messages), greedy, without the suite's newline stop so every row generates up to --max-tokens.
Prints the load time and, for the best of --repeat batches, new tokens per second (generated
tokens over the batch's wall time, EOS and padding not counted) and seconds per prompt.

torch uses one thread per core (OMP_NUM_THREADS overrides it). When other processes share the
cores, OpenMP's threads wait on each other: here, with two other torch jobs running on the 2
cores, OMP_NUM_THREADS=1 gave 12.9 tokens/s against 5.8 with 2 threads (16 prompts, 16 tokens).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=1)
    a = ap.parse_args()

    from harness.core.settings import GenerationSettings
    from harness.data.examples import load_split
    from harness.providers.base import ModelSpec, build_provider
    from harness.evaluate.run import build_requests
    from harness.suite.load import load_suite

    loaded = load_suite(ROOT / "suites" / "support_intent.yaml")
    split = load_split(loaded.suite.dataset, loaded.dataset_dir(), "test", loaded.suite.prompt)
    settings = GenerationSettings(max_tokens=a.max_tokens, temperature=0.0)
    requests = [type(r)(r.messages, settings, r.example_id) for r in build_requests(loaded, split.examples[: a.n])]

    provider = build_provider(ModelSpec.parse("local", batch_size=a.n))
    t0 = time.perf_counter()
    provider.load()
    load_s = time.perf_counter() - t0
    import torch

    print(f"local provider {provider.spec.display()} on CPU: {torch.get_num_threads()} torch threads, "
          f"{os.cpu_count()} CPUs; load {load_s:.1f} s")
    provider.generate_batch(requests[:2])  # warm-up
    best = None
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        out = provider.generate_batch(requests)
        wall = time.perf_counter() - t0
        errors = [r.error for r in out if r.error]
        if errors:
            raise SystemExit(f"generation failed: {errors[0]}")
        tokens = sum(r.output_tokens or 0 for r in out)
        if best is None or tokens / wall > best[0] / best[1]:
            best = (tokens, wall)
    tokens, wall = best
    print(f"batch of {a.n} support_intent prompts, max_tokens {a.max_tokens}, greedy: {tokens} new tokens in "
          f"{wall:.2f} s -> {tokens / wall:.1f} tokens/s ({wall / a.n:.2f} s a prompt; best of {a.repeat})")


if __name__ == "__main__":
    main()
