"""Examples per second through the Ray executor (harness/distributed/) with 1 and 2 actors, beside the
in-process engine. A benchmark that prints figures, not a test.

    .venv/bin/python bench/ray_scaling.py [--n 96] [--latency 0.2] [--local-n 16] [--skip-local]

Two providers on a local Ray cluster (``ray.init(num_cpus=2)``; each actor reserves one CPU):

- openai against the fake OpenAI server (tests/fakes/fake_openai.py) on loopback, every reply
  ``--latency`` seconds late, ``concurrency=4`` per process: an I/O-bound provider, whose throughput
  is requests in flight over latency, so a second actor (4 more in flight) should double it;
- the local model (SmolLM2-135M-Instruct, float32, CPU, batches of 4, 16 new tokens at most):
  compute-bound, where 2 actors on 2 cores can only share the same cores (Ray sets
  OMP_NUM_THREADS=1 in an actor with one CPU; in-process torch uses both cores).

Each row is a fresh set of requests with no cache, after a warm-up call that starts the actors and
loads the model (its time is the ``start`` column), so ``ex/s`` is steady-state generation. The
machine is shared: CPU-bound figures move with the neighbours' load.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.core.executor import ExecutorSpec  # noqa: E402
from harness.core.settings import GenerationSettings  # noqa: E402
from harness.core.types import Request  # noqa: E402
from harness.distributed import executor_for, shutdown  # noqa: E402
from harness.engine import Engine  # noqa: E402
from harness.providers.base import ModelSpec, build_provider  # noqa: E402


def requests(n: int, tag: str, max_tokens: int) -> list[Request]:
    settings = GenerationSettings(max_tokens=max_tokens)
    return [Request((("user", f"Say one word about the number {i} ({tag})."),), settings, f"{tag}{i}") for i in range(n)]


async def timed(spec: ModelSpec, reqs: list[Request]) -> float:
    provider = build_provider(spec)
    async with Engine(None, executors=executor_for) as engine:
        t0 = time.perf_counter()
        gen = await engine.generate(provider, reqs)
        elapsed = time.perf_counter() - t0
    bad = [r.error for r in gen.responses if r.error]
    if bad:
        raise SystemExit(f"{spec.display()}: {len(bad)} failed: {bad[0]}")
    return elapsed


def row(label: str, spec: ModelSpec, n: int, warm: int, max_tokens: int) -> dict:
    start = asyncio.run(timed(spec, requests(warm, f"warm-{label}-", max_tokens)))
    took = asyncio.run(timed(spec, requests(n, f"{label}-", max_tokens)))
    out = {"provider": spec.provider, "executor": label, "n": n, "start_s": start, "s": took, "ex_s": n / took}
    print(f"{spec.provider:<8} {label:<14} {n:>4} {start:>8.1f} {took:>8.2f} {n / took:>8.1f}", flush=True)
    shutdown()  # the next row starts its own actors
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=96, help="requests per fake-server row")
    ap.add_argument("--latency", type=float, default=0.2, help="the fake server's reply delay, seconds")
    ap.add_argument("--local-n", type=int, default=16, help="requests per local-model row")
    ap.add_argument("--skip-local", action="store_true")
    a = ap.parse_args()

    import ray

    from tests.fakes.fake_openai import FakeOpenAI

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    ray.init(num_cpus=2, include_dashboard=False, logging_level="warning", runtime_env={"env_vars": {"PYTHONPATH": path}})
    print(f"{platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}, ray {ray.__version__}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"{'provider':<8} {'executor':<14} {'n':>4} {'start_s':>8} {'gen_s':>8} {'ex/s':>8}")
    with FakeOpenAI(latency=a.latency) as srv:
        spec = ModelSpec.parse(f"openai:fake?base_url={srv.url}&concurrency=4")
        row("inprocess", spec, a.n, 4, 8)
        for actors in (1, 2):
            ex = ExecutorSpec(kind="ray", actors=actors, batch_size=8)
            row(f"ray x{actors}", spec.model_copy(update={"executor": ex}), a.n, 8 * actors, 8)
    if not a.skip_local:
        spec = ModelSpec.parse("local?batch_size=4&device=cpu")
        row("inprocess", spec, a.local_n, 4, 16)
        for actors in (1, 2):
            ex = ExecutorSpec(kind="ray", actors=actors)
            row(f"ray x{actors}", spec.model_copy(update={"executor": ex}), a.local_n, 4 * actors, 16)
    ray.shutdown()


if __name__ == "__main__":
    main()
