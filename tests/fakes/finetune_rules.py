"""The fine-tuning API's rules the fake server enforces beyond the SDK's request types: the ``method``
field, models and their shutdown dates, and the closed platform.

A job creation is first checked against openai-python's own ``JobCreateParams`` (see ``contract``):
field names, types, ``method.type`` and each method's hyperparameter names come from there, so
``METHODS`` and ``METHOD_HYPERPARAMETERS`` below are read off the SDK's types, not written out. What
the types do not say and the service checks is here: the settings sit under the key named by the type
(only), the deprecated top-level ``hyperparameters`` cannot be combined with ``method``, each value is
in its documented range, a suffix is at most 64 characters, and this fake runs no reinforcement.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from openai.types.fine_tuning import job_create_params
from openai.types.fine_tuning.dpo_hyperparameters_param import DpoHyperparametersParam
from openai.types.fine_tuning.supervised_hyperparameters_param import SupervisedHyperparametersParam

from . import contract

JobCreateParams = job_create_params.JobCreateParams
METHODS: tuple[str, ...] = contract.literals(contract.field_type(job_create_params.Method, "type"))
METHOD_HYPERPARAMETERS = {"supervised": contract.keys(SupervisedHyperparametersParam),
                          "dpo": contract.keys(DpoHyperparametersParam)}
AUTO = {"n_epochs": 3, "batch_size": 1, "learning_rate_multiplier": 1.8, "beta": 0.1}  # what "auto" resolves to here
RANGES: dict[str, tuple[float, float]] = {  # the documented bounds; the SDK's types say only int/float or "auto"
    "n_epochs": (1, 50), "batch_size": (1, 256), "learning_rate_multiplier": (1e-9, 100), "beta": (1e-9, 2)}
MAX_SUFFIX = 64
# OpenAI's fine-tunable bases (2026); shutdown dates are given per test (see FakeFineTuneAPI(models=...)).
FINE_TUNABLE = ("gpt-4o-mini-2024-07-18", "gpt-4o-2024-08-06", "gpt-4.1-2025-04-14", "gpt-4.1-mini-2025-04-14",
                "gpt-4.1-nano-2025-04-14")
# What the fake answers to a job creation once the platform is closed (closed_since=...). A
# permission error with an OpenAI-shaped body: the request is well formed, the service refuses it.
CLOSED_STATUS = 403
CLOSED_CODE = "fine_tuning_unavailable"


class RuleError(Exception):
    """A 4xx the server answers: (status, message, param, code)."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = "invalid_value"):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code


def service_rules(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The job's method type and its hyperparameters (unresolved "auto" kept) for a body the SDK's
    ``JobCreateParams`` accepted, or RuleError for what the service refuses besides."""
    suffix = body.get("suffix")
    if suffix is not None and len(suffix) > MAX_SUFFIX:
        raise RuleError(400, f"suffix must be a string of at most {MAX_SUFFIX} characters", param="suffix")
    method, legacy = body.get("method"), body.get("hyperparameters")
    if method is not None and legacy is not None:
        raise RuleError(400, "The 'hyperparameters' parameter is deprecated and cannot be combined with 'method'; "
                             "give them in method.<type>.hyperparameters.", param="hyperparameters")
    if method is None:
        kind, hp, where = "supervised", dict(legacy or {}), "hyperparameters"
    else:
        kind = method["type"]
        for k in method:
            if k not in ("type", kind):
                raise RuleError(400, f"Unexpected parameter 'method.{k}' for method.type {kind!r}.", param=f"method.{k}")
        if kind not in METHOD_HYPERPARAMETERS:
            raise RuleError(400, f"{kind.capitalize()} fine-tuning needs a grader and a reasoning model; this server "
                                 "does not run it.", param="method.type", code="unsupported_method")
        hp, where = dict((method.get(kind) or {}).get("hyperparameters") or {}), f"method.{kind}.hyperparameters"
    out = {}
    for k in METHOD_HYPERPARAMETERS[kind]:
        v = hp.get(k, "auto")
        lo, hi = RANGES.get(k, (float("-inf"), float("inf")))
        if v != "auto" and not lo <= v <= hi:
            raise RuleError(400, f"Invalid value for '{k}': {v!r}; expected 'auto' or a number in [{lo:g}, {hi:g}].",
                            param=f"{where}.{k}")
        out[k] = v
    return kind, out


def resolve(hp: dict[str, Any]) -> dict[str, Any]:
    return {k: (AUTO.get(k, v) if v == "auto" else v) for k, v in hp.items()}


def bad_lines(text: str, method: str) -> list[int]:
    """Lines the service would reject: chat examples for supervised, preference pairs for dpo."""
    bad = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            bad.append(n)
            continue
        if not isinstance(obj, dict) or not (_preference_ok(obj) if method == "dpo" else _chat_ok(obj)):
            bad.append(n)
    return bad


def _chat_ok(obj: dict[str, Any]) -> bool:
    return isinstance(obj.get("messages"), list) and bool(obj["messages"])


def _preference_ok(obj: dict[str, Any]) -> bool:
    inp = obj.get("input")
    outs = [obj.get("preferred_output"), obj.get("non_preferred_output")]
    return (isinstance(inp, dict) and _chat_ok(inp)
            and all(isinstance(o, list) and len(o) == 1 and isinstance(o[0], dict) and o[0].get("role") == "assistant"
                    for o in outs))


def model_object(model_id: str, shutdown_date: str | None, owner: str = "system") -> dict[str, Any]:
    """A ``/v1/models`` entry as openai.types.Model reads it."""
    return {"id": model_id, "object": "model", "created": 1721172741, "owned_by": owner, "shutdown_date": shutdown_date}


def is_shut_down(shutdown_date: str | None, today: dt.date | None = None) -> bool:
    return shutdown_date is not None and dt.date.fromisoformat(shutdown_date) <= (today or dt.date.today())


def closed_message(since: str) -> str:
    return (f"Fine-tuning is no longer available: new fine-tuning jobs are not accepted since {since}. "
            "Existing fine-tuned models keep working until their base model is shut down.")
