"""Train once for a suite: its data prepared the way the suite evaluates, one trainer run, a record.

    suite + raw data -> prepare (suite prompt, contamination against the suite's test split)
    -> run_training -> OUT/train_record.json (suite, data hashes, config, result)

`harness train` is this; the iteration loop calls :func:`train_on_suite` once per iteration with
its own data file and hyperparameters.
"""

from __future__ import annotations

import json
import platform
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.core.errors import HarnessError
from harness.core.trust import TrustPolicy
from harness.data.prepare import PrepareConfig, PrepareResult, prepare_data
from harness.suite.load import LoadedSuite, load_suite
from harness.train import launch
from harness.train.base import Log, TrainConfig, TrainResult, default_trainer, run_training

OPENAI_MAX_TOKENS = 65_536  # an assumption: the per-example limit of current OpenAI fine-tunable models


@dataclass
class TrainRun:
    record_path: Path
    record: dict[str, Any]
    result: TrainResult
    prepared: PrepareResult


def default_out(suite_name: str, base: str, reports: Path = Path("reports")) -> Path:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", base).strip("_")[:40] or "model"
    return reports / "train" / f"{suite_name}-{slug}-{time.strftime('%Y%m%d-%H%M%S')}"


def suite_prepare_config(ls: LoadedSuite, data: Path, out_dir: Path, trainer: str, max_length: int,
                         **overrides: Any) -> PrepareConfig:
    """Prepare settings that make training examples look exactly like the suite's prompts."""
    ds, prompt = ls.suite.dataset, ls.suite.prompt
    f = ds.fields
    cfg: dict[str, Any] = {"input": data, "out_dir": out_dir, "id_field": f.id, "category_field": f.category,
                           "suites": [ls.path],
                           "tokenizer": "smollm2" if trainer == "local" else "estimate",
                           "max_tokens": max_length if trainer == "local" else OPENAI_MAX_TOKENS}
    if prompt.from_dataset:
        cfg["system_prompt"] = prompt.system
    else:
        missing = [k for k in ("input", "reference") if getattr(f, k) is None]
        if missing:
            raise HarnessError(f"{ls.path}: dataset.fields.{missing[0]} is not set; training needs the input column and "
                               "the reference answer column")
        cfg |= {"input_field": f.input, "output_field": f.reference, "prompt": prompt}
    return PrepareConfig(**(cfg | overrides))


def train_on_suite(suite: str | Path | LoadedSuite, data: Path | None, out_dir: Path, base: str = "local",
                   trainer: str | None = None, prepare: dict[str, Any] | None = None, train: dict[str, Any] | None = None,
                   log: Log = print, trust: TrustPolicy | None = None) -> TrainRun:
    """Prepare ``data`` (default: the suite's train split) for the suite, train once, write the record.

    ``prepare`` overrides :class:`PrepareConfig` fields (seed, validation_fraction, allow_contamination, ...);
    ``train`` overrides :class:`TrainConfig` fields (epochs, learning_rate, resume, ...). ``trust``: the
    caller's key hosts and data root, for the suite, the data preparation and the trainer (None: the
    environment's, :meth:`TrustPolicy.from_env`, read once here).
    """
    trust = trust if trust is not None else TrustPolicy.from_env()
    ls = suite if isinstance(suite, LoadedSuite) else load_suite(suite, trust=trust)
    if data is None:
        if "train" not in ls.suite.dataset.split_names():
            raise HarnessError(f"{ls.path}: the suite has no `train` split; pass --data FILE")
        data = ls.split_path("train")
    trainer = trainer or default_trainer(base)
    train = dict(train or {})
    max_length = train.get("max_length", TrainConfig.model_fields["max_length"].default)
    # Under accelerate launch/torchrun every worker runs this: each prepares its own identical copy
    # of the data (deterministic), so none reads a file another is writing; rank 0's is the record.
    data_dir = out_dir / "data" if launch.is_main_process() else out_dir / "data" / f".rank{launch.rank()}"
    pcfg = suite_prepare_config(ls, Path(data), data_dir, trainer, max_length, **({"trust": trust} | (prepare or {})))
    prepared = prepare_data(pcfg)
    c = prepared.report["counts"]
    if launch.is_main_process():
        log(f"data: {c['train']} train / {c['validation']} validation examples from {data} "
            f"({c['exact_duplicates'] + c['near_duplicates']} duplicates, {c['empty'] + c['overlong']} empty or overlong dropped)")
    config = TrainConfig(**({"trainer": trainer, "base": base, "train_file": prepared.train_path,
                             "validation_file": prepared.validation_path, "out_dir": out_dir, "trust": trust} | train))
    result = run_training(config, log)
    record = {
        "kind": "train",
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "suite": {"name": ls.suite.name, "version": ls.suite.version, "path": str(ls.path), "sha256": ls.sha256},
        "data": {"source": str(data), "source_sha256": prepared.report["input"]["sha256"],
                 "prepare_report": str(prepared.report_path), "counts": c, **prepared.report["outputs"]},
        "config": config.record_json(),
        "result": result.to_json(),
        "versions": _versions(),
    }
    path = out_dir / "train_record.json"
    if not launch.is_main_process():
        return TrainRun(path, record, result, prepared)
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return TrainRun(path, record, result, prepared)


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    from harness.core.version import code_revision
    from harness.core.version import version as harness_version

    out = {"harness": harness_version(), "code_revision": code_revision(), "python": platform.python_version()}
    for pkg in ("torch", "transformers", "peft", "trl", "accelerate", "datasets", "openai"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out
