"""Fine-tuning: trainers behind one interface, found through the ``TRAINERS`` registry.

    from harness.train import TrainConfig, run_training
    result = run_training(TrainConfig(trainer="local", base="local", train_file=..., out_dir=...))
    result.candidate  # "local:smollm2?adapter=..." -- evaluate it like any model spec
"""

from harness.train.base import (
    TRAINERS,
    EpochLoss,
    TrainConfig,
    Trainer,
    TrainingFailed,
    TrainResult,
    run_training,
    trainer,
)

__all__ = ["TRAINERS", "EpochLoss", "TrainConfig", "TrainResult", "Trainer", "TrainingFailed", "run_training", "trainer"]
