"""A local server that follows the OpenAI Batch API's contract. Standard library only.

Routes (all under /v1, bearer key required)::

    POST /files (multipart: file, purpose)   GET /files/{id}   GET /files/{id}/content
    POST /batches                            GET /batches/{id}   GET /batches   POST /batches/{id}/cancel

A batch moves along the service's states::

    validating -> in_progress -> finalizing -> completed
    validating -> failed                       (the input file breaks a rule: errors.data names the line)
    in_progress -> expired                     (``expire(id, after=k)``: k lines ran, the rest did not)
    validating | in_progress -> cancelling -> cancelled

Every ``polls_per_state`` reads of a batch (GET /batches/{id}) move it one state on, unless the test
holds it (``hold=True``, then ``release()``). Validation follows the documented rules: each line a
JSON object with ``custom_id`` (unique in the file), ``method: POST``, ``url`` equal to the batch's
endpoint and a ``body`` with one ``model`` for the whole file; at most 50,000 lines and 200 MB.
Lines are answered by ``responder(body) -> chat.completion dict``; a responder that raises
:class:`LineError` puts that line in the error file with its status and an OpenAI-shaped error body,
as the service does for a request that fails inside a batch. Output and error files are JSONL of
``{"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error"}``.

    with FakeBatchAPI() as api:
        client = OpenAI(base_url=api.base_url, api_key=api.api_key)
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from .fake_finetune_api import _multipart

__all__ = ["FakeBatchAPI", "LineError", "echo_responder"]

MAX_LINES = 50_000
MAX_BYTES = 200 * 1024 * 1024
ENDPOINTS = ("/v1/chat/completions", "/v1/responses", "/v1/embeddings", "/v1/completions")
ORDER = ("validating", "in_progress", "finalizing", "completed")


class LineError(Exception):
    """Raised by a responder: this line fails inside the batch with ``status`` and ``message``."""

    def __init__(self, status: int, message: str, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


def echo_responder(body: dict[str, Any]) -> dict[str, Any]:
    """A chat completion whose text is the last user message, upper-cased."""
    last = next((m.get("content") or "" for m in reversed(body.get("messages", [])) if m.get("role") == "user"), "")
    text = str(last).upper()
    return {"id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", ""), "system_fingerprint": "fp_fakebatch",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": len(str(last).split()), "completion_tokens": len(text.split()),
                      "total_tokens": len(str(last).split()) + len(text.split())}}


@dataclass
class Call:
    method: str
    path: str
    body: Any
    status: int = 0


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


class FakeBatchAPI:
    def __init__(self, api_key: str = "test-key", responder: Callable[[dict[str, Any]], dict[str, Any]] = echo_responder,
                 polls_per_state: int = 1, hold: bool = False, max_lines: int = MAX_LINES, max_bytes: int = MAX_BYTES):
        self.api_key = api_key
        self.responder = responder
        self.polls_per_state = polls_per_state
        self.hold = hold
        self.max_lines, self.max_bytes = max_lines, max_bytes
        self.files: dict[str, dict[str, Any]] = {}
        self.contents: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.requests: list[Call] = []
        self._polls: dict[str, int] = {}
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None

    # ------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the server first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> FakeBatchAPI:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeBatchAPI:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ------------------------------------------------------------ test controls

    def release(self) -> None:
        with self._lock:
            self.hold = False

    def expire(self, batch_id: str, after: int = 0) -> dict[str, Any]:
        """The 24 h window ran out after ``after`` lines: they are answered, the rest are batch_expired."""
        with self._lock:
            b = self.batches[batch_id]
            self._finish(b, "expired", ran=after)
            return b

    def calls(self, method: str, prefix: str) -> list[Call]:
        return [c for c in self.requests if c.method == method and c.path.startswith(prefix)]

    # ------------------------------------------------------------ the service

    def _store(self, data: bytes, filename: str, purpose: str) -> dict[str, Any]:
        f = {"id": _id("file"), "object": "file", "bytes": len(data), "created_at": int(time.time()),
             "filename": filename, "purpose": purpose, "status": "processed"}
        self.files[f["id"]] = f
        self.contents[f["id"]] = data
        return f

    def _validate(self, b: dict[str, Any]) -> list[dict[str, Any]]:
        data = self.contents[b["input_file_id"]]
        errors: list[dict[str, Any]] = []
        if len(data) > self.max_bytes:
            return [{"code": "file_too_large", "message": f"the file is {len(data)} bytes; the limit is {self.max_bytes}",
                     "param": None, "line": None}]
        lines = data.decode("utf-8", "replace").splitlines()
        if len(lines) > self.max_lines:
            return [{"code": "too_many_requests", "message": f"{len(lines)} requests; a batch holds at most {self.max_lines}",
                     "param": None, "line": None}]
        seen: set[str] = set()
        models: set[str] = set()
        for n, text in enumerate(lines, 1):
            def bad(code: str, message: str, param: str | None = None, n: int = n) -> None:
                errors.append({"code": code, "message": message, "param": param, "line": n})
            try:
                obj = json.loads(text)
            except json.JSONDecodeError:
                bad("invalid_json_line", "this line is not valid JSON")
                continue
            if not isinstance(obj, dict) or not isinstance(obj.get("custom_id"), str):
                bad("missing_required_parameter", "each line needs a string custom_id", "custom_id")
                continue
            if obj["custom_id"] in seen:
                bad("duplicate_custom_id", f"custom_id {obj['custom_id']!r} appears twice", "custom_id")
            seen.add(obj["custom_id"])
            if obj.get("method") != "POST":
                bad("invalid_method", "method must be POST", "method")
            if obj.get("url") != b["endpoint"]:
                bad("mismatched_endpoint", f"url {obj.get('url')!r} is not the batch's endpoint {b['endpoint']!r}", "url")
            body = obj.get("body")
            if not isinstance(body, dict) or not body.get("model"):
                bad("missing_required_parameter", "body must be an object with a model", "body.model")
            else:
                models.add(body["model"])
        if len(models) > 1:
            errors.append({"code": "mismatched_model", "message": f"a batch uses one model; this file has {sorted(models)}",
                           "param": "body.model", "line": None})
        return errors

    def _finish(self, b: dict[str, Any], status: str, ran: int | None = None) -> None:
        """Answer the lines (all, or the first ``ran``) and write the output and error files."""
        lines = [json.loads(t) for t in self.contents[b["input_file_id"]].decode("utf-8").splitlines() if t.strip()]
        out, err = [], []
        usage = {"input_tokens": 0, "output_tokens": 0}
        for i, line in enumerate(lines):
            rid = _id("batch_req")
            if ran is not None and i >= ran:
                code = "batch_expired" if status == "expired" else "batch_cancelled"
                err.append({"id": rid, "custom_id": line["custom_id"], "response": None,
                            "error": {"code": code, "message": f"this request was not executed: the batch was {status}"}})
                continue
            try:
                body = self.responder(line["body"])
            except LineError as e:
                err.append({"id": rid, "custom_id": line["custom_id"], "error": None,
                            "response": {"status_code": e.status, "request_id": _id("req"),
                                         "body": {"error": {"message": e.message, "type": "invalid_request_error",
                                                            "param": None, "code": e.code}}}})
                continue
            u = body.get("usage") or {}
            usage["input_tokens"] += u.get("prompt_tokens", 0)
            usage["output_tokens"] += u.get("completion_tokens", 0)
            out.append({"id": rid, "custom_id": line["custom_id"], "error": None,
                        "response": {"status_code": 200, "request_id": _id("req"), "body": body}})
        now = int(time.time())
        if out:
            b["output_file_id"] = self._store("".join(json.dumps(o) + "\n" for o in out).encode(), "output.jsonl",
                                              "batch_output")["id"]
        if err:
            b["error_file_id"] = self._store("".join(json.dumps(o) + "\n" for o in err).encode(), "errors.jsonl",
                                             "batch_output")["id"]
        b["request_counts"] = {"total": len(lines), "completed": len(out), "failed": len(err)}
        b["usage"] = {**usage, "total_tokens": usage["input_tokens"] + usage["output_tokens"],
                      "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}}
        b["status"] = status
        b[f"{status}_at"] = now

    def _step(self, b: dict[str, Any]) -> None:
        """One state on: validation happens on leaving ``validating``; answers on reaching ``completed``."""
        s = b["status"]
        if s == "cancelling":
            self._finish(b, "cancelled", ran=0)
        elif s == "validating":
            errors = self._validate(b)
            if errors:
                b.update(status="failed", failed_at=int(time.time()), errors={"object": "list", "data": errors})
            else:
                b.update(status="in_progress", in_progress_at=int(time.time()))
        elif s == "in_progress" and not self.hold:
            b.update(status="finalizing", finalizing_at=int(time.time()))
        elif s == "finalizing":
            self._finish(b, "completed")

    def handle(self, method: str, path: str, headers: Any, raw: bytes) -> tuple[int, Any]:
        call = Call(method, path, None)
        self.requests.append(call)
        if headers.get("Authorization") != f"Bearer {self.api_key}":
            call.status = 401
            return 401, _error("Incorrect API key provided.", "invalid_api_key", "authentication_error")
        with self._lock:
            status, body = self._answer(call, headers, raw)
        call.status = status
        return status, body

    def _answer(self, call: Call, headers: Any, raw: bytes) -> tuple[int, Any]:
        method, parts = call.method, [p for p in call.path.split("/") if p][1:]  # drop "v1"
        if method == "POST" and parts == ["files"]:
            form = _multipart(headers.get("Content-Type", ""), raw)  # the fine-tuning fake's parser
            call.body = {k: v for k, v in form.items() if k != "bytes"}
            if form.get("purpose") != "batch":
                return 400, _error(f"purpose must be 'batch' for a batch input file, not {form.get('purpose')!r}", None,
                                   param="purpose")
            return 200, self._store(form["bytes"], form.get("filename") or "input.jsonl", "batch")
        if method == "GET" and len(parts) == 2 and parts[0] == "files":
            f = self.files.get(parts[1])
            return (200, f) if f else (404, _error(f"No such File object: {parts[1]}", None, param="id"))
        if method == "GET" and len(parts) == 3 and parts[0] == "files" and parts[2] == "content":
            data = self.contents.get(parts[1])
            return (200, data) if data is not None else (404, _error(f"No such File object: {parts[1]}", None, param="id"))
        if method == "POST" and parts == ["batches"]:
            body = json.loads(raw or b"{}")
            call.body = body
            return self._create(body)
        if method == "GET" and parts == ["batches"]:
            data = sorted(self.batches.values(), key=lambda b: -b["created_at"])
            return 200, {"object": "list", "data": data, "has_more": False,
                         "first_id": data[0]["id"] if data else None, "last_id": data[-1]["id"] if data else None}
        if method == "GET" and len(parts) == 2 and parts[0] == "batches":
            b = self.batches.get(parts[1])
            if b is None:
                return 404, _error(f"No batch found with id '{parts[1]}'.", None, param="batch_id")
            self._polls[b["id"]] = self._polls.get(b["id"], 0) + 1
            if self._polls[b["id"]] % self.polls_per_state == 0:
                self._step(b)
            return 200, b
        if method == "POST" and len(parts) == 3 and parts[0] == "batches" and parts[2] == "cancel":
            b = self.batches.get(parts[1])
            if b is None:
                return 404, _error(f"No batch found with id '{parts[1]}'.", None, param="batch_id")
            if b["status"] in ("validating", "in_progress", "finalizing"):
                b.update(status="cancelling", cancelling_at=int(time.time()))
            return 200, b
        return 404, _error(f"Invalid URL ({method} {call.path})", None)

    def _create(self, body: dict[str, Any]) -> tuple[int, Any]:
        for key in ("input_file_id", "endpoint", "completion_window"):
            if key not in body:
                return 400, _error(f"Missing required parameter: '{key}'.", "missing_required_parameter", param=key)
        if body["endpoint"] not in ENDPOINTS:
            return 400, _error(f"Invalid endpoint {body['endpoint']!r}.", "invalid_value", param="endpoint")
        if body["completion_window"] != "24h":
            return 400, _error("completion_window must be '24h'.", "invalid_value", param="completion_window")
        f = self.files.get(body["input_file_id"])
        if f is None or f["purpose"] != "batch":
            return 400, _error(f"File {body['input_file_id']!r} is not a batch input file.", "invalid_value",
                               param="input_file_id")
        now = int(time.time())
        b = {"id": _id("batch"), "object": "batch", "endpoint": body["endpoint"], "errors": None,
             "input_file_id": body["input_file_id"], "completion_window": "24h", "status": "validating",
             "output_file_id": None, "error_file_id": None, "created_at": now, "expires_at": now + 86400,
             "request_counts": {"total": 0, "completed": 0, "failed": 0}, "metadata": body.get("metadata")}
        self.batches[b["id"]] = b
        return 200, b


def _error(message: str, code: str | None, type_: str = "invalid_request_error", param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def _handler(api: FakeBatchAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _serve(self, method: str) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, body = api.handle(method, urlsplit(self.path).path, self.headers, raw)
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream" if isinstance(body, bytes) else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

    return Handler
