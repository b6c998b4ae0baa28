"""The engine: every model call of a process goes through one of these.

``await engine.generate(provider, requests)`` reads cached responses back, sends the rest (at most
``concurrency`` in flight per model, or one batch at a time for an in-process model), retries by
the shared policy (:mod:`harness.providers.retry`), stops sending to an endpoint that is down
(:mod:`harness.engine.breaker`), stores each response in the cache as it arrives and shows
progress. The candidate's generation, judges, baselines and calibration share one engine, so
they share its cache, its limits and its breakers.

A failure is a Response with ``error`` set, never an exception: one bad example does not stop a
run. Failed responses are not cached, so a rerun retries exactly them.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Self

from harness.store.responses import ResponseCache, request_keys
from harness.core.errors import CannotScore, HarnessError
from harness.core.executor import ExecutorSpec
from harness.core.hashing import canonical_json
from harness.core.types import Request, Response
from harness.engine.breaker import CircuitBreaker
from harness.engine.cost import Ledger, not_sent
from harness.providers.base import Provider, check_kinds
from harness.providers.retry import Fault, RetryPolicy

NOT_ATTEMPTED = "not attempted"


class EndpointDown(HarnessError):
    """A model's endpoint refused every connection; what could not be sent is left for a rerun. Exit 3."""

    exit_code = 3


@dataclass
class Generation:
    """Responses in request order, which came from the cache, and whether the endpoint went down."""

    responses: list[Response]
    cached: list[bool]
    not_attempted: int = 0  # requests never sent because the breaker had opened or the cost cap was reached
    endpoint_down: str | None = None  # the breaker's message, when it opened
    cap_reached: str | None = None  # the cost cap's message, when it stopped sending


class Executor(Protocol):
    """Sends a model's uncached requests somewhere else (a Ray actor pool: :mod:`harness.distributed`)
    and yields ``(index, response)`` as each batch comes back; the engine caches each batch as it
    arrives. The driver's ``breaker`` and ``ledger`` are the engine's: the executor opens the one
    on connection errors its workers report and reserves within the other before it sends."""

    def send(self, provider: Provider, requests: Sequence[Request], breaker: CircuitBreaker,
             ledger: Ledger | None) -> AsyncIterator[tuple[int, Response]]: ...

    def progress(self) -> str:
        """One short line for the progress bar (per-worker throughput)."""
        ...


# An ExecutorSpec (a model spec's ``executor:``) -> its Executor. Given by whoever builds the engine
# (the run pipeline passes harness.distributed.executor_for); the engine imports no executor itself.
ExecutorFactory = Callable[[ExecutorSpec], Executor]


class Engine:
    """One scheduler: the response cache, a concurrency limit and a circuit breaker per model."""

    def __init__(self, cache: ResponseCache | None = None, progress: bool = False, ledger: Ledger | None = None,
                 batch_dir: Path | None = None, executors: ExecutorFactory | None = None):
        self.executors = executors  # for a model spec with executor: ray (None: in-process only)
        self.cache = cache
        self.progress = progress
        self.ledger = ledger  # tokens and dollars per model, and the --max-cost cap (harness.engine.cost)
        self.batch_dir = batch_dir  # where a Batch API run keeps batches.json (the run directory)
        self._owned_cache: ResponseCache | None = None
        self._limits: dict[Any, asyncio.Semaphore] = {}
        self._breakers: dict[Any, CircuitBreaker] = {}
        self._providers: dict[int, Provider] = {}

    @classmethod
    def at(cls, cache_path: str | Path | None, progress: bool = False, ledger: Ledger | None = None,
           batch_dir: Path | None = None, executors: ExecutorFactory | None = None) -> Engine:
        """An engine with its own cache at ``cache_path`` (None: no cache), closed with the engine."""
        engine = cls(ResponseCache(cache_path) if cache_path else None, progress, ledger, batch_dir, executors)
        engine._owned_cache = engine.cache
        return engine

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every provider this engine sent through (their clients belong to this event loop)."""
        providers, self._providers = list(self._providers.values()), {}
        try:
            for p in providers:
                await p.aclose()
        finally:
            if self._owned_cache is not None:
                self._owned_cache.close()
                self._owned_cache = None

    def down(self) -> list[str]:
        """One line per endpoint whose breaker opened."""
        return [b.message() for b in self._breakers.values() if b.open]

    # ------------------------------------------------------------ generation

    async def generate(self, provider: Provider, requests: Sequence[Request], desc: str = "generate") -> Generation:
        """Responses to ``requests`` (generations, or log-likelihood requests: ``Request.loglik``)."""
        check_kinds(provider, requests)  # a kind the provider cannot serve: one line before anything is sent
        self._providers.setdefault(id(provider), provider)
        fingerprint = provider.fingerprint()
        cache = self.cache
        keys = request_keys(fingerprint, requests) if cache is not None else []
        hits = cache.get_many(keys) if cache is not None else {}
        responses: list[Response | None] = [hits.get(k) for k in keys] if cache is not None else [None] * len(requests)
        cached = [r is not None for r in responses]
        todo = [i for i, r in enumerate(responses) if r is None]
        breaker = self._breaker(provider)
        bar = _bar(len(requests), len(requests) - len(todo), desc) if self.progress else None
        remote = self._executor(provider) if todo else None
        errors = 0
        try:
            if todo:
                stored = canonical_json(fingerprint)
                sent = [requests[i] for i in todo]
                stream = remote.send(provider, sent, breaker, self.ledger) if remote else self._send(provider, sent, breaker)
                async for j, resp in stream:
                    i = todo[j]
                    responses[i] = resp
                    if cache is not None:
                        cache.put(keys[i], stored, resp)  # committed on the loop's next turn: a batch at a time
                    if bar is not None:
                        errors += resp.error is not None
                        bar.update(1)
                        if errors or remote:
                            bar.set_postfix_str(", ".join(([f"errors={errors}"] if errors else [])
                                                          + ([remote.progress()] if remote else [])), refresh=False)
        finally:
            if cache is not None:
                cache.commit()  # every response of this call durable before its caller reads or writes the file
            if bar is not None:
                bar.close()
        done = [r for r in responses if r is not None]
        if self.ledger is not None:
            self.ledger.record_many(provider.spec, (r for r, c in zip(done, cached, strict=True) if c), sent=False)
        not_attempted = sum(1 for r in done if r.attempts == 0 and r.error is not None)
        capped = self.ledger.cap_message() if self.ledger is not None and self.ledger.capped else None
        return Generation(done, cached, not_attempted, breaker.message() if breaker.open else None, capped)

    def _executor(self, provider: Provider) -> Executor | None:
        """The executor of a model spec with ``executor: ray``; None: this process generates."""
        spec = provider.spec.executor
        if spec is None or not spec.remote:
            return None
        if self.executors is None:
            raise HarnessError(f"model {provider.spec.display()}: executor {spec.kind}: this engine generates "
                               "in-process only (built without executors); drop the model's executor: key")
        return self.executors(spec)

    def _breaker(self, provider: Provider) -> CircuitBreaker:
        key = provider.spec
        if key not in self._breakers:
            self._breakers[key] = CircuitBreaker(provider.endpoint(), provider.spec.max_connection_errors)
        return self._breakers[key]

    def _limit(self, provider: Provider) -> asyncio.Semaphore:
        """One limit per model spec: a judge and a candidate on the same model share it."""
        key = provider.spec
        if key not in self._limits:
            self._limits[key] = asyncio.Semaphore(1 if provider.batched else provider.spec.concurrency)
        return self._limits[key]

    def _send(self, provider: Provider, requests: Sequence[Request], breaker: CircuitBreaker) -> AsyncIterator[tuple[int, Response]]:
        """(index, response) as each finishes."""
        if provider.batched:
            return self._batches(provider, requests)
        plain = all(r.loglik is None and r.prompt is None for r in requests)  # the Batch API takes chat bodies only
        if plain and (batch := provider.batch_api()) is not None:  # declared by the provider (Provider.batch_api)
            from harness.engine.batching import batch_api

            return batch_api(batch, requests, self.batch_dir, self.ledger)
        return self._calls(provider, requests, breaker)

    async def _batches(self, provider: Provider, requests: Sequence[Request]) -> AsyncIterator[tuple[int, Response]]:
        """Batches in the provider's order (``Provider.batch_order``: the local one sorts by length),
        each run on the one inference thread."""
        size, lock = provider.batch_size, self._limit(provider)
        loop = asyncio.get_running_loop()
        order = await loop.run_in_executor(_inference_thread(), provider.batch_order, requests)
        for start in range(0, len(order), size):
            idx = order[start : start + size]
            chunk = [requests[i] for i in idx]
            async with lock:
                t0 = time.perf_counter()
                outs = await loop.run_in_executor(_inference_thread(), provider.generate_batch, chunk)
                per = (time.perf_counter() - t0) / max(1, len(chunk))
            for i, r in zip(idx, outs, strict=True):
                if r.latency_s is None:
                    r.latency_s = per
                if self.ledger is not None:
                    self.ledger.record(provider.spec, r, sent=True)
                yield i, r

    async def _calls(self, provider: Provider, requests: Sequence[Request],
                     breaker: CircuitBreaker) -> AsyncIterator[tuple[int, Response]]:
        sem, policy, ledger = self._limit(provider), RetryPolicy.from_spec(provider.spec), self.ledger

        async def one(i: int, req: Request) -> tuple[int, Response]:
            async with sem:
                if ledger is None:
                    return i, await attempts(provider, req, policy, breaker)
                if ledger.max_cost is None:  # no cap: account, nothing to reserve (no per-request estimate)
                    out = await attempts(provider, req, policy, breaker)
                    ledger.record(provider.spec, out, sent=True)
                    return i, out
                held = await ledger.reserve(provider.spec, req)  # spent + in flight (at their most) within the cap
                if held is None:
                    return i, not_sent(ledger)
                try:
                    out = await attempts(provider, req, policy, breaker)
                    ledger.record(provider.spec, out, sent=True)  # before the release: no gap
                    return i, out
                finally:
                    ledger.release(held)

        tasks = [asyncio.create_task(one(i, r)) for i, r in enumerate(requests)]
        try:
            for fut in asyncio.as_completed(tasks):
                yield await fut
        finally:
            for t in tasks:
                t.cancel()


_INFERENCE: ThreadPoolExecutor | None = None


def _inference_thread() -> ThreadPoolExecutor:
    """One thread per process for in-process models: torch keeps one thread pool per calling thread,
    so batches sent from ever-new worker threads (``asyncio.to_thread``) start new pools that compete
    for the cores with the ones already spinning (measured 5-75% slower, bench/local_eval.py)."""
    global _INFERENCE
    if _INFERENCE is None:
        _INFERENCE = ThreadPoolExecutor(max_workers=1, thread_name_prefix="harness-inference")
    return _INFERENCE


async def attempts(provider: Provider, request: Request, policy: RetryPolicy, breaker: CircuitBreaker) -> Response:
    """One request through the retry policy: the first success, or the last failure as a Response."""
    t0 = time.perf_counter()
    attempt = 0
    fault: Fault | None = None
    while True:
        if breaker.open:
            if fault is None:  # never sent
                return Response(text=None, error=f"{NOT_ATTEMPTED}: {breaker.message()}", attempts=0)
            return Response(text=None, error=f"{fault.reason} (after {_tries(attempt)}; stopped: {breaker.message()})",
                            attempts=attempt, latency_s=time.perf_counter() - t0)
        attempt += 1
        try:
            out = await provider.complete(request)
        except CannotScore:
            raise  # the endpoint cannot do this kind of request at all: one line, not one error per example
        except Exception as e:  # noqa: BLE001 - classified by the provider; one example never stops a run
            fault = provider.classify(e)
        else:
            breaker.reply()
            out.latency_s, out.attempts = time.perf_counter() - t0, attempt
            return out
        if fault.connection:
            breaker.connection_error()
        else:
            breaker.reply()
        wait = policy.delay(attempt, fault)
        if wait is None:
            return Response(text=None, error=f"{fault.reason} (after {_tries(attempt)})", attempts=attempt,
                            latency_s=time.perf_counter() - t0)
        await breaker.sleep(wait)


def _tries(n: int) -> str:
    return f"{n} attempt{'s' if n != 1 else ''}"


def _bar(total: int, initial: int, desc: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="ex", file=sys.stderr, dynamic_ncols=True, smoothing=0.1)
