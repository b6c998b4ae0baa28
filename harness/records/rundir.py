"""The run directory: what a run produced and everything needed to reproduce it.

    reports/runs/<suite>-<split>-<model>-<time>/
        summary.json   full spec (suite, dataset and adapter hashes, model, settings, versions) and scores
        results.jsonl  one line per example: input, prompt, output, reference, scores, latency, tokens, error
        results.csv    the same, flat, one column per score
        summary.csv    one row per score: mean, 95% CI, n, failures, direction

The records' schemas are harness.records.run (RunSummary, ExampleRow, with ``format_version``).
The folder is prepared (checked writable, locked) before the first request, and its four files
are staged and renamed into place together, so a failed write never damages an earlier run.
"""

from __future__ import annotations

import csv
import json
import math
import platform
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from harness.core.version import code_revision, version
from harness.core.csvsafe import safe_row
from harness.core.redact import redacted
from harness.core.types import Failure
from harness.records.base import FORMAT_VERSION, nan_to_none
from harness.records.files import FolderLock, ensure_writable, staged
from harness.records.run import ExampleResult, RunSummary, SampleInfo, read_run


class _Model(Protocol):
    def display(self) -> str: ...
    def model_dump(self, *, mode: str) -> dict[str, Any]: ...


class RunTarget(Protocol):
    """What the record needs of the runner's RunConfig (kept structural: the record does not import the runner)."""

    model: _Model
    limit: int | None
    reports_dir: Path
    out: Path | None
    cache: Path | None


class LoadedSuite(Protocol):
    """harness.suite.load.LoadedSuite as the record sees it (structural: no import of the suite layer)."""

    suite: Any
    path: Path
    sha256: str


class Split(Protocol):
    """harness.data.examples.Split as the record sees it."""

    name: str
    path: Path
    sha256: str
    examples: list[Any]


@dataclass
class PreparedRun:
    """The run's folder, created, proven writable and locked before any request is made."""

    directory: Path
    lock: FolderLock


def slug(text: str, default: str = "model") -> str:
    """``text`` as one safe file-name part: letters, digits, ``_ . -`` (others become ``_``), at most
    60 characters, never empty, ``.`` or ``..`` (``default`` then): no separator, so a folder named by
    it stays inside the folder it is made in, whatever a record's field says."""
    out = re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:60]
    return out if out.strip(".") else default



def prepare_run_dir(cfg: RunTarget, suite_name: str, split_name: str) -> PreparedRun:
    """Call before generation: an unwritable --out or reports folder fails here (exit 4), not after
    every request has been paid for; a second run on the same --out is refused while this one lives."""
    ensure_writable(cfg.reports_dir, "reports folder")
    if cfg.cache is not None:
        ensure_writable(cfg.cache.parent, "cache folder")
    if cfg.out is not None:
        directory = ensure_writable(cfg.out, "--out folder")
    else:  # never overwrite another run: two runs in the same second get -2, -3, ...
        stamp = time.strftime("%Y%m%dT%H%M%S")
        stem = ensure_writable(cfg.reports_dir / "runs", "runs folder") / f"{suite_name}-{split_name}-{slug(cfg.model.display())}-{stamp}"
        directory, n = stem, 1
        while True:
            try:
                directory.mkdir()
                break
            except FileExistsError:
                n += 1
                directory = stem.with_name(f"{stem.name}-{n}")
    return PreparedRun(directory, FolderLock(directory))


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "platform": platform.platform()}
    from importlib.metadata import PackageNotFoundError, version

    for pkg in ("openai", "pydantic", "torch", "transformers", "peft", "sentence-transformers", "scikit-learn", "rouge-score"):
        mod = pkg.replace("-", "_").replace("scikit_learn", "sklearn")
        if mod in sys.modules or pkg in ("openai", "pydantic"):
            try:
                out[pkg] = version(pkg)
            except PackageNotFoundError:
                pass
    return out


@dataclass
class FinishedRun:
    """Everything a run hands its record: write_run's one input."""

    cfg: RunTarget
    loaded: LoadedSuite
    split: Split
    fingerprint: dict[str, Any]  # the provider's fingerprint of the model
    results: list[ExampleResult]
    table: dict[str, Any]  # score name -> its MetricEntry fields (harness.evaluate.run.aggregate)
    artifacts: dict[str, Any]
    timing: dict[str, float]
    cost: dict[str, Any] | None = None  # harness.engine.cost.cost_block
    sample: SampleInfo | None = None  # --sample: how the examples were drawn (harness.data.sample)


def build_summary(run: FinishedRun) -> RunSummary:
    """summary.json of a finished run, validated (NaN -> null happens here, once: records.base)."""
    cfg, loaded, split, results = run.cfg, run.loaded, run.split, run.results
    n_err = sum(1 for r in results if r.response.error)
    return RunSummary.model_validate({
        "format_version": FORMAT_VERSION,
        "harness_version": version(),
        "code_revision": code_revision(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": redacted(sys.argv),
        "suite": {"name": loaded.suite.name, "version": loaded.suite.version, "path": str(loaded.path),
                  "sha256": loaded.sha256, "spec": redacted(loaded.suite.model_dump(mode="json"))},
        "dataset": {"split": split.name, "path": str(split.path), "sha256": split.sha256,
                    "n_examples": len(split.examples), "limit": cfg.limit, "n_evaluated": len(results),
                    "category_field": loaded.suite.dataset.fields.category,
                    **({"sample": run.sample.model_dump(mode="json")} if run.sample is not None else {})},
        "model": {"display": cfg.model.display(), "spec": redacted(cfg.model.model_dump(mode="json")), "fingerprint": run.fingerprint},
        "generation": loaded.suite.generation.model_dump(mode="json"),
        "metrics": run.table,
        "artifacts": run.artifacts,
        "counts": {"examples": len(results), "errors": n_err, "cached": sum(r.cached for r in results),
                   "generated": sum(not r.cached for r in results)},
        "tokens": {"input": sum(x.response.input_tokens or 0 for r in results for x in (r.repeats or [r])),
                   "output": sum(x.response.output_tokens or 0 for r in results for x in (r.repeats or [r]))},
        "timing": run.timing,
        "environment": _versions(),
        "cost": run.cost,
    })


def write_run(run: FinishedRun, prepared: PreparedRun | None = None) -> tuple[Path, RunSummary]:
    """Write the run directory (its four files staged and renamed together); the directory and the summary."""
    prepared = prepared or prepare_run_dir(run.cfg, run.loaded.suite.name, run.split.name)
    summary = build_summary(run)
    results = run.results
    data = summary.model_dump(mode="json")
    rows = [_result_row(r) for r in results]
    directory = prepared.directory
    try:
        with staged(directory, "writing the run") as st:
            with st.open("results.jsonl") as fh:
                for row in rows:
                    fh.write(_json_line(row))
            with st.open("results.csv", newline="") as fh:
                _write_results_csv(fh, rows, list(data["metrics"]))
            with st.open("summary.csv", newline="") as fh:
                _write_summary_csv(fh, data["metrics"])
            st.write_text("summary.json", json.dumps(data, indent=2, ensure_ascii=False))  # renamed last: the index
    finally:
        prepared.lock.release()
    return directory, summary


def _repeat_rows(r: ExampleResult) -> list[dict[str, Any]] | None:
    if r.repeats is None:
        return None
    return [{"repeat": x.request.repeat or 0, "seed": x.request.settings.seed, "output": x.response.text,
             "scores": _scores(x.scores), "error": x.response.error, "cached": x.cached} for x in r.repeats]


def _scores(scores: dict[str, Any]) -> dict[str, float | None]:
    """A score as the row's schema holds it: a float, or null (a Failure or NaN)."""
    out: dict[str, float | None] = {}
    for k, v in scores.items():
        f = None if isinstance(v, Failure) or v is None else float(v)
        out[k] = None if f is None or math.isnan(f) else f
    return out


def _result_row(r: ExampleResult) -> dict[str, Any]:
    """One results.jsonl row, built directly in the shape of :class:`~harness.records.run.ExampleRow`
    (readers validate it; tests/records check that every row written validates). Building it
    through the model would cost two pydantic passes a row: a fifth of a 100,000-example run."""
    ex, resp = r.example, r.response
    row: dict[str, Any] = {
        "id": ex.id, "line": ex.line, "category": ex.category, "input": ex.input,
        "prompt": r.request.chat(), "output": resp.text, "reference": ex.reference,
        "scores": _scores(r.scores), "score_errors": {k: v.reason for k, v in r.scores.items() if isinstance(v, Failure)},
        "latency_s": resp.latency_s, "input_tokens": resp.input_tokens, "output_tokens": resp.output_tokens,
        "finish_reason": resp.finish_reason, "error": resp.error, "attempts": resp.attempts, "cached": bool(r.cached),
    }
    if resp.loglik is not None:  # a log-likelihood suite's per-choice figures; other rows carry none
        row["loglik"] = resp.loglik
    if r.repeats is not None:  # rows of runs without repeats carry none of these
        row["repeats"] = _repeat_rows(r)
        row["flakiness"] = r.flakiness
        row["flaky"] = None if r.flakiness is None else any(f > 0 for f in r.flakiness.values())
    return row


def _json_line(row: dict[str, Any]) -> str:
    try:
        return json.dumps(row, ensure_ascii=False, allow_nan=False) + "\n"
    except ValueError:  # a NaN in the dataset's own input or reference: JSON has none, null it
        return json.dumps(nan_to_none(row), ensure_ascii=False) + "\n"


def _write_results_csv(fh: Any, rows: list[dict[str, Any]], score_names: list[str]) -> None:
    cols = ["id", "category", "input", "reference", "output", "error", "latency_s", "input_tokens", "output_tokens",
            "finish_reason", "cached"]
    with_repeats = any(row.get("repeats") for row in rows)  # then: flaky, and each score's flakiness
    flaky_cols = ["flaky"] + [f"{s}_flakiness" for s in score_names] if with_repeats else []
    w = csv.writer(fh)
    w.writerow(safe_row(cols + score_names + flaky_cols))
    for row in rows:
        ref = row["reference"]
        flat = {**row, "reference": ref if isinstance(ref, str) or ref is None else json.dumps(ref, ensure_ascii=False)}
        extra = [row.get("flaky")] + [(row.get("flakiness") or {}).get(s) for s in score_names] if with_repeats else []
        w.writerow(safe_row([flat.get(c) for c in cols] + [row["scores"].get(s) for s in score_names] + extra))


def _write_summary_csv(fh: Any, metrics: dict[str, Any]) -> None:
    cols = ["score", "metric", "mean", "ci_low", "ci_high", "n", "n_failed", "direction", "level", "binary", "ci_method"]
    w = csv.writer(fh)
    w.writerow(safe_row(cols))
    for name, e in metrics.items():
        w.writerow(safe_row([name] + [e.get(c) for c in cols[1:]]))


def load_run(directory: str | Path) -> tuple[RunSummary, list[dict[str, Any]]]:
    """Read a run directory back, validated: (its typed summary, the per-example rows as results.jsonl
    holds them). :func:`harness.records.run.read_run` gives the whole RunRecord (with its frame)."""
    record = read_run(directory)
    return record.summary, record.rows()
