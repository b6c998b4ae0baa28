"""--track mlflow: runs, gates and an iterate loop logged to a real SQLite tracking store and read
back with MLflow's own client. mlflow is an optional extra: without it these tests skip, except
under CI (CI=true), where they fail."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness.cli import main
from tests.loop.test_iterate import DATA, base, pool, rows, suite  # noqa: F401  (fixtures and the scripted trainer)

try:
    from mlflow.tracking import MlflowClient
except ImportError:  # pragma: no cover
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("mlflow is not installed (pip install mlflow)", allow_module_level=True)

pytestmark = pytest.mark.timeout(600)


def _runs(uri: str, experiment: str) -> list:
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None, f"no experiment {experiment!r} in {uri}"
    return client.search_runs([exp.experiment_id], max_results=1000)


def _artifacts(uri: str, run_id: str, folder: str) -> set[str]:
    return {Path(a.path).name for a in MlflowClient(tracking_uri=uri).list_artifacts(run_id, folder)}


def test_run_and_gate_are_logged_with_params_metrics_cis_and_artifacts(tmp_path, suite, base, monkeypatch):  # noqa: F811
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    good = tmp_path / "good.jsonl"
    good.write_text("".join(json.dumps({"id": r["id"], "output": r["intent"]}) + "\n" for r in rows("test")))
    reports = tmp_path / "reports"
    assert main(["run", str(suite), "--model", f"scripted:{good}", "--reports", str(reports), "--no-progress",
                 "--track", "mlflow", "--out", str(tmp_path / "good-run")]) == 0
    uri = f"sqlite:///{reports.resolve() / 'mlflow.db'}"  # the default store
    [run] = _runs(uri, "support-intent")
    assert run.data.params["model"] == f"scripted:{good}" and run.data.params["split"] == "test"
    assert run.data.params["suite"] == "support-intent" and run.data.params["generation.max_tokens"] == "12"
    m = run.data.metrics
    assert m["accuracy"] == 1.0 and m["accuracy.ci_low"] < 1.0 <= m["accuracy.ci_high"]
    assert _artifacts(uri, run.info.run_id, "run") == {"summary.json", "summary.csv"}

    # A comparison: each run's mean and the paired difference with its CI.
    assert main(["run", str(suite), "--model", base, "--reports", str(reports), "--no-progress", "--out", str(tmp_path / "base-run")]) == 0
    assert main(["compare", str(tmp_path / "good-run"), str(tmp_path / "base-run"), "--out", str(tmp_path / "cmp"),
                 "--reports", str(reports), "--track", "mlflow"]) == 0
    [cmp] = [r for r in _runs(uri, "support-intent") if r.info.run_name.startswith("compare")]
    assert cmp.data.params["run0.model"] == f"scripted:{good}" and cmp.data.params["run1.model"] == base
    assert cmp.data.metrics["accuracy.run0.mean"] == 1.0 and cmp.data.metrics["accuracy.run1.mean"] == 0.0
    assert cmp.data.metrics["accuracy.delta.run1"] == -1.0
    assert cmp.data.metrics["accuracy.delta.run1.ci_low"] <= -1.0 <= cmp.data.metrics["accuracy.delta.run1.ci_high"]
    assert cmp.data.metrics["accuracy.delta.run1.regressions"] == 120
    assert {"comparison.json", "report.html"} <= _artifacts(uri, cmp.info.run_id, "comparison")

    # A gate whose candidate is the all-wrong base: blocked (exit 1), logged with its runs nested.
    assert main(["gate", str(suite), "--baseline", str(tmp_path / "good-run"), "--candidate", base, "--reports", str(reports),
                 "--out", str(tmp_path / "gate"), "--no-progress", "--track", "mlflow"]) == 1
    runs = _runs(uri, "support-intent")
    [gate] = [r for r in runs if r.info.run_name.startswith("gate")]
    assert gate.data.metrics["gate.passed"] == 0.0 and gate.data.tags["harness.decision"] == "blocked"
    assert any(v.startswith("FAIL accuracy") for k, v in gate.data.tags.items() if k.startswith("rule."))
    nested = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == gate.info.run_id]
    assert sorted(r.info.run_name.split(" ")[0] for r in nested) == ["baseline", "candidate"]
    assert {"gate.json", "report.html", "gate_summary.md", "gate_junit.xml"} <= _artifacts(uri, gate.info.run_id, "gate")


def test_iterate_logs_one_parent_with_nested_iterations_and_training_jobs(tmp_path, suite, pool, base, monkeypatch):  # noqa: F811
    uri = f"sqlite:///{tmp_path / 'elsewhere' / 'store.db'}"
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)  # honoured over the default store
    code = main(["iterate", str(suite), "--data", str(pool), "--base", base, "--trainer", "scripted_by_counts",
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


def test_suite_tracking_section_turns_it_on(tmp_path, suite, base, monkeypatch):  # noqa: F811
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri = f"sqlite:///{tmp_path / 'suite-store.db'}"
    suite.write_text(suite.read_text() + f"tracking:\n  mlflow:\n    tracking_uri: {uri}\n    experiment: intent-from-suite\n")
    assert main(["validate", str(suite)]) == 0
    assert main(["run", str(suite), "--model", base, "--reports", str(tmp_path / "reports"), "--no-progress",
                 "--limit", "5"]) == 0
    [run] = _runs(uri, "intent-from-suite")
    assert run.data.metrics["accuracy"] == 0.0


def test_tracking_typo_in_a_suite_is_located(tmp_path, suite):  # noqa: F811
    suite.write_text(suite.read_text() + "tracking:\n  mlflow:\n    tracking_url: sqlite:///x.db\n")
    assert main(["validate", str(suite)]) == 2
