"""``harness checkpoints DIR --suite S``: a folder of adapter checkpoints trained elsewhere,
evaluated over one loaded base, the table written under REPORTS/checkpoints/."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from harness.checkpoints.find import check_base, find_checkpoints, one_base
from harness.checkpoints.rank import Ranked, ToEvaluate, local_spec, rank
from harness.checkpoints.table import write
from harness.core.executor import ExecutorSpec
from harness.core.trust import TrustPolicy
from harness.records.checkpoints import CheckpointEntry
from harness.train.base import Log


@dataclass
class FolderConfig:
    folder: Path
    suite: Path
    split: str = "validation"
    metric: str | None = None
    base: str | None = None
    limit: int | None = None
    reports_dir: Path = Path("reports")
    out: Path | None = None
    cache: Path | None = None
    progress: bool = False
    executor: ExecutorSpec | None = None  # --executor ray: each checkpoint's run on the same actor pool (one base load per actor)
    trust: TrustPolicy = field(default_factory=TrustPolicy.from_env, repr=False)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:60] or "checkpoints"


def rank_folder(cfg: FolderConfig, log: Log = print) -> tuple[Ranked, dict[str, Path]]:
    from harness.evaluate.run import RunConfig, run_suite
    from harness.providers.base import ModelSpec
    from harness.records.run import read_run
    from harness.suite.load import load_suite

    loaded = load_suite(cfg.suite, trust=cfg.trust)
    if cfg.split not in loaded.suite.dataset.splits:
        from harness.core.errors import HarnessError

        raise HarnessError(f"--split {cfg.split}: {loaded.path} has no such split (dataset.splits: "
                           f"{', '.join(loaded.suite.dataset.splits)})")
    found = find_checkpoints(cfg.folder)
    base = check_base(cfg.folder, found, one_base(cfg.folder, found, cfg.base), given=bool(cfg.base))
    out = cfg.out or cfg.reports_dir / "checkpoints" / f"{_slug(loaded.suite.name)}-{_slug(cfg.folder.resolve().name)}"
    log(f"[checkpoints] {len(found)} adapter checkpoint(s) in {cfg.folder} over {base}")

    def evaluate(model: str, directory: Path):
        outcome = run_suite(RunConfig(suite=loaded.path, model=ModelSpec.parse(model), split=cfg.split, limit=cfg.limit,
                                      reports_dir=cfg.reports_dir, out=directory, cache=cfg.cache, progress=cfg.progress,
                                      executor=cfg.executor, trust=cfg.trust))
        return read_run(outcome.directory)

    todo = [ToEvaluate(CheckpointEntry(name=f.name, path=str(f.path), step=f.step, epoch=f.epoch,
                                       train_loss=f.train_loss, loss=f.loss), local_spec(base, f.path)) for f in found]
    ranked = rank(todo, evaluate, out / "runs", suite=loaded.suite.name, split=cfg.split, base=base,
                  gates=loaded.suite.gates, metric=cfg.metric, metric_source="--metric" if cfg.metric else "", log=log)
    return ranked, write(ranked.table, out)
