"""The loop's lineage.json: one entry per iteration (0 is the base model) with its data, settings,
scores, costs and the reason the next one changed; the loop's record around them; and writing it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.core.errors import EnvironmentFailure
from harness.core.io import atomic_write_text
from harness.core.version import code_revision, version
from harness.records.base import FORMAT_VERSION
from harness.records.lineage import LineageRecord
from harness.train.base import TrainResult

from harness.loop.checkpoints import lineage_checkpoints
from harness.loop.iteration import Evaluation, Iteration

if TYPE_CHECKING:
    from harness.loop.data import Pool
    from harness.suite.load import LoadedSuite

LINEAGE = "lineage.json"
HYPERPARAMETERS = ("epochs", "learning_rate", "learning_rate_multiplier", "batch_size", "lora_r", "seed")


def scores(ev: Evaluation) -> dict[str, float | None]:
    return {k: v.mean for k, v in ev.record.summary.metrics.items()}


def run_cost(ev: Evaluation) -> dict[str, Any]:
    """A run's tokens and dollars per model (the candidate and each judge model), from its summary."""
    c = ev.record.summary.cost
    models = {k: m.model_dump(mode="json") for k, m in c.models.items()} if c is not None else {}
    return {"run": str(ev.directory), "cost_usd": c.total_usd if c is not None else None, "models": models,
            "input_tokens": sum(m["input_tokens"] for m in models.values()),
            "output_tokens": sum(m["output_tokens"] for m in models.values())}


def training_cost(r: TrainResult) -> dict[str, Any]:
    """A training job's trained tokens (where the trainer reports them: openai's ``trained_tokens``) and dollars."""
    from harness.pricing import load_prices

    tokens = r.hyperparameters.get("trained_tokens")
    base = str(r.hyperparameters.get("model") or r.base.partition(":")[2] or r.base)
    return {"trainer": r.trainer, "base": base, "trained_tokens": tokens,
            "cost_usd": load_prices().training_cost(base, tokens)}


def loop_cost(lineage: list[dict[str, Any]], final: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals over every run and training job; None dollars when any part has no price."""
    parts = [c for e in lineage for c in ((e.get("cost") or {}).get("validation_run"), (e.get("cost") or {}).get("training")) if c]
    parts += final
    dollars = [p.get("cost_usd") for p in parts]
    return {"cost_usd": None if any(d is None for d in dollars) else sum(dollars),  # type: ignore[arg-type]
            "unpriced": sorted({p.get("run") or f"training {p.get('base')}" for p in parts if p.get("cost_usd") is None}),
            "input_tokens": sum(p.get("input_tokens", 0) for p in parts),
            "output_tokens": sum(p.get("output_tokens", 0) for p in parts),
            "trained_tokens": sum(p.get("trained_tokens") or 0 for p in parts)}


def base_entry(model: str, ev: Evaluation, score: str) -> dict[str, Any]:
    """Iteration 0: the base model on the validation split."""
    return {
        "iteration": 0, "model": model, "dataset_sha256": None, "changes": "the base model, not fine-tuned",
        "hyperparameters": {}, "validation_run": str(ev.directory), "scores": scores(ev),
        "score": {"name": score, "value": ev.mean(score)}, "reason_next": "", "promoted": False,
        "cost": {"validation_run": run_cost(ev)},
    }


def iteration_entry(it: Iteration, score: str) -> dict[str, Any]:
    r = it.result
    return {
        "cost": {"validation_run": run_cost(it.validation), "training": training_cost(r)},
        "iteration": it.index,
        "model": r.candidate,
        "dataset_sha256": it.data.sha256,
        "data": it.data.to_json(),
        "changes": "; ".join(it.data.changes.get("reasons", [])) or "first iteration: the prepared pool as is",
        "hyperparameters": {k: r.hyperparameters.get(k) for k in HYPERPARAMETERS if k in r.hyperparameters}
                           or it.config.model_dump(mode="json", include={"epochs", "learning_rate", "batch_size", "seed"}),
        "adapter": str(r.adapter) if r.adapter else None,
        "adapter_sha256": r.adapter_sha256,
        "job_id": r.job_id,
        "training": {"seconds": r.seconds, "steps": r.steps, "best_epoch": r.best_epoch, "stopped_early": r.stopped_early,
                     "epochs": [vars(e) for e in r.epochs], "val_trend": r.val_trend(),
                     "metrics_csv": str(r.metrics_csv) if r.metrics_csv else None,
                     "loss_curve": str(r.loss_curve) if r.loss_curve else None},
        "checkpoints": lineage_checkpoints(r),
        "validation_run": str(it.validation.directory),
        "scores": scores(it.validation),
        "score": {"name": score, "value": it.score},
        "improved": it.improved,
        "gate_passed_on_validation": it.gate_passed,
        "gate_on_validation": it.gate_outcome,
        "reason_next": it.reason_next,
        "feedback": it.feedback,
        "promoted": False,
    }


class Lineage:
    """The entries as the loop adds them (plain data: the final gate's report shows them too)."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def add_base(self, model: str, ev: Evaluation, score: str) -> None:
        self.entries.append(base_entry(model, ev, score))

    def add(self, it: Iteration, score: str) -> None:
        self.entries.append(iteration_entry(it, score))

    def mark(self, key: str, iteration: int) -> None:
        """Set ``key`` (best, promoted) true on that iteration's entry and false on every other."""
        for e in self.entries:
            e[key] = e["iteration"] == iteration


def loop_head(config: dict[str, Any], loaded: LoadedSuite, pool: Pool, trainer: str, method: str, score: str,
              direction: str, stop: str) -> dict[str, Any]:
    """The record's fields known once the iterations are done (before the final evaluation)."""
    return {
        "kind": "iterate", "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "harness_version": version(), "code_revision": code_revision(),
        "config": config, "trainer": trainer, "method": method,
        "suite": {"name": loaded.suite.name, "version": loaded.suite.version, "path": str(loaded.path),
                  "sha256": loaded.sha256},
        "pool": {"source": str(pool.source), "train": str(pool.train_path), "categories": dict(pool.categories()),
                 "validation": str(pool.validation_path) if pool.validation_path else None,
                 "input_sha256": pool.report["input"]["sha256"]},
        "score": {"name": score, "direction": direction}, "stop_reason": stop,
    }


def write_lineage(out: Path, head: dict[str, Any], final: dict[str, Any], lineage: Lineage,
                  promoted: str | None, seconds: float) -> tuple[Path, LineageRecord]:
    """Validate the loop's record and write it to ``out``/lineage.json (atomically)."""
    final_costs = list(final["cost"].values()) if final.get("evaluated") else []
    record = {**head, "final": final, "iterations": lineage.entries, "cost": loop_cost(lineage.entries, final_costs),
              "promoted": promoted, "seconds": round(seconds, 1), "format_version": FORMAT_VERSION}
    lineage_record = LineageRecord.model_validate(json.loads(json.dumps(record, default=str)))
    path = out / LINEAGE
    try:
        atomic_write_text(path, lineage_record.to_json() + "\n")
    except OSError as e:
        raise EnvironmentFailure.from_os_error(e, "writing lineage.json") from None
    return path, lineage_record
