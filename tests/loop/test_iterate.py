"""The fine-tuning loop's own logic, with a scripted trainer whose "model" is right on a category
exactly when the training file holds enough examples of it. Real training is tested in tests/train."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

import harness.compare.comparison as comparison_mod
from harness.cli import main
from harness.core.errors import HarnessError
from harness.loop.iterate import IterateConfig, iterate
from harness.records import FORMAT_VERSION, GateDecision, LineageRecord, read_record
from harness.train.base import TRAINERS, EpochLoss, Trainer, TrainResult, data_hashes

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "datasets" / "support_intent"
ENOUGH = 15  # a category is learned with at least this many training examples
CALLS: list[dict] = []


def rows(split: str) -> list[dict]:
    return [json.loads(x) for x in (DATA / f"{split}.jsonl").read_text().splitlines() if x.strip()]


class CountingTrainer(Trainer):
    """Scripted for the loop's tests: learns a category when it sees >= ENOUGH examples of it."""

    name = "scripted_by_counts"

    def train(self, config, log):
        counts = Counter(json.loads(x).get("category") for x in config.train_file.read_text().splitlines() if x.strip())
        CALLS.append({"counts": dict(counts), "epochs": config.epochs, "lr": config.learning_rate})
        outputs = config.out_dir / "outputs.jsonl"
        with open(outputs, "w") as fh:
            for split in ("validation", "test"):
                for r in rows(split):
                    learned = counts.get(r["intent"], 0) >= ENOUGH
                    fh.write(json.dumps({"id": r["id"], "output": r["intent"] if learned else "no idea"}) + "\n")
        # validation loss that rises after epoch 1: the loop should cut epochs and the learning rate
        epochs = [EpochLoss(1, 1.0, 0.50, 10), EpochLoss(2, 0.6, 0.60, 20)]
        return TrainResult(trainer="scripted_by_counts", base=config.base, candidate=f"scripted:{outputs}",
                           out_dir=config.out_dir, metrics_csv=None, loss_curve=None, epochs=epochs, best_epoch=1,
                           stopped_early=False, steps=20, hyperparameters={"epochs": config.epochs,
                           "learning_rate": config.learning_rate}, data_hashes=data_hashes(config))


@pytest.fixture(autouse=True)
def _registered_trainer() -> Iterator[None]:
    """The scripted trainer is registered for this module's tests only."""
    with TRAINERS.temporarily("scripted_by_counts", CountingTrainer):
        yield


@pytest.fixture()
def suite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """support_intent with a strict gate (95% accuracy), so one fine-tune is not enough."""
    # The suite is in tmp and its data in the repository: a data root above both (--data-root).
    monkeypatch.setenv("HARNESS_DATA_ROOT", os.path.commonpath([tmp_path, REPO]))
    text = (REPO / "suites" / "support_intent.yaml").read_text()
    text = text.replace("path: ../datasets/support_intent", f"path: {DATA}")
    head, _ = text.split("gates:")
    text = head + "gates:\n  - metric: accuracy\n    min: 0.95\n  - metric: accuracy\n    max_regressions: 0\n"
    p = tmp_path / "strict_intent.yaml"
    p.write_text(text)
    return p


@pytest.fixture()
def pool(tmp_path: Path) -> Path:
    """The train split with damaged_item cut to 10 examples: too few to learn it."""
    kept, n = [], 0
    for r in rows("train"):
        if r["intent"] == "damaged_item":
            n += 1
            if n > 10:
                continue
        kept.append(r)
    p = tmp_path / "pool.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in kept))
    return p


@pytest.fixture()
def base(tmp_path: Path) -> str:
    p = tmp_path / "base.jsonl"
    p.write_text("".join(json.dumps({"id": r["id"], "output": "no idea"}) + "\n" for s in ("validation", "test") for r in rows(s)))
    return f"scripted:{p}"


def config(tmp_path, suite, pool, base, **kw) -> IterateConfig:
    return IterateConfig(suite=suite, data=pool, base=base, trainer="scripted_by_counts", out_dir=tmp_path / "loop",
                         reports_dir=tmp_path / "reports", progress=False, train={"learning_rate": 1e-3, "epochs": 2},
                         **kw)


def test_second_iteration_is_built_from_the_first_ones_failures(tmp_path, suite, pool, base):
    CALLS.clear()
    out = iterate(config(tmp_path, suite, pool, base, max_iterations=3), log=lambda m: None)
    lin = out.lineage
    its = lin["iterations"]
    assert [e["iteration"] for e in its] == [0, 1, 2]
    first, second = its[1], its[2]
    # iteration 1 misses damaged_item (10 < 15 examples) and fails the 95% gate on validation
    assert first["scores"]["accuracy"] < 0.95 and not first["gate_passed_on_validation"]
    n = CALLS[0]["counts"]["damaged_item"]  # the pool's damaged_item rows after 10% went to validation loss
    assert n == 9 and first["feedback"]["upsample"] == {"damaged_item": n}
    assert "damaged_item" in first["reason_next"] and "overfitting" in first["reason_next"]
    # iteration 2 trained on the pool plus n damaged_item rows drawn from the pool, fewer epochs, half the rate
    assert CALLS[1]["counts"]["damaged_item"] == 2 * n
    assert CALLS[1]["counts"]["order_status"] == CALLS[0]["counts"]["order_status"]
    assert (CALLS[1]["epochs"], CALLS[1]["lr"]) == (1, pytest.approx(5e-4))
    assert second["data"]["changes"]["upsample"] == {"damaged_item": n}
    assert second["dataset_sha256"] != first["dataset_sha256"]
    assert second["scores"]["accuracy"] == 1.0 and second["gate_passed_on_validation"]
    assert "passes the suite's gates on validation" in lin["stop_reason"]
    # the best iteration is evaluated once on test, gated against the base, and promoted
    assert lin["final"]["best_iteration"] == 2 and lin["final"]["gate_passed"]
    assert lin["promoted"] == second["model"] and out.exit_code == 0
    assert [e["promoted"] for e in its] == [False, False, True]
    test_ids = {r["id"] for r in rows("test")}
    pool_ids = {json.loads(x)["id"] for f in (tmp_path / "loop").glob("iteration-*/train.jsonl") for x in f.read_text().splitlines()}
    assert not (pool_ids & test_ids)
    html = Path(lin["final"]["report"]).read_text()
    assert "damaged_item" in html and second["dataset_sha256"][:12] in html
    # tokens and cost per run and training job; scripted models have no price: None, never $0
    v = second["cost"]["validation_run"]
    assert v["input_tokens"] > 0 and v["cost_usd"] is None and list(v["models"]) == [second["model"]]
    assert second["cost"]["training"]["trained_tokens"] is None and second["cost"]["training"]["cost_usd"] is None
    runs = [e["cost"]["validation_run"] for e in its] + list(lin["final"]["cost"].values())
    assert lin["cost"]["input_tokens"] == sum(r["input_tokens"] for r in runs) and lin["cost"]["cost_usd"] is None


def test_stops_when_an_iteration_brings_no_improvement(tmp_path, suite, base):
    """With damaged_item absent from the pool, upsampling cannot help: iteration 2 equals iteration 1."""
    p = tmp_path / "pool2.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows("train") if r["intent"] != "damaged_item"))
    CALLS.clear()
    out = iterate(config(tmp_path, suite, p, base, max_iterations=3), log=lambda m: None)
    assert len(CALLS) == 2
    assert "iteration 2 brought no improvement" in out.lineage["stop_reason"]
    assert out.lineage["final"]["best_iteration"] == 1
    # the final gate (95% on test) blocks: nothing promoted, exit 1
    assert out.promoted is None and out.exit_code == 1


def test_rerun_resumes_without_retraining(tmp_path, suite, pool, base):
    iterate(config(tmp_path, suite, pool, base, max_iterations=3), log=lambda m: None)
    CALLS.clear()
    logs: list[str] = []
    out = iterate(config(tmp_path, suite, pool, base, max_iterations=3), log=logs.append)
    assert CALLS == [] and sum("reusing the finished run" in m for m in logs) == 2
    assert out.exit_code == 0


def test_refuses_to_train_on_a_held_out_split(tmp_path, suite, base):
    for split in ("test", "validation"):
        with pytest.raises(HarnessError, match=f"the suite's '{split}' split"):
            iterate(config(tmp_path, suite, DATA / f"{split}.jsonl", base), log=lambda m: None)


def test_cli_prints_lineage_and_exit_code(tmp_path, suite, pool, base, capsys):
    code = main(["iterate", str(suite), "--data", str(pool), "--base", base, "--trainer", "scripted_by_counts",
                 "--max-iterations", "3", "--out", str(tmp_path / "cli"), "--reports", str(tmp_path / "r"),
                 "--no-progress", "--learning-rate", "0.001"])
    text = capsys.readouterr().out
    assert code == 0
    assert "damaged_item: +9 training examples" in text
    assert "promoted: scripted:" in text and "lineage:" in text


# lineage.json validates as a LineageRecord, and the final gate's comparison (2,000-resample
# paired bootstraps) is computed once, even when the report is redrawn for the promotion.


def test_lineage_is_a_versioned_record_and_the_final_comparison_is_made_once(tmp_path, suite, pool, base, monkeypatch):
    made: list[list[str]] = []
    real = comparison_mod.compare_aligned

    def counting(aligned, *a, **kw):  # the real comparison, counted
        made.append([str(r.directory) for r in aligned.runs])
        return real(aligned, *a, **kw)

    monkeypatch.setattr(comparison_mod, "compare_aligned", counting)
    out = iterate(config(tmp_path, suite, pool, base, max_iterations=3), log=lambda m: None)
    assert out.promoted is not None  # the promotion path: the report is rendered with the promoted lineage
    rec = read_record(LineageRecord, out.lineage_path)
    assert rec.format_version == FORMAT_VERSION and rec.promoted == out.promoted
    assert [e.promoted for e in rec.iterations] == [False, False, True]
    final = [m for m in made if m[1].endswith("candidate-test")]
    assert len(final) == 1, made  # one comparison of base-test vs candidate-test
    gate = read_record(GateDecision, Path(rec.final["report"]).parent / "gate.json")
    assert gate.passed and [e["promoted"] for e in gate.lineage or []] == [False, False, True]
