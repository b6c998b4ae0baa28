"""The fine-tuning API's rules the fake server enforces: the ``method`` field, models and their
shutdown dates, and the closed platform. Standard library only.

The ``method`` rules follow openai-python's request types (``openai.types.fine_tuning.
job_create_params.Method``, ``DpoHyperparametersParam``, ``SupervisedHyperparametersParam``):
``type`` is required and one of supervised, dpo, reinforcement; the settings sit under the key
named by the type; supervised takes n_epochs, batch_size, learning_rate_multiplier, and dpo adds
beta, each "auto" or a number. The deprecated top-level ``hyperparameters`` is still accepted
alone (as supervised), but not together with ``method``.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

METHODS = ("supervised", "dpo", "reinforcement")
AUTO = {"n_epochs": 3, "batch_size": 1, "learning_rate_multiplier": 1.8, "beta": 0.1}  # what "auto" resolves to here
CHECKS: dict[str, tuple[Any, float, float]] = {
    "n_epochs": (int, 1, 50), "batch_size": (int, 1, 256), "learning_rate_multiplier": ((int, float), 1e-9, 100),
    "beta": ((int, float), 1e-9, 2)}
METHOD_HYPERPARAMETERS = {"supervised": ("n_epochs", "batch_size", "learning_rate_multiplier"),
                          "dpo": ("n_epochs", "batch_size", "learning_rate_multiplier", "beta")}
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


def method_and_hyperparameters(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The job's method type and its hyperparameters (unresolved "auto" kept), or RuleError."""
    method, legacy = body.get("method"), body.get("hyperparameters")
    if method is not None and legacy is not None:
        raise RuleError(400, "The 'hyperparameters' parameter is deprecated and cannot be combined with 'method'; "
                             "give them in method.<type>.hyperparameters.", param="hyperparameters")
    if method is None:
        kind, hp, where = "supervised", dict(legacy or {}), "hyperparameters"
    else:
        if not isinstance(method, dict):
            raise RuleError(400, "Invalid type for 'method': expected an object.", param="method")
        kind = method.get("type")
        if kind is None:
            raise RuleError(400, "Missing required parameter: 'method.type'.", param="method.type",
                            code="missing_required_parameter")
        if kind not in METHODS:
            raise RuleError(400, f"Invalid value for 'method.type': {kind!r}; expected one of {', '.join(METHODS)}.",
                            param="method.type")
        for k in method:
            if k != "type" and k != kind:
                raise RuleError(400, f"Unexpected parameter 'method.{k}' for method.type {kind!r}.", param=f"method.{k}")
        if kind == "reinforcement":
            raise RuleError(400, "Reinforcement fine-tuning needs a grader and a reasoning model; this server does not "
                                 "run it.", param="method.type", code="unsupported_method")
        conf = method.get(kind) or {}
        if not isinstance(conf, dict) or any(k != "hyperparameters" for k in conf):
            raise RuleError(400, f"Invalid 'method.{kind}': expected {{hyperparameters: {{...}}}}.", param=f"method.{kind}")
        hp, where = dict(conf.get("hyperparameters") or {}), f"method.{kind}.hyperparameters"
    allowed = METHOD_HYPERPARAMETERS[kind]
    for k in hp:
        if k not in allowed:
            raise RuleError(400, f"Unknown hyperparameter: '{k}' (method {kind} takes {', '.join(allowed)}).",
                            param=f"{where}.{k}")
    out = {}
    for k in allowed:
        typ, lo, hi = CHECKS[k]
        v = hp.get(k, "auto")
        if v != "auto" and (isinstance(v, bool) or not isinstance(v, typ) or not lo <= v <= hi):
            raise RuleError(400, f"Invalid value for '{k}': {v!r}; expected 'auto' or a number in [{lo:g}, {hi:g}].",
                            param=f"{where}.{k}")
        out[k] = v
    return kind, out


def resolve(hp: dict[str, Any]) -> dict[str, Any]:
    return {k: (AUTO[k] if v == "auto" else v) for k, v in hp.items()}


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
