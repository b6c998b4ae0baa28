"""A scripted OpenAI-compatible HTTP server for tests and benchmarks. Standard library only.

It speaks just enough HTTP/1.1 (keep-alive, Content-Length or chunked request bodies) to serve
``GET /v1/models`` and ``POST /v1/chat/completions`` with OpenAI-shaped JSON. Replies come from
an ``answer`` function of the request body (default: ``"ok"``) after a fixed ``latency``; a
*fault script* changes what successive chat requests get, one fault each, in order::

    {"status": 429, "retry_after": "1"}   # an error status (with Retry-After / retry-after-ms)
    {"status": 500}                        # a server error, OpenAI-style error body
    {"malformed": True}                    # 200 with a truncated JSON body
    {"missing_choices": True}              # 200 with valid JSON but no "choices"
    {"delay": 5.0}                         # reply 5 s later than usual (a slow server)
    {"drop": True}                         # close the connection without replying
    {"answer": "text"}                     # reply with this text
    {}                                     # a normal reply (to skip a slot)

``GET /v1/models`` lists ``model`` alone, or the ``models`` given (dicts with at least ``id``; an
optional ``shutdown_date`` as OpenAI announces retirements); ``GET /v1/models/{id}`` returns one.
``reported`` maps a requested model to the id a completion reports (an alias to its dated
snapshot, as OpenAI does). ``jobs`` (fine-tuning job objects) are served at ``GET
/v1/fine_tuning/jobs``; without them that route is a 404, as on servers with no fine-tuning.

Every request is recorded (method, path, headers, parsed body, arrival time) so tests can assert
on counts and timing; ``max_in_flight`` is the most chat requests it held at once.

In-process (tests)::

    with FakeOpenAI(latency=0.01) as srv:          # starts on a free port in a background thread
        srv.script({"status": 500}, {"status": 500})
        ... AsyncOpenAI(base_url=srv.url, ...) ...
        assert len(srv.chat_requests()) == 3

From a shell (benchmarks)::

    python -m tests.fakes.fake_openai --port 8123 --latency 0.1
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["FakeOpenAI", "Received", "default_answer"]

Answer = Callable[[dict[str, Any]], "str | dict[str, Any]"]

FAULT_KEYS = frozenset(
    {"status", "retry_after", "retry_after_ms", "headers", "body", "malformed", "missing_choices", "delay", "drop", "answer"}
)
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
           408: "Request Timeout", 409: "Conflict", 422: "Unprocessable Entity", 429: "Too Many Requests",
           500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error", 404: "not_found_error",
               429: "rate_limit_exceeded"}
_TOKEN = re.compile(r"\s*\S+")


def default_answer(body: dict[str, Any]) -> str:
    return "ok"


@dataclass
class Received:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: Any  # parsed JSON; the raw text when it was not JSON; None when empty
    t: float  # time.monotonic() when the request head arrived
    fault: dict[str, Any] | None = None  # the scripted fault applied to it, if any
    status: int | None = None  # what it answered (None: dropped or still in progress)
    t_done: float | None = None


def _words(text: str) -> int:
    return len(text.split())


class FakeOpenAI:
    """A scripted OpenAI-compatible server. ``start()`` runs it in a background thread."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        answer: Answer | None = None,
        model: str = "fake-model",
        record: bool = True,
        models: list[dict[str, Any]] | None = None,
        reported: dict[str, str] | None = None,
        jobs: list[dict[str, Any]] | None = None,
    ):
        self.host = host
        self.port = port
        self.latency = latency
        self.answer: Answer = answer or default_answer
        self.model = model
        self.record = record
        self.models = models
        self.reported = dict(reported or {})
        self.jobs = jobs
        self.faults: collections.deque[dict[str, Any]] = collections.deque()
        self.requests: list[Received] = []
        self.count = 0  # chat requests received (also when not recording)
        self.in_flight = 0
        self.max_in_flight = 0
        self.connections = 0  # connections accepted
        self._ids = itertools.count(1)
        self._conns: set[asyncio.Task[Any]] = set()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None

    # -- scripting and inspection -------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def script(self, *faults: dict[str, Any]) -> FakeOpenAI:
        """Replace the fault queue: the n-th next chat request gets ``faults[n]``; then normal replies."""
        for f in faults:
            unknown = set(f) - FAULT_KEYS
            if unknown:
                raise ValueError(f"unknown fault keys {sorted(unknown)}; known: {sorted(FAULT_KEYS)}")
        self.faults.clear()
        self.faults.extend(dict(f) for f in faults)
        return self

    def reset(self) -> None:
        """Forget recorded requests, faults and counters (not the answer or latency)."""
        self.faults.clear()
        self.requests.clear()
        self.count = 0
        self.connections = 0
        self.max_in_flight = self.in_flight

    def chat_requests(self) -> list[Received]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> FakeOpenAI:
        """Serve from a background thread; returns once the port is bound (``self.port``)."""
        if self._thread is not None:
            raise RuntimeError("already started")
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            try:
                asyncio.run(self._main(ready))
            except BaseException as e:  # surfaced by start()
                failure.append(e)
                ready.set()

        self._thread = threading.Thread(target=run, name=f"fake-openai:{self.port}", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise RuntimeError("fake OpenAI server did not start")
        if failure:
            self._thread = None
            raise failure[0]
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Close the listener and every connection (cancelling slow replies); join the thread."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None:
            return
        if loop is not None and stopping is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stopping.set)
            except RuntimeError:  # loop already closed
                pass
        thread.join(timeout)
        self._thread = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def serve(self, ready: threading.Event | None = None) -> None:
        """Serve in the running loop until cancelled (the command line uses this)."""
        await self._main(ready or threading.Event())

    async def _main(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(self._handle, self.host, self.port, limit=1 << 20, backlog=2048)
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        try:
            await self._stopping.wait()
        finally:
            server.close()
            for t in list(self._conns):
                t.cancel()
            if self._conns:
                await asyncio.gather(*self._conns, return_exceptions=True)
            await server.wait_closed()

    # -- HTTP ---------------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        self.connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                t = time.monotonic()
                lines = head[:-4].decode("latin-1").split("\r\n")
                try:
                    method, target, version = lines[0].split(" ", 2)
                except ValueError:
                    writer.write(self._http(400, {"error": {"message": "bad request line"}}, close=True))
                    return
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    k, _, v = line.partition(":")
                    headers[k.strip().lower()] = v.strip()
                if headers.get("expect", "").lower() == "100-continue":  # curl, for bodies over 1 KB
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                try:
                    if "content-length" in headers:
                        raw = await reader.readexactly(int(headers["content-length"]))
                    elif headers.get("transfer-encoding", "").lower() == "chunked":
                        raw = await self._read_chunked(reader)
                    else:
                        raw = b""
                except (asyncio.IncompleteReadError, ConnectionError, ValueError):
                    return
                conn = headers.get("connection", "").lower()
                keep = conn != "close" if version == "HTTP/1.1" else conn == "keep-alive"
                out = await self._dispatch(method, target.split("?", 1)[0], headers, raw, t, not keep)
                if out is None:  # a scripted dropped connection
                    return
                writer.write(out)
                await writer.drain()
                if not keep:
                    return
        except ConnectionError:
            return
        except asyncio.CancelledError:
            # stop() cancels connections mid-reply; ending quietly keeps asyncio's stream
            # callback from logging the cancellation as an unhandled exception.
            return
        finally:
            self._conns.discard(task)
            writer.close()

    @staticmethod
    async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                    pass
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)

    @staticmethod
    def _http(status: int, payload: Any, *, headers: dict[str, str] | None = None, close: bool = False,
              body: bytes | None = None) -> bytes:
        data = body if body is not None else json.dumps(payload, separators=(",", ":")).encode()
        head = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}", "content-type: application/json",
                f"content-length: {len(data)}", "connection: close" if close else "connection: keep-alive"]
        for k, v in (headers or {}).items():
            head.append(f"{k}: {v}")
        return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + data

    async def _dispatch(self, method: str, path: str, headers: dict[str, str], raw: bytes, t: float,
                        close: bool) -> bytes | None:
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        rec = Received(method, path, headers, body, t)
        if self.record:
            self.requests.append(rec)
        if path.endswith("/chat/completions"):
            if method != "POST":
                return self._finish(rec, 405, {"error": {"message": "use POST"}}, close=close)
            return await self._chat(rec, body, close)
        if path.endswith("/models") and method == "GET":
            return self._finish(rec, 200, {"object": "list", "data": self._model_list()}, close=close)
        if "/models/" in path and method == "GET":
            wanted = path.split("/models/", 1)[1]
            found = [m for m in self._model_list() if m["id"] == wanted]
            if found:
                return self._finish(rec, 200, found[0], close=close)
            return self._finish(rec, 404, {"error": {"message": f"The model '{wanted}' does not exist",
                                                     "type": "invalid_request_error", "param": "model",
                                                     "code": "model_not_found"}}, close=close)
        if path.endswith("/fine_tuning/jobs") and method == "GET" and self.jobs is not None:
            return self._finish(rec, 200, {"object": "list", "data": self.jobs, "has_more": False}, close=close)
        return self._finish(rec, 404, {"error": {"message": f"no route {method} {path}", "type": "not_found_error"}},
                            close=close)

    def _model_list(self) -> list[dict[str, Any]]:
        given = self.models if self.models is not None else [{"id": self.model}]
        return [{"object": "model", "created": 0, "owned_by": "fake-openai"} | m for m in given]

    def _finish(self, rec: Received, status: int, payload: Any, **kw: Any) -> bytes:
        rec.status = status
        rec.t_done = time.monotonic()
        return self._http(status, payload, **kw)

    async def _chat(self, rec: Received, body: Any, close: bool) -> bytes | None:
        self.count += 1
        try:
            fault = self.faults.popleft()
        except IndexError:
            fault = None
        rec.fault = fault
        f = fault or {}
        self.in_flight += 1
        if self.in_flight > self.max_in_flight:
            self.max_in_flight = self.in_flight
        try:
            delay = self.latency + float(f.get("delay", 0.0))
            if delay > 0:
                await asyncio.sleep(delay)
        finally:
            self.in_flight -= 1
        if f.get("drop"):
            rec.t_done = time.monotonic()
            return None
        headers = dict(f.get("headers") or {})
        if "retry_after" in f:
            headers["retry-after"] = str(f["retry_after"])
        if "retry_after_ms" in f:
            headers["retry-after-ms"] = str(f["retry_after_ms"])
        status = int(f.get("status", 200))
        if status != 200:
            payload = f.get("body") or {"error": {"message": f"scripted {status}", "type": ERROR_TYPES.get(status, "server_error"),
                                                  "param": None, "code": None}}
            if isinstance(payload, str):
                rec.status, rec.t_done = status, time.monotonic()
                return self._http(status, None, headers=headers, close=close, body=payload.encode())
            return self._finish(rec, status, payload, headers=headers, close=close)
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return self._finish(rec, 400, {"error": {"message": "body must be JSON with a `messages` list",
                                                     "type": "invalid_request_error", "param": "messages", "code": None}},
                                close=close)
        n = next(self._ids)
        if f.get("missing_choices"):
            return self._finish(rec, 200, {"id": f"chatcmpl-fake-{n}", "object": "chat.completion"}, headers=headers, close=close)
        payload = self._completion(n, body, f.get("answer"))
        if f.get("malformed"):
            data = json.dumps(payload).encode()
            rec.status, rec.t_done = 200, time.monotonic()
            return self._http(200, None, headers=headers, close=close, body=data[: len(data) // 2])
        return self._finish(rec, 200, payload, headers=headers, close=close)

    def _completion(self, n: int, body: dict[str, Any], override: str | None) -> dict[str, Any]:
        out: Any = override if override is not None else self.answer(body)
        extra: dict[str, Any] = out if isinstance(out, dict) else {"content": out}
        content = str(extra.get("content", ""))
        finish = extra.get("finish_reason", "stop")
        max_tokens = body.get("max_tokens") or body.get("max_completion_tokens")
        tokens = _TOKEN.findall(content)
        if isinstance(max_tokens, int) and len(tokens) > max_tokens:
            tokens = tokens[:max_tokens]
            content = "".join(tokens)
            finish = "length"
        logprobs = extra.get("logprobs")
        if logprobs is None and body.get("logprobs"):
            k = int(body.get("top_logprobs") or 0)
            items = []
            for i, tok in enumerate(tokens):
                lp = round(-0.05 * (i + 1), 4)
                top = [{"token": tok, "logprob": lp, "bytes": list(tok.encode())}]
                top += [{"token": f"alt{j}", "logprob": lp - j, "bytes": list(f"alt{j}".encode())} for j in range(1, k)]
                items.append({"token": tok, "logprob": lp, "bytes": list(tok.encode()), "top_logprobs": top[:k]})
            logprobs = {"content": items, "refusal": None}
        prompt = sum(_words(str(m.get("content", ""))) for m in body["messages"] if isinstance(m, dict))
        usage = extra.get("usage") or {"prompt_tokens": prompt, "completion_tokens": len(tokens),
                                       "total_tokens": prompt + len(tokens)}
        return {
            "id": f"chatcmpl-fake-{n}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.reported.get(body.get("model"), body.get("model") or self.model),
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": None},
                         "logprobs": logprobs, "finish_reason": finish}],
            "usage": usage,
        }


def _fixed_answer(text: str) -> Answer:
    return lambda body: text


def main(argv: Iterable[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m tests.fakes.fake_openai", description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--latency", type=float, default=0.0, help="seconds before each chat reply")
    ap.add_argument("--answer", default="ok", help="the text every chat request gets")
    ap.add_argument("--model", default="fake-model")
    ap.add_argument("--record", action="store_true", help="keep every request in memory (off: counts only)")
    a = ap.parse_args(list(argv) if argv is not None else None)
    srv = FakeOpenAI(host=a.host, port=a.port, latency=a.latency, answer=_fixed_answer(a.answer), model=a.model,
                     record=a.record)
    ready = threading.Event()

    async def run() -> None:
        task = asyncio.create_task(srv.serve(ready))
        while not ready.is_set() and not task.done():
            await asyncio.sleep(0.01)
        if ready.is_set():
            print(f"fake OpenAI server on {srv.url} (latency {a.latency} s)", flush=True)
        await task

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
