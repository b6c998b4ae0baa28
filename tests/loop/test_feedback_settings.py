"""The loop's settings feedback: what each validation-loss history does to the next iteration's
epochs and learning rate, with its reason recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.loop.feedback import MAX_EPOCHS, Trained, Validated, plan_next
from harness.records.run import MetricEntry
from harness.train.base import EpochLoss, TrainConfig, TrainResult
from harness.train.local import DEFAULT_LR

SPEC = MetricEntry(metric="classification", name="accuracy", direction="higher", range=[0.0, 1.0], level="example",
                   binary=True, mean=None, ci_low=None, ci_high=None, n=0)


def result(val: list[float], stopped_early: bool = False, best_epoch: int | None = None) -> TrainResult:
    epochs = [EpochLoss(epoch=i + 1, train_loss=1.0, val_loss=v, steps=10 * (i + 1)) for i, v in enumerate(val)]
    if best_epoch is None and val:
        best_epoch = 1 + min(range(len(val)), key=val.__getitem__)
    return TrainResult(trainer="scripted", base="local", candidate="local", out_dir=Path("."), metrics_csv=None,
                       loss_curve=None, epochs=epochs, best_epoch=best_epoch, stopped_early=stopped_early,
                       steps=10 * len(val), hyperparameters={}, data_hashes={})


def rows(accuracy_by_cat: dict[str, list[float]]) -> list[dict]:
    return [{"id": f"{c}-{i}", "category": c, "scores": {"accuracy": v}}
            for c, vals in accuracy_by_cat.items() for i, v in enumerate(vals)]


POOL = [{"id": f"p{c}{i}", "category": c, "messages": []} for c in "ab" for i in range(4)]
VAL = rows({"a": [1, 1, 1, 1], "b": [0, 0, 1, 0]})


def config_of(epochs: int) -> TrainConfig:
    return TrainConfig(train_file=Path("train.jsonl"), out_dir=Path("out"), epochs=epochs)


def plan(val_losses: list[float], epochs: int, **kw):
    config = config_of(epochs)
    train, new, fb = plan_next(POOL, Validated("accuracy", SPEC, VAL), Trained(POOL, config, result(val_losses, **kw)), seed=0)
    return train, new, fb


def test_rising_validation_loss_means_fewer_epochs_and_half_the_rate() -> None:
    _, new, fb = plan([0.50, 0.40, 0.45], epochs=3)
    assert new.epochs == 2 and new.learning_rate == pytest.approx(DEFAULT_LR / 2)
    assert fb.hyperparameter_changes["epochs"] == [3, 2]
    assert any("overfitting" in r and "0.400 -> 0.450" in r for r in fb.reasons)


def test_falling_validation_loss_means_one_more_epoch() -> None:
    _, new, fb = plan([0.50, 0.30], epochs=2)
    assert new.epochs == 3 and new.learning_rate is None
    assert fb.hyperparameter_changes == {"epochs": [2, 3]}
    assert any("underfitting, one more epoch" in r for r in fb.reasons)


def test_falling_stops_at_the_epoch_cap() -> None:
    _, new, fb = plan([0.5 - 0.05 * i for i in range(MAX_EPOCHS)], epochs=MAX_EPOCHS)
    assert new.epochs == MAX_EPOCHS and fb.hyperparameter_changes == {}


def test_a_single_epoch_that_failed_the_gate_gets_a_second() -> None:
    _, new, fb = plan([0.376], epochs=1)
    assert new.epochs == 2 and fb.hyperparameter_changes == {"epochs": [1, 2]}
    assert any("one epoch gives no validation-loss trend (loss 0.376)" in r for r in fb.reasons)


def test_early_stopping_keeps_the_best_epoch() -> None:
    _, new, fb = plan([0.40, 0.30, 0.35, 0.36], epochs=6, stopped_early=True, best_epoch=2)
    assert new.epochs == 2
    assert any("early stopping: best validation loss at epoch 2" in r for r in fb.reasons)


def test_flat_loss_leaves_settings_and_upsamples_the_failing_category() -> None:
    train, new, fb = plan([0.30, 0.30], epochs=2)
    assert new == config_of(2) and fb.hyperparameter_changes == {}
    assert "flat" in " ".join(fb.reasons)
    assert set(fb.upsample) == {"b"} and len(train) == len(POOL) + fb.upsample["b"]
    assert all(r["category"] == "b" for r in train[len(POOL):])


def test_a_regressed_category_is_upsampled_though_it_scores_above_the_average() -> None:
    val = rows({"a": [1, 1, 1, 0], "b": [0, 0, 0, 0]})
    best = rows({"a": [1, 1, 1, 1], "b": [0, 0, 0, 0]})
    train, _, fb = plan_next(POOL, Validated("accuracy", SPEC, val, best),
                             Trained(POOL, config_of(2), result([0.30, 0.30])), seed=0)
    assert fb.regressions == {"a": ["a-3"]}
    assert set(fb.upsample) == {"a", "b"} and len(train) == len(POOL) + sum(fb.upsample.values())
    assert any(r.startswith("category a:") and "1 regression(s) against the best iteration" in r for r in fb.reasons)


def test_a_lower_is_better_score_fails_at_the_top_of_its_range() -> None:
    lower = SPEC.model_copy(update={"direction": "lower", "range": [0.0, 2.0]})
    val = rows({"a": [0, 0], "b": [2, 1]})
    _, _, fb = plan_next(POOL, Validated("accuracy", lower, val), Trained(POOL, config_of(2), result([0.3, 0.3])), seed=0)
    assert fb.per_category["a"].failure == 0.0 and fb.per_category["b"].failure == pytest.approx(0.75)
    assert set(fb.upsample) == {"b"}
