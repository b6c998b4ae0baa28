"""The Ray actor pool: uncached requests out in batches, responses back to the driver as they arrive.

Imported only when a model's executor is ``ray`` (Ray is the optional extra ``[ray]``). Why actors and
not a Ray Dataset's ``map_batches``: a dataset's actor pool lives as long as one dataset, so a sweep
over N checkpoints (N runs, one after another) would load the base model N times per actor; these
actors live as long as the driver process (one pool per executor spec), hold each provider once,
and a sweep's adapters attach to the base each already holds. Batches go first to an idle actor
already holding the batch's base (``worker.base_of``).

What the driver keeps (the engine's, not the workers'): the response cache (the engine caches each
batch as it comes back, so a killed driver loses only the batches in flight), the circuit breaker
(each worker says which failures were connection errors; once it opens, what is not yet sent is
recorded as not attempted) and the cost ledger (a batch's worst case is reserved before it is sent;
the first request over the cap, and all after it, are not sent). An actor that dies (a crash, an
out-of-memory kill, ``ray.kill``) is replaced and its batch sent again, at most ``max_restarts``
times; then its requests are recorded as failed responses (never cached: a rerun asks them again).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import RayActorError, RayTaskError

from harness.core.errors import HarnessError
from harness.core.executor import ExecutorSpec
from harness.core.types import Request, Response
from harness.distributed.worker import BatchResult, Worker, base_of
from harness.engine.breaker import CircuitBreaker
from harness.engine.cost import Ledger, not_sent
from harness.engine.engine import NOT_ATTEMPTED
from harness.providers.base import Provider

WORKER_DIED = "worker died"


@dataclass
class Slot:
    """One actor and what it did: examples, seconds spent in batches, replacements, its last report."""

    index: int
    actor: Any
    examples: int = 0
    busy_s: float = 0.0
    restarts: int = 0
    pid: int | None = None
    loads: dict[str, int] = field(default_factory=dict)
    bases: list[str] = field(default_factory=list)
    busy: bool = False

    def rate(self) -> float:
        return self.examples / self.busy_s if self.busy_s > 0 else 0.0


@dataclass
class Chunk:
    start: int
    requests: list[Request]
    tries: int = 0  # times it was sent to an actor that died


def connect(address: str | None) -> None:
    """Join the cluster at ``address`` (None: the local one, started here when there is none) once per process."""
    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no report to the Ray project from an evaluation run
    root = str(Path(__file__).resolve().parents[2])  # where `harness` is imported from: the workers import it too
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    runtime_env = {"env_vars": {"PYTHONPATH": path}} if address is None else None
    try:
        ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING, runtime_env=runtime_env)
    except ConnectionError as e:
        raise HarnessError(f"--ray-address {address}: cannot reach the Ray cluster: {e}") from None


RAY_DATA_SLICE = 2048  # requests per Ray Data job for a provider with its own Ray Data path


class RayPool:
    """``spec.actors`` actors, each a :class:`~harness.distributed.worker.Worker`; implements the engine's Executor."""

    def __init__(self, spec: ExecutorSpec):
        self.spec = spec
        connect(spec.address)
        self.remote_cls = ray.remote(num_cpus=spec.num_cpus, num_gpus=spec.num_gpus, max_restarts=0)(Worker)
        self.slots = [Slot(i, self.remote_cls.remote()) for i in range(spec.actors)]
        self.t0: float | None = None

    # ------------------------------------------------------------ reporting

    def progress(self) -> str:
        return " ".join(f"a{s.index}={s.rate():.1f}/s" for s in self.slots)

    def report(self) -> list[dict[str, Any]]:
        """Per actor: examples, examples per second in batches, replacements, pid, what it loaded (load_stats)."""
        return [{"actor": s.index, "examples": s.examples, "examples_per_s": round(s.rate(), 3), "restarts": s.restarts,
                 "pid": s.pid, "loads": dict(s.loads), "bases": list(s.bases)} for s in self.slots]

    def close(self) -> None:
        for s in self.slots:
            ray.kill(s.actor, no_restart=True)
        self.slots = []

    # ------------------------------------------------------------ sending

    def _pick(self, base: str) -> Slot | None:
        idle = [s for s in self.slots if not s.busy]
        holding = [s for s in idle if base in s.bases]
        return (holding or idle or [None])[0]

    def _replace(self, slot: Slot) -> None:
        try:
            ray.kill(slot.actor, no_restart=True)
        except Exception:  # noqa: BLE001 - already gone
            pass
        slot.actor, slot.restarts, slot.busy = self.remote_cls.remote(), slot.restarts + 1, False
        slot.bases, slot.pid = [], None

    async def send(self, provider: Provider, requests: Sequence[Request], breaker: CircuitBreaker,
                   ledger: Ledger | None) -> AsyncIterator[tuple[int, Response]]:
        if callable(getattr(provider, "ray_data_generate", None)):  # vllm: Ray Data LLM runs its own replicas
            async for item in self._ray_data(provider, requests, ledger):
                yield item
            return
        spec = provider.spec
        size = self.spec.batch_size or (provider.batch_size if provider.batched else spec.concurrency)
        worker_spec = spec.model_copy(update={"executor": None})  # the actor generates in its own process
        cls, trust, base = type(provider), getattr(provider, "trust", None), base_of(spec)
        todo = deque(Chunk(s, list(requests[s:s + size])) for s in range(0, len(requests), size))
        flying: dict[asyncio.Future, tuple[Slot, Chunk, float]] = {}
        try:
            while todo or flying:
                while todo and not breaker.open and (slot := self._pick(base)) is not None:
                    if flying and not _fits(ledger, spec, todo[0]):
                        break  # over the cap with batches in flight: wait for them (they cost less than reserved)
                    chunk = todo.popleft()
                    held, refused = _reserve(ledger, spec, chunk)
                    for i in refused:
                        yield chunk.start + i, not_sent(ledger)  # type: ignore[arg-type]
                    if len(refused) == len(chunk.requests):
                        continue
                    sent = Chunk(chunk.start, chunk.requests[:len(chunk.requests) - len(refused)], chunk.tries)
                    ref = slot.actor.run.remote(cls, worker_spec, trust, sent.requests)
                    slot.busy = True
                    flying[asyncio.wrap_future(ref.future())] = (slot, sent, held)
                if breaker.open:  # what is not yet sent is not sent (a rerun resumes it)
                    while todo:
                        chunk = todo.popleft()
                        for i in range(len(chunk.requests)):
                            yield chunk.start + i, Response(text=None, error=f"{NOT_ATTEMPTED}: {breaker.message()}",
                                                            attempts=0)
                if not flying:
                    continue
                done, _ = await asyncio.wait(flying, return_when=asyncio.FIRST_COMPLETED)
                for fut in done:
                    slot, chunk, held = flying.pop(fut)
                    slot.busy = False
                    out = self._outcome(fut, slot, chunk, todo)
                    if ledger is not None and ledger.max_cost is not None:
                        ledger.release(held)
                    if out is None:
                        continue  # sent again on a replacement actor
                    for i, r in enumerate(out.responses):
                        (breaker.connection_error if out.connection[i] else breaker.reply)()
                        if ledger is not None:
                            ledger.record(spec, r, sent=True)
                        yield chunk.start + i, r
        finally:
            for fut in flying:
                fut.cancel()

    async def _ray_data(self, provider: Provider, requests: Sequence[Request],
                        ledger: Ledger | None) -> AsyncIterator[tuple[int, Response]]:
        """A provider with its own Ray Data path (the vllm provider: ``build_processor`` with
        ``vLLMEngineProcessorConfig``, ``spec.actors`` engine replicas): the requests go in slices of
        ``RAY_DATA_SLICE``, each one Ray Data job, and each slice's responses come back to the engine,
        which caches them, before the next is sent (a killed driver loses one slice at most)."""
        size = self.spec.batch_size or provider.batch_size
        fn = provider.ray_data_generate  # type: ignore[attr-defined]
        for start in range(0, len(requests), RAY_DATA_SLICE):
            part = list(requests[start:start + RAY_DATA_SLICE])
            outs = await asyncio.to_thread(fn, part, self.spec.actors, size)
            for i, r in enumerate(outs):
                if ledger is not None:
                    ledger.record(provider.spec, r, sent=True)
                yield start + i, r

    def _outcome(self, fut: asyncio.Future, slot: Slot, chunk: Chunk, todo: deque[Chunk]) -> BatchResult | None:
        """The batch's result; None when its actor died and the batch went back to the queue."""
        try:
            res: BatchResult = fut.result()
        except RayActorError as e:
            self._replace(slot)
            if chunk.tries < self.spec.max_restarts:
                todo.appendleft(Chunk(chunk.start, chunk.requests, chunk.tries + 1))
                return None
            why = " ".join(str(e).split())[:200]
            n = chunk.tries + 1
            error = f"{WORKER_DIED} ({n} time{'s' if n != 1 else ''}; actor {slot.index}): {why}"
            return BatchResult([Response(text=None, error=error, attempts=n) for _ in chunk.requests],
                               [False] * len(chunk.requests), 0.0, 0)
        except RayTaskError as e:
            cause = e.as_instanceof_cause()
            if isinstance(cause, HarnessError):
                raise cause from None  # a user's error (a missing model, a bad adapter): one line, as in-process
            why = " ".join(f"{type(cause).__name__}: {cause}".split())[:300]
            return BatchResult([Response(text=None, error=why) for _ in chunk.requests],
                               [False] * len(chunk.requests), 0.0, 0)
        slot.examples += len(res.responses)
        slot.busy_s += res.seconds
        if res.pid != slot.pid:
            slot.loads = {}  # a replacement's counts start again
        for k, v in res.loads.items():
            REMOTE_LOADS[k] = REMOTE_LOADS.get(k, 0) + v - slot.loads.get(k, 0)
        slot.pid, slot.loads, slot.bases = res.pid, res.loads, res.bases
        return res


def _fits(ledger: Ledger | None, spec: Any, chunk: Chunk) -> bool:
    if ledger is None or ledger.max_cost is None:
        return True
    return ledger.fits(sum(ledger.worst(spec, r) for r in chunk.requests))


def _reserve(ledger: Ledger | None, spec: Any, chunk: Chunk) -> tuple[float, list[int]]:
    """Reserve the batch's worst case within the cost cap; the indexes (a tail) that may not be sent."""
    if ledger is None or ledger.max_cost is None:
        return 0.0, []
    held = 0.0
    for i, r in enumerate(chunk.requests):
        worst = ledger.reserve_now(spec, r)
        if worst is None:
            ledger.capped += len(chunk.requests) - i - 1  # the rest of this batch is not sent either
            return held, list(range(i, len(chunk.requests)))
        held += worst
    return held, []


_POOLS: dict[ExecutorSpec, RayPool] = {}
REMOTE_LOADS: dict[str, int] = {}  # what every actor of this driver loaded (load_stats' bases, adapters), summed


def pool(spec: ExecutorSpec) -> RayPool:
    """The pool of ``spec``, started on first use and kept for the process (a sweep's runs share it)."""
    if spec not in _POOLS:
        _POOLS[spec] = RayPool(spec)
    return _POOLS[spec]


def shutdown() -> None:
    """Kill every pool's actors (the cluster itself stays: ``ray.shutdown()`` is the caller's)."""
    pools = list(_POOLS.values())
    _POOLS.clear()
    for p in pools:
        p.close()
