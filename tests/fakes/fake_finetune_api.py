"""A local server that follows the OpenAI fine-tuning API's contract, on the fakes' one server core
(``server.FakeServer``).

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

Job creation checks the body against the openai SDK's own ``JobCreateParams`` (``contract``), then
what the service checks besides (``finetune_rules``: ranges, one method's settings); a base model
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
import io
import math
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote

from . import contract
from . import finetune_rules as rules
from .server import ApiError, Call, FakeServer, FileStore

__all__ = ["FakeFineTuneAPI", "Call", "Script"]

TRANSITIONS = {
    "validating_files": ("queued", "failed", "cancelled"),
    "queued": ("running", "failed", "cancelled"),
    "running": ("succeeded", "failed", "cancelled"),
}
TERMINAL = ("succeeded", "failed", "cancelled")


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


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


class FakeFineTuneAPI(FakeServer):
    def __init__(self, api_key: str = "test-key", organization: str = "fake-org", auto_advance_s: float | None = None,
                 host: str = "127.0.0.1", port: int = 0, script: Script | None = None,
                 models: dict[str, str | None] | None = None, closed_since: str | None = None):
        super().__init__(host=host, port=port, api_key=api_key)
        self.organization = organization  # the org's name, as it appears in fine-tuned model names
        self.organization_id = "org-" + organization
        self.script = script or Script(polls_per_state=None if auto_advance_s else 1)
        # base model id -> its announced shutdown date (YYYY-MM-DD) or None; fine-tunes inherit it
        self.models: dict[str, str | None] = dict.fromkeys(rules.FINE_TUNABLE) | (models or {})
        self.closed_since = closed_since  # refuse every new job, as the platform does from 2027-01-06
        self.file_store = FileStore(self)
        self.files, self.contents = self.file_store.files, self.file_store.contents
        self.jobs: dict[str, dict[str, Any]] = {}
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.checkpoints: dict[str, list[dict[str, Any]]] = {}
        self._polls: dict[str, int] = {}
        self._clock = 0
        self.auto_advance_s = auto_advance_s
        self._stop = threading.Event()
        self.route("POST", "/fine_tuning/jobs", lambda call: self._create_job(call.body))
        self.route("GET", "/fine_tuning/jobs", self._list_jobs)
        self.route("GET", "/fine_tuning/jobs/{jid}", self._retrieve)
        self.route("GET", "/fine_tuning/jobs/{jid}/events",
                   lambda call, jid: self._page(sorted(self.events[self._job(jid)["id"]], key=lambda e: -e["_seq"]), call.query))
        self.route("GET", "/fine_tuning/jobs/{jid}/checkpoints",
                   lambda call, jid: self._page(sorted(self.checkpoints[self._job(jid)["id"]], key=lambda c: -c["step_number"]),
                                                call.query))
        self.route("POST", "/fine_tuning/jobs/{jid}/cancel", lambda call, jid: self._cancel(self._job(jid)))
        self.route("GET", "/models", lambda call: {"object": "list", "data": [self._model(m) for m in self._model_ids()]})
        self.route("GET", "/models/{model_id}", lambda call, model_id: self._model(unquote(model_id)))

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeFineTuneAPI:
        super().start()
        if self.auto_advance_s:
            threading.Thread(target=self._auto, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        super().stop()

    def __enter__(self) -> FakeFineTuneAPI:
        return self.start()

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
        return self.file_store.store(data, filename, purpose, made)

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

    def _create_job(self, body: Any) -> dict[str, Any]:
        body = contract.check(rules.JobCreateParams, body)  # the SDK's JobCreateParams: names, types, method.type
        if self.closed_since:
            raise ApiError(rules.CLOSED_STATUS, rules.closed_message(self.closed_since), code=rules.CLOSED_CODE)
        shutdown = self.models.get(body["model"])
        if rules.is_shut_down(shutdown):
            raise ApiError(400, f"The model '{body['model']}' was shut down on {shutdown} and cannot be fine-tuned.",
                           param="model", code="model_not_available")
        training = self._training_file(body, "training_file")
        validation = self._training_file(body, "validation_file")
        suffix = body.get("suffix")
        try:
            kind, hp = rules.service_rules(body)
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

    def _list_jobs(self, call: Call) -> dict[str, Any]:
        want = {k[len("metadata["):-1]: v for k, v in call.query.items() if k.startswith("metadata[")}
        jobs = [j for j in reversed(list(self.jobs.values())) if all((j.get("metadata") or {}).get(k) == v for k, v in want.items())]
        return self._page(jobs, call.query)

    def _retrieve(self, call: Call, jid: str) -> dict[str, Any]:
        self._job(jid)
        self._on_poll(jid)
        return self._job(jid)

    def _model_ids(self) -> list[str]:
        return list(self.models) + [j["fine_tuned_model"] for j in self.jobs.values() if j["fine_tuned_model"]]


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
