"""--track mlflow: runs, gates and an iterate loop logged to a real SQLite tracking store and read
back with MLflow's own client. mlflow is an optional extra: without it these tests skip, except
under CI (CI=true), where they fail."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deps import requires_module

from harness.cli import main
from harness.train.base import TRAINERS, EpochLoss, Trainer, TrainResult, data_hashes

requires_module("mlflow.tracking", "pip install -e '.[tracking]'")
from mlflow.tracking import MlflowClient  # noqa: E402

pytestmark = pytest.mark.timeout(600)

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "datasets" / "support_intent"
ENOUGH = 15  # the scripted trainer learns a category from this many examples


def rows(split: str) -> list[dict]:
    return [json.loads(x) for x in (DATA / f"{split}.jsonl").read_text().splitlines() if x.strip()]


class ScriptedTrainer(Trainer):
    """As tests/loop's: right on a category once the training file has ENOUGH of it; val loss rises."""

    name = "scripted_for_tracking"

    def train(self, config, log):
        from collections import Counter

        counts = Counter(json.loads(x).get("category") for x in config.train_file.read_text().splitlines() if x.strip())
        outputs = config.out_dir / "outputs.jsonl"
        outputs.parent.mkdir(parents=True, exist_ok=True)
        outputs.write_text("".join(json.dumps({"id": r["id"], "output": r["intent"] if counts.get(r["intent"], 0) >= ENOUGH
                                               else "no idea"}) + "\n" for s in ("validation", "test") for r in rows(s)))
        return TrainResult(trainer="scripted_for_tracking", base=config.base, candidate=f"scripted:{outputs}",
                           out_dir=config.out_dir, metrics_csv=None, loss_curve=None,
                           epochs=[EpochLoss(1, 1.0, 0.50, 10), EpochLoss(2, 0.6, 0.60, 20)], best_epoch=1,
                           stopped_early=False, steps=20, hyperparameters={"epochs": config.epochs, "learning_rate": config.learning_rate},
                           data_hashes=data_hashes(config))


@pytest.fixture(autouse=True)
def _registered_trainer() -> Iterator[None]:
    """The scripted trainer is registered for this module's tests only."""
    with TRAINERS.temporarily("scripted_for_tracking", ScriptedTrainer):
        yield


@pytest.fixture()
def suite(tmp_path: Path) -> Path:
    """support_intent with a strict gate (95% accuracy), so one fine-tune is not enough."""
    text = (REPO / "suites" / "support_intent.yaml").read_text().replace("path: ../datasets/support_intent", f"path: {DATA}")
    p = tmp_path / "strict_intent.yaml"
    p.write_text(text.split("gates:")[0] + "gates:\n  - metric: accuracy\n    min: 0.95\n  - metric: accuracy\n    max_regressions: 0\n")
    return p


@pytest.fixture()
def pool(tmp_path: Path) -> Path:
    """The train split with damaged_item cut to 10 examples: too few to learn it at first."""
    kept, n = [], 0
    for r in rows("train"):
        n += r["intent"] == "damaged_item"
        if r["intent"] != "damaged_item" or n <= 10:
            kept.append(r)
    p = tmp_path / "pool.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in kept))
    return p


@pytest.fixture()
def base(tmp_path: Path) -> str:
    p = tmp_path / "base.jsonl"
    p.write_text("".join(json.dumps({"id": r["id"], "output": "no idea"}) + "\n" for s in ("validation", "test") for r in rows(s)))
    return f"scripted:{p}"


def _runs(uri: str, experiment: str) -> list:
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None, f"no experiment {experiment!r} in {uri}"
    return client.search_runs([exp.experiment_id], max_results=1000)


def _artifacts(uri: str, run_id: str, folder: str) -> set[str]:
    return {Path(a.path).name for a in MlflowClient(tracking_uri=uri).list_artifacts(run_id, folder)}


def test_run_and_gate_are_logged_with_params_metrics_cis_and_artifacts(tmp_path, suite, base, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    good = tmp_path / "good.jsonl"
    good.write_text("".join(json.dumps({"id": r["id"], "output": r["intent"]}) + "\n" for r in rows("test")))
    reports = tmp_path / "reports"
    assert main(["run", str(suite), "--model", f"scripted:{good}", "--reports", str(reports), "--no-progress",
                 "--track", "mlflow", "--out", str(tmp_path / "good-run")]) == 0
    uri = f"sqlite:///{reports.resolve() / 'mlflow.db'}"  # the default store
    [run] = _runs(uri, "support-intent")
    assert run.data.params["model"] == f"scripted:{good}" and run.data.params["label"] == "scripted:good"
    assert run.data.params["split"] == "test"
    assert run.data.params["suite"] == "support-intent" and run.data.params["generation.max_tokens"] == "12"
    m = run.data.metrics
    assert m["accuracy"] == 1.0 and m["accuracy.ci_low"] < 1.0 <= m["accuracy.ci_high"]
    assert _artifacts(uri, run.info.run_id, "run") == {"summary.json", "summary.csv"}

    # A comparison: each run's mean and the paired difference with its CI.
    assert main(["run", str(suite), "--model", base, "--reports", str(reports), "--no-progress", "--out", str(tmp_path / "base-run")]) == 0
    assert main(["compare", str(tmp_path / "good-run"), str(tmp_path / "base-run"), "--out", str(tmp_path / "cmp"),
                 "--reports", str(reports), "--track", "mlflow"]) == 0
    [cmp] = [r for r in _runs(uri, "support-intent") if r.info.run_name.startswith("compare")]
    # Metric keys after the runs' short labels, not their positions.
    assert cmp.data.params["scripted_good.model"] == f"scripted:{good}" and cmp.data.params["scripted_base.model"] == base
    assert cmp.data.metrics["accuracy.scripted_good.mean"] == 1.0 and cmp.data.metrics["accuracy.scripted_base.mean"] == 0.0
    assert cmp.data.metrics["accuracy.delta.scripted_base"] == -1.0
    assert cmp.data.metrics["accuracy.delta.scripted_base.ci_low"] <= -1.0 <= cmp.data.metrics["accuracy.delta.scripted_base.ci_high"]
    assert cmp.data.metrics["accuracy.delta.scripted_base.regressions"] == 120
    assert cmp.data.tags["harness.run_id.scripted_good"] == run.info.run_id
    assert {"comparison.json", "report.html"} <= _artifacts(uri, cmp.info.run_id, "comparison")

    # A gate whose candidate is the all-wrong base: blocked (exit 1); it references the baseline run
    # already logged and logs the candidate (run by the gate) once, as its own run, not nested.
    assert main(["gate", str(suite), "--baseline", str(tmp_path / "good-run"), "--candidate", base, "--reports", str(reports),
                 "--out", str(tmp_path / "gate"), "--no-progress", "--track", "mlflow"]) == 1
    runs = _runs(uri, "support-intent")
    [gate] = [r for r in runs if r.info.run_name.startswith("gate")]
    assert gate.data.metrics["gate.passed"] == 0.0 and gate.data.tags["harness.decision"] == "blocked"
    assert any(v.startswith("FAIL accuracy") for k, v in gate.data.tags.items() if k.startswith("rule."))
    assert gate.data.metrics["rule.accuracy.min.passed"] == 0.0 and gate.data.metrics["rule.accuracy.min.threshold"] == 0.95
    assert not [k for k in gate.data.metrics if k.startswith("rule.0")]
    assert not [r for r in runs if r.data.tags.get("mlflow.parentRunId") == gate.info.run_id]
    assert gate.data.tags["harness.baseline_run_id"] == run.info.run_id
    [cand] = [r for r in runs if r.info.run_id == gate.data.tags["harness.candidate_run_id"]]
    assert cand.data.params["model"] == base and cand.data.tags["harness.kind"] == "run"
    assert len([r for r in runs if r.info.run_name.startswith("run ")]) == 2  # good, and the candidate the gate ran
    # Gating the same two run directories twice logs base-run (never tracked before) once, and no run again.
    for _ in range(2):
        assert main(["gate", str(suite), "--baseline", str(tmp_path / "good-run"), "--candidate", str(tmp_path / "base-run"),
                     "--reports", str(reports), "--out", str(tmp_path / "gate2"), "--track", "mlflow"]) == 1
    runs = _runs(uri, "support-intent")
    assert len([r for r in runs if r.info.run_name.startswith("run ")]) == 3
    assert len([r for r in runs if r.info.run_name.startswith("gate")]) == 3
    assert {"gate.json", "report.html", "gate_summary.md", "gate_junit.xml"} <= _artifacts(uri, gate.info.run_id, "gate")


def test_iterate_logs_one_parent_with_nested_iterations_and_training_jobs(tmp_path, suite, pool, base, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'elsewhere' / 'store.db'}"
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)  # honoured over the default store
    code = main(["iterate", str(suite), "--data", str(pool), "--base", base, "--trainer", "scripted_for_tracking",
                 "--max-iterations", "3", "--out", str(tmp_path / "loop"), "--reports", str(tmp_path / "r"),
                 "--no-progress", "--learning-rate", "0.001", "--track", "mlflow"])
    assert code == 0
    assert not (tmp_path / "r" / "mlflow.db").exists()
    runs = _runs(uri, "support-intent")
    [parent] = [r for r in runs if r.info.run_name.startswith("iterate")]
    assert parent.data.params["base"] == base and parent.data.metrics["gate.passed"] == 1.0
    assert parent.data.metrics["best_iteration"] == 2.0
    assert {"lineage.json", "report.html"} <= _artifacts(uri, parent.info.run_id, "loop")
    children = {r.info.run_name: r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id}
    assert {"iteration 0", "iteration 1", "iteration 2", "final base on test", "final candidate on test", "final gate"} <= set(children)
    it2 = children["iteration 2"]
    assert it2.data.metrics["validation.accuracy"] == 1.0 and it2.data.metrics["promoted"] == 1.0
    assert it2.data.params["hp.epochs"] == "1"  # the loop cut the epochs after iteration 1 overfitted
    under_it2 = {r.info.run_name: r for r in runs if r.data.tags.get("mlflow.parentRunId") == it2.info.run_id}
    assert set(under_it2) == {"train iteration 2", "validation iteration 2"}
    job = under_it2["train iteration 2"]
    history = MlflowClient(tracking_uri=uri).get_metric_history(job.info.run_id, "val_loss")
    assert [(h.step, h.value) for h in history] == [(1, 0.5), (2, 0.6)]
    assert children["final gate"].data.tags["harness.decision"] == "promote"


def test_suite_tracking_section_names_the_experiment(tmp_path, suite, base, monkeypatch):
    """With --track the suite's experiment name is used; the store is the environment's."""
    uri = f"sqlite:///{tmp_path / 'suite-store.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    suite.write_text(suite.read_text() + "tracking:\n  mlflow:\n    experiment: intent-from-suite\n")
    assert main(["validate", str(suite)]) == 0
    assert main(["run", str(suite), "--model", base, "--reports", str(tmp_path / "reports"), "--no-progress",
                 "--limit", "5", "--track", "mlflow"]) == 0
    [run] = _runs(uri, "intent-from-suite")
    assert run.data.metrics["accuracy"] == 0.0


def test_tracking_typo_in_a_suite_is_located(tmp_path, suite):
    suite.write_text(suite.read_text() + "tracking:\n  mlflow:\n    tracking_url: sqlite:///x.db\n")
    assert main(["validate", str(suite)]) == 2
