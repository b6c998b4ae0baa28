"""The loop's `dpo` method with a scripted trainer: iteration 1 is supervised; iteration 2 trains
DPO on top of iteration 1's candidate, on pairs built from its wrong validation answers
(reference preferred, the candidate's answer not). Real DPO is tested in tests/train."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cli import main
from harness.loop.iterate import IterateConfig, iterate
from harness.suite.load import load_suite
from harness.train.base import TRAINERS, EpochLoss, Trainer, TrainResult, data_hashes

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "datasets" / "support_intent"
SEEN: list[dict] = []


def rows(split: str) -> list[dict]:
    return [json.loads(x) for x in (DATA / f"{split}.jsonl").read_text().splitlines() if x.strip()]


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


class PreferenceScripted(Trainer):
    """Supervised: learns every category but damaged_item. DPO: starts from its base's answers and
    learns the categories it is given pairs for."""

    name = "scripted_pref"

    def train(self, config, log):
        data = lines(config.train_file)
        SEEN.append({"method": config.method, "base": config.base, "validation_file": config.validation_file, "data": data})
        if config.method == "dpo":
            before = {r["id"]: r["output"] for r in lines(Path(config.base.split(":", 1)[1]))}
            fixed = {p["category"] for p in data}
            answer = {r["id"]: (r["intent"] if r["intent"] in fixed else before[r["id"]])
                      for s in ("validation", "test") for r in rows(s)}
        else:
            answer = {r["id"]: (r["intent"] if r["intent"] != "damaged_item" else "refund_request")
                      for s in ("validation", "test") for r in rows(s)}
        out = config.out_dir / "outputs.jsonl"
        out.write_text("".join(json.dumps({"id": i, "output": o}) + "\n" for i, o in answer.items()))
        return TrainResult(trainer="scripted_pref", base=config.base, candidate=f"scripted:{out}", out_dir=config.out_dir,
                           metrics_csv=None, loss_curve=None, epochs=[EpochLoss(1, 1.0, 0.5, 10)], best_epoch=1,
                           stopped_early=False, steps=10, hyperparameters={"method": config.method},
                           data_hashes=data_hashes(config))


@pytest.fixture(autouse=True)
def _registered_trainer() -> Iterator[None]:
    """The scripted trainer is registered for this module's tests only."""
    with TRAINERS.temporarily("scripted_pref", PreferenceScripted):
        yield


def suite_file(tmp_path: Path, training: str = "") -> Path:
    text = (REPO / "suites" / "support_intent.yaml").read_text().replace("path: ../datasets/support_intent", f"path: {DATA}")
    head, _ = text.split("gates:")
    p = tmp_path / "suite.yaml"
    p.write_text(head + training + "gates:\n  - metric: accuracy\n    min: 0.95\n")
    return p


@pytest.fixture(autouse=True)
def _project_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The suites are in tmp and their data in the repository: a data root above both (--data-root).
    monkeypatch.setenv("HARNESS_DATA_ROOT", os.path.commonpath([tmp_path, REPO]))


@pytest.fixture()
def base(tmp_path: Path) -> str:
    p = tmp_path / "base.jsonl"
    p.write_text("".join(json.dumps({"id": r["id"], "output": "no idea"}) + "\n" for s in ("validation", "test") for r in rows(s)))
    return f"scripted:{p}"


def test_suite_training_dpo_builds_pairs_from_the_candidates_failures(tmp_path: Path, base: str) -> None:
    suite = suite_file(tmp_path, "training:\n  method: dpo\n")
    SEEN.clear()
    out = iterate(IterateConfig(suite=suite, base=base, trainer="scripted_pref", out_dir=tmp_path / "loop",
                                reports_dir=tmp_path / "r", progress=False, max_iterations=3), log=lambda m: None)
    lin = out.lineage
    assert lin["method"] == "dpo"
    assert [s["method"] for s in SEEN] == ["supervised", "dpo"]
    first, second = lin["iterations"][1], lin["iterations"][2]
    # iteration 2 starts from iteration 1's candidate, without the chat validation file
    assert SEEN[1]["base"] == first["model"] and SEEN[1]["validation_file"] is None
    # one pair per damaged_item validation example iteration 1 got wrong: reference preferred, its answer not
    val = {r["id"]: r for r in rows("validation")}
    pairs = SEEN[1]["data"]
    assert pairs and {p["id"] for p in pairs} == {i for i, r in val.items() if r["intent"] == "damaged_item"}
    for p in pairs:
        assert p["preferred_output"] == [{"role": "assistant", "content": val[p["id"]]["intent"]}]
        assert p["non_preferred_output"] == [{"role": "assistant", "content": "refund_request"}]
        assert p["input"]["messages"][-1] == {"role": "user", "content": val[p["id"]]["text"]}
        assert p["input"]["messages"][0]["role"] == "system"  # the suite's prompt, as evaluated
    assert "preference pairs from iteration 1's validation run" in first["reason_next"]
    assert second["data"]["changes"]["method"] == "dpo" and second["scores"]["accuracy"] == 1.0
    assert lin["promoted"] == second["model"] and out.exit_code == 0


def test_cli_method_flag_and_schema(tmp_path: Path, base: str, capsys: pytest.CaptureFixture[str]) -> None:
    suite = suite_file(tmp_path)
    SEEN.clear()
    code = main(["iterate", str(suite), "--base", base, "--trainer", "scripted_pref", "--method", "dpo",
                 "--max-iterations", "2", "--out", str(tmp_path / "cli"), "--reports", str(tmp_path / "r"), "--no-progress"])
    assert code == 0 and [s["method"] for s in SEEN] == ["supervised", "dpo"]
    # without the flag or the key: supervised throughout (the upsampling loop as before)
    SEEN.clear()
    iterate(IterateConfig(suite=suite, base=base, trainer="scripted_pref", out_dir=tmp_path / "sft",
                          reports_dir=tmp_path / "r", progress=False, max_iterations=2), log=lambda m: None)
    assert Counter(s["method"] for s in SEEN) == {"supervised": 2}
    # the suite key is strict
    for bad, where in (("training:\n  method: ppo\n", "training.method"), ("training:\n  methd: dpo\n", "training.methd")):
        with pytest.raises(Exception, match=where):
            load_suite(suite_file(tmp_path, bad))
