"""A local server that follows the OpenAI Batch API's contract, on the fakes' one server core
(``server.FakeServer``).

Routes (all under /v1, bearer key required)::

    POST /files (multipart: file, purpose)   GET /files/{id}   GET /files/{id}/content
    POST /batches                            GET /batches/{id}   GET /batches   POST /batches/{id}/cancel

A batch moves along the service's states::

    validating -> in_progress -> finalizing -> completed
    validating -> failed                       (the input file breaks a rule: errors.data names the line)
    in_progress -> expired                     (``expire(id, after=k)``: k lines ran, the rest did not)
    validating | in_progress -> cancelling -> cancelled

A batch creation is checked against the openai SDK's own ``BatchCreateParams`` (``contract``), an
upload against its ``FileCreateParams`` fields. Every ``polls_per_state`` reads of a batch (GET /batches/{id}) move it one state on, unless the test
holds it (``hold=True``, then ``release()``). Validation follows the documented rules: each line a
JSON object with ``custom_id`` (unique in the file), ``method: POST``, ``url`` equal to the batch's
endpoint and a ``body`` with one ``model`` for the whole file; at most 50,000 lines and 200 MB.
Lines are answered by ``responder(body) -> chat.completion dict`` (and the output file's JSON lines
passed through ``mangle(lines) -> lines`` when a test gives one: a service that writes a broken file); a responder that raises
:class:`LineError` puts that line in the error file with its status and an OpenAI-shaped error body,
as the service does for a request that fails inside a batch. Output and error files are JSONL of
``{"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error"}``.

    with FakeBatchAPI() as api:
        client = OpenAI(base_url=api.base_url, api_key=api.api_key)
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from openai.types.batch_create_params import BatchCreateParams

from . import contract
from .server import ApiError, Call, FakeServer, FileStore

__all__ = ["FakeBatchAPI", "LineError", "echo_responder"]

MAX_LINES = 50_000
MAX_BYTES = 200 * 1024 * 1024
ENDPOINTS = contract.literals(contract.field_type(BatchCreateParams, "endpoint"))  # the SDK's list
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


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


class FakeBatchAPI(FakeServer):
    def __init__(self, api_key: str = "test-key", responder: Callable[[dict[str, Any]], dict[str, Any]] = echo_responder,
                 polls_per_state: int = 1, hold: bool = False, max_lines: int = MAX_LINES, max_bytes: int = MAX_BYTES,
                 mangle: Callable[[list[str]], list[str]] | None = None):
        super().__init__(api_key=api_key)
        self.responder = responder
        self.mangle = mangle  # a test's edit of the output file's lines (a broken or hostile service)
        self.polls_per_state = polls_per_state
        self.hold = hold
        self.max_lines, self.max_bytes = max_lines, max_bytes
        self.file_store = FileStore(self, accept=("batch",))
        self.files, self.contents = self.file_store.files, self.file_store.contents
        self.batches: dict[str, dict[str, Any]] = {}
        self._polls: dict[str, int] = {}
        self._lock = self.lock
        self.route("POST", "/batches", lambda call: self._create(call.body))
        self.route("GET", "/batches", self._list)
        self.route("GET", "/batches/{bid}", self._retrieve)
        self.route("POST", "/batches/{bid}/cancel", self._cancel)

    def __enter__(self) -> FakeBatchAPI:
        return self.start()

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

    # ------------------------------------------------------------ the service

    def _store(self, data: bytes, filename: str, purpose: str) -> dict[str, Any]:
        return self.file_store.store(data, filename, purpose, made=True)

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
            text = [json.dumps(o) for o in out]
            if self.mangle is not None:
                text = self.mangle(text)
            b["output_file_id"] = self._store("".join(t + "\n" for t in text).encode(), "output.jsonl",
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

    def _list(self, call: Call) -> dict[str, Any]:
        data = sorted(self.batches.values(), key=lambda b: -b["created_at"])
        return {"object": "list", "data": data, "has_more": False,
                "first_id": data[0]["id"] if data else None, "last_id": data[-1]["id"] if data else None}

    def _batch(self, bid: str) -> dict[str, Any]:
        if bid not in self.batches:
            raise ApiError(404, f"No batch found with id '{bid}'.", param="batch_id")
        return self.batches[bid]

    def _retrieve(self, call: Call, bid: str) -> dict[str, Any]:
        b = self._batch(bid)
        self._polls[bid] = self._polls.get(bid, 0) + 1
        if self._polls[bid] % self.polls_per_state == 0:
            self._step(b)
        return b

    def _cancel(self, call: Call, bid: str) -> dict[str, Any]:
        b = self._batch(bid)
        if b["status"] in ("validating", "in_progress", "finalizing"):
            b.update(status="cancelling", cancelling_at=int(time.time()))
        return b

    def _create(self, body: Any) -> dict[str, Any]:
        body = contract.check(BatchCreateParams, body)  # the SDK's BatchCreateParams: names, endpoint, window
        f = self.files.get(body["input_file_id"])
        if f is None or f["purpose"] != "batch":
            raise ApiError(400, f"File {body['input_file_id']!r} is not a batch input file.", code="invalid_value",
                           param="input_file_id")
        now = int(time.time())
        b = {"id": _id("batch"), "object": "batch", "endpoint": body["endpoint"], "errors": None,
             "input_file_id": body["input_file_id"], "completion_window": "24h", "status": "validating",
             "output_file_id": None, "error_file_id": None, "created_at": now, "expires_at": now + 86400,
             "request_counts": {"total": 0, "completed": 0, "failed": 0}, "metadata": body.get("metadata")}
        self.batches[b["id"]] = b
        return b

