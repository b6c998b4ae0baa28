"""MLflow tracking: log runs, gate decisions and iterate loops from what the harness wrote to disk.

Everything is read from the files a run (``summary.json``), a gate (``gate.json`` + reports) or a
loop (``lineage.json``) leaves, so tracking never changes what is evaluated and can be replayed.
mlflow is imported here only, when a tracker is made (it is an optional extra).

Store: ``--tracking-uri`` if given, else ``$MLFLOW_TRACKING_URI``, else ``sqlite:///REPORTS/mlflow.db``
with artifacts beside it in ``REPORTS/mlartifacts/`` (``mlflow ui --backend-store-uri
sqlite:///reports/mlflow.db`` shows them, no server needed). A file store must lie inside the
project root or the reports folder (:func:`confine_store`). Before logging, the store is probed
(:func:`probe`: a server's port answers, a database file opens and is writable) and MLflow's HTTP
retries are turned off unless the user set them (:func:`fail_fast`): MLflow's own retries take
104-249 s to give up on a store that is down. The client API is used throughout
(no global ``mlflow.set_tracking_uri``), so logging leaves the process's MLflow state alone.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit
from typing import Any

from harness.core.errors import HarnessError

PARAM_MAX = 500  # MLflow's historical limit for a param value; longer values are cut


PROBE_TIMEOUT_S = 5.0
# MLflow's HTTP settings while the harness logs, unless the user set them: one attempt, 15 s at most.
FAST_HTTP = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "15"}


class StoreUnavailable(Exception):
    """The tracking store cannot be reached or written (exit 4, the work stays on disk)."""


def default_uri(reports: Path) -> str:
    return store_uri(None, reports)[0]


def store_uri(flag: str | None, reports: Path) -> tuple[str, str | None]:
    """The store and where it came from: --tracking-uri, $MLFLOW_TRACKING_URI, or the default (None)."""
    if flag:
        return flag, "--tracking-uri"
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env, "MLFLOW_TRACKING_URI"
    return f"sqlite:///{Path(reports).resolve() / 'mlflow.db'}", None


def store_file(uri: str) -> Path | None:
    """The local file or folder a store URI writes (sqlite database, file store); None for a server."""
    if uri.startswith("sqlite:///"):
        return Path(uri[len("sqlite:///"):].split("?")[0])
    if uri.startswith("sqlite:"):
        raise HarnessError(f"tracking store {uri}: write a SQLite store as sqlite:///PATH")
    if uri.startswith("file:"):
        return Path(urlsplit(uri).path)
    if "://" not in uri:
        return Path(uri)
    return None


def confine_store(uri: str, source: str | None, suite: Path | None, reports: Path) -> None:
    """A file store inside the project root (as a suite's files) or the reports folder, else exit 2."""
    from harness.suite.confine import inside, project_root

    path = store_file(uri)
    if path is None:
        return
    root = project_root(Path(suite) if suite is not None else Path.cwd() / "-")
    if inside(path, root) or inside(path, Path(reports).resolve()):
        return
    raise HarnessError(f"{source or 'tracking store'} {uri}: {path.resolve()} is outside the project root {root} "
                       f"and the reports folder {Path(reports).resolve()}; a tracking store file must stay inside "
                       "them (move it, or run with --data-root DIR)")


def probe(uri: str) -> None:
    """Fail in seconds, with one line, where MLflow would retry for minutes."""
    path = store_file(uri)
    if path is not None:
        if uri.startswith("sqlite:"):
            _probe_sqlite(path)
        return
    parts = urlsplit(uri)
    if parts.scheme in ("http", "https") and parts.hostname:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            socket.create_connection((parts.hostname, port), timeout=PROBE_TIMEOUT_S).close()
        except OSError as e:
            raise StoreUnavailable(f"cannot connect to {parts.hostname}:{port}: {e.strerror or e}") from None


def _probe_sqlite(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and not path.is_file():
            raise StoreUnavailable(f"{path} is not a regular file")
        if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
            raise StoreUnavailable(f"{path} is not writable")
        if path.exists():
            con = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=PROBE_TIMEOUT_S)
            try:
                con.execute("SELECT count(*) FROM sqlite_master").fetchone()
            finally:
                con.close()
    except sqlite3.Error as e:
        raise StoreUnavailable(f"{path} is not a usable SQLite database: {e}") from None
    except OSError as e:
        raise StoreUnavailable(f"cannot create {e.filename or path}: {e.strerror or e}") from None


@contextlib.contextmanager
def fail_fast() -> Iterator[None]:
    """MLflow's HTTP retries off (unless the user set them) while the harness logs; put back after."""
    saved = {k: os.environ.get(k) for k in FAST_HTTP}
    try:
        for k, v in FAST_HTTP.items():
            os.environ.setdefault(k, v)
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _key(text: str) -> str:
    """A metric or param name MLflow accepts (letters, digits, _ - . / and spaces)."""
    return re.sub(r"[^A-Za-z0-9_\-./ ]+", "_", text)[:250]


def _finite(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) else None


class MlflowTracker:
    def __init__(self, experiment: str, reports: Path, tracking_uri: str | None = None):
        try:
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise HarnessError("--track mlflow needs the mlflow package (pip install mlflow)") from None
        self.uri = tracking_uri or default_uri(reports)
        probe(self.uri)
        self.client = MlflowClient(tracking_uri=self.uri)
        exp = self.client.get_experiment_by_name(experiment)
        if exp is not None:
            self.experiment_id = exp.experiment_id
        else:
            # A local store keeps artifacts next to the database, not in the current directory.
            where = None
            if self.uri.startswith("sqlite:///"):
                where = (Path(self.uri[len("sqlite:///"):]).parent / "mlartifacts" / _key(experiment)).resolve().as_uri()
            self.experiment_id = self.client.create_experiment(experiment, artifact_location=where)

    # ------------------------------------------------------------ primitives

    def start(self, name: str, parent: str | None = None, tags: dict[str, str] | None = None) -> str:
        all_tags = {"harness.kind": name.split(" ")[0], **(tags or {})}
        if parent:
            all_tags["mlflow.parentRunId"] = parent
        return self.client.create_run(self.experiment_id, run_name=name, tags=all_tags).info.run_id

    def log(self, run_id: str, params: dict[str, Any] | None = None, metrics: dict[str, Any] | None = None,
            tags: dict[str, Any] | None = None, step: int = 0) -> None:
        from mlflow.entities import Metric, Param, RunTag

        now = int(time.time() * 1000)
        ps = [Param(_key(k), str(v)[:PARAM_MAX]) for k, v in (params or {}).items() if v is not None]
        ms = [Metric(_key(k), f, now, step) for k, v in (metrics or {}).items() if (f := _finite(v)) is not None]
        ts = [RunTag(_key(k), str(v)) for k, v in (tags or {}).items() if v is not None]
        for i in range(0, max(len(ps), len(ms), len(ts)), 100):  # log_batch takes at most 100 params a call
            self.client.log_batch(run_id, metrics=ms[i:i + 100], params=ps[i:i + 100], tags=ts[i:i + 100])

    def artifact(self, run_id: str, path: Path | None, folder: str | None = None) -> None:
        if path is not None and Path(path).exists():
            if Path(path).is_dir():
                self.client.log_artifacts(run_id, str(path), folder)
            else:
                self.client.log_artifact(run_id, str(path), folder)

    def end(self, run_id: str, ok: bool = True) -> None:
        self.client.set_terminated(run_id, "FINISHED" if ok else "FAILED")

    # ------------------------------------------------------------ harness records

    def log_run(self, run_dir: Path, parent: str | None = None, name: str | None = None) -> str:
        """One evaluation run: suite, model, split, generation as params; each score with its CI."""
        s = json.loads((Path(run_dir) / "summary.json").read_text(encoding="utf-8"))
        suite, model, data = s.get("suite") or {}, s.get("model") or {}, s.get("dataset") or {}
        run_id = self.start(name or f"run {suite.get('name')} {data.get('split')} {model.get('display')}", parent)
        params = {"suite": suite.get("name"), "suite_version": suite.get("version"), "suite_sha256": suite.get("sha256"),
                  "model": model.get("display"), "split": data.get("split"), "dataset_sha256": data.get("sha256"),
                  "examples": (s.get("counts") or {}).get("examples"), "judge": s.get("judge"),
                  **{f"generation.{k}": v for k, v in (s.get("generation") or {}).items()}}
        metrics: dict[str, Any] = {}
        for score, e in (s.get("metrics") or {}).items():
            metrics[score] = e.get("mean")
            metrics[f"{score}.ci_low"] = e.get("ci_low")
            metrics[f"{score}.ci_high"] = e.get("ci_high")
            metrics[f"{score}.n_failed"] = e.get("n_failed")
        counts, tokens = s.get("counts") or {}, s.get("tokens") or {}
        metrics.update({"examples.errors": counts.get("errors"), "examples.cached": counts.get("cached"),
                        "tokens.input": tokens.get("input"), "tokens.output": tokens.get("output"),
                        "seconds": (s.get("timing") or {}).get("total_s"), "cost.usd": (s.get("cost") or {}).get("usd")})
        self.log(run_id, params, metrics, {"harness.run_dir": str(Path(run_dir).resolve())})
        for f in ("summary.json", "summary.csv"):
            self.artifact(run_id, Path(run_dir) / f, "run")
        self.end(run_id)
        return run_id

    def log_gate(self, gate_dir: Path, parent: str | None = None, name: str | None = None, with_runs: bool = True) -> str:
        """A gate decision: passed 0/1, each rule's figure and verdict, the reports as artifacts;
        the baseline and candidate runs nested under it."""
        g = json.loads((Path(gate_dir) / "gate.json").read_text(encoding="utf-8"))
        comp = g.get("comparison") or {}
        runs = comp.get("runs") or []
        suite = (comp.get("suite") or {}).get("name")
        run_id = self.start(name or f"gate {suite}", parent, {"harness.decision": "promote" if g.get("passed") else "inconclusive" if g.get("outcome") == "inconclusive" else "blocked"})
        params = {"suite": suite, "split": (comp.get("dataset") or {}).get("split"), "examples": comp.get("n_examples")}
        for r in runs:
            m = r.get("model")
            params[f"{r.get('label')}.model"] = m.get("display") if isinstance(m, dict) else m
            params[f"{r.get('label')}.run_dir"] = r.get("directory")
        metrics: dict[str, Any] = {"gate.passed": 1.0 if g.get("passed") else 0.0}
        tags = {}
        for i, rule in enumerate(g.get("rules") or []):
            metrics[f"rule.{i}.figure"] = rule.get("figure")
            metrics[f"rule.{i}.passed"] = 1.0 if str(rule.get("verdict")).removeprefix("advisory-") == "pass" else 0.0
            tags[f"rule.{i}"] = f"{str(rule.get('verdict')).upper()} {rule.get('name')}: {rule.get('explanation')}"
        self.log(run_id, params, metrics, tags)
        for f in ("gate.json", "report.html", "gate_summary.md", "gate_junit.xml"):
            self.artifact(run_id, Path(gate_dir) / f, "gate")
        if with_runs:
            for r in runs:
                d = Path(str(r.get("directory")))
                if (d / "summary.json").is_file():
                    self.log_run(d, parent=run_id, name=f"{r.get('label')} {d.name}")
        self.end(run_id)
        return run_id

    def log_comparison(self, comp_dir: Path) -> str:
        """A comparison: each run's mean and CI, and each candidate's paired difference from the
        baseline with its CI, McNemar p-value and regression count; the report as an artifact."""
        c = json.loads((Path(comp_dir) / "comparison.json").read_text(encoding="utf-8"))
        suite = (c.get("suite") or {}).get("name")
        run_id = self.start(f"compare {suite}")
        params: dict[str, Any] = {"suite": suite, "split": (c.get("dataset") or {}).get("split"), "examples": c.get("n_examples"),
                                  "baseline": c.get("baseline")}
        # Runs are keyed run0 (the baseline), run1, ...: labels are model specs, not metric names.
        keys = {}
        for i, r in enumerate(c.get("runs") or []):
            keys[r.get("label")] = f"run{i}"
            m = r.get("model")
            params[f"run{i}.label"] = r.get("label")
            params[f"run{i}.model"] = m.get("display") if isinstance(m, dict) else m
        metrics: dict[str, Any] = {}
        for name, sc in (c.get("scores") or {}).items():
            for r in sc.get("runs") or []:
                for k in ("mean", "ci_low", "ci_high"):
                    metrics[f"{name}.{keys.get(r['label'], r['label'])}.{k}"] = r.get(k)
            for v in sc.get("vs_baseline") or []:
                d = v.get("delta") or {}
                base = f"{name}.delta.{keys.get(v['label'], v['label'])}"
                metrics.update({base: d.get("delta"), f"{base}.ci_low": d.get("ci_low"), f"{base}.ci_high": d.get("ci_high"),
                                f"{base}.p_value": v.get("p_value"), f"{base}.regressions": len(v.get("regressions") or [])})
        self.log(run_id, params, metrics)
        for f in ("comparison.json", "report.html"):
            self.artifact(run_id, Path(comp_dir) / f, "comparison")
        self.end(run_id)
        return run_id

    def log_iterate(self, loop_dir: Path) -> str:
        """One parent run for the loop; nested under it a run per iteration (with its training job
        and validation run nested under that), the final test runs and the final gate."""
        lin = json.loads((Path(loop_dir) / "lineage.json").read_text(encoding="utf-8"))
        cfg, final = lin.get("config") or {}, lin.get("final") or {}
        score = (lin.get("score") or {}).get("name")
        parent = self.start(f"iterate {(lin.get('suite') or {}).get('name')}", tags={"harness.stop_reason": lin.get("stop_reason")})
        self.log(parent, {"suite": (lin.get("suite") or {}).get("name"), "base": cfg.get("base"), "trainer": lin.get("trainer"),
                          "score": score, "max_iterations": cfg.get("max_iterations"), "seed": cfg.get("seed"),
                          "promoted": lin.get("promoted")},
                 {"iterations": len(lin.get("iterations") or []) - 1, "best_iteration": final.get("best_iteration"),
                  "gate.passed": None if not final.get("evaluated") else float(bool(final.get("gate_passed")))})
        for it in lin.get("iterations") or []:
            self._log_iteration(it, parent, score)
        if final.get("evaluated"):
            for role in ("base", "candidate"):
                d = Path(str(final.get(f"{role}_run")))
                if (d / "summary.json").is_file():
                    self.log_run(d, parent=parent, name=f"final {role} on {final.get('split')}")
            report = Path(str(final.get("report"))).parent if final.get("report") else Path(loop_dir) / "report"
            if (report / "gate.json").is_file():
                self.log_gate(report, parent=parent, name="final gate", with_runs=False)
        self.artifact(parent, Path(loop_dir) / "lineage.json", "loop")
        self.artifact(parent, Path(loop_dir) / "report" / "report.html", "loop")
        self.end(parent)
        return parent

    def _log_iteration(self, it: dict[str, Any], parent: str, score: str | None) -> None:
        k = it.get("iteration")
        run_id = self.start(f"iteration {k}", parent, {"harness.changes": it.get("changes"), "harness.reason_next": it.get("reason_next")})
        metrics = {f"validation.{n}": v for n, v in (it.get("scores") or {}).items() if not isinstance(v, dict)}
        metrics.update({f"validation.{n}": v.get("mean") for n, v in (it.get("scores") or {}).items() if isinstance(v, dict)})
        metrics[f"validation.{score}"] = (it.get("score") or {}).get("value")
        self.log(run_id, {"model": it.get("model"), "dataset_sha256": it.get("dataset_sha256"), "adapter": it.get("adapter"),
                          "adapter_sha256": it.get("adapter_sha256"), "job_id": it.get("job_id"),
                          **{f"hp.{h}": v for h, v in (it.get("hyperparameters") or {}).items()}},
                 {**metrics, "improved": None if it.get("improved") is None else float(bool(it.get("improved"))),
                  "best": float(bool(it.get("best"))), "promoted": float(bool(it.get("promoted")))})
        training = it.get("training")
        if training:  # the training job, nested under its iteration
            job = self.start(f"train iteration {k}", run_id, {"harness.adapter": it.get("adapter")})
            self.log(job, {f"hp.{h}": v for h, v in (it.get("hyperparameters") or {}).items()},
                     {"seconds": training.get("seconds"), "steps": training.get("steps"), "best_epoch": training.get("best_epoch")})
            for e in training.get("epochs") or []:
                self.log(job, metrics={"train_loss": e.get("train_loss"), "val_loss": e.get("val_loss")}, step=int(e.get("epoch") or 0))
            for f in (training.get("metrics_csv"), training.get("loss_curve")):
                self.artifact(job, Path(f) if f else None, "training")
            if it.get("adapter"):
                self.artifact(job, Path(str(it["adapter"])) / "adapter_config.json", "adapter")
            self.end(job)
        d = Path(str(it.get("validation_run")))
        if (d / "summary.json").is_file():
            self.log_run(d, parent=run_id, name=f"validation iteration {k}")
        self.end(run_id)
