"""A local server that follows the OpenAI fine-tuning API's contract. Standard library only.

Routes (all under /v1, bearer key required)::

    POST /files (multipart: file, purpose)        GET /files/{id}   GET /files/{id}/content
    POST /fine_tuning/jobs                        GET /fine_tuning/jobs (after, limit, metadata[k]=v)
    GET  /fine_tuning/jobs/{id}                   GET /fine_tuning/jobs/{id}/events (after, limit; newest first)
    GET  /fine_tuning/jobs/{id}/checkpoints       POST /fine_tuning/jobs/{id}/cancel
    GET  /models                                  GET /models/{id} (with shutdown_date)

Jobs move along the API's transitions::

    validating_files -> queued -> running -> succeeded | failed      (any live state -> cancelled)

either when a test says so (``advance``, ``succeed``, ``fail``, ``cancel``), or by the ``script``:
every ``polls_per_state`` reads of a job (GET /fine_tuning/jobs/{id}) move it one state towards the
script's outcome, unless it is in the script's ``hold`` state (a job kept running until the test
calls ``release()``). ``--auto S`` in a shell moves every job one state each S seconds instead.

Job creation checks the ``method`` field as the API does (see ``finetune_rules``); a base model
past its ``shutdown_date`` (``models={"gpt-4o-mini-2024-07-18": "2027-01-14"}``) is refused with
400 ``model_not_available``, and with ``closed_since="2027-01-06"`` every job creation is refused
with a 403 ``fine_tuning_unavailable``, as the platform does once it takes no new jobs.
Moving to ``queued`` checks the training file the way the service does (one JSON object with
``messages`` a line; ``input``, ``preferred_output`` and ``non_preferred_output`` for dpo) and
fails the job with ``invalid_training_file`` when it is not. Success
writes a step-metrics CSV result file (step, train_loss, train_accuracy, valid_loss,
valid_mean_token_accuracy), checkpoints, and the model name ``ft:BASE:ORG:SUFFIX:ID``. Errors are
OpenAI-shaped (``{"error": {"message", "type", "param", "code"}}``); ``inject(429, retry_after=..)``
or ``fail_next(n)`` make the next matching requests fail, to exercise retries. Every request,
answered or refused, is recorded in ``requests`` with its status and time.

In-process (tests)::

    with FakeFineTuneAPI() as api:
        client = OpenAI(base_url=api.base_url, api_key=api.api_key)
        ...
        api.advance(job_id, "queued"); api.advance(job_id, "running"); api.succeed(job_id)

From a shell, jobs step forward on their own every ``--auto`` seconds and succeed::

    python -m tests.fakes.fake_finetune_api --port 8124 --auto 1
"""

from __future__ import annotations

import argparse
import csv
import email.parser
import email.policy
import io
import json
import math
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from . import finetune_rules as rules

__all__ = ["FakeFineTuneAPI", "Call", "Script"]

TRANSITIONS = {
    "validating_files": ("queued", "failed", "cancelled"),
    "queued": ("running", "failed", "cancelled"),
    "running": ("succeeded", "failed", "cancelled"),
}
TERMINAL = ("succeeded", "failed", "cancelled")
PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    body: Any  # parsed JSON, or {"purpose", "filename", "bytes"} for an upload
    status: int = 0  # the answer's HTTP status
    at: float = 0.0  # time.monotonic() when it arrived


@dataclass
class Script:
    """How jobs move on their own as they are polled."""

    polls_per_state: int | None = 1  # reads of a job before it moves one state; None: only when told
    outcome: Literal["succeeded", "failed", "cancelled"] = "succeeded"
    error_code: str = "server_error"  # the job's error when the outcome is failed
    error_message: str = "Fine-tuning failed due to an internal error. Please try again."
    error_param: str | None = None
    hold: str | None = None  # a status the job stays in until release()
    checkpoints: int = 3


@dataclass
class _Injected:
    status: int
    times: int
    method: str | None
    path: str | None
    retry_after: float | None
    message: str


class ApiError(Exception):
    def __init__(self, status: int, message: str, type_: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
        self.headers = headers or {}


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


class FakeFineTuneAPI:
    def __init__(self, api_key: str = "test-key", organization: str = "fake-org", auto_advance_s: float | None = None,
                 host: str = "127.0.0.1", port: int = 0, script: Script | None = None,
                 models: dict[str, str | None] | None = None, closed_since: str | None = None):
        self.api_key = api_key
        self.organization = organization  # the org's name, as it appears in fine-tuned model names
        self.organization_id = "org-" + organization
        self.script = script or Script(polls_per_state=None if auto_advance_s else 1)
        # base model id -> its announced shutdown date (YYYY-MM-DD) or None; fine-tunes inherit it
        self.models: dict[str, str | None] = dict.fromkeys(rules.FINE_TUNABLE) | (models or {})
        self.closed_since = closed_since  # refuse every new job, as the platform does from 2027-01-06
        self.files: dict[str, dict[str, Any]] = {}
        self.contents: dict[str, bytes] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.checkpoints: dict[str, list[dict[str, Any]]] = {}
        self.requests: list[Call] = []
        self.lock = threading.RLock()
        self._injected: list[_Injected] = []
        self._polls: dict[str, int] = {}
        self._clock = 0
        self.auto_advance_s = auto_advance_s
        self._stop = threading.Event()
        self._server = ThreadingHTTPServer((host, port), _handler(self))
        self._server.daemon_threads = True
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> FakeFineTuneAPI:
        t = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        t.start()
        self._threads.append(t)
        if self.auto_advance_s:
            a = threading.Thread(target=self._auto, daemon=True)
            a.start()
            self._threads.append(a)
        return self

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeFineTuneAPI:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ------------------------------------------------------------------ what a test drives

    def advance(self, job_id: str, status: str) -> dict[str, Any]:
        """Move a job to ``status``; ValueError on a transition the API never makes."""
        with self.lock:
            job = self.jobs[job_id]
            if status not in TRANSITIONS.get(job["status"], ()):
                raise ValueError(f"job {job_id}: {job['status']} -> {status} is not a transition of the fine-tuning API")
            if status == "succeeded":
                raise ValueError("use succeed(job_id) to finish a job: it writes the results")
            if status == "failed":
                raise ValueError("use fail(job_id, code, message) to fail a job")
            if status == "cancelled":
                return self._cancel(job)
            if status == "queued":
                kind = job["method"]["type"]
                bad = rules.bad_lines(self.contents[job["training_file"]].decode("utf-8", "replace"), kind)
                if bad:
                    what = ("preference examples with `input`, `preferred_output` and `non_preferred_output`"
                            if kind == "dpo" else "chat examples with a `messages` list")
                    return self.fail(job_id, "invalid_training_file",
                                     f"The job failed due to an invalid training file. {len(bad)} line(s) are not "
                                     f"{what} (first: line {bad[0]}).", param="training_file")
                job["method"][kind]["hyperparameters"] = rules.resolve(job["method"][kind]["hyperparameters"])
                job["hyperparameters"] = {k: v for k, v in job["method"][kind]["hyperparameters"].items() if k != "beta"}
                self.add_event(job_id, "Files validated, moving job to queued state")
            if status == "running":
                self.add_event(job_id, "Fine-tuning job started")
                job["estimated_finish"] = int(time.time()) + 600
            job["status"] = status
            return dict(job)

    def add_event(self, job_id: str, message: str, level: str = "info", type_: str = "message",
                  data: dict[str, Any] | None = None) -> dict[str, Any]:
        with self.lock:
            self._clock += 1
            ev = {"id": _id("ftevent"), "object": "fine_tuning.job.event", "created_at": int(time.time()), "level": level,
                  "message": message, "data": data or {}, "type": type_, "_seq": self._clock}
            self.events[job_id].append(ev)
            return ev

    def step_metrics(self, job_id: str) -> list[dict[str, Any]]:
        """Made-up but plausible step metrics: loss falling with the epochs, validation every few steps."""
        with self.lock:
            job = self.jobs[job_id]
            hp = job["hyperparameters"]
            n = max(1, sum(1 for line in self.contents[job["training_file"]].splitlines() if line.strip()))
            steps = math.ceil(n / hp["batch_size"]) * hp["n_epochs"]
            rows = []
            for s in range(1, steps + 1):
                loss = round(2.0 * math.exp(-3.0 * s / steps) + 0.1, 4)
                valid = round(loss + 0.05, 4) if job["validation_file"] and (s % 2 == 0 or s == steps) else None
                rows.append({"step": s, "train_loss": loss, "train_accuracy": round(1 - loss / 2.2, 4),
                             "valid_loss": valid, "valid_mean_token_accuracy": None if valid is None else round(1 - valid / 2.2, 4)})
            return rows

    def succeed(self, job_id: str, metrics: list[dict[str, Any]] | None = None, checkpoints: int | None = None) -> dict[str, Any]:
        """Finish a running job: result file (step metrics CSV), checkpoints, events, model name."""
        with self.lock:
            checkpoints = self.script.checkpoints if checkpoints is None else checkpoints
            job = self.jobs[job_id]
            if job["status"] != "running":
                raise ValueError(f"job {job_id}: {job['status']} -> succeeded is not a transition of the fine-tuning API")
            rows = metrics if metrics is not None else self.step_metrics(job_id)
            for r in rows:
                self.add_event(job_id, f"Step {r['step']}/{len(rows)}: training loss={r['train_loss']}", type_="metrics",
                               data={"step": r["step"], "train_loss": r["train_loss"], "total_steps": len(rows)})
            short = job["id"].split("-", 1)[1][:8]
            name = f"ft:{job['model']}:{self.organization}:{job['user_provided_suffix'] or ''}:{short}"
            buf = io.StringIO()
            w = csv.DictWriter(buf, fieldnames=["step", "train_loss", "train_accuracy", "valid_loss", "valid_mean_token_accuracy"])
            w.writeheader()
            for r in rows:
                w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in w.fieldnames})
            result = self._store_file(buf.getvalue().encode(), "step_metrics.csv", "fine-tune-results", made=True)
            per_epoch = max(1, len(rows) // job["hyperparameters"]["n_epochs"])
            marks = [s for s in range(per_epoch, len(rows) + 1, per_epoch)][-checkpoints:] if checkpoints else []
            for s in marks:
                r = rows[s - 1]
                self.checkpoints[job_id].append({
                    "id": _id("ftckpt"), "object": "fine_tuning.job.checkpoint", "created_at": int(time.time()),
                    "fine_tuned_model_checkpoint": f"{name}:ckpt-step-{s}" if s != len(rows) else name,
                    "fine_tuning_job_id": job_id, "step_number": s,
                    "metrics": {"step": float(s), "train_loss": r["train_loss"], "train_mean_token_accuracy": r.get("train_accuracy"),
                                "valid_loss": r.get("valid_loss"), "valid_mean_token_accuracy": r.get("valid_mean_token_accuracy"),
                                "full_valid_loss": r.get("valid_loss"), "full_valid_mean_token_accuracy": r.get("valid_mean_token_accuracy")}})
            self.add_event(job_id, f"New fine-tuned model created: {name}")
            self.add_event(job_id, "The job has successfully completed")
            job.update(status="succeeded", fine_tuned_model=name, finished_at=int(time.time()), result_files=[result["id"]],
                       trained_tokens=sum(len(line) // 4 for line in self.contents[job["training_file"]].splitlines())
                       * job["hyperparameters"]["n_epochs"], estimated_finish=None)
            return dict(job)

    def fail(self, job_id: str, code: str, message: str, param: str | None = None) -> dict[str, Any]:
        with self.lock:
            job = self.jobs[job_id]
            if "failed" not in TRANSITIONS.get(job["status"], ()):
                raise ValueError(f"job {job_id}: {job['status']} -> failed is not a transition of the fine-tuning API")
            job.update(status="failed", error={"code": code, "message": message, "param": param}, finished_at=int(time.time()),
                       estimated_finish=None)
            self.add_event(job_id, message, level="error")
            return dict(job)

    def fail_next(self, n: int) -> None:
        """The next ``n`` requests answer 500 with an OpenAI-shaped server error."""
        self.inject(500, times=n)

    def inject(self, status: int, times: int = 1, method: str | None = None, path: str | None = None,
               retry_after: float | None = None, message: str | None = None) -> None:
        """The next ``times`` requests matching ``method`` and the ``path`` prefix (e.g. /v1/fine_tuning/jobs)
        answer ``status``; 429 carries a Retry-After header of ``retry_after`` seconds."""
        default = {429: "Rate limit reached for requests. Please try again later.",
                   500: "The server had an error while processing your request. Sorry about that!"}
        with self.lock:
            self._injected.append(_Injected(status, times, method, path, retry_after,
                                            message or default.get(status, f"error {status}")))

    def release(self) -> None:
        """Let jobs held by the script move on."""
        with self.lock:
            self.script.hold = None

    def cancel(self, job_id: str) -> dict[str, Any]:
        """Cancel a job as a user would from the dashboard."""
        with self.lock:
            return self._cancel(self.jobs[job_id])

    def uploads(self, purpose: str = "fine-tune") -> list[dict[str, Any]]:
        """Files uploaded through POST /files (result files the server made are not uploads)."""
        with self.lock:
            return [f for f in self.files.values() if f["purpose"] == purpose and not f.get("_made")]

    def calls(self, method: str, path_prefix: str) -> list[Call]:
        with self.lock:
            return [c for c in self.requests if c.method == method and c.path.startswith(path_prefix)]

    def wait_for(self, predicate: Any, timeout: float = 10.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                if predicate():
                    return
            time.sleep(0.01)
        raise TimeoutError("condition not reached in time")

    # ------------------------------------------------------------------ internals

    def _step(self, job_id: str) -> None:
        """Move a job one state towards the script's outcome."""
        job, sc = self.jobs[job_id], self.script
        nxt = {"validating_files": "queued", "queued": "running"}.get(job["status"])
        if nxt:
            self.advance(job_id, nxt)
        elif job["status"] == "running":
            if sc.outcome == "succeeded":
                self.succeed(job_id)
            elif sc.outcome == "failed":
                self.fail(job_id, sc.error_code, sc.error_message, sc.error_param)
            else:
                self._cancel(job)

    def _on_poll(self, job_id: str) -> None:
        sc, job = self.script, self.jobs[job_id]
        if sc.polls_per_state is None or job["status"] in TERMINAL or job["status"] == sc.hold:
            return
        self._polls[job_id] = self._polls.get(job_id, 0) + 1
        if self._polls[job_id] >= sc.polls_per_state:
            self._polls[job_id] = 0
            self._step(job_id)

    def _auto(self) -> None:
        while not self._stop.wait(self.auto_advance_s):
            with self.lock:
                for jid, job in list(self.jobs.items()):
                    if job["status"] not in TERMINAL and job["status"] != self.script.hold:
                        self._step(jid)

    def _store_file(self, data: bytes, filename: str, purpose: str, made: bool = False) -> dict[str, Any]:
        fid = _id("file")
        obj = {"id": fid, "object": "file", "bytes": len(data), "created_at": int(time.time()), "filename": filename,
               "purpose": purpose, "status": "processed", "status_details": None, "expires_at": None}
        if made:
            obj["_made"] = True
        self.files[fid] = obj
        self.contents[fid] = data
        return obj

    def _cancel(self, job: dict[str, Any]) -> dict[str, Any]:
        if job["status"] in TERMINAL:
            raise ApiError(400, f"Job {job['id']} has already {'completed' if job['status'] == 'succeeded' else job['status']} "
                                "and cannot be cancelled.", param="fine_tuning_job_id", code="invalid_state")
        job.update(status="cancelled", finished_at=int(time.time()), estimated_finish=None)
        self.add_event(job["id"], "Fine-tuning job cancelled")
        return dict(job)

    def _job(self, job_id: str) -> dict[str, Any]:
        if job_id not in self.jobs:
            raise ApiError(404, f"Could not find fine-tuning job {job_id}.", param="fine_tuning_job_id", code="fine_tune_not_found")
        return self.jobs[job_id]

    def _training_file(self, body: dict[str, Any], key: str) -> str | None:
        fid = body.get(key)
        if fid is None:
            if key == "training_file":
                raise ApiError(400, "Missing required parameter: 'training_file'.", param=key, code="missing_required_parameter")
            return None
        if fid not in self.files:
            raise ApiError(400, f"invalid {key}: {fid}", param=key, code="invalid_file")
        if self.files[fid]["purpose"] != "fine-tune":
            raise ApiError(400, f"File {fid} has purpose {self.files[fid]['purpose']!r}; fine-tuning needs purpose 'fine-tune'.",
                           param=key, code="invalid_file_purpose")
        return fid

    def _model(self, model_id: str) -> dict[str, Any]:
        """The /v1/models entry of a base model or a fine-tune (which shares its base's shutdown date)."""
        base = model_id.split(":")[1] if model_id.startswith("ft:") else model_id
        known = base in self.models and (base == model_id or any(j["fine_tuned_model"] == model_id for j in self.jobs.values()))
        if not known:
            raise ApiError(404, f"The model '{model_id}' does not exist or you do not have access to it.",
                           code="model_not_found")
        return rules.model_object(model_id, self.models[base], self.organization_id if base != model_id else "system")

    def _create_job(self, body: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(body, dict) or not body.get("model"):
            raise ApiError(400, "Missing required parameter: 'model'.", param="model", code="missing_required_parameter")
        if self.closed_since:
            raise ApiError(rules.CLOSED_STATUS, rules.closed_message(self.closed_since), code=rules.CLOSED_CODE)
        shutdown = self.models.get(body["model"])
        if rules.is_shut_down(shutdown):
            raise ApiError(400, f"The model '{body['model']}' was shut down on {shutdown} and cannot be fine-tuned.",
                           param="model", code="model_not_available")
        training = self._training_file(body, "training_file")
        validation = self._training_file(body, "validation_file")
        suffix = body.get("suffix")
        if suffix is not None and (not isinstance(suffix, str) or len(suffix) > 64):
            raise ApiError(400, "suffix must be a string of at most 64 characters", param="suffix", code="invalid_value")
        try:
            kind, hp = rules.method_and_hyperparameters(body)
        except rules.RuleError as e:
            raise ApiError(e.status, e.message, param=e.param, code=e.code) from None
        jid = _id("ftjob")
        job = {"id": jid, "object": "fine_tuning.job", "created_at": int(time.time()), "error": None, "fine_tuned_model": None,
               "finished_at": None, "hyperparameters": hp, "model": body["model"], "organization_id": self.organization_id,
               "result_files": [], "seed": body.get("seed") if body.get("seed") is not None else 42, "status": "validating_files",
               "trained_tokens": None, "training_file": training, "validation_file": validation, "integrations": [],
               "metadata": body.get("metadata"), "user_provided_suffix": suffix, "estimated_finish": None,
               "method": {"type": kind, kind: {"hyperparameters": dict(hp)}}}
        job["hyperparameters"] = {k: v for k, v in hp.items() if k != "beta"}  # the deprecated mirror
        self.jobs[jid] = job
        self.events[jid] = []
        self.checkpoints[jid] = []
        self.add_event(jid, f"Validating training file: {training}" + (f" and validation file: {validation}" if validation else ""))
        self.add_event(jid, f"Created fine-tuning job: {jid}")
        return dict(job)

    @staticmethod
    def _page(items: list[dict[str, Any]], query: dict[str, str]) -> dict[str, Any]:
        after = query.get("after")
        if after:
            ids = [x["id"] for x in items]
            items = items[ids.index(after) + 1 :] if after in ids else []
        try:
            limit = int(query.get("limit", 20))
        except ValueError:
            raise ApiError(400, f"Invalid value for 'limit': {query['limit']!r}; expected an integer.", param="limit") from None
        if not 1 <= limit <= 100:
            raise ApiError(400, f"Invalid value for 'limit': {limit}; expected 1 to 100.", param="limit", code="invalid_value")
        data = [{k: v for k, v in x.items() if not k.startswith("_")} for x in items[:limit]]
        return {"object": "list", "data": data, "has_more": len(items) > limit}

    def handle(self, method: str, path: str, query: dict[str, str], headers: Any, raw: bytes) -> tuple[int, Any]:
        """(status, JSON body or bytes) for one request."""
        call = Call(method, path, query, None, at=time.monotonic())
        self.requests.append(call)
        try:
            status, out = self._answer(call, headers, raw)
        except ApiError as e:
            call.status = e.status
            raise
        call.status = status
        return status, out

    def _answer(self, call: Call, headers: Any, raw: bytes) -> tuple[int, Any]:
        method, path, query = call.method, call.path, call.query
        if headers.get("Authorization") != f"Bearer {self.api_key}":
            raise ApiError(401, "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
                           code="invalid_api_key")
        for inj in self._injected:
            if inj.times > 0 and inj.method in (None, method) and (inj.path is None or path.startswith(inj.path)):
                inj.times -= 1
                kind = {429: ("rate_limit_exceeded", "requests"), 500: (None, "server_error")}.get(inj.status, (None, "invalid_request_error"))
                hdrs = {"Retry-After": f"{inj.retry_after:g}"} if inj.retry_after is not None else {}
                raise ApiError(inj.status, inj.message, type_=kind[1], code=kind[0], headers=hdrs)
        parts = [p for p in path.split("/") if p][1:]  # drop "v1"
        body: Any = None
        if method == "POST" and parts == ["files"]:
            body = _multipart(headers.get("Content-Type", ""), raw)
        elif raw:
            try:
                body = json.loads(raw)
            except ValueError:
                raise ApiError(400, "We could not parse the JSON body of your request.") from None
        call.body = body
        match method, parts:
            case "POST", ["files"]:
                if body.get("purpose") not in PURPOSES:
                    raise ApiError(400, f"Invalid value for 'purpose': {body.get('purpose')!r}.", param="purpose", code="invalid_value")
                if body.get("bytes") is None:
                    raise ApiError(400, "Missing required parameter: 'file'.", param="file", code="missing_required_parameter")
                return 200, _public(self._store_file(body["bytes"], body.get("filename") or "upload", body["purpose"]))
            case "GET", ["files", fid] | ["files", fid, "content"]:
                if fid not in self.files:
                    raise ApiError(404, f"No such File object: {fid}", param="id")
                return 200, (self.contents[fid] if parts[-1] == "content" else _public(self.files[fid]))
            case "POST", ["fine_tuning", "jobs"]:
                return 200, self._create_job(body)
            case "GET", ["fine_tuning", "jobs"]:
                want = {k[len("metadata["):-1]: v for k, v in query.items() if k.startswith("metadata[")}
                jobs = [j for j in reversed(list(self.jobs.values())) if all((j.get("metadata") or {}).get(k) == v for k, v in want.items())]
                return 200, self._page(jobs, query)
            case "GET", ["fine_tuning", "jobs", jid]:
                self._job(jid)
                self._on_poll(jid)
                return 200, self._job(jid)
            case "GET", ["fine_tuning", "jobs", jid, "events"]:
                self._job(jid)
                return 200, self._page(sorted(self.events[jid], key=lambda e: -e["_seq"]), query)
            case "GET", ["fine_tuning", "jobs", jid, "checkpoints"]:
                self._job(jid)
                return 200, self._page(sorted(self.checkpoints[jid], key=lambda c: -c["step_number"]), query)
            case "GET", ["models"]:
                ids = list(self.models) + [j["fine_tuned_model"] for j in self.jobs.values() if j["fine_tuned_model"]]
                return 200, {"object": "list", "data": [self._model(m) for m in ids]}
            case "GET", ["models", model_id]:
                return 200, self._model(unquote(model_id))
            case "POST", ["fine_tuning", "jobs", jid, "cancel"]:
                return 200, self._cancel(self._job(jid))
        raise ApiError(404, f"Invalid URL ({method} {path})")


def _public(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if not k.startswith("_")}


def _multipart(content_type: str, raw: bytes) -> dict[str, Any]:
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


def _handler(api: FakeFineTuneAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _serve(self, method: str) -> None:
            url = urlsplit(self.path)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            extra: dict[str, str] = {}
            try:
                with api.lock:
                    status, body = api.handle(method, url.path, dict(parse_qsl(url.query)), self.headers, raw)
            except ApiError as e:
                status, body, extra = e.status, e.body, e.headers
            except Exception as e:  # a bug in the fake: say so in the answer rather than drop the connection
                status, body = 500, ApiError(500, f"fake fine-tuning API crashed: {e!r}", type_="server_error").body
                extra = {"x-should-retry": "false"}
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream" if isinstance(body, bytes) else "application/json")
            for k, v in extra.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

    return Handler


def main() -> None:
    p = argparse.ArgumentParser(description="A local server following the OpenAI fine-tuning API (files, jobs, events, checkpoints).")
    p.add_argument("--port", type=int, default=8124)
    p.add_argument("--api-key", default="test-key")
    p.add_argument("--auto", type=float, default=1.0, metavar="S", help="advance every job one state every S seconds")
    a = p.parse_args()
    api = FakeFineTuneAPI(api_key=a.api_key, auto_advance_s=a.auto, port=a.port).start()
    print(f"fake fine-tuning API on {api.base_url} (api key {a.api_key!r}); Ctrl-C stops it", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        api.stop()


if __name__ == "__main__":
    main()
