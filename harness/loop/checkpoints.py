"""The loop's candidate is the checkpoint that does best, not the one with the lowest loss.

After a training run that kept two or more checkpoints (the local trainer keeps one per epoch or
every N steps, each listed with the spec that runs it), each is evaluated on the validation split
with the loop's ranking score (one base load: adapters switched), the best is chosen (the lowest
validation loss breaking ties: harness.checkpoints.choose) and becomes the iteration's candidate;
its validation run is the iteration's validation run. metrics.csv, the loss curve and
train_result.json are rewritten to show each checkpoint's score and the choice; the table goes
to ``iteration-K/checkpoints/`` (checkpoints.json, .csv, .md, .html).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness.checkpoints.rank import ToEvaluate, rank
from harness.checkpoints.table import text, write
from harness.records.checkpoints import CheckpointEntry
from harness.train.base import TrainResult

from harness.loop.iteration import Evaluation
from harness.suite.load import LoadedSuite
from harness.train.base import Log


def evaluable(result: TrainResult) -> list[dict[str, Any]]:
    return [c for c in result.checkpoints if c.get("candidate")]


def entry_of(c: dict[str, Any]) -> CheckpointEntry:
    """A TrainResult.checkpoints dict as a typed entry."""
    name = Path(c["path"]).name if c.get("path") else f"step-{c.get('step')}"
    return CheckpointEntry(name=name, path=c.get("path"), step=c.get("step"), epoch=c.get("epoch"),
                           train_loss=c.get("train_loss"), loss=c.get("val_loss"), metric=c.get("metric"),
                           value=c.get("value"), run=c.get("run"), chosen=bool(c.get("chosen")), why=c.get("why") or "")


def lineage_checkpoints(result: TrainResult) -> list[dict[str, Any]] | None:
    """lineage.json's ``checkpoints`` for an iteration: its evaluated checkpoints, None when they were not."""
    if not any("metric" in c for c in result.checkpoints):
        return None
    return [entry_of(c).to_dict() for c in result.checkpoints if "metric" in c]


def choose_candidate(result: TrainResult, where: Path, loaded: LoadedSuite, score: str,
                     evaluate: Callable[[str, Path], Evaluation], log: Log) -> tuple[TrainResult, Evaluation] | None:
    """Evaluate a training run's checkpoints on validation (``evaluate(model, run_dir)``), take the
    best by ``score`` as its candidate and write the table in ``where``; None when the run kept
    fewer than two (then the trainer's candidate is evaluated as before)."""
    from harness.core.hashing import hash_path

    todo = evaluable(result)
    if len(todo) < 2:
        return None
    evaluations: dict[str, Evaluation] = {}

    def run(model: str, directory: Path):
        ev = evaluate(model, directory)
        evaluations[model] = ev
        return ev.record

    log(f"{len(todo)} checkpoints on the validation split, chosen by {score}")
    items = [ToEvaluate(entry_of(c), c["candidate"]) for c in todo]
    ranked = rank(items, run, where / "runs", suite=loaded.suite.name, split="validation",
                  base=str(result.hyperparameters.get("base") or result.base), gates=loaded.suite.gates,
                  metric=score, metric_source="the loop's ranking score (--score, else the first gate's metric)",
                  log=log)
    write(ranked.table, where)
    from harness.report.html import write_checkpoints_html

    write_checkpoints_html(ranked.table, where)
    for line in text(ranked.table).splitlines():
        log(line)
    by_name = {e.name: e for e in ranked.table.checkpoints}
    checkpoints = []
    for c in result.checkpoints:
        e = by_name.get(entry_of(c).name) if c.get("candidate") else None
        checkpoints.append(c if e is None else {**c, "metric": e.metric, "value": e.value, "chosen": e.chosen,
                                                "why": e.why, "run": e.run})
    best = next(c for c in checkpoints if c.get("chosen"))
    chosen = replace(result, candidate=best["candidate"], checkpoints=checkpoints)
    if result.adapter is not None and best.get("path"):  # an adapter folder: the candidate's weights
        chosen = replace(chosen, adapter=Path(best["path"]), adapter_sha256=hash_path(best["path"]))
    chosen = _rewrite_outputs(chosen)
    return chosen, evaluations[best["candidate"]]


def _rewrite_outputs(result: TrainResult) -> TrainResult:
    """metrics.csv gains the checkpoint rows, the curve the metric, train_result.json the choice."""
    from harness.records.train_result import TRAIN_RESULT, new_train_result, read_train_result
    from harness.train.curves import add_checkpoint_rows, plot_losses

    if result.metrics_csv is not None and result.metrics_csv.is_file():
        rows = add_checkpoint_rows(result.metrics_csv, [c for c in result.checkpoints if "metric" in c])
        title = f"LoRA on {Path(str(result.hyperparameters.get('base') or result.base)).name}"
        curve = plot_losses(rows, result.out_dir / "loss_curve", title=title)
        result = replace(result, loss_curve=curve or result.loss_curve)
    record_path = result.out_dir / TRAIN_RESULT
    if record_path.is_file():
        old = read_train_result(record_path)
        record = new_train_result(old.config, result.to_json())
        record_path.write_text(record.to_json() + "\n", encoding="utf-8")
    return result
