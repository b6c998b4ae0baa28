"""A suite's retention checks, run on the same model as the task: each retention suite into
``<run dir>/retention/<name>/``, a run directory like any other (same cache, same records), so the
gate finds the base's and the candidate's side by side (harness.promote.retention).

    outcome = run_suite(cfg)
    for r in run_retention(cfg, outcome.directory): print(r.name, r.directory)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from harness.suite.load import LoadedSuite, load_suite
from harness.suite.schema import RetentionCheck

RETENTION_DIR = "retention"


@dataclass(frozen=True)
class RetentionRun:
    name: str
    check: RetentionCheck
    suite: Path
    directory: Path


def check_name(check: RetentionCheck) -> str:
    """The check's folder and label: the retention suite file's stem (retention/arc_easy.yaml -> arc_easy)."""
    return Path(check.suite).stem


def check_suite(loaded: LoadedSuite, check: RetentionCheck) -> Path:
    """The retention suite's file, relative to the task suite's (harness.suite.load confines it)."""
    return loaded.path.parent / check.suite


def retention_dir(run_dir: Path, check: RetentionCheck) -> Path:
    return Path(run_dir) / RETENTION_DIR / check_name(check)


def run_retention(cfg, run_dir: Path, log=print) -> list[RetentionRun]:  # noqa: ANN001 (RunConfig: imported late, a cycle)
    """Run every retention check of ``cfg.suite`` with ``cfg.model`` into ``run_dir/retention/<name>``.
    ``cfg``'s split, --limit and --sample are the task's and do not apply: each check runs its own split
    whole (a retention suite is sized for the decision it makes)."""
    from harness.evaluate.run import run_suite

    loaded = load_suite(cfg.suite, trust=cfg.trust)
    runs = []
    for check in loaded.suite.retention:
        name = check_name(check)
        log(f"retention {name}: {cfg.model.display()} on {check.suite}" + (f" (split {check.split})" if check.split else ""))
        sub = replace(cfg, suite=check_suite(loaded, check), split=check.split, limit=None, sample=None, sample_seed=None,
                      out=retention_dir(run_dir, check), judge=None, repeats=None)
        outcome = run_suite(sub)
        runs.append(RetentionRun(name, check, sub.suite, outcome.directory))
    return runs
