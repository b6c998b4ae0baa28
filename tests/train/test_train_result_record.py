"""train_result.json is a versioned record: new files carry the version and code revision, old ones still read."""

import json

import pytest

from harness.core.errors import HarnessError
from harness.records.base import FORMAT_VERSION
from harness.records.train_result import new_train_result, read_train_result
from harness.train.base import TrainResult

RESULT = {"trainer": "local", "base": "local", "candidate": "local:smollm2?adapter=/x/adapter", "out_dir": "/x",
          "metrics_csv": None, "loss_curve": None, "epochs": [{"epoch": 1, "train_loss": 1.5, "val_loss": 1.25, "steps": 4}],
          "best_epoch": 1, "stopped_early": False, "steps": 4, "hyperparameters": {"epochs": 1}, "data_hashes": {"train": "ab"},
          "checkpoints": [], "adapter": "/x/adapter", "adapter_sha256": None, "job_id": None, "seconds": 2.0,
          "val_trend": None}


def test_old_file_without_version_reads_as_version_0(tmp_path):
    path = tmp_path / "train_result.json"
    path.write_text(json.dumps({"config": {"trainer": "local", "epochs": 1}, "result": RESULT}), encoding="utf-8")
    record = read_train_result(path)
    assert (record.format_version, record.code_revision, record.harness_version) == (0, "unknown", "unknown")
    result = TrainResult.from_json(record.result)
    assert result.epochs[0].val_loss == 1.25 and str(result.adapter) == "/x/adapter"


def test_new_record_carries_version_and_revision_and_round_trips(tmp_path):
    from harness.core.version import code_revision

    path = tmp_path / "train_result.json"
    path.write_text(new_train_result({"trainer": "local"}, RESULT).to_json(), encoding="utf-8")
    on_disk = json.loads(path.read_text(encoding="utf-8"))
    assert on_disk["format_version"] == FORMAT_VERSION and on_disk["code_revision"] == code_revision()
    assert read_train_result(path).result == RESULT


def test_newer_or_foreign_file_is_refused_naming_the_field(tmp_path):
    path = tmp_path / "train_result.json"
    path.write_text(json.dumps({"config": {}, "result": RESULT, "format_version": FORMAT_VERSION + 1}), encoding="utf-8")
    with pytest.raises(HarnessError, match="train_result.json: field .*newer harness"):
        read_train_result(path)
    path.write_text(json.dumps({"config": {}, "result": RESULT, "extra": 1}), encoding="utf-8")
    with pytest.raises(HarnessError, match="field extra"):
        read_train_result(path)
