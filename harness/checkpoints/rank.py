"""Evaluating checkpoints on a suite's split and choosing one: a run per checkpoint (for a local
base, every adapter attached to the one base the process loaded), then :func:`choose`."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from harness.checkpoints.choose import choose, primary_metric
from harness.core.errors import HarnessError
from harness.records.base import FORMAT_VERSION
from harness.records.checkpoints import CheckpointEntry, CheckpointTable
from harness.records.run import RunRecord

# (model spec, run directory) -> the run's record; the loop passes its own, the CLI run_suite's
Evaluate = Callable[[str, Path], RunRecord]


@dataclass
class ToEvaluate:
    """A checkpoint and the model spec that runs it."""

    entry: CheckpointEntry
    model: str


@dataclass
class Ranked:
    table: CheckpointTable
    records: dict[str, RunRecord] = field(default_factory=dict)  # by checkpoint name

    @property
    def chosen(self) -> CheckpointEntry | None:
        return next((e for e in self.table.checkpoints if e.chosen), None)


def local_spec(base: str, adapter: Path | str) -> str:
    """``local:BASE?adapter=PATH``, both quoted the way the trainer writes its candidate."""
    return f"local:{quote(base, safe='/:')}?adapter={quote(str(adapter), safe='/:')}"


def run_dir_name(entry: CheckpointEntry) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in entry.name) or "checkpoint"


def rank(todo: Sequence[ToEvaluate], evaluate: Evaluate, out: Path, *, suite: str, split: str, base: str, gates: Sequence,
         metric: str | None = None, metric_source: str = "", log: Callable[[str], None] = print) -> Ranked:
    """Evaluate each checkpoint (runs in ``out``/NAME) and choose by ``metric`` (default: the
    suite's primary gate metric, see :func:`primary_metric`)."""
    if not todo:
        raise HarnessError("no checkpoints to evaluate")
    t0, loads0 = time.perf_counter(), _bases()
    records: dict[str, RunRecord] = {}
    entries: list[CheckpointEntry] = []
    direction = "higher"
    for n, t in enumerate(todo, 1):
        log(f"[checkpoints] {n}/{len(todo)} {t.entry.name} on the {split!r} split")
        rec = evaluate(t.model, out / run_dir_name(t.entry))
        names = list(rec.summary.metrics)
        if metric is None:
            metric, metric_source = primary_metric(gates, names)
        if metric not in rec.summary.metrics:
            raise HarnessError(f"--metric {metric}: not a score of this suite; it has: {', '.join(names)}")
        m = rec.summary.metrics[metric]
        direction = m.direction
        records[t.entry.name] = rec
        entries.append(t.entry.model_copy(update={"metric": metric, "value": m.mean, "run": str(rec.directory)}))
        log(f"[checkpoints] {t.entry.name}: validation {metric} = "
            f"{'n/a' if m.mean is None else f'{m.mean:.4f}'}, loss {'n/a' if t.entry.loss is None else f'{t.entry.loss:.4f}'}")
    chosen = choose(entries, direction)
    best = next(e for e in chosen if e.chosen)
    table = CheckpointTable(format_version=FORMAT_VERSION, suite=suite, split=split, base=base, metric=str(metric), direction=direction,
                            metric_source=metric_source, chosen=best.name, why=best.why, checkpoints=chosen,
                            base_loads=_bases() - loads0, seconds=round(time.perf_counter() - t0, 2))
    return Ranked(table, records)


def _bases() -> int:
    """Base models loaded so far by this process and by its Ray actors (harness.distributed)."""
    from harness.distributed import remote_loads
    from harness.local import models as lm

    return lm.load_stats.bases + remote_loads().get("bases", 0)
