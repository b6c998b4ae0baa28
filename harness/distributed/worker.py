"""What a worker (one Ray actor) does: hold each provider once, generate a batch, report its loads.

Plain Python, no Ray import: :mod:`harness.distributed.pool` wraps :class:`Worker` in ``ray.remote``.
The worker gets the provider's class and its model spec (without ``executor:``, so the provider
built here generates in this process) and builds it once; a local model and its adapters are
loaded once per worker process (:data:`harness.local.models.load_stats` counts them). A batched
(in-process) provider gets the batch whole; an API provider gets the engine's own per-request path
(:func:`harness.engine.engine.attempts`: the retry policy, ``concurrency`` in flight), and each
response says whether its last failure was a connection error, so that the driver's circuit
breaker counts what every worker saw.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.core.trust import TrustPolicy
from harness.core.types import Request, Response
from harness.engine.breaker import CircuitBreaker
from harness.engine.engine import attempts
from harness.providers.base import ModelSpec, Provider
from harness.providers.retry import RetryPolicy


@dataclass
class BatchResult:
    """One batch's responses (in order), which failed on a connection error, and the worker's state."""

    responses: list[Response]
    connection: list[bool]
    seconds: float
    pid: int
    loads: dict[str, int] = field(default_factory=dict)  # load_stats of this worker process: bases, adapters
    bases: list[str] = field(default_factory=list)  # base models this worker holds (its affinity)


def base_of(spec: ModelSpec) -> str:
    """What a worker loads once and shares across adapters: the provider and model, adapter aside."""
    return f"{spec.provider}:{spec.name}"


class Worker:
    """One per actor. ``run`` is called one batch at a time (the pool gives an actor one task at once)."""

    def __init__(self) -> None:
        self.providers: dict[ModelSpec, Provider] = {}
        self.bases: list[str] = []
        self.loop = asyncio.new_event_loop()  # one per worker: an API provider's client lives across batches

    def provider(self, cls: type[Provider], spec: ModelSpec, trust: TrustPolicy | None) -> Provider:
        if spec not in self.providers:
            self.providers[spec] = cls(spec, trust=trust) if cls.sends_key else cls(spec)  # type: ignore[call-arg]
            if base_of(spec) not in self.bases:
                self.bases.append(base_of(spec))
        return self.providers[spec]

    def run(self, cls: type[Provider], spec: ModelSpec, trust: TrustPolicy | None,
            requests: Sequence[Request]) -> BatchResult:
        t0 = time.perf_counter()
        p = self.provider(cls, spec, trust)
        if p.batched:
            responses = p.generate_batch(requests)
            per = (time.perf_counter() - t0) / max(1, len(requests))
            for r in responses:
                if r.latency_s is None:
                    r.latency_s = per
            connection = [False] * len(responses)
        else:
            responses, connection = self.loop.run_until_complete(_calls(p, requests))
        return BatchResult(responses, connection, time.perf_counter() - t0, os.getpid(), self.loads(), list(self.bases))

    def loads(self) -> dict[str, int]:
        from harness.local.models import load_stats

        return {"bases": load_stats.bases, "adapters": load_stats.adapters}

    def pid(self) -> int:
        return os.getpid()


class _Tap:
    """The worker's breaker as one request sees it: remembers whether that request's last fault
    was a connection error (the driver's breaker counts it)."""

    def __init__(self, breaker: CircuitBreaker):
        self.breaker, self.connection = breaker, False

    @property
    def open(self) -> bool:
        return self.breaker.open

    def message(self) -> str:
        return self.breaker.message()

    def reply(self) -> None:
        self.connection = False
        self.breaker.reply()

    def connection_error(self) -> None:
        self.connection = True
        self.breaker.connection_error()

    async def sleep(self, seconds: float) -> None:
        await self.breaker.sleep(seconds)


async def _calls(p: Provider, requests: Sequence[Request]) -> tuple[list[Response], list[bool]]:
    """An API provider's batch: ``concurrency`` in flight, each through the retry policy."""
    policy = RetryPolicy.from_spec(p.spec)
    breaker = CircuitBreaker(p.endpoint(), p.spec.max_connection_errors)
    sem = asyncio.Semaphore(p.spec.concurrency)

    async def one(req: Request) -> tuple[Response, bool]:
        tap = _Tap(breaker)
        async with sem:
            out = await attempts(p, req, policy, tap)  # type: ignore[arg-type]
        return out, tap.connection and out.error is not None

    done = await asyncio.gather(*(one(r) for r in requests))
    return [r for r, _ in done], [c for _, c in done]

