"""Resuming an interrupted loop: a training run whose config and data are unchanged is not run
again; its ``train_result.json`` (and adapter) stand in for it. Evaluations resume through the
response cache on their own."""

from __future__ import annotations

from harness.records.train_result import TRAIN_RESULT, read_train_result
from harness.train.base import Log, TrainConfig, TrainResult, data_hashes, run_training


def reuse_training(config: TrainConfig) -> TrainResult | None:
    """The result of an identical earlier training run in the same folder, if it finished."""
    path = config.out_dir / TRAIN_RESULT
    if not path.is_file():
        return None
    record = read_train_result(path)
    if record.config != config.record_json():  # the layout every train_result.json has had
        return None
    if record.result.get("data_hashes") != data_hashes(config):
        return None
    result = TrainResult.from_json(record.result)
    if result.adapter is not None and not result.adapter.exists():
        return None
    return result


def train(config: TrainConfig, log: Log) -> TrainResult:
    """Train with ``config``, or reuse the finished run of the same config and data in its folder."""
    reused = reuse_training(config)
    if reused is not None:
        log(f"training: reusing the finished run in {config.out_dir} (same config and data)")
        return reused
    return run_training(config, log)
