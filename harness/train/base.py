"""The trainer extension point: one config in, one result out, trainers found by name.

A trainer turns chat fine-tuning files into a *candidate*: a model spec string that `harness run`
evaluates like any other model (``local:smollm2?adapter=DIR``, ``openai:ft:...``). Third parties
add their own with ``@trainer("name")`` on a :class:`Trainer` subclass.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, InstanceOf, ValidationError, model_validator

from harness.core.errors import HarnessError, InputProblems
from harness.core.hashing import sha256_file
from harness.core.registry import Registry
from harness.core.trust import TrustPolicy
from harness.train.processes import is_main_process

Log = Callable[[str], None]


# Settings that moved from TrainConfig into the trainers' params, with the default each had there.
# Records (train_result.json, train_record.json, checkpoints/run.json) keep them at the top level,
# so a record written before the move still describes the same config (see TrainConfig.record_json).
RECORD_FLAT: dict[str, Any] = {"beta": None, "learning_rate_multiplier": None, "suffix": None, "resume": False,
                               "job_id": None, "poll_interval_s": 5.0, "max_poll_interval_s": 60.0}


class DPOParams(BaseModel):
    """The dpo method's own setting, part of the params of every trainer that runs dpo."""

    model_config = ConfigDict(extra="forbid")

    beta: float | None = Field(None, gt=0, description="dpo: weight of the KL penalty against the reference model; "
                                                       "null: the trainer's default (0.1 locally, auto for openai).")


class TrainConfig(BaseModel):
    """One training run: the fields every trainer reads, and ``params`` for the chosen trainer's own.

    A trainer declares its settings as a pydantic model (``Params`` on its class: the local
    trainer's LoRA, precision and checkpointing, the openai trainer's multiplier, suffix and
    polling, the dpo method's beta); ``params`` is validated against the model of the trainer that
    serves ``(trainer, method)``, and a flat key that names one of them (``lora_r=8``,
    ``suffix="x"``) is accepted in its place.
    """

    model_config = ConfigDict(extra="forbid")

    trainer: str = Field("local", description="A registered trainer: local, openai, or your own "
                                              "(default: openai for an openai base, else local).")
    method: Literal["supervised", "dpo"] = Field(
        "supervised", description="supervised: chat files, learn the assistant turns; dpo: preference files "
                                  "(input, preferred_output, non_preferred_output), direct preference optimisation.")
    base: str = Field("local", description="Base model spec, e.g. local, local:PATH (a transformers folder or hub id), "
                                           "openai:gpt-4o-mini-2024-07-18 (with ?base_url=... for another endpoint).")
    train_file: Path = Field(..., description="Chat fine-tuning JSONL (see `harness data validate`).")
    validation_file: Path | None = Field(None, description="Chat JSONL for validation loss and early stopping.")
    out_dir: Path = Field(..., description="Folder for the adapter or job state, metrics.csv and the loss curve.")
    epochs: int = Field(2, ge=1, le=100, description="Passes over the training file.")
    learning_rate: float | None = Field(None, gt=0, description="local: AdamW peak learning rate (default 5e-4).")
    batch_size: int | None = Field(None, ge=1, le=512, description="Examples per step (per process); null: 8 locally, "
                                                                   "auto for openai.")
    seed: int = Field(0, description="Seeds LoRA initialisation, shuffling, and the openai job.")
    early_stopping_patience: int | None = Field(
        1, ge=1, description="Stop after this many evaluations without a lower validation loss; null: never.")
    max_steps: int | None = Field(None, ge=1, description="Stop after this many optimizer steps.")
    max_length: int = Field(512, ge=16, description="Tokens per example; longer examples are truncated or dropped.")
    params: dict[str, Any] = Field(default_factory=dict, description="The chosen trainer's own settings (its Params "
                                                                     "model), defaults filled in.")
    # Key hosts a trainer may send an API key to (harness.core.trust): the caller's, never a file's;
    # not recorded, and stated to worker processes through their environment (harness.train.launch).
    trust: InstanceOf[TrustPolicy] = Field(default_factory=TrustPolicy.from_env, exclude=True, repr=False)

    @model_validator(mode="before")
    @classmethod
    def _lift_trainer_params(cls, data: Any) -> Any:
        """The one compatibility layer: the trainer named by the base when none is given, and flat
        keys that belong to the trainer's Params model moved into ``params``."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if data.get("trainer") is None:
            data["trainer"] = default_trainer(str(data.get("base") or "local"))
        own = trainer_params_model(str(data["trainer"]), str(data.get("method") or "supervised"))
        if own is None:
            return data
        lifted = {k: data.pop(k) for k in list(data) if k not in cls.model_fields and k in own.model_fields}
        if lifted:
            data["params"] = {**(data.get("params") or {}), **lifted}
        return data

    @model_validator(mode="after")
    def _check_params(self) -> TrainConfig:
        own = trainer_params_model(self.trainer, self.method)
        if own is None:
            if self.params:
                raise ValueError(f"params: the {self.trainer} trainer takes no params; got {', '.join(self.params)}")
            return self
        try:
            self.params = own.model_validate(self.params).model_dump(mode="json")
        except ValidationError as e:
            allowed = ", ".join(own.model_fields)
            lines = [f"params.{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors()]
            raise ValueError("; ".join(lines) + f" (the {self.trainer} trainer's params are: {allowed})") from None
        return self

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> TrainConfig:
        """A copy; with ``update``, validated like a new config (a flat trainer setting lands in
        ``params``, a changed method re-checks them against its trainer's model)."""
        if not update:
            return super().model_copy(deep=deep)
        # fields left out of the dump (the trust policy) carry over unless updated
        kept = {k: getattr(self, k) for k, f in type(self).model_fields.items() if f.exclude}
        return type(self).model_validate({**self.model_dump(), **kept, **update})

    def trainer_params(self) -> Any:
        """``params`` as the trainer's own model (e.g. :class:`harness.train.local.LocalParams`)."""
        own = trainer_params_model(self.trainer, self.method)
        return own.model_validate(self.params) if own is not None else None

    def record_json(self) -> dict[str, Any]:
        """The config as records hold it: the JSON dump with each :data:`RECORD_FLAT` setting at
        the top level (its old default where this trainer has no such param), the rest of
        ``params`` nested. Records written before those settings moved compare equal to it."""
        d = self.model_dump(mode="json")
        params = d.pop("params")
        flat = {k: params.pop(k, default) for k, default in RECORD_FLAT.items()}
        return d | flat | {"params": params}

    def scaled_learning_rate(self, factor: float) -> TrainConfig:
        """A copy with the rate this trainer uses multiplied by ``factor`` (for the iteration loop)."""
        return TRAINERS.get(self.trainer).scale_learning_rate(self, factor)


@dataclass
class EpochLoss:
    epoch: int
    train_loss: float | None
    val_loss: float | None
    steps: int  # optimizer steps finished at the end of this epoch


@dataclass
class TrainResult:
    """What a training run made; ``candidate`` is what the evaluation loop runs next."""

    trainer: str
    base: str
    candidate: str
    out_dir: Path
    metrics_csv: Path | None
    loss_curve: Path | None
    epochs: list[EpochLoss]
    best_epoch: int | None
    stopped_early: bool
    steps: int
    hyperparameters: dict[str, Any]
    data_hashes: dict[str, str]
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    adapter: Path | None = None
    adapter_sha256: str | None = None
    job_id: str | None = None
    seconds: float = 0.0

    @property
    def val_losses(self) -> list[float]:
        return [e.val_loss for e in self.epochs if e.val_loss is not None]

    def val_trend(self) -> Literal["rising", "falling", "flat"] | None:
        """How validation loss ended: ``rising`` (overfitting: fewer epochs or a lower rate),
        ``falling`` (still improving at the last epoch: more could help), ``flat``, or None
        without two validation losses."""
        v = self.val_losses
        if len(v) < 2:
            return None
        if v[-1] > min(v) * 1.01:
            return "rising"
        if v[-1] <= min(v) and v[-1] < v[-2] * 0.98:
            return "falling"
        return "flat"

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["val_trend"] = self.val_trend()
        return json.loads(json.dumps(d, default=str))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainResult:
        """The inverse of :meth:`to_json` (a train_result.json's ``result``)."""
        d = {k: v for k, v in data.items() if k != "val_trend"}
        d["epochs"] = [EpochLoss(**e) for e in d["epochs"]]
        for k in ("out_dir", "metrics_csv", "loss_curve", "adapter"):
            if d.get(k) is not None:
                d[k] = Path(d[k])
        return cls(**d)


class TrainingFailed(HarnessError):
    """The training run (or the remote job) ended without a model; the message says why."""


class Trainer:
    """Base class. Subclass, implement :meth:`train`, register with ``@trainer("name")``.

    ``Params``: the trainer's own settings as a pydantic model (extra='forbid'), carried in
    ``TrainConfig.params``, defaults included; None when it has none. A trainer that runs dpo
    includes :class:`DPOParams` (``beta``) in it.
    """

    name: ClassVar[str] = ""
    Params: ClassVar[type[BaseModel] | None] = None
    default_learning_rate: ClassVar[float | None] = None  # the rate used when the config gives none

    @classmethod
    def scale_learning_rate(cls, config: TrainConfig, factor: float) -> TrainConfig:
        """``config`` with the rate this trainer will use multiplied by ``factor`` (unchanged when
        neither the config nor the trainer names a rate)."""
        rate = config.learning_rate or cls.default_learning_rate
        return config if rate is None else config.model_copy(update={"learning_rate": rate * factor})

    def train(self, config: TrainConfig, log: Log) -> TrainResult:
        raise NotImplementedError


TRAINERS: Registry[type[Trainer]] = Registry("trainer")
TRAINERS.lazy("local", "harness.train.local")
TRAINERS.lazy("openai", "harness.train.openai")
TRAINERS.lazy("local-dpo", "harness.train.dpo")
# (trainer, method) pairs served by another registered trainer; the openai trainer sends either method.
METHOD_TRAINERS = {("local", "dpo"): "local-dpo"}


def trainer(name: str):
    """Register a trainer class: ``@trainer("my_service")``."""

    def deco(cls: type[Trainer]) -> type[Trainer]:
        cls.name = name
        return TRAINERS.register(name)(cls)

    return deco


def trainer_class(name: str, method: str = "supervised") -> type[Trainer]:
    """The trainer class that serves ``(name, method)`` (``local`` + dpo is ``local-dpo``)."""
    return TRAINERS.get(METHOD_TRAINERS.get((name, method), name))


def trainer_params_model(name: str, method: str = "supervised") -> type[BaseModel] | None:
    """The Params model of the trainer that serves ``(name, method)`` (None for an unknown one:
    the registry names the choices when the trainer is looked up)."""
    try:
        cls = trainer_class(name, method)
    except HarnessError:
        return None
    return getattr(cls, "Params", None)


def default_trainer(base: str) -> str:
    """The trainer for a base model: openai for an openai base, else local."""
    try:
        return "openai" if base_spec(base).provider == "openai" else "local"
    except (HarnessError, ValueError):
        return "local"  # the trainer reports the bad base when it parses it


def make_config(cls: type[BaseModel], **values: Any) -> Any:
    """``cls(**values)``, with validation errors turned into one HarnessError naming each field."""
    from pydantic import ValidationError

    try:
        return cls(**values)
    except ValidationError as e:
        lines = []
        for err in e.errors():
            msg = err["msg"].removeprefix("Value error, ")
            where = ".".join(map(str, err["loc"]))
            lines.append(f"{where}: {msg}" if where else msg if msg.startswith("params") else f"{cls.__name__}: {msg}")
        raise HarnessError("\n".join(lines)) from None


def base_spec(text: str) -> Any:
    """The base model's :class:`~harness.providers.base.ModelSpec` (validated, unknown providers named)."""
    from harness.providers.base import ModelSpec

    return ModelSpec.parse(text)


def data_hashes(config: TrainConfig) -> dict[str, str]:
    out = {"train": sha256_file(config.train_file)}
    if config.validation_file:
        out["validation"] = sha256_file(config.validation_file)
    return out


def check_data(config: TrainConfig) -> None:
    """Structural checks of both files (token limits are the trainer's business)."""
    from harness.data.preference import validate_training_file

    problems = []
    for f in (config.train_file, config.validation_file):
        if f is not None:
            problems += validate_training_file(f, config.method, max_tokens=10**9).problems
    if problems:
        raise InputProblems(problems)


def run_training(config: TrainConfig, log: Log = print) -> TrainResult:
    """Check the data, train with the named trainer, write ``train_result.json`` in out_dir."""
    cls = trainer_class(config.trainer, config.method)
    check_data(config)
    config.out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    result = cls().train(config, log)
    result.seconds = round(time.perf_counter() - t0, 2)
    if not is_main_process():  # data-parallel workers: only the main process writes
        return result
    from harness.records.train_result import TRAIN_RESULT, new_train_result

    record = new_train_result(config.record_json(), result.to_json())
    (config.out_dir / TRAIN_RESULT).write_text(record.to_json() + "\n", encoding="utf-8")
    return result
