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
104-249 s to give up on a store that is down. The client API is used throughout,
so logging leaves the process's MLflow state alone; only the examples' traces need MLflow's tracer,
which exports to the global tracking URI: it points at the store while they are written, and is put
back after (:func:`_tracing_to`).
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
        _restore_env(saved)


def _restore_env(saved: dict[str, str | None]) -> None:
    """Put environment variables back as ``saved`` had them (None: unset)."""
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _key(text: str) -> str:
    """A metric or param name MLflow accepts (letters, digits, _ - . / and spaces)."""
    return re.sub(r"[^A-Za-z0-9_\-./ ]+", "_", text)[:250]


MAX_TRACES = 5000  # examples logged as traces per run (a few calls each); the rest are counted in a tag


@contextlib.contextmanager
def _tracing_to(uri: str) -> Iterator[None]:
    """MLflow's tracer exports to the process's global tracking URI: point it at this store, export
    synchronously (each trace is in the store when its call returns), and put the URI, the
    environment and the tracer back after."""
    from mlflow.tracking._tracking_service import utils as tracking_utils

    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_ENABLE_ASYNC_TRACE_LOGGING")}
    os.environ["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"] = "false"
    try:
        with tracking_utils._use_tracking_uri(uri):
            yield
    finally:
        _restore_env(saved)


DIGEST_MAX = 36  # MLflow's longest dataset digest: the sha256's first 36 hex digits (the whole one is a tag)


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment (a container without passwd entry)
        return "unknown"


def _commit(revision: Any) -> str | None:
    """The commit of ``git describe --always --dirty --tags`` output (tag-N-gSHA, or SHA), else None."""
    text = str(revision or "").removesuffix("-dirty")
    m = re.search(r"-g([0-9a-f]{7,40})$", text) or re.fullmatch(r"([0-9a-f]{7,40})", text)
    return m.group(1) if m else None


def _times(s: dict[str, Any]) -> tuple[int | None, int | None]:
    """The run's own start and end (ms since the epoch): ``created`` is when it finished, ``timing.total_s`` how long it took."""
    from datetime import datetime

    try:
        end = datetime.strptime(str(s.get("created")), "%Y-%m-%dT%H:%M:%S%z").timestamp()
    except ValueError:
        return None, None
    total = _finite((s.get("timing") or {}).get("total_s")) or 0.0
    return int((end - total) * 1000), int(end * 1000)


def _label(model: dict[str, Any]) -> str:
    from harness.records.run import short_label, spec_label

    return spec_label(model.get("spec")) or short_label(str(model.get("display") or "?"))


def spec_text(model: dict[str, Any]) -> str:
    """The model spec as written on the command line (``PROVIDER[:NAME][?key=value&...]``): the keys
    that differ from their defaults, without the label (logged apart); the display where it cannot be rebuilt."""
    from harness.providers.base import ModelSpec

    spec = model.get("spec")
    try:
        m = ModelSpec.model_validate({k: v for k, v in spec.items() if v is not None}) if isinstance(spec, dict) else None
    except Exception:  # a provider not registered here, or a spec from another version
        m = None
    if m is None:
        return str(model.get("display") or "?")
    flat = m.model_dump(mode="json", exclude_defaults=True)
    head = f"{m.provider}:{m.name}" if m.name else m.provider
    extra = [f"{k}={v}" for k, v in flat.items() if k not in ("provider", "name", "label")]
    return head + ("?" + "&".join(extra) if extra else "")


def rule_keys(rules: list[dict[str, Any]]) -> list[str]:
    """A metric-name key per gate rule, after its score, rule and category (``accuracy.min``,
    ``accuracy.non_inferiority.cancel_order``); a repeat gets ``.2``, ``.3``."""
    keys, seen = [], {}
    for r in rules:
        parts = [str(r.get("score") or r.get("name") or "rule"), str(r.get("rule") or "")]
        if r.get("category"):
            parts.append(str(r.get("category")))
        k = _key(".".join(p for p in parts if p)).replace("/", "_")
        seen[k] = seen.get(k, 0) + 1
        keys.append(k if seen[k] == 1 else f"{k}.{seen[k]}")
    return keys


def _results(run_dir: Path) -> Any:
    """The run's per-example results as a table (id, category, input, reference, output, scores, error,
    latency), or None where results.jsonl cannot be read."""
    import pandas as pd

    from harness.records.run import read_run

    try:
        rows = read_run(run_dir).rows()
    except Exception:  # tracking logs what is there; the run itself was checked when written
        return None
    out = []
    for r in rows:
        row = {"id": r.get("id"), "category": r.get("category"), "input": _cell(r.get("input")),
               "reference": _cell(r.get("reference")), "output": r.get("output")}
        row.update({f"score.{k}": v for k, v in (r.get("scores") or {}).items()})
        row.update({"error": r.get("error"), "latency_s": r.get("latency_s"), "cached": r.get("cached")})
        out.append(row)
    return pd.DataFrame(out)


def _cell(x: Any) -> Any:
    return x if x is None or isinstance(x, str) else json.dumps(x, ensure_ascii=False, default=str)


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

    def start(self, name: str, parent: str | None = None, tags: dict[str, str] | None = None, start_ms: int | None = None) -> str:
        all_tags = {"harness.kind": name.split(" ")[0], "mlflow.user": _user(), **{k: str(v) for k, v in (tags or {}).items() if v is not None}}
        if parent:
            all_tags["mlflow.parentRunId"] = parent
        return self.client.create_run(self.experiment_id, start_time=start_ms, run_name=name, tags=all_tags).info.run_id

    def log(self, run_id: str, params: dict[str, Any] | None = None, metrics: dict[str, Any] | None = None,
            tags: dict[str, Any] | None = None, step: int = 0, timestamp: int | None = None) -> None:
        from mlflow.entities import Metric, Param, RunTag

        now = timestamp or int(time.time() * 1000)
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

    def end(self, run_id: str, ok: bool = True, end_ms: int | None = None) -> None:
        self.client.set_terminated(run_id, "FINISHED" if ok else "FAILED", end_time=end_ms)

    def find(self, run_dir: Path, kind: str = "run") -> str | None:
        """The run already logged for ``run_dir`` in this experiment (tag harness.run_dir), newest first."""
        where = str(Path(run_dir).resolve()).replace("'", "\\'")
        found = self.client.search_runs([self.experiment_id], f"tags.`harness.run_dir` = '{where}' and tags.`harness.kind` = '{kind}'",
                                        max_results=1, order_by=["attributes.start_time DESC"])
        return found[0].info.run_id if found else None

    # ------------------------------------------------------------ harness records

    def log_run(self, run_dir: Path, parent: str | None = None, name: str | None = None) -> str:
        """One evaluation run, as MLflow 3 shows evaluations: the split logged as the run's input (a
        dataset with the split's sha256 as its digest), the per-example results as a table
        (``eval_results.json``), the run's own start and end times, git and user tags; suite, model
        spec, label, split and generation as params; each score with its CI as metrics."""
        d = Path(run_dir)
        s = json.loads((d / "summary.json").read_text(encoding="utf-8"))
        suite, model, data = s.get("suite") or {}, s.get("model") or {}, s.get("dataset") or {}
        label = _label(model)
        start_ms, end_ms = _times(s)
        tags = {"harness.run_dir": str(d.resolve()), "harness.evaluation": "true", "mlflow.source.type": "LOCAL",
                "mlflow.source.name": "harness run", "harness.code_revision": s.get("code_revision")}
        commit = _commit(s.get("code_revision"))
        if commit:
            tags["mlflow.source.git.commit"] = commit
        run_id = self.start(name or f"run {suite.get('name')} {data.get('split')} {label}", parent, tags, start_ms)
        params = {"suite": suite.get("name"), "suite_version": suite.get("version"), "suite_sha256": suite.get("sha256"),
                  "model": spec_text(model), "label": label, "split": data.get("split"), "dataset_sha256": data.get("sha256"),
                  "examples": (s.get("counts") or {}).get("examples"), "judge": s.get("judge"),
                  **{f"generation.{k}": v for k, v in (s.get("generation") or {}).items()}}
        metrics: dict[str, Any] = {}
        for score, e in (s.get("metrics") or {}).items():
            metrics[score] = e.get("mean")
            metrics[f"{score}.ci_low"] = e.get("ci_low")
            metrics[f"{score}.ci_high"] = e.get("ci_high")
            metrics[f"{score}.n_failed"] = e.get("n_failed")
        counts, tokens = s.get("counts") or {}, s.get("tokens") or {}
        cost = s.get("cost") or {}
        metrics.update({"examples.errors": counts.get("errors"), "examples.cached": counts.get("cached"),
                        "tokens.input": tokens.get("input"), "tokens.output": tokens.get("output"),
                        "seconds": (s.get("timing") or {}).get("total_s"), "cost.usd": cost.get("total_usd", cost.get("usd"))})
        self.log(run_id, params, metrics, None, timestamp=end_ms)
        results = _results(d)
        if results is not None:
            self._log_dataset(run_id, s, results)
            self.client.log_table(run_id, data=results, artifact_file="eval_results.json")
        self._log_traces(run_id, d, s, label, start_ms)
        for f in ("summary.json", "summary.csv"):
            self.artifact(run_id, d / f, "run")
        self.end(run_id, end_ms=end_ms)
        return run_id

    def _log_traces(self, run_id: str, d: Path, s: dict[str, Any], label: str, start_ms: int | None) -> None:
        """Each example as an MLflow trace linked to the run (its Traces tab, MLflow 3's GenAI
        evaluation view): a root span with the prompt as inputs and the response as outputs, the
        example id, category, label and scores as attributes and tags; each score as a feedback
        assessment (source CODE ``harness``), the reference as the ``expected_response`` expectation.
        At most :data:`MAX_TRACES` examples (the rest are counted in the tag ``harness.traces_skipped``)."""
        from mlflow.entities import AssessmentSource, Expectation, Feedback
        from mlflow.tracing.client import TracingClient

        from harness.records.run import read_run

        try:
            rows = read_run(d).rows()
        except Exception:  # as _results: tracking logs what is there
            return
        suite, split = (s.get("suite") or {}).get("name"), (s.get("dataset") or {}).get("split")
        source = AssessmentSource(source_type="CODE", source_id="harness")
        tracing = TracingClient(self.uri)
        t0 = (start_ms or int(time.time() * 1000)) * 1_000_000
        with _tracing_to(self.uri):
            for r in rows[:MAX_TRACES]:
                scores = {str(k): f for k, v in (r.get("scores") or {}).items() if (f := _finite(v)) is not None}
                ex = str(r.get("id"))
                attrs = {"harness.example_id": ex, "harness.category": r.get("category"), "harness.model": label,
                         "harness.suite": suite, "harness.split": split, "harness.error": r.get("error"),
                         "harness.latency_s": _finite(r.get("latency_s")),
                         **{f"harness.score.{k}": v for k, v in scores.items()}}
                attrs = {k: v for k, v in attrs.items() if v is not None}
                tags = {"harness.example_id": ex, "harness.label": label, "harness.suite": str(suite), "harness.split": str(split)}
                if r.get("category") is not None:
                    tags["harness.category"] = str(r.get("category"))
                root = self.client.start_trace(f"example {ex}", span_type="LLM", inputs={"prompt": r.get("input")},
                                               attributes=attrs, tags=tags, experiment_id=self.experiment_id,
                                               start_time_ns=t0, run_id=run_id)
                latency = _finite(r.get("latency_s")) or 0.0
                self.client.end_trace(root.trace_id, outputs={"response": r.get("output")},
                                      status="ERROR" if r.get("error") else "OK", end_time_ns=t0 + int(latency * 1e9))
                for name, v in scores.items():
                    tracing.log_assessment(root.trace_id, Feedback(name=name, value=v, source=source))
                if r.get("reference") is not None:
                    tracing.log_assessment(root.trace_id, Expectation(name="expected_response", value=r.get("reference"), source=source))
        if len(rows) > MAX_TRACES:
            self.log(run_id, tags={"harness.traces_skipped": len(rows) - MAX_TRACES})

    def _log_dataset(self, run_id: str, s: dict[str, Any], results: Any) -> None:
        """The split as the run's input: its examples (id, input, reference, category), digest from its sha256."""
        import mlflow.data
        from mlflow.entities import DatasetInput, InputTag

        data, suite = s.get("dataset") or {}, s.get("suite") or {}
        cols = [c for c in ("id", "category", "input", "reference") if c in results.columns]
        frame = results[cols]
        sha = str(data.get("sha256") or "")
        ds = mlflow.data.from_pandas(frame, source=str(data.get("path") or ""), name=f"{suite.get('name')}/{data.get('split')}",
                                     targets="reference" if "reference" in cols else None, digest=sha[:DIGEST_MAX] or None)
        tags = [InputTag("mlflow.data.context", "evaluation"), InputTag("harness.dataset_sha256", sha),
                InputTag("harness.split", str(data.get("split")))]
        self.client.log_inputs(run_id, [DatasetInput(ds._to_mlflow_entity(), tags)])

    def ensure_run(self, run_dir: Path) -> str:
        """The run logged for ``run_dir``: the one already in the experiment, else logged now (once)."""
        return self.find(run_dir) or self.log_run(run_dir)

    def log_gate(self, gate_dir: Path, parent: str | None = None, name: str | None = None, with_runs: bool = True) -> str:
        """A gate decision: passed 0/1, each rule's figure and verdict (metrics named after the rule),
        the reports as artifacts. The baseline and candidate runs are referenced by tag
        (``harness.baseline_run_id``, ``harness.candidate_run_id``): logged once, as their own runs,
        where they were not logged before (``with_runs``), never again under the gate."""
        g = json.loads((Path(gate_dir) / "gate.json").read_text(encoding="utf-8"))
        comp = g.get("comparison") or {}
        runs = comp.get("runs") or []
        suite = (comp.get("suite") or {}).get("name")
        run_id = self.start(name or f"gate {suite}", parent, {"harness.decision": "promote" if g.get("passed") else "inconclusive" if g.get("outcome") == "inconclusive" else "blocked"})
        params = {"suite": suite, "split": (comp.get("dataset") or {}).get("split"), "examples": comp.get("n_examples")}
        tags: dict[str, Any] = {}
        for r in runs:
            role, d = r.get("label"), Path(str(r.get("directory")))
            params[f"{role}.run_dir"] = r.get("directory")
            if (d / "summary.json").is_file():
                m = json.loads((d / "summary.json").read_text(encoding="utf-8")).get("model") or {}
                params[f"{role}.model"], params[f"{role}.label"] = spec_text(m), _label(m)
                ref = self.find(d) or (self.log_run(d) if with_runs else None)
                if ref:
                    tags[f"harness.{role}_run_id"] = ref
            else:
                params[f"{role}.model"] = r.get("model")
        metrics: dict[str, Any] = {"gate.passed": 1.0 if g.get("passed") else 0.0}
        for key, rule in zip(rule_keys(g.get("rules") or []), g.get("rules") or [], strict=True):
            metrics[f"rule.{key}.figure"] = rule.get("figure")
            metrics[f"rule.{key}.threshold"] = rule.get("threshold")
            metrics[f"rule.{key}.passed"] = 1.0 if str(rule.get("verdict")).removeprefix("advisory-") == "pass" else 0.0
            tags[f"rule.{key}"] = f"{str(rule.get('verdict')).upper()} {rule.get('name')}: {rule.get('explanation')}"
        self.log(run_id, params, metrics, tags)
        for f in ("gate.json", "report.html", "gate_summary.md", "gate_junit.xml"):
            self.artifact(run_id, Path(gate_dir) / f, "gate")
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
        # Runs are keyed by their short labels (as the report names them), made into metric names.
        keys, refs = {}, {}
        for r in c.get("runs") or []:
            key = keys[r.get("label")] = _key(str(r.get("label"))).replace("/", "_")
            d = Path(str(r.get("directory")))
            m = json.loads((d / "summary.json").read_text(encoding="utf-8")).get("model") or {} if (d / "summary.json").is_file() else {}
            params[f"{key}.model"] = spec_text(m) if m else r.get("model")
            params[f"{key}.run_dir"] = r.get("directory")
            if m and (ref := self.find(d)):
                refs[f"harness.run_id.{key}"] = ref
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
        self.log(run_id, params, metrics, refs)
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
