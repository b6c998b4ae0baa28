"""What --track mlflow logs, read back as MLflow's users see it: through MlflowClient and through the
REST API of a real `mlflow server` on loopback (a free port, a SQLite store under tmp)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest

from tests.deps import requires_module

from harness.cli import main

requires_module("mlflow.tracking", "pip install -e '.[tracking]'")
pytestmark = pytest.mark.timeout(300)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def server(tmp_path: Path):
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
                             "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
                             "--artifacts-destination", str(tmp_path / "server-artifacts"), "--workers", "1"],
                            stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"{url}/health", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail((tmp_path / "server.log").read_text()[-2000:])
                time.sleep(0.5)
        else:
            pytest.fail("mlflow server did not answer /health in 120 s")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _rest(url: str, path: str, body: dict | None = None, **query: str) -> dict:
    full = f"{url}/api/2.0/mlflow/{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
    req = urllib.request.Request(full, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"}, method="POST" if body is not None else "GET")
    return json.loads(urllib.request.urlopen(req, timeout=30).read())


def test_runs_and_gate_read_back_through_the_client_and_the_rest_api(tiny_suite: Path, server: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.tracking import MlflowClient

    root = tiny_suite.parent
    monkeypatch.setenv("HARNESS_DATA_ROOT", str(root))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server)
    rows = [("e1", "order_status"), ("e2", "cancel_order"), ("e3", "refund_request"), ("e4", "order_status")]
    (root / "models").mkdir()
    good, bad = root / "models" / "good.jsonl", root / "models" / "bad.jsonl"
    good.write_text("".join(json.dumps({"id": i, "output": o}) + "\n" for i, o in rows))
    bad.write_text("".join(json.dumps({"id": i, "output": "order_status"}) + "\n" for i, _ in rows))
    reports = root / "reports"
    common = ["--reports", str(reports), "--no-progress", "--track", "mlflow"]
    assert main(["run", str(tiny_suite), "--model", f"scripted:{good}", "--label", "base-v1", "--out", str(root / "r-good"), *common]) == 0
    assert main(["run", str(tiny_suite), "--model", f"scripted:{bad}", "--out", str(root / "r-bad"), *common]) == 0
    tiny_suite.write_text(tiny_suite.read_text() + "gates:\n  - metric: accuracy\n    min: 0.9\n")
    assert main(["gate", str(tiny_suite), "--baseline", str(root / "r-good"), "--candidate", str(root / "r-bad"),
                 "--out", str(root / "gate"), *common]) == 1

    client = MlflowClient(tracking_uri=server)
    exp = client.get_experiment_by_name("tiny-intent")
    runs = {r.info.run_name: r for r in client.search_runs([exp.experiment_id])}
    assert len(runs) == 3, sorted(runs)  # two evaluation runs and the gate: nothing logged twice
    [good_run] = [r for r in runs.values() if r.data.params.get("label") == "base-v1"]
    [bad_run] = [r for r in runs.values() if r.data.params.get("label") == "scripted:bad"]
    summary = json.loads((root / "r-good" / "summary.json").read_text())

    # Params: the spec (no label) and the label apart.
    assert good_run.data.params["model"] == f"scripted:{good}" and bad_run.data.params["model"] == f"scripted:{bad}"
    assert good_run.data.metrics["accuracy"] == 1.0 and bad_run.data.metrics["accuracy"] == 0.5
    # The run's own times, not the logging time.
    end = datetime.strptime(summary["created"], "%Y-%m-%dT%H:%M:%S%z").timestamp() * 1000
    assert good_run.info.end_time == int(end)
    assert good_run.info.end_time - good_run.info.start_time == int(summary["timing"]["total_s"] * 1000) or \
        abs(good_run.info.end_time - good_run.info.start_time - summary["timing"]["total_s"] * 1000) <= 1
    # Git and user tags.
    import getpass

    assert good_run.data.tags["mlflow.user"] == getpass.getuser()
    if summary["code_revision"] != "unknown":
        assert good_run.data.tags["mlflow.source.git.commit"] in summary["code_revision"]
    # The dataset as the run's input, its digest from the split's sha256.
    [inp] = good_run.inputs.dataset_inputs
    assert inp.dataset.digest == summary["dataset"]["sha256"][:36] and inp.dataset.name == "tiny-intent/test"
    assert {t.key: t.value for t in inp.tags}["mlflow.data.context"] == "evaluation"
    assert {t.key: t.value for t in inp.tags}["harness.dataset_sha256"] == summary["dataset"]["sha256"]
    # The per-example table.
    table = client.load_table(exp.experiment_id, "eval_results.json", run_ids=[bad_run.info.run_id])
    assert sorted(table["id"]) == ["e1", "e2", "e3", "e4"]
    assert [c for c in table.columns if c.startswith("score.")], list(table.columns)  # a column per example-level score
    assert set(table["output"]) == {"order_status"}
    # Each example a trace linked to its run (the run's Traces tab, the GenAI evaluation view).
    traces = client.search_traces(locations=[exp.experiment_id], run_id=bad_run.info.run_id)
    assert len(traces) == 4, len(traces)
    assert len(client.search_traces(locations=[exp.experiment_id], run_id=good_run.info.run_id)) == 4
    by_id = {t.info.tags["harness.example_id"]: t for t in traces}
    assert sorted(by_id) == ["e1", "e2", "e3", "e4"]
    t = by_id["e2"]
    assert t.info.trace_metadata["mlflow.sourceRun"] == bad_run.info.run_id
    span = t.data.spans[0]
    result = next(r for r in map(json.loads, (root / "r-bad" / "results.jsonl").read_text().splitlines()) if r["id"] == "e2")
    assert span.inputs == {"prompt": result["input"]} and span.outputs == {"response": "order_status"}
    assert span.attributes["harness.score.exact_match"] == 0.0 and span.attributes["harness.model"] == "scripted:bad"
    assert span.attributes["harness.category"] == "cancel_order"
    feedback = {a.name: a.value for a in t.info.assessments if a.feedback is not None}
    expected = {a.name: a.value for a in t.info.assessments if a.expectation is not None}
    assert feedback == {k: 0.0 for k in result["scores"]} and "exact_match" in feedback and expected == {"expected_response": "cancel_order"}
    assert by_id["e1"].data.spans[0].attributes["harness.score.exact_match"] == 1.0  # e1 is an order_status question: right
    good_traces = {t.info.tags["harness.example_id"]: t for t in client.search_traces(locations=[exp.experiment_id], run_id=good_run.info.run_id)}
    assert good_traces["e2"].data.spans[0].attributes["harness.score.exact_match"] == 1.0

    # The gate: rule-named metrics, the runs referenced by tag, not nested copies.
    [gate] = [r for r in runs.values() if r.info.run_name.startswith("gate")]
    assert gate.data.metrics["rule.accuracy.min.passed"] == 0.0 and gate.data.metrics["rule.accuracy.min.figure"] == 0.5
    assert gate.data.tags["harness.baseline_run_id"] == good_run.info.run_id
    assert gate.data.tags["harness.candidate_run_id"] == bad_run.info.run_id
    assert not [r for r in runs.values() if r.data.tags.get("mlflow.parentRunId")]

    # The same through the REST API, as the UI reads it.
    found = _rest(server, "runs/search", {"experiment_ids": [exp.experiment_id], "max_results": 100})["runs"]
    assert len(found) == 3
    got = _rest(server, "runs/get", run_id=good_run.info.run_id)["run"]
    params = {p["key"]: p["value"] for p in got["data"]["params"]}
    assert params["model"] == f"scripted:{good}" and params["label"] == "base-v1"
    assert int(got["info"]["start_time"]) == good_run.info.start_time and int(got["info"]["end_time"]) == good_run.info.end_time
    tags = {t["key"]: t["value"] for t in got["data"]["tags"]}
    assert tags["mlflow.user"] == getpass.getuser() and tags["harness.kind"] == "run"
    [ds] = got["inputs"]["dataset_inputs"]
    assert ds["dataset"]["digest"] == summary["dataset"]["sha256"][:36]
    assert json.loads(ds["dataset"]["profile"])["num_rows"] == 4
    files = {f["path"] for f in _rest(server, "artifacts/list", run_id=good_run.info.run_id).get("files", [])}
    assert "eval_results.json" in files and "run" in files
    metrics = {m["key"]: m["value"] for m in _rest(server, "runs/get", run_id=gate.info.run_id)["run"]["data"]["metrics"]}
    assert metrics["rule.accuracy.min.passed"] == 0.0 and not [k for k in metrics if k.startswith("rule.0")]
    assert os.environ.get("MLFLOW_HTTP_REQUEST_MAX_RETRIES") is None  # the fail-fast settings were put back
    # and the tracer's: the global tracking URI, its variable and synchronous export as they were
    import mlflow

    assert os.environ.get("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING") is None and os.environ["MLFLOW_TRACKING_URI"] == server
    assert mlflow.get_tracking_uri() == server
