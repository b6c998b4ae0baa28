"""train_result.json of a training run: the config it ran with, what it made, and the code that made it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from harness.records.base import FORMAT_VERSION, VersionedRecord, read_record

TRAIN_RESULT = "train_result.json"


class TrainResultRecord(VersionedRecord):
    """``config`` is the TrainConfig as JSON, ``result`` the TrainResult's ``to_json``. Files written
    before versions existed hold only those two and read as version 0."""

    harness_version: str = Field("unknown", description="The package version that trained.")
    code_revision: str = Field("unknown", description="git describe of the code that trained, or \"unknown\".")
    config: dict[str, Any]
    result: dict[str, Any]


def new_train_result(config: dict[str, Any], result: dict[str, Any]) -> TrainResultRecord:
    from harness.core.version import code_revision, version

    return TrainResultRecord(format_version=FORMAT_VERSION, harness_version=version(), code_revision=code_revision(),
                             config=config, result=result)


def read_train_result(path: str | Path) -> TrainResultRecord:
    return read_record(TrainResultRecord, path, "a finished training run writes one")
