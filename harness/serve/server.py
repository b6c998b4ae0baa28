"""A minimal HTTP/1.1 server on loopback, and on it an OpenAI-compatible chat endpoint.

:class:`LoopbackServer` answers each request with a function ``HttpRequest -> HttpResponse | None``
(``None``: close the connection without an answer), one thread a connection, keep-alive, bodies by
Content-Length or chunked; ``stop()`` also closes the connections still open, so a client mid-request
sees the server go away. :class:`ChatServer` serves ``GET /v1/models`` and
``POST /v1/chat/completions`` from an answer function of the request body, which returns
``{"content": str, "finish_reason": str, "usage": {...}}`` (usage optional). Requests are answered one
at a time (a lock around the answer), since an in-process model is not safe to call from several
threads: give clients ``concurrency=1``.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

Answer = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str  # without the query string
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased
    body: bytes
    t: float  # time.monotonic() when the request head was read


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any, headers: dict[str, str] | None = None) -> HttpResponse:
        return cls(status, json.dumps(payload, separators=(",", ":")).encode(), headers=dict(headers or {}))


Handle = Callable[[HttpRequest], "HttpResponse | None"]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # the listen backlog: many clients connect at once

    def handle_error(self, request: Any, client_address: Any) -> None:  # a client that went away: quiet
        pass


class LoopbackServer:
    """``with LoopbackServer(handle) as srv: srv.url`` -> ``http://127.0.0.1:PORT/v1``."""

    def __init__(self, handle: Handle, port: int = 0, host: str = "127.0.0.1") -> None:
        self.handle = handle
        self.connections = 0  # connections accepted
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        self._httpd = _Server((host, port), _handler(self))
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def serve_forever(self) -> None:
        self._httpd.serve_forever(poll_interval=0.05)

    def start(self) -> LoopbackServer:
        if self._thread is not None:
            raise RuntimeError("already started")
        self._thread = threading.Thread(target=self.serve_forever, name=f"loopback:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the listener and every open connection; idempotent."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._httpd.server_close()
        with self._open_lock:
            conns, self._open = list(self._open), set()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _opened(self, conn: socket.socket) -> None:
        with self._open_lock:
            self.connections += 1
            self._open.add(conn)

    def _closed(self, conn: socket.socket) -> None:
        with self._open_lock:
            self._open.discard(conn)


def _handler(server: LoopbackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def setup(self) -> None:
            super().setup()
            server._opened(self.connection)

        def finish(self) -> None:
            server._closed(self.connection)
            try:
                super().finish()
            except OSError:
                pass

        def _body(self) -> bytes:
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                parts = []
                while size := int(self.rfile.readline().split(b";", 1)[0], 16):
                    parts.append(self.rfile.read(size))
                    self.rfile.readline()
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                    pass
                return b"".join(parts)
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _serve(self) -> None:
            t = time.monotonic()
            url = urlsplit(self.path)
            try:
                body = self._body()
            except ValueError:
                self.close_connection = True
                return
            req = HttpRequest(self.command, url.path, dict(parse_qsl(url.query)),
                              {k.lower(): v for k, v in self.headers.items()}, body, t)
            out = server.handle(req)
            if out is None:  # no answer: the connection closes
                self.close_connection = True
                return
            self.send_response(out.status)
            self.send_header("Content-Type", out.content_type)
            for k, v in out.headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(out.body)))
            self.end_headers()
            self.wfile.write(out.body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve  # noqa: N815

    return Handler


class ChatServer(LoopbackServer):
    """``with ChatServer(answer, models=[{"id": "m"}]) as srv: srv.url`` -> ``http://127.0.0.1:PORT/v1``."""

    def __init__(self, answer: Answer, models: list[dict[str, Any]], port: int = 0, host: str = "127.0.0.1") -> None:
        super().__init__(self._chat, port=port, host=host)
        self.answer = answer
        self.models = [{"object": "model", "created": 0, "owned_by": "local"} | m for m in models]
        self._lock = threading.Lock()
        self._count = 0

    def _chat(self, req: HttpRequest) -> HttpResponse:
        path = req.path.rstrip("/")
        if req.method == "GET" and path in ("/v1/models", "/models"):
            return HttpResponse.json(200, {"object": "list", "data": self.models})
        if req.method != "POST" or path not in ("/v1/chat/completions", "/chat/completions"):
            return HttpResponse.json(404, error(404, f"no route {req.path}"))
        try:
            body = json.loads(req.body or b"{}")
            if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
                raise ValueError("the body must be a JSON object with a 'messages' list")
        except ValueError as e:
            return HttpResponse.json(400, error(400, str(e)))
        try:
            with self._lock:
                self._count += 1
                n = self._count
            out = self.answer(body)  # concurrently: the answer function batches or serialises as it needs
        except Exception as e:  # the model failed: a 500 the client retries or reports
            return HttpResponse.json(500, error(500, f"{type(e).__name__}: {e}"))
        return HttpResponse.json(200, completion(n, body, out))


def error(status: int, message: str) -> dict[str, Any]:
    kind = {400: "invalid_request_error", 404: "not_found_error"}.get(status, "server_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def completion(n: int, body: dict[str, Any], out: dict[str, Any]) -> dict[str, Any]:
    """A ``chat.completion`` object as the openai SDK's types describe it."""
    content = str(out.get("content", ""))
    result: dict[str, Any] = {
        "id": f"chatcmpl-local-{n}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model") or "local",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": None},
                     "finish_reason": out.get("finish_reason", "stop"), "logprobs": None}],
    }
    if out.get("usage"):
        result["usage"] = out["usage"]
    return result
