"""Serve a local model (with a LoRA adapter) as an OpenAI-compatible endpoint on loopback.

llama.cpp's server cannot load a peft adapter, so this fronts harness's own ``local`` provider
with a minimal HTTP server (:mod:`harness.serve.server`): ``POST /v1/chat/completions`` runs the model in-process and
``GET /v1/models`` lists the served name (with a ``shutdown_date`` when given, as OpenAI lists a
retiring model). The migration walkthrough uses it to let a fine-tuned adapter play a hosted
fine-tune that is being retired, reached through the ``openai`` provider as a real one would be.

Concurrent requests are answered together: the first to arrive waits a few milliseconds for others
(:class:`MicroBatcher`, at most ``--max-batch``) and one ``generate_batch`` call decodes them as a batch, as
a serving engine batches; a client with ``concurrency=16`` gets batches of up to 16. Loopback only::

    python -m harness.serve.local --model 'local?adapter=reports/.../adapter' --port 8765 \\
        --served-name ft:gpt-4o-mini-2024-07-18:acme:support:demo --shutdown-date 2027-01-14
"""

from __future__ import annotations

import argparse
import queue
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future
from typing import Any

from harness.core.settings import GenerationSettings
from harness.core.types import Request
from harness.providers.base import ModelSpec, build_provider
from harness.serve.server import ChatServer


def settings_from_body(body: dict[str, Any]) -> GenerationSettings:
    stop = body.get("stop") or []
    return GenerationSettings(max_tokens=int(body.get("max_tokens") or body.get("max_completion_tokens") or 256),
                              temperature=float(body.get("temperature") or 0.0), top_p=float(body.get("top_p") or 1.0),
                              stop=[stop] if isinstance(stop, str) else list(stop), seed=body.get("seed", 0))


class MicroBatcher:
    """Requests from many threads answered in batches by one worker thread: a batch starts with the first
    request waiting, takes every other that arrives within ``wait_s`` (at most ``max_batch``), and goes to
    ``provider.generate_batch`` in one call (which groups it by decoding settings). ``sizes`` records each
    batch's size."""

    def __init__(self, provider: Any, max_batch: int = 16, wait_s: float = 0.02) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        self.provider, self.max_batch, self.wait_s = provider, max_batch, wait_s
        self.sizes: list[int] = []
        self._queue: queue.Queue[tuple[Request, Future]] = queue.Queue()
        threading.Thread(target=self._work, name="micro-batcher", daemon=True).start()

    def submit(self, request: Request) -> Any:
        """The request's Response (blocks until its batch is decoded; the batch's error is raised here)."""
        fut: Future = Future()
        self._queue.put((request, fut))
        return fut.result()

    def _work(self) -> None:
        while True:
            batch = [self._queue.get()]
            deadline = time.monotonic() + self.wait_s
            while len(batch) < self.max_batch:
                left = deadline - time.monotonic()
                try:
                    batch.append(self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait())
                except queue.Empty:
                    break
            self.sizes.append(len(batch))
            try:
                responses = self.provider.generate_batch([r for r, _ in batch])
            except BaseException as e:  # noqa: BLE001 (every waiting request gets the error, the worker goes on)
                for _, fut in batch:
                    fut.set_exception(e)
                continue
            for (_, fut), resp in zip(batch, responses, strict=True):
                fut.set_result(resp)


def local_answer(spec: ModelSpec, max_batch: int = 16) -> Any:
    """The server's ``answer`` function: the local model's reply to the request's messages (batched with
    concurrent requests, :class:`MicroBatcher`)."""
    provider = build_provider(spec)
    if hasattr(provider, "load"):
        provider.load()  # now, before the port opens: a first request must not wait out the load and time out
    batcher = MicroBatcher(provider, max_batch)

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        msgs = tuple((m["role"], m["content"]) for m in body["messages"])
        resp = batcher.submit(Request(msgs, settings_from_body(body), ""))
        if resp.error:
            raise RuntimeError(resp.error)
        out: dict[str, Any] = {"content": resp.text or "", "finish_reason": resp.finish_reason or "stop"}
        if resp.input_tokens is not None and resp.output_tokens is not None:
            out["usage"] = {"prompt_tokens": resp.input_tokens, "completion_tokens": resp.output_tokens,
                            "total_tokens": resp.input_tokens + resp.output_tokens}
        return out

    answer.batcher = batcher  # type: ignore[attr-defined]  (its batch sizes, for tests and logs)
    return answer


def make_server(spec: ModelSpec, served_name: str, port: int = 0, shutdown_date: str | None = None,
                base_name: str | None = None, max_batch: int = 16) -> ChatServer:
    models: list[dict[str, Any]] = [{"id": served_name, "owned_by": "local"}]
    if base_name:
        models.append({"id": base_name, "owned_by": "system"} | ({"shutdown_date": shutdown_date} if shutdown_date else {}))
    elif shutdown_date:
        models[0]["shutdown_date"] = shutdown_date
    return ChatServer(local_answer(spec, max_batch), models=models, port=port)


def main(argv: Iterable[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m harness.serve.local", description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="local", help="a local model spec, e.g. 'local?adapter=DIR'")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--served-name", default="local-model", help="the model id clients ask for")
    ap.add_argument("--base-name", help="also list this base model (a fine-tune's base: its shutdown date applies)")
    ap.add_argument("--shutdown-date", help="YYYY-MM-DD listed for the base (or the served model) in /v1/models")
    ap.add_argument("--max-batch", type=int, default=16, help="concurrent requests decoded together (default 16)")
    a = ap.parse_args(list(argv) if argv is not None else None)
    srv = make_server(ModelSpec.parse(a.model), a.served_name, a.port, a.shutdown_date, a.base_name, a.max_batch)
    print(f"serving {a.model} as {a.served_name} on {srv.url}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
