"""Tracking is the user's decision, never a suite's: a suite cannot turn it on nor choose the store
(where MLFLOW_TRACKING_TOKEN would go); a file store stays inside the project; a store that is down
or unwritable is one line and exit 4 within seconds, not minutes of MLflow's retries."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.deps import requires_module

from harness.cli import main

requires_module("mlflow.tracking", "pip install -e '.[tracking]'")

pytestmark = pytest.mark.timeout(120)


class Capture:
    """A loopback HTTP server answering every request with ``status``, logging Authorization headers."""

    def __init__(self, status: int = 503):
        seen = self.seen = []

        class H(BaseHTTPRequestHandler):
            def _any(self) -> None:
                seen.append((self.path, self.headers.get("Authorization")))
                body = b'{"error_code": "TEMPORARILY_UNAVAILABLE", "message": "store is read-only"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _any

            def log_message(self, *a) -> None:
                pass

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.srv.server_address[1]}"
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.srv.shutdown()
        self.srv.server_close()


@pytest.fixture()
def project(tiny_suite: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tiny_suite in its own project root (tmp_path), a scripted model answering every example."""
    root = tiny_suite.parent
    monkeypatch.setenv("HARNESS_DATA_ROOT", str(root))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "mlflow-secret-token")
    (root / "out.jsonl").write_text("".join(json.dumps({"id": f"e{i}", "output": "order_status"}) + "\n" for i in range(1, 5)))
    return tiny_suite


def _run(suite: Path, *extra: str) -> int:
    return main(["run", str(suite), "--model", f"scripted:{suite.parent / 'out.jsonl'}", "--reports",
                 str(suite.parent / "reports"), "--no-progress", *extra])


def test_a_suite_may_not_choose_the_tracking_uri(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    srv = Capture(200)
    try:
        project.write_text(project.read_text() + f"tracking:\n  mlflow:\n    tracking_uri: {srv.url}\n")
        assert main(["validate", str(project)]) == 2
        err = capsys.readouterr().err
        assert "tracking.mlflow.tracking_uri" in err and "MLFLOW_TRACKING_URI" in err
        assert _run(project) == 2 and _run(project, "--track", "mlflow") == 2
        assert srv.seen == []  # nothing went to the suite's host, no token above all
    finally:
        srv.close()


def test_a_suite_names_the_experiment_but_does_not_turn_tracking_on(project: Path) -> None:
    from mlflow.tracking import MlflowClient

    project.write_text(project.read_text() + "tracking:\n  mlflow:\n    experiment: from-suite\n")
    assert main(["validate", str(project)]) == 0
    assert _run(project) == 0
    reports = project.parent / "reports"
    assert not (reports / "mlflow.db").exists()  # no --track: no tracking
    assert _run(project, "--track", "mlflow") == 0
    exp = MlflowClient(tracking_uri=f"sqlite:///{reports / 'mlflow.db'}").get_experiment_by_name("from-suite")
    assert exp is not None


def test_a_file_store_outside_the_project_is_refused(project: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    outside = project.parent.parent / f"elsewhere-{project.parent.name}" / "x.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{outside}")
    assert _run(project, "--track", "mlflow") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "outside the project root" in err[0] and "MLFLOW_TRACKING_URI" in err[0]
    assert not outside.parent.exists()
    inside = project.parent / "stores" / "x.db"  # inside the root: fine
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{inside}")
    assert _run(project, "--track", "mlflow") == 0 and inside.is_file()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("store", ["down", "unwritable", "garbage-sqlite", "unwritable-sqlite"])
def test_a_store_down_or_unwritable_fails_fast_with_one_line(store: str, project: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    srv = None
    if store == "down":
        uri = f"http://127.0.0.1:{_free_port()}"
    elif store == "unwritable":
        srv = Capture(503)
        uri = srv.url
    elif store == "garbage-sqlite":
        db = project.parent / "garbage.db"
        db.write_bytes(b"not a database at all" * 100)
        uri = f"sqlite:///{db}"
    else:
        uri = f"sqlite:///{project / 'x.db'}"  # its folder is a file: no store can be made there, root or not
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    t0 = time.monotonic()
    try:
        code = _run(project, "--track", "mlflow")
    finally:
        if srv:
            srv.close()
    took = time.monotonic() - t0
    err = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert code == 4, err
    assert took < 30, f"{took:.0f} s"
    assert len(err) == 1 and err[0].startswith("error: mlflow tracking failed") and "the run is kept on disk" in err[0], err
    assert (project.parent / "reports" / "runs").is_dir()
