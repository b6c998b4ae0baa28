"""The loop's candidate is the checkpoint best on validation by the loop's score, not the one with
the lowest validation loss; lineage.json, metrics.csv, the loss curve and train_result.json say
which was chosen and why. Scripted: each checkpoint is a scripted model right on a known share."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.loop.iterate import IterateConfig, iterate
from harness.records import LineageRecord, read_record, read_train_result
from harness.records.base import FORMAT_VERSION
from harness.records.train_result import TRAIN_RESULT, new_train_result
from harness.train.base import TRAINERS, EpochLoss, Trainer, TrainResult, data_hashes
from harness.train.curves import MetricsLog, plot_losses

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "datasets" / "support_intent"
# (step, validation loss, share of validation and test examples answered right)
CHECKPOINTS = [(10, 0.60, 0.70), (20, 0.40, 0.90), (30, 0.30, 0.75)]  # the lowest loss (step 30) is not the best


def rows(split: str) -> list[dict]:
    return [json.loads(x) for x in (DATA / f"{split}.jsonl").read_text().splitlines() if x.strip()]


class CheckpointingTrainer(Trainer):
    """Three checkpoints, each a scripted model; its own candidate is the lowest-loss one, as TRL's would be."""

    name = "scripted_checkpoints"

    def train(self, config, log):
        entries, out = [], config.out_dir
        metrics = MetricsLog(out / "metrics.csv")
        for step, loss, share in CHECKPOINTS:
            path = out / "checkpoints" / f"checkpoint-{step}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "w") as fh:
                for split in ("validation", "test"):
                    rs = rows(split)
                    for i, r in enumerate(rs):
                        fh.write(json.dumps({"id": r["id"], "output": r["intent"] if i < share * len(rs) else "no idea"}) + "\n")
            metrics.log(kind="epoch", step=step, epoch=step // 10, train_loss=loss + 0.2, val_loss=loss)
            entries.append({"epoch": step // 10, "step": step, "train_loss": loss + 0.2, "val_loss": loss,
                            "adapter": None, "path": str(path), "candidate": f"scripted:{path}"})
        metrics.close()
        curve = plot_losses(metrics.rows, out / "loss_curve")
        epochs = [EpochLoss(s // 10, loss + 0.2, loss, s) for s, loss, _ in CHECKPOINTS]
        return TrainResult(trainer=self.name, base=config.base, candidate=entries[2]["candidate"], out_dir=out,
                           metrics_csv=out / "metrics.csv", loss_curve=curve, epochs=epochs, best_epoch=3,
                           stopped_early=False, steps=30, hyperparameters={"epochs": 3}, data_hashes=data_hashes(config),
                           checkpoints=entries)


@pytest.fixture(autouse=True)
def _registered() -> Iterator[None]:
    with TRAINERS.temporarily("scripted_checkpoints", CheckpointingTrainer):
        yield


@pytest.fixture()
def suite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HARNESS_DATA_ROOT", os.path.commonpath([tmp_path, REPO]))
    text = (REPO / "suites" / "support_intent.yaml").read_text().replace("path: ../datasets/support_intent",
                                                                          f"path: {DATA}")
    p = tmp_path / "intent.yaml"
    p.write_text(text)
    return p


def test_the_candidate_is_the_best_checkpoint_by_the_score(tmp_path: Path, suite: Path) -> None:
    base = tmp_path / "base.jsonl"
    base.write_text("".join(json.dumps({"id": r["id"], "output": "no idea"}) + "\n" for s in ("validation", "test") for r in rows(s)))
    lines: list[str] = []
    cfg = IterateConfig(suite=suite, base=f"scripted:{base}", trainer="scripted_checkpoints", out_dir=tmp_path / "loop",
                        reports_dir=tmp_path / "reports", progress=False, max_iterations=1)
    out = iterate(cfg, log=lines.append)
    it = out.lineage["iterations"][1]
    chosen_path = tmp_path / "loop" / "iteration-1" / "train" / "checkpoints" / "checkpoint-20.jsonl"
    assert it["model"] == f"scripted:{chosen_path}"  # not checkpoint-30, the trainer's lowest-loss candidate
    assert it["score"]["value"] == pytest.approx(0.9, abs=0.02)
    table = it["checkpoints"]
    assert [(c["name"], c["step"], c["loss"], c["chosen"]) for c in table] == [
        ("checkpoint-10.jsonl", 10, 0.6, False), ("checkpoint-20.jsonl", 20, 0.4, True),
        ("checkpoint-30.jsonl", 30, 0.3, False)]
    assert [c["value"] for c in table] == pytest.approx([0.7, 0.9, 0.75], abs=0.02)
    assert table[1]["why"].startswith("highest validation accuracy (0.9")
    assert "checkpoint-30.jsonl has the lowest validation loss (0.3) but accuracy 0.75" in table[1]["why"]
    assert out.promoted == it["model"] and out.lineage["final"]["candidate_run"]
    # the chosen checkpoint's validation run is the iteration's validation run: not evaluated twice
    assert it["validation_run"] == table[1]["run"]
    assert any("chosen: checkpoint-20.jsonl" in m for m in lines)
    LineageRecord.model_validate(out.lineage)

    train = tmp_path / "loop" / "iteration-1" / "train"
    got = [r for r in csv.DictReader((train / "metrics.csv").open()) if r["kind"] == "checkpoint"]
    assert [(r["step"], r["metric"], r["chosen"]) for r in got] == [("10", "accuracy", ""), ("20", "accuracy", "yes"),
                                                                   ("30", "accuracy", "")]
    svg = (train / "loss_curve.svg").read_text()
    assert "validation accuracy (right axis)" in svg and "chosen: step 20" in svg
    record = read_train_result(train / TRAIN_RESULT)
    assert record.result["candidate"] == it["model"]
    assert [c.get("chosen") for c in record.result["checkpoints"]] == [False, True, False]
    for f in ("checkpoints.json", "checkpoints.csv", "checkpoints.md", "checkpoints.html"):
        assert (tmp_path / "loop" / "iteration-1" / "checkpoints" / f).is_file()
    # the final report (iterate's report.html) shows the table, the chosen checkpoint marked
    from tests.checkpoints.test_checkpoints_html import cells, rows_of

    report = Path(out.lineage["final"]["report"]).read_text()
    shown = rows_of(report, "checkpoints-1")
    assert [cells(r)[1] for r in shown] == ["checkpoint-10.jsonl", "checkpoint-20.jsonl", "checkpoint-30.jsonl"]
    assert [cells(r)[0] for r in shown] == ["", "✔ chosen", ""]
    assert [cells(r)[2] for r in shown] == ["10", "20", "30"] and [cells(r)[5] for r in shown] == ["0.600", "0.400", "0.300"]
    assert cells(shown[1])[7].startswith("highest validation accuracy (0.9")
    page = (tmp_path / "loop" / "iteration-1" / "checkpoints" / "checkpoints.html").read_text()
    assert [cells(r)[0] for r in rows_of(page, "checkpoints")] == ["", "✔ chosen", ""]


def test_old_lineage_and_train_results_without_checkpoint_scores_still_read(tmp_path: Path) -> None:
    old_entry = {"iteration": 1, "model": "local:smollm2?adapter=x", "training": {"best_epoch": 1}}
    record = {"kind": "iterate", "created_at": "2026-01-01T00:00:00", "config": {}, "suite": {}, "pool": {},
              "score": {"name": "accuracy"}, "stop_reason": "", "final": {}, "iterations": [old_entry],
              "format_version": FORMAT_VERSION}
    (tmp_path / "lineage.json").write_text(json.dumps(record))
    assert read_record(LineageRecord, tmp_path / "lineage.json").iterations[0].checkpoints is None
    old = {"epoch": 1, "step": 10, "train_loss": 1.0, "val_loss": 0.5, "adapter": None}
    result = TrainResult(trainer="local", base="local", candidate="c", out_dir=tmp_path, metrics_csv=None,
                         loss_curve=None, epochs=[], best_epoch=1, stopped_early=False, steps=10, hyperparameters={},
                         data_hashes={}, checkpoints=[old])
    (tmp_path / TRAIN_RESULT).write_text(new_train_result({}, result.to_json()).to_json())
    assert TrainResult.from_json(read_train_result(tmp_path / TRAIN_RESULT).result).checkpoints == [old]
