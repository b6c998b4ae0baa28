"""A minimal OpenAI-compatible HTTP server on loopback: ``GET /v1/models`` and
``POST /v1/chat/completions``, answered by a function of the request body.

The answer function returns ``{"content": str, "finish_reason": str, "usage": {...}}`` (usage
optional). Requests are answered one at a time (a lock around the answer), since an in-process model
is not safe to call from several threads: give clients ``concurrency=1``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = Callable[[dict[str, Any]], dict[str, Any]]


class ChatServer:
    """``with ChatServer(answer, models=[{"id": "m"}]) as srv: srv.url`` -> ``http://127.0.0.1:PORT/v1``."""

    def __init__(self, answer: Answer, models: list[dict[str, Any]], port: int = 0, host: str = "127.0.0.1") -> None:
        self.answer = answer
        self.models = [{"object": "model", "created": 0, "owned_by": "local"} | m for m in models]
        self._lock = threading.Lock()
        self._count = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _send(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                if self.path.rstrip("/") in ("/v1/models", "/models"):
                    self._send(200, {"object": "list", "data": server.models})
                else:
                    self._send(404, _error(404, f"no route {self.path}"))

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
                    self._send(404, _error(404, f"no route {self.path}"))
                    return
                try:
                    body = json.loads(raw or b"{}")
                    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
                        raise ValueError("the body must be a JSON object with a 'messages' list")
                except ValueError as e:
                    self._send(400, _error(400, str(e)))
                    return
                try:
                    with server._lock:
                        server._count += 1
                        n = server._count
                        out = server.answer(body)
                except Exception as e:  # the model failed: a 500 the client retries or reports
                    self._send(500, _error(500, f"{type(e).__name__}: {e}"))
                    return
                self._send(200, completion(n, body, out))

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def serve_forever(self) -> None:
        self._httpd.serve_forever(poll_interval=0.1)

    def start(self) -> ChatServer:
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=10)

    def __enter__(self) -> ChatServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _error(status: int, message: str) -> dict[str, Any]:
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
