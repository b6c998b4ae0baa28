"""The fake OpenAI-compatible server core: the fakes of the chat, Batch and fine-tuning APIs are routes
plugged into one :class:`FakeServer`, served by the harness's own loopback HTTP server
(:class:`harness.serve.server.LoopbackServer`), so there is one HTTP stack and one router.

The core records every request (:class:`Call`), checks the bearer key when one is set, answers
``inject``-ed failures, parses JSON and multipart bodies, and turns :class:`ApiError` into an
OpenAI-shaped error (``{"error": {"message", "type", "param", "code"}}``). A route is
``route(method, "/fine_tuning/jobs/{job}")`` (matched with or without the ``/v1`` prefix); its function
gets the :class:`Call` and the path's parameters and returns a JSON-able object (200), ``bytes``
(a file's content), an :class:`HttpResponse`, or ``None`` (close the connection unanswered).
Routes run holding ``lock`` unless registered with ``locked=False``.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.serve.server import HttpRequest, HttpResponse, LoopbackServer

__all__ = ["ApiError", "Call", "FakeServer", "HttpResponse", "error_body"]

ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error", 404: "not_found_error",
               429: "rate_limit_exceeded"}


def error_body(message: str, type_: str = "invalid_request_error", param: str | None = None,
               code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


class ApiError(Exception):
    """An OpenAI-shaped error answer."""

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.body = error_body(message, type_, param, code)
        self.headers = headers or {}


@dataclass
class Call:
    """One request as a fake saw it, and what it answered."""

    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: Any  # parsed JSON; the raw text when not JSON; None when empty; an upload's form fields (and "bytes")
    t: float  # time.monotonic() when the request head arrived
    query: dict[str, str] = field(default_factory=dict)
    fault: dict[str, Any] | None = None  # the scripted fault applied to it (the chat fake)
    status: int | None = None  # what it answered (None: dropped or still in progress)
    t_done: float | None = None

    @property
    def at(self) -> float:
        return self.t


@dataclass
class _Injected:
    status: int
    times: int
    method: str | None
    path: str | None
    retry_after: float | None
    message: str


@dataclass(frozen=True)
class _Route:
    method: str
    parts: tuple[str, ...]
    fn: Callable[..., Any]
    locked: bool
    body: str  # "json" (a JSON body, 400 when not), "text" (JSON if it parses), "multipart"

    def match(self, method: str, parts: list[str]) -> dict[str, str] | None:
        if method != self.method or len(parts) != len(self.parts):
            return None
        params = {}
        for want, got in zip(self.parts, parts, strict=True):
            if want.startswith("{"):
                params[want[1:-1]] = got
            elif want != got:
                return None
        return params


class FakeServer:
    """The routes of one fake API on a loopback port; ``start()`` serves them from a background thread."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, api_key: str | None = None, record: bool = True):
        self.api_key = api_key
        self.record = record
        self.requests: list[Call] = []
        self.lock = threading.RLock()
        self._routes: list[_Route] = []
        self._injected: list[_Injected] = []
        self._http = LoopbackServer(self._serve, port=port, host=host)

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return self._http.host

    @property
    def port(self) -> int:
        return self._http.port

    @property
    def url(self) -> str:
        return self._http.url

    base_url = url

    def start(self) -> FakeServer:
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

    def serve_forever(self) -> None:
        self._http.serve_forever()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what a fake and its tests use --------------------------------------------------------

    def route(self, method: str, pattern: str, fn: Callable[..., Any], *, locked: bool = True, body: str = "json") -> None:
        self._routes.append(_Route(method, tuple(p for p in pattern.split("/") if p), fn, locked, body))

    def inject(self, status: int, times: int = 1, method: str | None = None, path: str | None = None,
               retry_after: float | None = None, message: str | None = None) -> None:
        """The next ``times`` requests matching ``method`` and the ``path`` prefix (e.g. /v1/fine_tuning/jobs)
        answer ``status``; 429 carries a Retry-After header of ``retry_after`` seconds."""
        default = {429: "Rate limit reached for requests. Please try again later.",
                   500: "The server had an error while processing your request. Sorry about that!"}
        with self.lock:
            self._injected.append(_Injected(status, times, method, path, retry_after,
                                            message or default.get(status, f"error {status}")))

    def fail_next(self, n: int) -> None:
        """The next ``n`` requests answer 500 with an OpenAI-shaped server error."""
        self.inject(500, times=n)

    def calls(self, method: str, path_prefix: str) -> list[Call]:
        with self.lock:
            return [c for c in self.requests if c.method == method and c.path.startswith(path_prefix)]

    # -- the core -----------------------------------------------------------------------------

    def _serve(self, req: HttpRequest) -> HttpResponse | None:
        call = Call(req.method, req.path, req.headers, None, req.t, query=req.query)
        if self.record:
            with self.lock:
                self.requests.append(call)
        try:
            out = self._answer(call, req)
        except ApiError as e:
            out = HttpResponse.json(e.status, e.body, e.headers)
        except Exception as e:  # a bug in the fake: say so in the answer rather than drop the connection
            out = HttpResponse.json(500, error_body(f"fake server crashed: {e!r}", "server_error"), {"x-should-retry": "false"})
        if out is not None:
            call.status = out.status
        call.t_done = time.monotonic()
        return out

    def _answer(self, call: Call, req: HttpRequest) -> HttpResponse | None:
        if self.api_key is not None and req.headers.get("authorization") != f"Bearer {self.api_key}":
            raise ApiError(401, "Incorrect API key provided. You can find your API key at "
                                "https://platform.openai.com/account/api-keys.", code="invalid_api_key")
        with self.lock:
            for inj in self._injected:
                if inj.times > 0 and inj.method in (None, req.method) and (inj.path is None or req.path.startswith(inj.path)):
                    inj.times -= 1
                    code, kind = {429: ("rate_limit_exceeded", "requests"), 500: (None, "server_error")}.get(
                        inj.status, (None, "invalid_request_error"))
                    hdrs = {"Retry-After": f"{inj.retry_after:g}"} if inj.retry_after is not None else {}
                    raise ApiError(inj.status, inj.message, type_=kind, code=code, headers=hdrs)
        parts = [p for p in req.path.split("/") if p]
        if parts[:1] == ["v1"]:
            parts = parts[1:]
        allowed = False
        for r in self._routes:
            params = r.match(req.method, parts)
            if params is None:
                allowed = allowed or r.match(r.method, parts) is not None
                continue
            call.body = _parse(r.body, req)
            if r.locked:
                with self.lock:
                    return _response(r.fn(call, **params))
            return _response(r.fn(call, **params))
        if allowed:
            raise ApiError(405, f"Method {req.method} is not allowed for {req.path}")
        raise ApiError(404, f"Invalid URL ({req.method} {req.path})", type_="not_found_error")


def _response(out: Any) -> HttpResponse | None:
    if out is None or isinstance(out, HttpResponse):
        return out
    if isinstance(out, bytes):
        return HttpResponse(200, out, content_type="application/octet-stream")
    return HttpResponse.json(200, out)


def _parse(kind: str, req: HttpRequest) -> Any:
    if kind == "multipart":
        return multipart(req.headers.get("content-type", ""), req.body)
    if not req.body:
        return None
    try:
        return json.loads(req.body)
    except ValueError:
        if kind == "json":
            raise ApiError(400, "We could not parse the JSON body of your request.") from None
        return req.body.decode("utf-8", "replace")


def multipart(content_type: str, raw: bytes) -> dict[str, Any]:
    """A multipart/form-data upload's fields; the file part as ``filename`` and ``bytes``."""
    if not content_type.startswith("multipart/form-data"):
        raise ApiError(400, "Uploads must be multipart/form-data.")
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
    out: dict[str, Any] = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name == "file":
            out["filename"] = part.get_filename()
            out["bytes"] = part.get_payload(decode=True)
        elif name:
            out[name] = part.get_payload(decode=True).decode()
    return out


class FileStore:
    """The Files API of a fake (``POST /files``, ``GET /files/{id}``, ``GET /files/{id}/content``): an
    upload is checked against the SDK's ``FileCreateParams``; ``accept`` narrows the purposes a fake takes."""

    def __init__(self, server: FakeServer, accept: tuple[str, ...] | None = None):
        from openai.types.file_create_params import FileCreateParams

        from . import contract

        self._params = FileCreateParams
        self._purposes = contract.literals(contract.field_type(FileCreateParams, "purpose"))
        self._fields = contract.keys(FileCreateParams)
        self.accept = accept
        self.files: dict[str, dict[str, Any]] = {}
        self.contents: dict[str, bytes] = {}
        server.route("POST", "/files", self._upload, body="multipart")
        server.route("GET", "/files/{fid}", lambda call, fid: _public(self._get(fid)))
        server.route("GET", "/files/{fid}/content", lambda call, fid: (self._get(fid), self.contents[fid])[1])

    def store(self, data: bytes, filename: str, purpose: str, made: bool = False) -> dict[str, Any]:
        """Keep a file (``made``: written by the service, e.g. a result file, not uploaded)."""
        import uuid

        fid = f"file-{uuid.uuid4().hex[:24]}"
        obj = {"id": fid, "object": "file", "bytes": len(data), "created_at": int(time.time()), "filename": filename,
               "purpose": purpose, "status": "processed", "status_details": None, "expires_at": None}
        if made:
            obj["_made"] = True
        self.files[fid] = obj
        self.contents[fid] = data
        return obj

    def _get(self, fid: str) -> dict[str, Any]:
        if fid not in self.files:
            raise ApiError(404, f"No such File object: {fid}", param="id")
        return self.files[fid]

    def _upload(self, call: Call) -> dict[str, Any]:
        form = call.body
        # the form's fields as the SDK's FileCreateParams names them (expires_after[anchor] -> expires_after)
        for name in form:
            top = name.split("[", 1)[0]
            if name not in ("filename", "bytes") and top not in self._fields:
                raise ApiError(400, f"Unrecognized request argument supplied: '{name}'.", param=name, code="unknown_parameter")
        if form.get("bytes") is None:
            raise ApiError(400, "Missing required parameter: 'file'.", param="file", code="missing_required_parameter")
        purpose = form.get("purpose")
        if purpose is None:
            raise ApiError(400, "Missing required parameter: 'purpose'.", param="purpose", code="missing_required_parameter")
        if purpose not in self._purposes:
            raise ApiError(400, f"Invalid value for 'purpose': {purpose!r}.", param="purpose", code="invalid_value")
        if self.accept is not None and purpose not in self.accept:
            raise ApiError(400, f"purpose must be {' or '.join(map(repr, self.accept))} for this server, not {purpose!r}",
                           param="purpose", code="invalid_value")
        return _public(self.store(form["bytes"], form.get("filename") or "upload", purpose))


def _public(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if not k.startswith("_")}
