"""The fine-tuning loop: train, evaluate on validation, learn from what regressed, repeat; then
evaluate the best iteration once on the held-out test split and gate it against the base.

    prepare pool -> base on validation
    -> for each iteration: write data -> train -> candidate on validation -> compare with best
                           -> stop (gate passes / no improvement / N) or plan the next data and settings
    -> best on test, base on test -> gate + HTML/CSV report with lineage -> lineage.json

With ``method: dpo`` (the suite's ``training.method`` or ``--method dpo``) the first iteration is
supervised and each later one trains DPO on top of the previous candidate, on preference pairs
built from its validation failures and regressions (see harness.loop.preference).

Every stage writes into the loop's folder and reuses what an earlier, interrupted run of the same
loop finished (run outputs through the response cache; a training run whose config and data are
unchanged through its ``train_result.json``), so a rerun resumes.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core.errors import EnvironmentFailure, HarnessError
from harness.core.io import atomic_write_text
from harness.loop.data import BuiltData, Pool, build_pool, write_training_file
from harness.loop.feedback import Trained, Validated, plan_next
from harness.loop.preference import dpo_base, write_pairs
from harness.records.base import FORMAT_VERSION, nan_if_none
from harness.core.version import code_revision, version
from harness.records.lineage import LineageRecord
from harness.records.run import RunRecord, RunSummary, read_run
from harness.suite.load import LoadedSuite, load_suite
from harness.train.base import (
    Log,
    TrainConfig,
    TrainResult,
    make_config,
    run_training,
)


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
    eval_limit: int | None = None
    allow_contamination: bool = False
    progress: bool = True
    method: str | None = None  # supervised or dpo; default: the suite's training.method, else supervised

    def to_json(self) -> dict[str, Any]:
        return json.loads(json.dumps(self.__dict__, default=str))


@dataclass
class Evaluation:
    model: str
    split: str
    record: RunRecord
    rows: list[dict[str, Any]] = field(init=False)  # per-example rows, for the feedback planner

    def __post_init__(self) -> None:
        self.rows = self.record.rows()

    @property
    def directory(self) -> Path:
        return self.record.directory

    def mean(self, score: str) -> float:
        return nan_if_none(self.record.summary.metrics[score].mean)


@dataclass
class Iteration:
    index: int
    data: BuiltData
    config: TrainConfig
    result: TrainResult
    validation: Evaluation
    score: float
    improved: bool
    gate_passed: bool
    reason_next: str = ""
    feedback: dict[str, Any] | None = None


@dataclass
class LoopOutcome:
    out_dir: Path
    lineage_path: Path
    lineage: dict[str, Any]
    best: Iteration | None
    promoted: str | None
    exit_code: int
    gate: Any = None  # harness.promote.gate.GateOutcome of the final test-split gate


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


# ---------------------------------------------------------------- stages


def evaluate(cfg: IterateConfig, loaded: LoadedSuite, model: str, split: str, directory: Path) -> Evaluation:
    from harness.providers.base import ModelSpec
    from harness.evaluate.run import RunConfig, run_suite

    outcome = run_suite(RunConfig(suite=loaded.path, model=ModelSpec.parse(model), split=split, limit=cfg.eval_limit,
                                  reports_dir=cfg.reports_dir, out=directory, progress=cfg.progress))
    return Evaluation(model, split, read_run(outcome.directory))


def _reuse_training(config: TrainConfig) -> TrainResult | None:
    """The result of an identical earlier training run in the same folder, if it finished."""
    from harness.train.base import data_hashes

    from harness.records.train_result import TRAIN_RESULT, read_train_result

    path = config.out_dir / TRAIN_RESULT
    if not path.is_file():
        return None
    record = read_train_result(path)
    if record.config != config.model_dump(mode="json"):
        return None
    if record.result.get("data_hashes") != data_hashes(config):
        return None
    result = TrainResult.from_json(record.result)
    if result.adapter is not None and not result.adapter.exists():
        return None
    return result


def train(config: TrainConfig, log: Log) -> TrainResult:
    reused = _reuse_training(config)
    if reused is not None:
        log(f"training: reusing the finished run in {config.out_dir} (same config and data)")
        return reused
    return run_training(config, log)


def _gate(loaded: LoadedSuite, baseline: Path, candidate: Path, out: Path | None, lineage: list[dict[str, Any]] | None = None):
    from harness.promote.gate import gate_runs

    return gate_runs(loaded.path, baseline, candidate, out, lineage=lineage)


def _scores(ev: Evaluation) -> dict[str, float | None]:
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


def _entry(it: Iteration, score: str) -> dict[str, Any]:
    r = it.result
    return {
        "cost": {"validation_run": run_cost(it.validation), "training": training_cost(r)},
        "iteration": it.index,
        "model": r.candidate,
        "dataset_sha256": it.data.sha256,
        "data": it.data.to_json(),
        "changes": "; ".join(it.data.changes.get("reasons", [])) or "first iteration: the prepared pool as is",
        "hyperparameters": {k: r.hyperparameters.get(k) for k in ("epochs", "learning_rate", "learning_rate_multiplier",
                                                                    "batch_size", "lora_r", "seed") if k in r.hyperparameters}
                           or it.config.model_dump(mode="json", include={"epochs", "learning_rate", "batch_size", "seed"}),
        "adapter": str(r.adapter) if r.adapter else None,
        "adapter_sha256": r.adapter_sha256,
        "job_id": r.job_id,
        "training": {"seconds": r.seconds, "steps": r.steps, "best_epoch": r.best_epoch, "stopped_early": r.stopped_early,
                     "epochs": [vars(e) for e in r.epochs], "val_trend": r.val_trend(),
                     "metrics_csv": str(r.metrics_csv) if r.metrics_csv else None,
                     "loss_curve": str(r.loss_curve) if r.loss_curve else None},
        "validation_run": str(it.validation.directory),
        "scores": _scores(it.validation),
        "score": {"name": score, "value": it.score},
        "improved": it.improved,
        "gate_passed_on_validation": it.gate_passed,
        "reason_next": it.reason_next,
        "feedback": it.feedback,
        "promoted": False,
    }


# ---------------------------------------------------------------- the loop


def iterate(cfg: IterateConfig, log: Log = print) -> LoopOutcome:
    from harness.train.driver import default_trainer

    if cfg.max_iterations < 1:
        raise HarnessError("--max-iterations must be at least 1")
    loaded = load_suite(cfg.suite)
    for split in ("validation", loaded.suite.default_split):
        if split not in loaded.suite.dataset.splits:
            raise HarnessError(f"{loaded.path}: the loop needs a {split!r} split (dataset.splits); the suite has: "
                               f"{', '.join(loaded.suite.dataset.splits)}")
    out = cfg.out_dir or default_out(loaded.suite.name, cfg.base, cfg.reports_dir)
    out.mkdir(parents=True, exist_ok=True)
    trainer = cfg.trainer or default_trainer(cfg.base)
    method = cfg.method or (loaded.suite.training.method if loaded.suite.training else "supervised")
    if method not in ("supervised", "dpo"):
        raise HarnessError(f"--method {method}: expected supervised or dpo")
    t0 = time.perf_counter()

    first = make_config(TrainConfig, trainer=trainer, base=cfg.base, train_file=Path("-"), out_dir=out,
                        seed=cfg.seed, **cfg.train)
    pool: Pool = build_pool(loaded, cfg.data, out / "data", trainer, first.max_length, cfg.seed,
                            cfg.allow_contamination, log)

    log(f"[base] {cfg.base} on the validation split")
    base_val = evaluate(cfg, loaded, cfg.base, "validation", out / "runs" / "base-validation")
    score = cfg.score or primary_score(loaded, base_val.record.summary)
    metrics = base_val.record.summary.metrics
    if score not in metrics:
        raise HarnessError(f"--score {score}: not a score of this suite; it has: {', '.join(metrics)}")
    direction = metrics[score].direction
    log(f"[base] validation {score} = {base_val.mean(score):.3f}")

    lineage: list[dict[str, Any]] = [{
        "iteration": 0, "model": cfg.base, "dataset_sha256": None, "changes": "the base model, not fine-tuned",
        "hyperparameters": {}, "validation_run": str(base_val.directory), "scores": _scores(base_val),
        "score": {"name": score, "value": base_val.mean(score)}, "reason_next": "", "promoted": False,
        "cost": {"validation_run": run_cost(base_val)},
    }]
    iterations: list[Iteration] = []
    best: Iteration | None = None
    best_value, best_rows = base_val.mean(score), base_val.rows
    rows, config, changes = pool.rows, first.model_copy(update={"validation_file": pool.validation_path}), {}
    stop = f"reached --max-iterations {cfg.max_iterations}"
    pairs: BuiltData | None = None  # dpo: the next iteration's preference pairs
    if method == "dpo":
        log("[loop] method dpo: iteration 1 is supervised; later ones train DPO on the previous candidate's failures")

    for k in range(1, cfg.max_iterations + 1):
        it_dir = out / f"iteration-{k}"
        if pairs is not None:
            data = pairs
            config = config.model_copy(update={"method": "dpo", "train_file": data.path, "out_dir": it_dir / "train",
                                               "validation_file": None, "base": dpo_base(iterations[-1].result, it_dir, log)})
        else:
            data = write_training_file(rows, it_dir / "train.jsonl", cfg.seed + k, changes)
            config = config.model_copy(update={"train_file": data.path, "out_dir": it_dir / "train"})
        log(f"[iteration {k}] training {trainer} on {data.n_examples} examples "
            f"(epochs {config.epochs}, data {data.sha256[:12]})")
        result = train(config, log)
        log(f"[iteration {k}] {result.candidate} on the validation split")
        val = evaluate(cfg, loaded, result.candidate, "validation", it_dir / "validation-run")
        value = val.mean(score)
        improved = better(value, best_value, direction, cfg.min_gain)
        gate = _gate(loaded, base_val.directory, val.directory, it_dir / "validation-gate")
        it = Iteration(k, data, config, result, val, value, improved, gate.passed)
        iterations.append(it)
        log(f"[iteration {k}] validation {score} = {value:.3f} (best so far {best_value:.3f}); "
            f"gate on validation {'passes' if gate.passed else 'blocks'}")
        previous_best_rows = best_rows
        if improved:
            best, best_value, best_rows = it, value, val.rows

        if gate.passed and improved:
            stop = f"iteration {k} passes the suite's gates on validation"
        elif not improved:
            stop = f"iteration {k} brought no improvement on validation {score} ({value:.3f} vs best {best_value:.3f})"
        elif k == cfg.max_iterations:
            stop = f"reached --max-iterations {cfg.max_iterations}"
        else:
            validated = Validated(score, val.record.summary.metrics[score], val.rows, previous_best_rows)
            rows, config, fb = plan_next(pool.rows, validated, Trained(rows, config, result),
                                         seed=cfg.seed + k, max_boost=cfg.max_boost)
            it.feedback = fb.to_json()
            it.reason_next = "; ".join(fb.reasons)
            if method == "dpo":
                pairs = write_pairs(validated, out / f"iteration-{k + 1}" / "pairs.jsonl", cfg.seed + k + 1, k)
                if pairs is None:
                    stop = f"method dpo: iteration {k} left no wrong or regressed validation answer to build pairs from"
                    it.reason_next = f"stop: {stop}"
                    lineage.append(_entry(it, score))
                    break
                settings = [r for r in fb.reasons if not r.startswith(("category ", "no category"))]
                it.reason_next = "; ".join(pairs.changes["reasons"] + settings)
            changes = {"from_iteration": k, "upsample": fb.upsample, "hyperparameters": fb.hyperparameter_changes,
                       "reasons": fb.reasons}
            log(f"[iteration {k}] next: {it.reason_next}")
            lineage.append(_entry(it, score))
            continue
        it.reason_next = f"stop: {stop}"
        lineage.append(_entry(it, score))
        break
    log(f"[loop] {stop}")

    record: dict[str, Any] = {
        "kind": "iterate", "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "harness_version": version(), "code_revision": code_revision(),
        "config": cfg.to_json(), "trainer": trainer, "method": method,
        "suite": {"name": loaded.suite.name, "version": loaded.suite.version, "path": str(loaded.path),
                  "sha256": loaded.sha256},
        "pool": {"source": str(pool.source), "train": str(pool.train_path), "categories": dict(pool.categories()),
                 "validation": str(pool.validation_path) if pool.validation_path else None,
                 "input_sha256": pool.report["input"]["sha256"]},
        "score": {"name": score, "direction": direction}, "stop_reason": stop,
    }
    gate = None
    promoted = None
    final_costs: list[dict[str, Any]] = []
    if best is None:
        log(f"[final] no iteration beat the base on validation {score}; nothing to evaluate on the test split or promote")
        exit_code = 1
        record["final"] = {"evaluated": False, "reason": "no iteration improved on the base"}
    else:
        test = loaded.suite.default_split
        log(f"[final] best iteration {best.index}: base and candidate on the held-out {test!r} split")
        base_test = evaluate(cfg, loaded, cfg.base, test, out / "runs" / f"base-{test}")
        cand_test = evaluate(cfg, loaded, best.result.candidate, test, out / "runs" / f"candidate-{test}")
        for e in lineage:
            e["best"] = e["iteration"] == best.index
        gate = _gate(loaded, base_test.directory, cand_test.directory, None, lineage=lineage)  # decide; no files yet
        if gate.passed:
            promoted = best.result.candidate
            for e in lineage:
                e["promoted"] = e["iteration"] == best.index
        # The reports are written once, showing the promotion; the comparison (its 2,000-resample
        # bootstraps) is the one just made, not recomputed.
        from harness.promote.gate import gate_comparison

        gate = gate_comparison(loaded.path, gate.comparison, out / "report", lineage=lineage)
        exit_code = gate.exit_code
        record["final"] = {
            "evaluated": True, "best_iteration": best.index, "split": test,
            "base_run": str(base_test.directory), "candidate_run": str(cand_test.directory),
            "base_scores": _scores(base_test), "candidate_scores": _scores(cand_test),
            "gate_passed": gate.passed, "report": str(gate.html_path) if gate.html_path else None,
            "rules": [r.model_dump(mode="json") for r in gate.rules],
            "cost": {"base_run": run_cost(base_test), "candidate_run": run_cost(cand_test)},
        }
        final_costs = list(record["final"]["cost"].values())
    record["iterations"] = lineage
    record["cost"] = loop_cost(lineage, final_costs)
    record["promoted"] = promoted
    record["seconds"] = round(time.perf_counter() - t0, 1)
    record["format_version"] = FORMAT_VERSION
    lineage_record = LineageRecord.model_validate(json.loads(json.dumps(record, default=str)))
    path = out / "lineage.json"
    try:
        atomic_write_text(path, lineage_record.to_json() + "\n")
    except OSError as e:
        raise EnvironmentFailure.from_os_error(e, "writing lineage.json") from None
    return LoopOutcome(out, path, lineage_record.model_dump(mode="json"), best, promoted, exit_code, gate)
