"""`openai` trainer: a fine-tuning job on the OpenAI API (or any server with the same contract).

    upload train/validation (purpose fine-tune) -> create the job -> poll status and events with
    backoff -> on success: result metrics, checkpoints, the fine-tuned model as the candidate

The job outlives the driver. ``OUT/job.json`` is written after each upload and again right after
the job is created (before the first poll), and it carries a run id that is also sent as job
metadata; so a driver killed at any point is resumed with ``resume=True`` (``harness train ...
--resume``) without uploading or creating anything twice: a job whose id never reached the file is
found by that metadata. ``job_id=`` reattaches to any job. The files are checked with
``harness.data.validate`` (``harness.data.preference`` for dpo) before anything is uploaded, so a
bad line costs no job.

The job is created with the ``method`` field (``supervised`` or ``dpo``, with its hyperparameters;
the top-level ``hyperparameters`` is deprecated). OpenAI is winding fine-tuning down (no new jobs
from 2027-01-06; GPT-4o, 4o mini, 4.1 and 4.1 mini and their fine-tunes shut down 2027-01-14): a
base model whose ``/v1/models`` entry carries a ``shutdown_date`` gets a line naming it (a refusal,
exit 2, once it has passed), and a job creation the API refuses because fine-tuning is closed is
one line naming the date and the ``local`` trainer as the way on.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, Field

from harness.core.errors import HarnessError, InputProblems
from harness.core.jsonl import read_jsonl
from harness.core.trust import TrustPolicy
from harness.train.base import (
    DPOParams,
    EpochLoss,
    Log,
    TrainConfig,
    Trainer,
    TrainingFailed,
    TrainResult,
    base_spec,
    data_hashes,
    trainer,
)
from harness.train.curves import MetricsLog, plot_losses

STATE_FILE = "job.json"
TERMINAL = ("succeeded", "failed", "cancelled")
API_KEYS = {"supervised": ("messages", "tools", "parallel_tool_calls"),  # what the API reads from a training line
            "dpo": ("input", "preferred_output", "non_preferred_output")}
NO_NEW_JOBS_FROM = "2027-01-06"  # OpenAI's deprecations page (see /work/shared/OPENAI-NOTES.md)
WAY_ON = ("fine-tune an open-weight model with the local trainer instead "
          "(harness train SUITE --trainer local --base local or local:PATH; then serve it, see `harness export`)")
# How the API says the platform takes no new jobs: its code, or failing that its words.
CLOSED_CODES = ("fine_tuning_unavailable", "fine_tuning_disabled", "fine_tuning_not_available")
CLOSED_WORDS = re.compile(r"fine-?tuning\b.{0,40}\b(no longer|not available|unavailable|closed|disabled|not accepted)", re.I)
MAX_POLL_FAILURES = 8
BACKOFF = 1.5


class OpenAIParams(DPOParams):
    """The openai trainer's own settings (``TrainConfig.params``; flat keys such as ``suffix`` work
    too), with the dpo method's ``beta``: the trainer sends either method."""

    learning_rate_multiplier: float | None = Field(None, gt=0, description="Multiplier of the service's base "
                                                                           "learning rate; null: auto.")
    suffix: str | None = Field(None, max_length=64, description="Added to the fine-tuned model's name.")
    resume: bool = Field(False, description="Reattach to the job recorded in out_dir instead of starting one.")
    job_id: str | None = Field(None, description="Reattach to this job id.")
    poll_interval_s: float = Field(5.0, gt=0, description="First wait between status polls.")
    max_poll_interval_s: float = Field(60.0, gt=0, description="The backoff's longest wait.")


def _client(spec: Any, trust: TrustPolicy | None = None) -> Any:
    try:
        import openai
    except ImportError:
        raise HarnessError("the openai trainer needs the openai package: pip install 'openai>=2'") from None
    key = _api_key(spec, trust)
    from harness.providers.retry import RetryPolicy

    # The SDK's retry loop, making the harness's one policy's decisions (harness.providers.retry).
    return RetryPolicy.from_spec(spec).sdk_client(openai.OpenAI, api_key=key, base_url=_base_url(spec), timeout=spec.timeout_s)


def _base_url(spec: Any) -> str:
    from harness.providers.openai import OPENAI_URL

    return spec.params.base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_URL


def _api_key(spec: Any, trust: TrustPolicy | None = None) -> str:
    """The key by the rule of :mod:`harness.providers.keys`: only the OpenAI API host, or a host
    the user allowed (--allow-key-host, HARNESS_KEY_HOSTS), receives it. A fine-tuning API needs a
    real key, so an endpoint that may not have it is refused here rather than sent a placeholder.
    ``trust``: the run's policy (``TrainConfig.trust``; None: :meth:`TrustPolicy.from_env`)."""
    from harness.providers import keys

    url, env = _base_url(spec), spec.params.api_key_env
    if not keys.may_receive_key(url, trust):
        host = urlsplit(url).hostname or url
        raise HarnessError(f"the openai trainer will not send ${env} to {host}: only api.openai.com receives the key "
                           f"unless you allow the host with --allow-key-host {host} (or {keys.HOSTS_ENV}={host})")
    key = keys.api_key(url, env, official=True, who="the openai trainer", trust=trust)
    if not key or key == keys.PLACEHOLDER_KEY:
        raise HarnessError(f"the openai trainer needs an API key in ${env}")
    return key


class JobState:
    """OUT/openai_job.json, replaced atomically on every save."""

    def __init__(self, path: Path):
        self.path = path
        self.data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    def save(self, **updates: Any) -> None:
        self.data.update(updates)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.data, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)


def api_copy(src: Path, dst: Path, method: str = "supervised") -> Path:
    """The file as the API takes it: only the keys it reads on each line (ids and categories stay here)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({k: obj[k] for k in API_KEYS[method] if k in obj}, ensure_ascii=False)
             for _, obj in read_jsonl(src, objects=True)]
    dst.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return dst


def _hyperparameters(config: TrainConfig) -> dict[str, Any]:
    p: OpenAIParams = config.trainer_params()
    hp = {"n_epochs": config.epochs, "batch_size": config.batch_size or "auto",
          "learning_rate_multiplier": p.learning_rate_multiplier or "auto"}
    return hp | ({"beta": p.beta or "auto"} if config.method == "dpo" else {})


def method_field(config: TrainConfig) -> dict[str, Any]:
    """``method`` of the job: ``{type: supervised|dpo, <type>: {hyperparameters: {...}}}``."""
    return {"type": config.method, config.method: {"hyperparameters": _hyperparameters(config)}}


def check_base_model(client: Any, name: str, log: Log, today: dt.date | None = None) -> None:
    """Refuse a base model past its ``shutdown_date``; name a coming one. Endpoints without the
    models route (or without this model) are not judged here: the job creation will say."""
    import openai

    try:
        model = client.models.retrieve(name)
    except (openai.NotFoundError, openai.UnprocessableEntityError, openai.BadRequestError):
        return
    except (openai.APIConnectionError, openai.InternalServerError, openai.RateLimitError) as e:
        log(f"could not read {name}'s /v1/models entry ({type(e).__name__}); its shutdown date is not checked")
        return
    date = getattr(model, "shutdown_date", None)
    if not date:
        return
    try:
        passed = dt.date.fromisoformat(str(date)[:10]) <= (today or dt.date.today())
    except ValueError:
        passed = False
    if passed:
        raise HarnessError(f"base model {name} was shut down on {date} (its /v1/models entry), with every fine-tune "
                           f"of it; {WAY_ON}")
    log(f"note: base model {name} shuts down on {date} (its /v1/models entry) with every fine-tune of it, and OpenAI "
        f"takes no new fine-tuning jobs from {NO_NEW_JOBS_FROM}; to keep a model past that, {WAY_ON}")


def closed_refusal(e: Any) -> str | None:
    """The one-line message for a job creation refused because fine-tuning is closed, else None."""
    body = getattr(e, "body", None)
    err = body.get("error", body) if isinstance(body, dict) else {}
    code = err.get("code") if isinstance(err, dict) else None
    message = _message(e)
    if not (400 <= getattr(e, "status_code", 0) < 500 and (code in CLOSED_CODES or CLOSED_WORDS.search(message))):
        return None
    return (f"OpenAI's fine-tuning API refused the job: fine-tuning is closed (no new jobs from {NO_NEW_JOBS_FROM}; "
            f"the API said: {message}); {WAY_ON}")


def check_files(config: TrainConfig, log: Log) -> None:
    """Every line of both files as the API will check it, with its token limit; statistics logged."""
    from harness.data.preference import validate_training_file
    from harness.data.validate import EstimateCounter
    from harness.train.driver import OPENAI_MAX_TOKENS

    problems = []
    for kind, path in (("training", config.train_file), ("validation", config.validation_file)):
        if path is None:
            continue
        v = validate_training_file(path, config.method, max_tokens=OPENAI_MAX_TOKENS, counter=EstimateCounter())
        problems += v.problems
        d = v.stats.to_json(config.epochs)
        if v.ok:
            log(f"{kind} file {path}: {v.stats.examples} examples, {v.stats.total_tokens:,} tokens (estimate)"
                + (f", about {d['estimated_training_tokens']:,} training tokens for {config.epochs} epoch(s)" if kind == "training" else ""))
    if problems:
        raise InputProblems(problems)


@trainer("openai")
class OpenAITrainer(Trainer):
    """Fine-tuning through the API; the candidate is ``openai:ft:...`` (same endpoint as the base)."""

    Params: ClassVar[type[BaseModel]] = OpenAIParams

    @classmethod
    def scale_learning_rate(cls, config: TrainConfig, factor: float) -> TrainConfig:
        """OpenAI's jobs take a multiplier of the service's own rate, not a rate."""
        rate = config.trainer_params().learning_rate_multiplier or 1.0
        return config.model_copy(update={"learning_rate_multiplier": rate * factor})

    def train(self, config: TrainConfig, log: Log) -> TrainResult:
        import openai

        spec = base_spec(config.base)
        if spec.provider != "openai":
            raise HarnessError(f"the openai trainer fine-tunes openai models; got base {config.base!r} (try --trainer local)")
        client = _client(spec, config.trust)
        config.out_dir.mkdir(parents=True, exist_ok=True)
        state = JobState(config.out_dir / STATE_FILE)
        hashes = data_hashes(config)
        p: OpenAIParams = config.trainer_params()
        fresh = not (p.job_id or (p.resume and state.data.get("job_id")))
        if fresh:
            check_files(config, log)
        try:
            if fresh:
                check_base_model(client, spec.name, log)
            job_id = self._job_id(client, config, state, hashes, log)
            job = self._poll(client, job_id, config, state, log)
        except openai.AuthenticationError as e:
            raise HarnessError(f"the API refused the key in ${spec.params.api_key_env}: {_message(e)}") from None
        except openai.APIStatusError as e:
            closed = closed_refusal(e)
            if closed:
                raise HarnessError(closed) from None
            hint = ""
            if state.data.get("training_file_id") and not state.data.get("job_id"):
                hint = f"; the uploads are recorded in {state.path}: rerun with --resume to reuse them"
            raise TrainingFailed(f"fine-tuning API error {e.status_code}: {_message(e)}{hint}") from None
        except openai.APIConnectionError as e:
            where = _base_url(spec)
            raise TrainingFailed(f"cannot reach the fine-tuning API at {where}: {e}; rerun with --resume to reattach") from None
        if job.status == "failed":
            err = job.error
            detail = f"{err.message} (code {err.code}{', parameter ' + err.param if err.param else ''})" if err else "no error given"
            state.save(error=detail)
            raise TrainingFailed(f"fine-tuning job {job.id} failed: {detail}")
        if job.status == "cancelled":
            raise TrainingFailed(f"fine-tuning job {job.id} was cancelled before it finished; no model was made")
        result = self._result(client, job, config, spec, hashes, log)
        state.save(fine_tuned_model=job.fine_tuned_model, candidate=result.candidate, checkpoints=result.checkpoints)
        return result

    # ------------------------------------------------------------------ start or reattach

    def _job_id(self, client: Any, config: TrainConfig, state: JobState, hashes: dict[str, str], log: Log) -> str:
        p: OpenAIParams = config.trainer_params()
        if p.job_id:
            log(f"reattaching to fine-tuning job {p.job_id}")
            state.save(job_id=p.job_id)
            return p.job_id
        if state.data and not p.resume:
            status = state.data.get("status")
            if status in ("failed", "cancelled"):
                raise HarnessError(f"{state.path}: job {state.data['job_id']} {status} here; choose another --out to start a new job")
            what = f"job {state.data['job_id']} ({status or 'status unknown'})" if state.data.get("job_id") else "uploads for a job"
            raise HarnessError(f"{state.path}: an earlier run already started {what} here; "
                               "pass --resume to reattach to it, or choose another --out")
        if state.data.get("data_hashes") not in (None, hashes):
            raise HarnessError(f"{state.path}: the training data changed since that job was started; use another --out")
        if state.data.get("job_id"):
            log(f"reattaching to fine-tuning job {state.data['job_id']} (from {state.path})")
            return state.data["job_id"]
        run_id = state.data.get("run_id") or uuid.uuid4().hex
        if state.data.get("run_id"):  # killed between creating the job and recording it?
            for job in client.fine_tuning.jobs.list(metadata={"harness_run": run_id}, limit=10):
                log(f"reattaching to fine-tuning job {job.id} (found by run id {run_id})")
                state.save(job_id=job.id)
                return job.id
        files = {k: state.data.get(f"{k}_file_id") for k in ("training", "validation")}
        for kind, path in (("training", config.train_file), ("validation", config.validation_file)):
            if path is not None and not files[kind]:
                up = api_copy(path, config.out_dir / "upload" / f"{kind}.jsonl", config.method)
                obj = client.files.create(file=(path.name, up.read_bytes()), purpose="fine-tune")
                files[kind] = obj.id
                log(f"uploaded {path} as {obj.id} ({obj.bytes:,} bytes)")
                state.save(run_id=run_id, data_hashes=hashes, **{f"{kind}_file_id": obj.id})
        state.save(run_id=run_id, data_hashes=hashes, base=config.base)
        method = method_field(config)
        job = client.fine_tuning.jobs.create(
            model=base_spec(config.base).name, training_file=files["training"],
            validation_file=files["validation"] or openai_omit(), suffix=p.suffix or openai_omit(), seed=config.seed,
            method=method, metadata={"harness_run": run_id})
        state.save(job_id=job.id, status=job.status)
        hyper = method[config.method]["hyperparameters"]
        log(f"created {config.method} fine-tuning job {job.id} on {job.model} "
            f"({', '.join(f'{k}={v}' for k, v in hyper.items())})")
        return job.id

    # ------------------------------------------------------------------ poll

    def _poll(self, client: Any, job_id: str, config: TrainConfig, state: JobState, log: Log) -> Any:
        import openai

        p: OpenAIParams = config.trainer_params()
        seen: set[str] = set(state.data.get("seen_events", []))
        interval, status, failures = p.poll_interval_s, None, 0
        while True:
            try:
                job = client.fine_tuning.jobs.retrieve(job_id)
                new = _new_events(client.fine_tuning.jobs.list_events(job_id, limit=50), seen)
                failures = 0
            except openai.NotFoundError:
                raise TrainingFailed(f"fine-tuning job {job_id} was not found on this endpoint") from None
            except (openai.APIConnectionError, openai.InternalServerError, openai.RateLimitError) as e:
                failures += 1  # the SDK has retried already; keep waiting for a while longer
                if failures > MAX_POLL_FAILURES:
                    raise
                log(f"polling job {job_id} failed ({type(e).__name__}); trying again in {interval:.0f} s")
                time.sleep(interval)
                interval = min(interval * 2, p.max_poll_interval_s)
                continue
            for ev in new:
                log(f"  [{job_id}] {ev.message}")
            changed = bool(new) or job.status != status
            if job.status != status:
                status = job.status
                log(f"job {job_id}: {status}" + (f" (estimated finish {time.strftime('%H:%M', time.localtime(job.estimated_finish))})"
                                                  if job.estimated_finish else ""))
            seen.update(ev.id for ev in new)
            state.save(status=job.status, seen_events=sorted(seen))
            if job.status in TERMINAL:
                return job
            interval = p.poll_interval_s if changed else min(interval * BACKOFF, p.max_poll_interval_s)
            try:
                time.sleep(interval)
            except KeyboardInterrupt:
                log(f"job {job_id} keeps running on the server; rerun with --resume (or --job-id {job_id}) to reattach")
                raise

    # ------------------------------------------------------------------ results

    def _result(self, client: Any, job: Any, config: TrainConfig, spec: Any, hashes: dict[str, str], log: Log) -> TrainResult:
        rows: list[dict[str, str]] = []
        for fid in job.result_files or []:
            raw = client.files.content(fid).read()
            (config.out_dir / "result_metrics.csv").write_bytes(raw)
            rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8"))))
            log(f"downloaded result metrics {fid} ({len(rows)} steps)")
        checkpoints = [{"id": c.id, "step": c.step_number, "model": c.fine_tuned_model_checkpoint,
                        "metrics": c.metrics.model_dump(exclude_none=True)}
                       for c in client.fine_tuning.jobs.checkpoints.list(job.id, limit=100)]
        checkpoints.sort(key=lambda c: c["step"])
        hp = job.hyperparameters.model_dump(exclude_none=True)
        chosen = getattr(job.method, job.method.type, None) if job.method else None
        if chosen is not None and chosen.hyperparameters is not None:  # the method's, beta included for dpo
            hp |= chosen.hyperparameters.model_dump(exclude_none=True) | {"method": job.method.type}
        epochs, metrics_path = _write_metrics(rows, hp.get("n_epochs"), config.out_dir)
        curve = plot_losses(_curve_rows(rows), config.out_dir / "loss_curve", title=f"fine-tuning {job.model}")
        query = {k: v for k, v in (("base_url", spec.params.base_url), ("api_key_env", spec.params.api_key_env if spec.params.api_key_env != "OPENAI_API_KEY" else None)) if v}
        candidate = f"openai:{job.fine_tuned_model}" + ("?" + "&".join(f"{k}={quote(v, safe=':/')}" for k, v in query.items()) if query else "")
        log(f"fine-tuned model: {job.fine_tuned_model}")
        best = min((e for e in epochs if e.val_loss is not None), key=lambda e: e.val_loss, default=None)
        return TrainResult(
            trainer="openai", base=config.base, candidate=candidate, out_dir=config.out_dir, metrics_csv=metrics_path,
            loss_curve=curve, epochs=epochs, best_epoch=best.epoch if best else None, stopped_early=False,
            steps=len(rows), hyperparameters=hp | {"seed": job.seed, "suffix": config.trainer_params().suffix, "model": job.model,
                                                   "trained_tokens": job.trained_tokens},
            data_hashes=hashes, checkpoints=checkpoints, job_id=job.id)


def openai_omit() -> Any:
    from openai import omit

    return omit


def _message(e: Exception) -> str:
    body = getattr(e, "body", None)
    if isinstance(body, dict):
        body = body.get("error", body)
        if isinstance(body, dict) and body.get("message"):
            return str(body["message"])
    return str(e)


def _new_events(page: Iterable[Any], seen: set[str]) -> list[Any]:
    """Events not seen before, oldest first. The API lists newest first; stop at the first seen one."""
    new = []
    for ev in page:  # auto-paginates to older pages until we break
        if ev.id in seen:
            break
        new.append(ev)
    return new[::-1]


def _num(v: str | None) -> float | None:
    try:
        return float(v) if v not in (None, "") else None
    except ValueError:
        return None


def _curve_rows(rows: list[dict[str, str]]) -> list[dict[str, Any]]:
    return [{"step": r["step"], "train_loss": _num(r.get("train_loss")), "val_loss": _num(r.get("valid_loss"))} for r in rows]


def _write_metrics(rows: list[dict[str, str]], n_epochs: Any, out: Path) -> tuple[list[EpochLoss], Path]:
    """metrics.csv in the local trainer's columns; per-epoch means from the step rows."""
    log = MetricsLog(out / "metrics.csv")
    epochs: list[EpochLoss] = []
    per = len(rows) / n_epochs if isinstance(n_epochs, int) and n_epochs > 0 and rows else None
    try:
        for r in rows:
            step = int(float(r["step"]))
            log.log(kind="step", step=step, epoch=round(step / per, 4) if per else "", train_loss=_num(r.get("train_loss")),
                    val_loss=_num(r.get("valid_loss")))
        if per:
            for e in range(1, n_epochs + 1):
                chunk = rows[round((e - 1) * per) : round(e * per)]
                train = [x for x in (_num(r.get("train_loss")) for r in chunk) if x is not None]
                val = [x for x in (_num(r.get("valid_loss")) for r in chunk) if x is not None]
                ep = EpochLoss(e, round(sum(train) / len(train), 6) if train else None, val[-1] if val else None,
                               int(float(chunk[-1]["step"])) if chunk else 0)
                epochs.append(ep)
                log.log(kind="epoch", step=ep.steps, epoch=e, train_loss=ep.train_loss if ep.train_loss is not None else "",
                        val_loss=ep.val_loss if ep.val_loss is not None else "")
    finally:
        log.close()
    return epochs, log.path
