"""Turn one iteration's validation results into the next iteration's data and settings.

Data: categories that fail more often than the average, or where examples regressed against the
best iteration so far, get extra examples drawn (seeded, with replacement) from the training pool
of that category. Never from the test split: the pool is built without it (see loop.data).

Settings: validation loss that rose after its minimum means overfitting (fewer epochs, half the
learning rate); validation loss still falling at the last epoch means underfitting (one more
epoch), and so does a single epoch whose candidate failed the gate (no trend to read yet); early
stopping keeps the epoch count at the best epoch.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from harness.loop.data import category_of
from harness.records.run import MetricEntry
from harness.train.base import TrainConfig, TrainResult

MAX_EPOCHS = 6


@dataclass
class CategoryStat:
    mean: float
    n: int
    failure: float  # 0 = every example at the best value of the score, 1 = every one at the worst


@dataclass
class Feedback:
    per_category: dict[str, CategoryStat]
    overall_failure: float
    regressions: dict[str, list[str]]  # category -> example ids right (or better) before, wrong (or worse) now
    upsample: dict[str, int] = field(default_factory=dict)
    hyperparameter_changes: dict[str, list[Any]] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "per_category": {c: vars(s) for c, s in self.per_category.items()},
            "overall_failure": self.overall_failure,
            "regressions": self.regressions,
            "upsample": self.upsample,
            "hyperparameter_changes": self.hyperparameter_changes,
            "reasons": self.reasons,
        }


@dataclass(frozen=True)
class Validated:
    """One iteration's validation run as the planner reads it: its per-example ``rows`` on the ranking
    ``score`` (``entry`` says which way is better and its range), beside the best iteration's rows so
    far (None: nothing to regress against)."""

    score: str
    entry: MetricEntry
    rows: list[dict[str, Any]]
    best_rows: list[dict[str, Any]] | None = None

    def failure(self, value: float) -> float:
        return failure(value, self.entry)

    def value(self, row: dict[str, Any]) -> float | None:
        return (row.get("scores") or {}).get(self.score)


@dataclass(frozen=True)
class Trained:
    """What one iteration trained: its rows, its config and what training reported."""

    rows: list[dict[str, Any]]
    config: TrainConfig
    result: TrainResult


def failure(value: float, spec: MetricEntry) -> float:
    """0 at the score's best value, 1 at its worst (its range; unbounded ends read as 0 and 1)."""
    lo, hi = spec.range or (0.0, 1.0)
    lo = 0.0 if lo is None else lo
    hi = 1.0 if hi is None else hi
    frac = (value - lo) / (hi - lo) if hi > lo else 0.0
    frac = min(1.0, max(0.0, frac))
    return 1.0 - frac if spec.direction == "higher" else frac


def category_stats(v: Validated) -> tuple[dict[str, CategoryStat], float]:
    """Per category: the mean score and its failure; and the failure of the overall mean (errors count as worst)."""
    spec = v.entry
    by_cat: dict[str, list[float]] = defaultdict(list)
    for r in v.rows:
        x = v.value(r)
        if x is None and r.get("error"):
            x = (spec.range or [0.0, 1.0])[0 if spec.direction == "higher" else 1]
        if x is not None:
            by_cat[r.get("category") or "(none)"].append(float(x))
    stats = {}
    total = []
    for cat, vals in sorted(by_cat.items()):
        m = sum(vals) / len(vals)
        stats[cat] = CategoryStat(m, len(vals), v.failure(m))
        total += vals
    overall = v.failure(sum(total) / len(total)) if total else 1.0
    return stats, overall


def regressions(v: Validated, margin: float = 0.0) -> dict[str, list[str]]:
    """Per category: ids scored worse (by more than ``margin``) than in the best iteration's rows."""
    if not v.best_rows:
        return {}
    before = {r["id"]: v.value(r) for r in v.best_rows}
    sign = 1.0 if v.entry.direction == "higher" else -1.0
    out: dict[str, list[str]] = defaultdict(list)
    for r in v.rows:
        b, a = before.get(r["id"]), v.value(r)
        if b is not None and a is not None and sign * (b - a) > margin:
            out[r.get("category") or "(none)"].append(r["id"])
    return dict(out)


def plan_next(pool_rows: list[dict[str, Any]], validated: Validated, trained: Trained, seed: int,
              max_boost: float = 1.0) -> tuple[list[dict[str, Any]], TrainConfig, Feedback]:
    """The next iteration's training rows and config, with the reasons for each change.

    The rows are this iteration's (``trained.rows``) plus extra copies of pool rows of the
    categories that failed or regressed, so what helped before is kept.
    """
    stats, overall = category_stats(validated)
    fb = Feedback(stats, overall, regressions(validated))
    extra = _upsample(pool_rows, validated.score, fb, seed, max_boost)
    new = _settings(trained.config, trained.result, fb)
    return list(trained.rows) + extra, new, fb


def _upsample(pool_rows: list[dict[str, Any]], score: str, fb: Feedback, seed: int,
              max_boost: float) -> list[dict[str, Any]]:
    """Extra pool rows of each failing or regressed category (recorded in ``fb``)."""
    stats, overall, regs = fb.per_category, fb.overall_failure, fb.regressions
    by_cat: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in pool_rows:
        by_cat[category_of(row)].append(row)
    worst = max((s.failure for s in stats.values()), default=0.0)
    rng = random.Random(seed)
    extra: list[dict[str, Any]] = []
    for cat, s in stats.items():
        failing = s.failure > overall or cat in regs
        if not failing or not by_cat.get(cat) or worst <= 0:
            continue
        k = max(1, round(len(by_cat[cat]) * max_boost * s.failure / worst))
        extra += [rng.choice(by_cat[cat]) for _ in range(k)]
        fb.upsample[cat] = k
        why = f"{score} {s.mean:.2f} on validation vs {1 - overall:.2f} overall" if s.failure > overall else ""
        if cat in regs:
            why += ("; " if why else "") + f"{len(regs[cat])} regression(s) against the best iteration"
        fb.reasons.append(f"category {cat}: +{k} training examples ({why})")
    if not fb.upsample:
        fb.reasons.append("no category fails more than the average: training data unchanged")
    return extra


def _settings(config: TrainConfig, result: TrainResult, fb: Feedback) -> TrainConfig:
    """The next config from the validation-loss history (changes and reasons recorded in ``fb``)."""
    new = config
    trend = result.val_trend()
    v = result.val_losses
    if result.stopped_early and result.best_epoch:
        new = new.model_copy(update={"epochs": max(1, result.best_epoch)})
        fb.reasons.append(f"early stopping: best validation loss at epoch {result.best_epoch}; epochs -> {new.epochs}")
    elif trend == "rising":
        new = new.model_copy(update={"epochs": max(1, config.epochs - 1)}).scaled_learning_rate(0.5)
        fb.reasons.append(f"validation loss rose after its minimum ({min(v):.3f} -> {v[-1]:.3f}): overfitting, "
                          "one epoch fewer and half the learning rate")
    elif trend == "falling" and config.epochs < MAX_EPOCHS:
        new = new.model_copy(update={"epochs": config.epochs + 1})
        fb.reasons.append(f"validation loss still falling at the last epoch ({v[-2]:.3f} -> {v[-1]:.3f}): "
                          "underfitting, one more epoch")
    elif len(v) == 1 and config.epochs == 1 and not result.stopped_early:
        # One epoch shows no trend; a candidate that fails its gate after one pass is taken as
        # underfitting until a second epoch's validation loss says otherwise.
        new = new.model_copy(update={"epochs": 2})
        fb.reasons.append(f"one epoch gives no validation-loss trend (loss {v[0]:.3f}) and the gate blocks: "
                          "underfitting assumed, one more epoch")
    else:
        fb.reasons.append("validation loss flat or unavailable: hyperparameters unchanged")
    before, after = config.record_json(), new.record_json()  # learning_rate_multiplier: the openai trainer's param
    for key in ("epochs", "learning_rate", "learning_rate_multiplier"):
        if after[key] != before[key]:
            fb.hyperparameter_changes[key] = [before[key], after[key]]
    return new
