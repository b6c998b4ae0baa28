"""The fine-tuning loop: train, evaluate on validation, learn from what regressed, repeat; then
evaluate the best iteration once on the held-out test split and gate it against the base.

    prepare pool -> base on validation
    -> for each iteration: write data -> train -> candidate on validation (each kept checkpoint,
                           the best by the loop's score chosen: harness.loop.checkpoints) -> compare with best
                           -> stop (gate passes / no improvement / N) or plan the next data and settings
    -> best on test, base on test -> gate + HTML/CSV report with lineage -> lineage.json

With ``method: dpo`` (the suite's ``training.method`` or ``--method dpo``) the first iteration is
supervised and each later one trains DPO on top of the previous candidate, on preference pairs
built from its validation failures and regressions (see harness.loop.preference).

Every stage writes into the loop's folder and reuses what an earlier, interrupted run of the same
loop finished (run outputs through the response cache; a training run whose config and data are
unchanged through its ``train_result.json``: harness.loop.resume), so a rerun resumes. Each stage
is one function below; lineage.json's entries and record are built in harness.loop.lineage.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core.errors import HarnessError
from harness.core.executor import ExecutorSpec
from harness.core.trust import TrustPolicy
from harness.loop.checkpoints import choose_candidate
from harness.loop.data import BuiltData, Pool, build_pool, write_training_file
from harness.loop.feedback import Trained, Validated, plan_next
from harness.loop.iteration import Evaluation, Iteration
from harness.loop.lineage import Lineage, loop_head, run_cost, scores, write_lineage
from harness.loop.preference import dpo_base, write_pairs
from harness.loop.resume import train
from harness.records.run import RunSummary, read_run
from harness.suite.load import LoadedSuite, load_suite
from harness.train.base import Log, TrainConfig, TrainResult, make_config


@dataclass
class IterateConfig:
    """Everything `harness iterate` needs; recorded in lineage.json."""

    suite: Path
    data: Path | None = None
    base: str = "local"
    trainer: str | None = None
    max_iterations: int = 3
    out_dir: Path | None = None
    reports_dir: Path = Path("reports")
    score: str | None = None  # the score iterations are ranked by; default: the first gate's, else the first metric's
    min_gain: float = 0.0  # an iteration must beat the best so far by more than this to count as an improvement
    train: dict[str, Any] = field(default_factory=dict)  # TrainConfig overrides for the first iteration
    seed: int = 0
    max_boost: float = 1.0  # extra examples for the worst category, as a share of its pool rows
    eval_limit: int | None = None  # the first N examples of each split evaluated
    eval_sample: int | None = None  # or a seeded stratified sample of N (harness.data.sample)
    eval_sample_seed: int | None = None
    allow_contamination: bool = False
    progress: bool = True
    method: str | None = None  # supervised or dpo; default: the suite's training.method, else supervised
    # Key hosts and data root (harness.core.trust): the caller's, for every run, gate and training of
    # the loop; read from the environment once, when the config is made, if not given. Not recorded.
    trust: TrustPolicy = field(default_factory=TrustPolicy.from_env, repr=False, compare=False)
    # --executor ray: every evaluation of the loop on a Ray actor pool (harness.distributed); where the
    # responses come from, not what they are: not recorded here (each run's summary records it).
    executor: ExecutorSpec | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        return json.loads(json.dumps({k: v for k, v in self.__dict__.items() if k not in ("trust", "executor")},
                                     default=str))


@dataclass
class LoopOutcome:
    out_dir: Path
    lineage_path: Path
    lineage: dict[str, Any]
    best: Iteration | None
    promoted: str | None
    exit_code: int
    gate: Any = None  # harness.promote.gate.GateOutcome of the final test-split gate


@dataclass
class Loop:
    """One loop's fixed inputs, as every stage reads them."""

    cfg: IterateConfig
    loaded: LoadedSuite
    out: Path
    trainer: str
    method: str
    log: Log


@dataclass
class Progress:
    """What the iterations so far pass on: the ranking score, the best so far, the next one's inputs."""

    base: Evaluation  # the base model on validation
    score: str
    direction: str
    best_value: float
    best_rows: list[dict[str, Any]]
    rows: list[dict[str, Any]]  # the next supervised iteration's training rows
    config: TrainConfig  # the next iteration's config
    changes: dict[str, Any] = field(default_factory=dict)  # why the next training file differs
    pairs: BuiltData | None = None  # dpo: the next iteration's preference pairs
    best: Iteration | None = None
    last: Iteration | None = None  # the latest iteration (dpo trains on top of its candidate)
    stop: str = ""

    def record(self, it: Iteration) -> list[dict[str, Any]]:
        """Take ``it`` as the latest (and, if it improved, the best); returns the best rows it was compared with."""
        compared_with, self.last = self.best_rows, it
        if it.improved:
            self.best, self.best_value, self.best_rows = it, it.score, it.validation.rows
        return compared_with


@dataclass
class Final:
    """The end of the loop: lineage.json's ``final``, and what was promoted."""

    record: dict[str, Any]
    exit_code: int
    promoted: str | None = None
    gate: Any = None


def default_out(suite_name: str, base: str, reports: Path) -> Path:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", base).strip("_")[:40] or "model"
    return reports / "iterate" / f"{suite_name}-{slug}"


def primary_score(loaded: LoadedSuite, summary: RunSummary) -> str:
    names = list(summary.metrics)
    for g in loaded.suite.gates:
        if g.metric in summary.metrics:
            return g.metric
    if not names:
        raise HarnessError(f"{loaded.path}: the suite's metrics produced no score to rank iterations by")
    return names[0]


def better(a: float, b: float, direction: str, margin: float = 0.0) -> bool:
    return a > b + margin if direction != "lower" else a < b - margin


# ---------------------------------------------------------------- the loop


def iterate(cfg: IterateConfig, log: Log = print) -> LoopOutcome:
    t0 = time.perf_counter()
    loop = start(cfg, log)
    first = make_config(TrainConfig, trainer=loop.trainer, base=cfg.base, train_file=Path("-"), out_dir=loop.out,
                        seed=cfg.seed, **({"trust": cfg.trust} | cfg.train))
    pool = prepare_data(loop, first)
    progress = base_eval(loop, pool, first)
    lineage = Lineage()
    lineage.add_base(cfg.base, progress.base, progress.score)
    if loop.method == "dpo":
        log("[loop] method dpo: iteration 1 is supervised; later ones train DPO on the previous candidate's failures")

    progress.stop = f"reached --max-iterations {cfg.max_iterations}"
    for k in range(1, cfg.max_iterations + 1):
        data, config = next_data(loop, progress, k)
        result = fine_tune(loop, k, data, config)
        result, val = best_checkpoint(loop, progress, k, result)
        it = gate_on_validation(loop, progress, k, data, config, result, val)
        stop = plan(loop, progress, pool, it)
        lineage.add(it, progress.score)
        if stop is not None:
            progress.stop = stop
            break
    log(f"[loop] {progress.stop}")

    head = loop_head(cfg.to_json(), loop.loaded, pool, loop.trainer, loop.method, progress.score, progress.direction,
                     progress.stop)
    final = final_report(loop, progress, lineage)
    path, record = write_lineage(loop.out, head, final.record, lineage, final.promoted, time.perf_counter() - t0)
    return LoopOutcome(loop.out, path, record.model_dump(mode="json"), progress.best, final.promoted, final.exit_code,
                       final.gate)


# ---------------------------------------------------------------- stages


def start(cfg: IterateConfig, log: Log) -> Loop:
    """The suite (it needs a validation and a test split), the loop's folder, its trainer and method."""
    from harness.train.driver import default_trainer

    if cfg.max_iterations < 1:
        raise HarnessError("--max-iterations must be at least 1")
    loaded = load_suite(cfg.suite, trust=cfg.trust)
    for split in ("validation", loaded.suite.default_split):
        if split not in loaded.suite.dataset.split_names():
            raise HarnessError(f"{loaded.path}: the loop needs a {split!r} split (dataset.splits); the suite has: "
                               f"{', '.join(loaded.suite.dataset.split_names())}")
    out = cfg.out_dir or default_out(loaded.suite.name, cfg.base, cfg.reports_dir)
    out.mkdir(parents=True, exist_ok=True)
    trainer = cfg.trainer or default_trainer(cfg.base)
    method = cfg.method or (loaded.suite.training.method if loaded.suite.training else "supervised")
    if method not in ("supervised", "dpo"):
        raise HarnessError(f"--method {method}: expected supervised or dpo")
    return Loop(cfg, loaded, out, trainer, method, log)


def prepare_data(loop: Loop, first: TrainConfig) -> Pool:
    """The training pool, prepared once for every iteration."""
    cfg = loop.cfg
    return build_pool(loop.loaded, cfg.data, loop.out / "data", loop.trainer, first.max_length, cfg.seed,
                      cfg.allow_contamination, loop.log, trust=cfg.trust)


def retain(cfg: IterateConfig, loaded: LoadedSuite, model: str, run_dir: Path, log) -> None:  # noqa: ANN001
    """The suite's retention checks for ``model`` into ``run_dir/retention/`` (the final gate reads them)."""
    from harness.evaluate.retention import run_retention
    from harness.evaluate.run import RunConfig
    from harness.providers.base import ModelSpec

    run_retention(RunConfig(suite=loaded.path, model=ModelSpec.parse(model), reports_dir=cfg.reports_dir,
                            progress=cfg.progress, executor=cfg.executor, trust=cfg.trust), run_dir, log=lambda m: log(f"[final] {m}"))


def evaluate(cfg: IterateConfig, loaded: LoadedSuite, model: str, split: str, directory: Path) -> Evaluation:
    from harness.evaluate.run import RunConfig, run_suite
    from harness.providers.base import ModelSpec

    outcome = run_suite(RunConfig(suite=loaded.path, model=ModelSpec.parse(model), split=split, limit=cfg.eval_limit,
                                  sample=cfg.eval_sample, sample_seed=cfg.eval_sample_seed,
                                  reports_dir=cfg.reports_dir, out=directory, progress=cfg.progress,
                                  executor=cfg.executor, trust=cfg.trust))
    return Evaluation(model, split, read_run(outcome.directory))


def base_eval(loop: Loop, pool: Pool, first: TrainConfig) -> Progress:
    """The base model on validation: the score iterations are ranked by, and the value to beat."""
    cfg, log = loop.cfg, loop.log
    log(f"[base] {cfg.base} on the validation split")
    base_val = evaluate(cfg, loop.loaded, cfg.base, "validation", loop.out / "runs" / "base-validation")
    score = cfg.score or primary_score(loop.loaded, base_val.record.summary)
    metrics = base_val.record.summary.metrics
    if score not in metrics:
        raise HarnessError(f"--score {score}: not a score of this suite; it has: {', '.join(metrics)}")
    log(f"[base] validation {score} = {base_val.mean(score):.3f}")
    return Progress(base_val, score, metrics[score].direction, base_val.mean(score), base_val.rows, pool.rows,
                    first.model_copy(update={"validation_file": pool.validation_path}))


def next_data(loop: Loop, p: Progress, k: int) -> tuple[BuiltData, TrainConfig]:
    """Iteration ``k``'s training file (or, dpo, its preference pairs) and config."""
    it_dir = loop.out / f"iteration-{k}"
    if p.pairs is not None:
        assert p.last is not None  # pairs come from the previous iteration
        data = p.pairs
        config = p.config.model_copy(update={"method": "dpo", "train_file": data.path, "out_dir": it_dir / "train",
                                             "validation_file": None, "base": dpo_base(p.last.result, it_dir, loop.log)})
    else:
        data = write_training_file(p.rows, it_dir / "train.jsonl", loop.cfg.seed + k, p.changes)
        config = p.config.model_copy(update={"train_file": data.path, "out_dir": it_dir / "train"})
    p.config = config
    return data, config


def fine_tune(loop: Loop, k: int, data: BuiltData, config: TrainConfig) -> TrainResult:
    """Train iteration ``k`` (or reuse its finished run: harness.loop.resume)."""
    loop.log(f"[iteration {k}] training {loop.trainer} on {data.n_examples} examples "
             f"(epochs {config.epochs}, data {data.sha256[:12]})")
    return train(config, loop.log)


def best_checkpoint(loop: Loop, p: Progress, k: int, result: TrainResult) -> tuple[TrainResult, Evaluation]:
    """Iteration ``k``'s candidate: the checkpoint best on validation by the loop's score, when the
    run kept several (harness.loop.checkpoints); else the trainer's, evaluated on validation."""
    it_dir = loop.out / f"iteration-{k}"
    chosen = choose_candidate(result, it_dir / "checkpoints", loop.loaded, p.score,
                              lambda model, d: evaluate(loop.cfg, loop.loaded, model, "validation", d),
                              lambda m: loop.log(f"[iteration {k}] {m}"))
    return chosen if chosen is not None else (result, candidate_eval(loop, k, result))


def candidate_eval(loop: Loop, k: int, result: TrainResult) -> Evaluation:
    """Iteration ``k``'s candidate on the validation split."""
    loop.log(f"[iteration {k}] {result.candidate} on the validation split")
    return evaluate(loop.cfg, loop.loaded, result.candidate, "validation", loop.out / f"iteration-{k}" / "validation-run")


GATE_SAYS = {"promote": "passes", "block": "blocks", "inconclusive": "is inconclusive (not enough evidence; nothing blocks)"}


def _gate(loop: Loop, baseline: Path, candidate: Path, out: Path | None, lineage: list[dict[str, Any]] | None = None,
          retention: bool = True):
    from harness.promote.gate import gate_runs

    return gate_runs(loop.loaded.path, baseline, candidate, out, lineage=lineage, trust=loop.cfg.trust, retention=retention)


def gate_on_validation(loop: Loop, p: Progress, k: int, data: BuiltData, config: TrainConfig, result: TrainResult,
                       val: Evaluation) -> Iteration:
    """The candidate against the best so far (improvement) and against the base (the suite's gates)."""
    value = val.mean(p.score)
    improved = better(value, p.best_value, p.direction, loop.cfg.min_gain)
    # the task's rules only: the retention checks run once, on the final candidate (their runs are not here)
    gate = _gate(loop, p.base.directory, val.directory, loop.out / f"iteration-{k}" / "validation-gate", retention=False)
    it = Iteration(k, data, config, result, val, value, improved, gate.outcome)
    loop.log(f"[iteration {k}] validation {p.score} = {value:.3f} (best so far {p.best_value:.3f}); "
             f"gate on validation {GATE_SAYS[gate.outcome]}")
    return it


def plan(loop: Loop, p: Progress, pool: Pool, it: Iteration) -> str | None:
    """Record ``it`` as the best if it improved; then the reason to stop, or (None) the next
    iteration's data and settings, planned from its validation failures and regressions."""
    cfg, k = loop.cfg, it.index
    previous_best_rows = p.record(it)
    stop = None
    if it.gate_passed and it.improved:
        stop = f"iteration {k} passes the suite's gates on validation"
    elif not it.improved:
        stop = f"iteration {k} brought no improvement on validation {p.score} ({it.score:.3f} vs best {p.best_value:.3f})"
    elif k == cfg.max_iterations:
        stop = f"reached --max-iterations {cfg.max_iterations}"
        if it.gate_outcome == "inconclusive":
            # not "blocked": the validation split could not tell; the held-out test split decides next
            stop += "; the gate on validation was inconclusive (not enough evidence), not blocked"
    if stop is not None:
        it.reason_next = f"stop: {stop}"
        return stop

    if it.gate_outcome == "inconclusive":
        loop.log(f"[iteration {k}] the gate on validation cannot tell yet (inconclusive, nothing blocks): going on")
    val = it.validation
    validated = Validated(p.score, val.record.summary.metrics[p.score], val.rows, previous_best_rows)
    p.rows, p.config, fb = plan_next(pool.rows, validated, Trained(p.rows, p.config, it.result),
                                     seed=cfg.seed + k, max_boost=cfg.max_boost)
    it.feedback = fb.to_json()
    it.reason_next = "; ".join(fb.reasons)
    if loop.method == "dpo":
        p.pairs = write_pairs(validated, loop.out / f"iteration-{k + 1}" / "pairs.jsonl", cfg.seed + k + 1, k)
        if p.pairs is None:
            stop = f"method dpo: iteration {k} left no wrong or regressed validation answer to build pairs from"
            it.reason_next = f"stop: {stop}"
            return stop
        settings = [r for r in fb.reasons if not r.startswith(("category ", "no category"))]
        it.reason_next = "; ".join(p.pairs.changes["reasons"] + settings)
    p.changes = {"from_iteration": k, "upsample": fb.upsample, "hyperparameters": fb.hyperparameter_changes,
                 "reasons": fb.reasons}
    loop.log(f"[iteration {k}] next: {it.reason_next}")
    return None


def final_report(loop: Loop, p: Progress, lineage: Lineage) -> Final:
    """The best iteration and the base on the held-out test split, gated; the report shows the lineage."""
    from harness.promote.gate import gate_comparison

    cfg, log, best = loop.cfg, loop.log, p.best
    if best is None:
        log(f"[final] no iteration beat the base on validation {p.score}; nothing to evaluate on the test split or promote")
        return Final({"evaluated": False, "reason": "no iteration improved on the base"}, exit_code=1)
    test = loop.loaded.suite.default_split
    log(f"[final] best iteration {best.index}: base and candidate on the held-out {test!r} split")
    base_test = evaluate(cfg, loop.loaded, cfg.base, test, loop.out / "runs" / f"base-{test}")
    cand_test = evaluate(cfg, loop.loaded, best.result.candidate, test, loop.out / "runs" / f"candidate-{test}")
    if loop.loaded.suite.retention:
        log(f"[final] retention: {len(loop.loaded.suite.retention)} check(s) of what the base could do, base and candidate")
        retain(cfg, loop.loaded, cfg.base, base_test.directory, log)
        retain(cfg, loop.loaded, best.result.candidate, cand_test.directory, log)
    lineage.mark("best", best.index)
    gate = _gate(loop, base_test.directory, cand_test.directory, None, lineage=lineage.entries)  # decide; no files yet
    promoted = None
    if gate.passed:
        promoted = best.result.candidate
        lineage.mark("promoted", best.index)
    # The reports are written once, showing the promotion; the comparison (its 2,000-resample
    # bootstraps) is the one just made, not recomputed.
    gate = gate_comparison(loop.loaded.path, gate.comparison, loop.out / "report", lineage=lineage.entries,
                           trust=cfg.trust)
    record = {
        "evaluated": True, "best_iteration": best.index, "split": test,
        "base_run": str(base_test.directory), "candidate_run": str(cand_test.directory),
        "base_scores": scores(base_test), "candidate_scores": scores(cand_test),
        "gate_passed": gate.passed, "outcome": gate.outcome, "report": str(gate.html_path) if gate.html_path else None,
        "rules": [r.model_dump(mode="json") for r in gate.rules],
        "cost": {"base_run": run_cost(base_test), "candidate_run": run_cost(cand_test)},
    }
    return Final(record, gate.exit_code, promoted, gate)
