"""`harness iterate` with the real local trainer on a tiny random llama: every epoch's checkpoint is
evaluated on validation over one base, the chosen one is the iteration's candidate, and
lineage.json, metrics.csv, the loss curve and train_result.json agree on it."""

from __future__ import annotations

import csv
import os
from pathlib import Path

from harness.loop.iterate import IterateConfig, iterate
from harness.records import read_checkpoint_table, read_train_result
from tests.train.conftest import need, tiny_llama  # noqa: F401  (the fixture)

REPO = Path(__file__).resolve().parents[2]


def test_the_loop_chooses_among_real_checkpoints(tmp_path: Path, tiny_llama, monkeypatch) -> None:  # noqa: F811
    need("trl", "peft", "transformers")
    from harness.local import models as lm

    monkeypatch.setenv("HARNESS_DATA_ROOT", os.path.commonpath([tmp_path, REPO, tiny_llama]))
    lm.clear_model_cache()
    bases0 = lm.load_stats.bases
    cfg = IterateConfig(suite=REPO / "suites" / "support_intent.yaml", base=f"local:{tiny_llama}", trainer="local",
                        out_dir=tmp_path / "loop", reports_dir=tmp_path / "reports", progress=False, max_iterations=1,
                        eval_limit=4, train={"epochs": 2, "batch_size": 16, "max_length": 96, "lora_r": 2,
                                             "lora_alpha": 4, "device": "cpu", "early_stopping_patience": None})
    lines: list[str] = []
    out = iterate(cfg, log=lines.append)
    it = out.lineage["iterations"][1]
    table = it["checkpoints"]
    assert [c["epoch"] for c in table] == [1, 2] and sum(c["chosen"] for c in table) == 1
    chosen = next(c for c in table if c["chosen"])
    assert it["model"] == f"local:{tiny_llama}?adapter={chosen['path']}" and it["adapter"] == chosen["path"]
    assert it["validation_run"] == chosen["run"] and chosen["why"]
    # the two checkpoints were evaluated on the base the base's validation run had loaded: no load;
    # in all: SmolLM2's tokenizer for the data checks, the trainer's private copy, one shared base
    # for every evaluation (base, checkpoints, final test runs)
    assert read_checkpoint_table(tmp_path / "loop" / "iteration-1" / "checkpoints" / "checkpoints.json").base_loads == 0
    assert lm.load_stats.bases - bases0 == 3
    train = tmp_path / "loop" / "iteration-1" / "train"
    assert read_train_result(train / "train_result.json").result["candidate"] == it["model"]
    rows = [r for r in csv.DictReader((train / "metrics.csv").open()) if r["kind"] == "checkpoint"]
    assert [r["chosen"] for r in rows] == ["yes" if c["chosen"] else "" for c in table]
    assert "right axis" in (train / "loss_curve.svg").read_text()
    assert any("chosen: checkpoint-" in m for m in lines)
