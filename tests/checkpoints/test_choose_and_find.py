"""Choosing a checkpoint by its validation score (loss breaks ties) and finding checkpoints in a
folder trained elsewhere, with located errors. Pure: no model is loaded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.checkpoints.choose import choose, primary_metric
from harness.checkpoints.find import check_base, find_checkpoints, one_base
from harness.checkpoints.table import csv_text, markdown, text
from harness.core.errors import HarnessError
from harness.records.checkpoints import CheckpointEntry, CheckpointTable
from harness.suite.load import load_suite

REPO = Path(__file__).resolve().parents[2]


def e(name: str, step: int, loss: float | None, value: float | None) -> CheckpointEntry:
    return CheckpointEntry(name=name, step=step, loss=loss, metric="accuracy", value=value)


def test_best_by_metric_is_chosen_not_the_lowest_loss() -> None:
    out = choose([e("checkpoint-10", 10, 0.40, 0.70), e("checkpoint-20", 20, 0.35, 0.60),
                  e("checkpoint-30", 30, 0.50, 0.80)], "higher")
    assert [x.chosen for x in out] == [False, False, True]
    best = out[2]
    assert best.why.startswith("highest validation accuracy (0.8)")
    assert "checkpoint-20 has the lowest validation loss (0.35) but accuracy 0.6" in best.why
    assert out[0].why == "accuracy 0.7 vs 0.8 for checkpoint-30"


def test_a_tie_on_the_metric_goes_to_the_lowest_loss_then_the_earlier_step() -> None:
    out = choose([e("a", 1, 0.50, 0.8), e("b", 2, 0.30, 0.8), e("c", 3, 0.10, 0.7)], "higher")
    assert [x.name for x in out if x.chosen] == ["b"]
    assert "tied on highest validation accuracy (0.8) with a; lowest validation loss among them (0.3)" == out[1].why
    assert out[0].why == "tied on accuracy with b; higher validation loss (0.5)"
    same = choose([e("a", 1, 0.3, 0.8), e("b", 2, 0.3, 0.8)], "higher")
    assert [x.name for x in same if x.chosen] == ["a"]


def test_lower_is_better_and_unscored_checkpoints() -> None:
    out = choose([e("a", 1, 0.5, 3.0), e("b", 2, 0.4, 2.0), e("c", 3, 0.1, None)], "lower")
    assert [x.name for x in out if x.chosen] == ["b"] and out[1].why.startswith("lowest validation accuracy (2)")
    assert out[2].why == "no validation score"
    none = choose([e("a", 1, 0.5, None), e("b", 2, 0.4, None)], "higher")
    assert [x.name for x in none if x.chosen] == ["b"] and "lowest validation loss" in none[1].why


def test_primary_metric_is_the_first_comparative_gates() -> None:
    loaded = load_suite(REPO / "suites" / "support_intent.yaml")
    # the first gate is `min` (absolute); the first comparative one (non_inferiority_margin) names accuracy too
    assert primary_metric(loaded.suite.gates, ["accuracy", "macro_f1", "exact_match"]) == (
        "accuracy", "the suite's first comparative gate's metric")

    class G:
        def __init__(self, metric, **kw):
            self.metric = metric
            for k in ("min", "non_inferiority_margin", "min_improvement", "max_regressions"):
                setattr(self, k, kw.get(k))

    assert primary_metric([G("macro_f1", min=0.5), G("accuracy", max_regressions=3)], ["macro_f1", "accuracy"])[0] == "accuracy"
    assert primary_metric([G("macro_f1", min=0.5)], ["accuracy", "macro_f1"]) == ("macro_f1", "the suite's first gate's metric")
    assert primary_metric([], ["rougeL", "bleu"])[0] == "rougeL"


def adapter(folder: Path, base: str = "smollm2", step: int | None = None, losses: tuple = ()) -> Path:
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "base_model_name_or_path": base}))
    if step is not None:
        history = [{"step": s, "loss": tl} for s, tl, _ in losses] + [{"step": s, "eval_loss": vl} for s, _, vl in losses]
        (folder / "trainer_state.json").write_text(json.dumps({"global_step": step, "epoch": step / 10,
                                                               "log_history": history}))
    return folder


def test_finds_trl_and_axolotl_layouts_with_their_losses(tmp_path: Path) -> None:
    root = tmp_path / "axolotl-out"
    adapter(root)  # axolotl: the final adapter at the top
    hist = ((10, 1.2, 0.9), (20, 0.8, 0.7), (30, 0.5, 0.75))
    for s in (30, 10, 20):
        adapter(root / f"checkpoint-{s}", step=s, losses=[h for h in hist if h[0] <= s])
    (root / "runs").mkdir()  # tensorboard logs and other folders are not checkpoints
    found = find_checkpoints(root)
    assert [f.name for f in found] == ["checkpoint-10", "checkpoint-20", "checkpoint-30", "axolotl-out"]
    assert [(f.step, f.epoch, f.train_loss, f.loss) for f in found[:3]] == [
        (10, 1.0, 1.2, 0.9), (20, 2.0, 0.8, 0.7), (30, 3.0, 0.5, 0.75)]
    assert one_base(root, found, None) == "smollm2"


def test_a_folder_without_adapters_is_a_located_error(tmp_path: Path) -> None:
    (tmp_path / "checkpoint-5").mkdir()
    (tmp_path / "checkpoint-5" / "trainer_state.json").write_text("{}")
    with pytest.raises(HarnessError, match=r"no adapter checkpoints in it \(looked for adapter_config.json .*checkpoint-N"):
        find_checkpoints(tmp_path)
    with pytest.raises(HarnessError, match="no such folder"):
        find_checkpoints(tmp_path / "missing")


def test_adapters_over_different_bases_are_refused_naming_the_groups(tmp_path: Path) -> None:
    adapter(tmp_path / "checkpoint-1", base="smollm2", step=1)
    adapter(tmp_path / "checkpoint-2", base="/models/other-7b", step=2)
    adapter(tmp_path / "checkpoint-3", base="smollm2", step=3)
    found = find_checkpoints(tmp_path)
    with pytest.raises(HarnessError) as info:
        one_base(tmp_path, found, None)
    msg = str(info.value)
    assert "over different bases (smollm2: checkpoint-1, checkpoint-3; /models/other-7b: checkpoint-2)" in msg
    assert "evaluate one group at a time" in msg


def test_a_base_that_does_not_load_offline_names_the_adapter_config(tmp_path: Path) -> None:
    adapter(tmp_path / "checkpoint-1", base=str(tmp_path / "gone"), step=1)
    found = find_checkpoints(tmp_path)
    with pytest.raises(HarnessError, match=r"checkpoint-1/adapter_config.json: base_model_name_or_path .*gone.*give --base"):
        check_base(tmp_path, found, one_base(tmp_path, found, None), given=False)
    with pytest.raises(HarnessError, match=r"^--base .*nowhere"):
        check_base(tmp_path, found, str(tmp_path / "nowhere"), given=True)
    adapter(tmp_path / "x" / "checkpoint-9", base="", step=9)
    with pytest.raises(HarnessError, match="base_model_name_or_path is empty; give --base"):
        one_base(tmp_path / "x", find_checkpoints(tmp_path / "x"), None)


def test_the_table_names_the_chosen_one_and_why() -> None:
    entries = choose([e("checkpoint-10", 10, 0.40, 0.70), e("checkpoint-20", 20, 0.35, 0.60)], "higher")
    t = CheckpointTable(suite="s", split="validation", base="smollm2", metric="accuracy", direction="higher",
                        metric_source="the suite's first comparative gate's metric", chosen="checkpoint-10",
                        why=entries[0].why, checkpoints=entries, base_loads=1, seconds=2.5)
    out = text(t)
    assert out.splitlines()[1].startswith("* checkpoint-10")
    assert "chosen: checkpoint-10: highest validation accuracy (0.7)" in out and "1 base load(s)" in out
    assert csv_text(t).splitlines()[0] == "checkpoint,step,epoch,train_loss,val_loss,metric,value,chosen,why,path"
    assert "| **chosen** | checkpoint-10 |" in markdown(t)
    assert CheckpointTable.model_validate_json(t.to_json()) == t
