"""The vllm provider against the local one on the same model and prompts: for a GPU machine (vLLM
cannot run on this repository's CPU-only machines; nothing here was measured on one yet).
A benchmark that prints figures, not a test.

    pip install vllm            # a CUDA build
    PYTHONPATH=. python bench/vllm_eval.py [--suite suites/support_intent.yaml] [--split test]
        [--model FOLDER] [--adapter DIR] [--dtype float32] [--vllm-batch 256] [--local-batch 16]
        [--local-device cuda] [--ray [--replicas 1]] [--skip-local] [--limit N]

Each provider runs in a process of its own (``--worker``), so each pays its own start-up and
vLLM's GPU memory is released before the next: the suite's requests for the split (its own
generation settings: greedy for support_intent), through the provider's ``generate_batch`` in
chunks of its batch size, as the engine feeds them. Printed per provider: load seconds, wall
seconds for the requests, examples/s, and against the local provider the share of byte-identical
outputs (log-likelihood suites: the chosen continuation, and the largest difference in a
continuation's log-probability). The model is the same folder for both (default: SmolLM2-135M-
Instruct's float32 conversion, the local provider's own weights), in float32 for both by default,
so greedy outputs may still differ where two tokens' logits are within the GPU kernels' rounding.
``--ray`` sends the vllm requests through Ray Data LLM (``harness.providers.vllm_ray``: needs
``pip install 'ray[llm]'``) with ``--replicas`` engines.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def requests_for(suite: str, split: str) -> list:
    from harness.data.examples import load_split
    from harness.evaluate.run import build_requests
    from harness.suite.load import load_suite

    loaded = load_suite(Path(suite))
    examples = load_split(loaded.suite.dataset, loaded.dataset_dir(), split, loaded.suite.prompt).examples
    return build_requests(loaded, examples, split)


def worker(a: argparse.Namespace) -> None:
    """One provider in this process: prints one JSON line of timings and outputs."""
    from harness.providers.base import ModelSpec, build_provider

    requests = requests_for(a.suite, a.split)[: a.limit or None]
    spec = ModelSpec.parse(a.worker)
    provider = build_provider(spec)
    t0 = time.perf_counter()
    if not (spec.provider == "vllm" and a.ray):  # on Ray the engines start in the replicas
        provider.load()
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    if spec.provider == "vllm" and a.ray:
        from harness.providers import vllm_ray

        out = vllm_ray.generate(provider, requests, concurrency=a.replicas, batch_size=spec.batch_size)
    else:
        out = []
        for i in range(0, len(requests), spec.batch_size):
            out += provider.generate_batch(requests[i : i + spec.batch_size])
    wall = time.perf_counter() - t0
    errors = [r.error for r in out if r.error]
    print(json.dumps({"spec": a.worker, "load_s": load_s, "wall_s": wall, "n": len(requests), "errors": errors[:3],
                      "texts": [r.text for r in out],
                      "loglik": [[e["logprob"] for e in r.loglik] if r.loglik else None for r in out],
                      "output_tokens": sum(r.output_tokens or 0 for r in out)}))


def run(spec: str, a: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--worker", spec, "--suite", a.suite, "--split", a.split,
           "--replicas", str(a.replicas), "--limit", str(a.limit)] + (["--ray"] if a.ray and spec.startswith("vllm") else [])
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    total = time.perf_counter() - t0
    line = next((x for x in reversed(res.stdout.splitlines()) if x.startswith("{")), None)
    if res.returncode != 0 or line is None:
        raise SystemExit(f"{spec} failed (exit {res.returncode}):\n{res.stderr[-3000:]}")
    data = json.loads(line)
    data["process_s"] = total
    return data


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--suite", default=str(ROOT / "suites" / "support_intent.yaml"))
    ap.add_argument("--split", default="test")
    ap.add_argument("--model", help="a Hugging Face model folder (default: SmolLM2-135M-Instruct, float32)")
    ap.add_argument("--adapter", help="a LoRA adapter folder, on both providers")
    ap.add_argument("--dtype", default="float32", choices=["auto", "float32", "float16", "bfloat16"])
    ap.add_argument("--vllm-batch", type=int, default=256)
    ap.add_argument("--local-batch", type=int, default=16)
    ap.add_argument("--local-device", default="auto")
    ap.add_argument("--ray", action="store_true", help="vllm through Ray Data LLM")
    ap.add_argument("--replicas", type=int, default=1)
    ap.add_argument("--skip-local", action="store_true")
    ap.add_argument("--limit", type=int, default=0, help="the first N requests only (0: all)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        return worker(a)

    from urllib.parse import quote

    if a.model is None:
        from harness.local import models as lm

        a.model = str(lm._converted_gguf(*lm.resolve_local_model("smollm2")))  # the local provider's weights
    model = quote(a.model, safe="/:")
    extra = f"&adapter={quote(a.adapter, safe='/:')}" if a.adapter else ""
    specs = {"vllm": f"vllm:{model}?dtype={a.dtype}&batch_size={a.vllm_batch}{extra}"}
    if not a.skip_local:
        specs["local"] = f"local:{model}?device={a.local_device}&batch_size={a.local_batch}{extra}"
    got = {name: run(spec, a) for name, spec in specs.items()}

    print(f"{Path(a.suite).name} split {a.split}: {got['vllm']['n']} requests; model {a.model}"
          f"{' + ' + a.adapter if a.adapter else ''}; vllm dtype {a.dtype}{' via Ray Data LLM' if a.ray else ''}")
    print(f"{'provider':<8} {'load s':>8} {'wall s':>8} {'ex/s':>8} {'process s':>10} {'out tokens':>10}  errors")
    for name, d in got.items():
        print(f"{name:<8} {d['load_s']:8.1f} {d['wall_s']:8.2f} {d['n'] / d['wall_s']:8.1f} {d['process_s']:10.1f} "
              f"{d['output_tokens']:10d}  {len(d['errors'])}{' ' + d['errors'][0] if d['errors'] else ''}")
    if "local" in got:
        v, loc = got["vllm"], got["local"]
        same = sum(x == y for x, y in zip(v["texts"], loc["texts"], strict=True))
        print(f"agreement: {same}/{v['n']} outputs byte-identical ({same / max(1, v['n']):.1%}); "
              f"vllm {loc['wall_s'] / v['wall_s']:.1f}x the local provider's examples/s")
        diffs = [abs(p - q) for a_, b_ in zip(v["loglik"], loc["loglik"], strict=True) if a_ and b_
                 for p, q in zip(a_, b_, strict=True)]
        if diffs:
            print(f"log-likelihood: largest |vllm - local| over {len(diffs)} continuations: {max(diffs):.2e}")
        for i, (x, y) in enumerate(zip(v["texts"], loc["texts"], strict=True)):
            if x != y:
                print(f"  first difference, request {i}: vllm {x!r} / local {y!r}")
                break


if __name__ == "__main__":
    main()
