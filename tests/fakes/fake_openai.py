"""A scripted OpenAI-compatible HTTP server for tests and benchmarks, on the fakes' one server core
(``server.FakeServer``, served by ``harness.serve.server``).

It serves ``GET /v1/models`` and ``POST /v1/chat/completions`` with OpenAI-shaped JSON. Replies come from
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
import collections
import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from .server import ApiError, Call, FakeServer, HttpResponse, error_body

__all__ = ["FakeOpenAI", "Received", "default_answer"]

Answer = Callable[[dict[str, Any]], "str | dict[str, Any]"]
Received = Call  # one request as the server saw it

FAULT_KEYS = frozenset(
    {"status", "retry_after", "retry_after_ms", "headers", "body", "malformed", "missing_choices", "delay", "drop", "answer"}
)
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error", 404: "not_found_error",
               429: "rate_limit_exceeded"}
_TOKEN = re.compile(r"\s*\S+")


def default_answer(body: dict[str, Any]) -> str:
    return "ok"


def _words(text: str) -> int:
    return len(text.split())


class FakeOpenAI(FakeServer):
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
        super().__init__(host=host, port=port, record=record)
        self.latency = latency
        self.answer: Answer = answer or default_answer
        self.model = model
        self.models = models
        self.reported = dict(reported or {})
        self.jobs = jobs
        self.faults: collections.deque[dict[str, Any]] = collections.deque()
        self.count = 0  # chat requests received (also when not recording)
        self.in_flight = 0
        self.max_in_flight = 0
        self._ids = itertools.count(1)
        self._stopping = threading.Event()  # ends scripted delays when the server stops
        self.route("POST", "/chat/completions", self._chat, locked=False, body="text")
        self.route("GET", "/models", lambda call: {"object": "list", "data": self._model_list()})
        self.route("GET", "/models/{wanted}", self._one_model)
        self.route("GET", "/fine_tuning/jobs", self._jobs)

    # -- scripting and inspection -------------------------------------------------------------

    @property
    def connections(self) -> int:
        """Connections accepted."""
        return self._http.connections

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
        with self.lock:
            self.faults.clear()
            self.requests.clear()
            self.count = 0
            self._http.connections = 0
            self.max_in_flight = self.in_flight

    def chat_requests(self) -> list[Call]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> FakeOpenAI:
        """Serve from a background thread (the port is bound already: ``self.port``)."""
        self._stopping.clear()
        super().start()
        return self

    def stop(self) -> None:
        """Close the listener and every connection (cancelling slow replies)."""
        self._stopping.set()
        super().stop()

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    # -- routes -------------------------------------------------------------------------------

    def _one_model(self, call: Call, wanted: str) -> dict[str, Any]:
        found = [m for m in self._model_list() if m["id"] == wanted]
        if not found:
            raise ApiError(404, f"The model '{wanted}' does not exist", param="model", code="model_not_found")
        return found[0]

    def _jobs(self, call: Call) -> dict[str, Any]:
        if self.jobs is None:  # as on servers with no fine-tuning
            raise ApiError(404, f"no route {call.method} {call.path}", type_="not_found_error")
        return {"object": "list", "data": self.jobs, "has_more": False}

    def _model_list(self) -> list[dict[str, Any]]:
        given = self.models if self.models is not None else [{"id": self.model}]
        return [{"object": "model", "created": 0, "owned_by": "fake-openai"} | m for m in given]

    def _chat(self, rec: Call) -> HttpResponse | None:
        body = rec.body
        with self.lock:
            self.count += 1
            fault = self.faults.popleft() if self.faults else None
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        rec.fault = fault
        f = fault or {}
        try:
            delay = self.latency + float(f.get("delay", 0.0))
            if delay > 0 and self._stopping.wait(delay):
                return None  # the server stopped under a slow reply
        finally:
            with self.lock:
                self.in_flight -= 1
        if f.get("drop"):
            return None
        headers = dict(f.get("headers") or {})
        if "retry_after" in f:
            headers["retry-after"] = str(f["retry_after"])
        if "retry_after_ms" in f:
            headers["retry-after-ms"] = str(f["retry_after_ms"])
        status = int(f.get("status", 200))
        if status != 200:
            payload = f.get("body") or error_body(f"scripted {status}", ERROR_TYPES.get(status, "server_error"))
            if isinstance(payload, str):
                return HttpResponse(status, payload.encode(), headers=headers)
            return HttpResponse.json(status, payload, headers)
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return HttpResponse.json(400, error_body("body must be JSON with a `messages` list", param="messages"))
        n = next(self._ids)
        if f.get("missing_choices"):
            return HttpResponse.json(200, {"id": f"chatcmpl-fake-{n}", "object": "chat.completion"}, headers)
        with self.lock:  # one answer at a time, as a test's answer function expects
            payload = self._completion(n, body, f.get("answer"))
        if f.get("malformed"):
            data = json.dumps(payload).encode()
            return HttpResponse(200, data[: len(data) // 2], headers=headers)
        return HttpResponse.json(200, payload, headers)

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
    print(f"fake OpenAI server on {srv.url} (latency {a.latency} s)", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
