"""The run directory: what a run produced and everything needed to reproduce it.

    reports/runs/<suite>-<split>-<model>-<time>/
        summary.json   full spec (suite, dataset and adapter hashes, model, settings, versions) and scores
        results.jsonl  one line per example: input, prompt, output, reference, scores, latency, tokens, error
        results.csv    the same, flat, one column per score
        summary.csv    one row per score: mean, 95% CI, n, failures, direction
"""

from __future__ import annotations

import csv
import json
import math
import platform
import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import harness
from harness.core.csvsafe import safe_row
from harness.core.errors import HarnessError
from harness.core.types import Failure

if TYPE_CHECKING:
    from harness.data.examples import Split
    from harness.runner import ExampleResult, RunConfig
    from harness.suite.load import LoadedSuite


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:60] or "model"


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


def _num(x: Any) -> Any:
    """JSON has no NaN: store null."""
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: _num(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_num(v) for v in x]
    return x


def write_run(cfg: RunConfig, loaded: LoadedSuite, split: Split, fingerprint: dict[str, Any],
              results: list[ExampleResult], table: dict[str, Any], artifacts: dict[str, Any],
              timing: dict[str, float]) -> tuple[Path, dict[str, Any]]:
    stamp = time.strftime("%Y%m%dT%H%M%S")
    if cfg.out is not None:
        directory = cfg.out
        directory.mkdir(parents=True, exist_ok=True)
    else:  # never overwrite another run: two runs in the same second get -2, -3, ...
        stem = cfg.reports_dir / "runs" / f"{loaded.suite.name}-{split.name}-{_slug(cfg.model.display())}-{stamp}"
        directory, n = stem, 1
        while True:
            try:
                directory.mkdir(parents=True)
                break
            except FileExistsError:
                n += 1
                directory = stem.with_name(f"{stem.name}-{n}")
    n_err = sum(1 for r in results if r.response.error)
    summary: dict[str, Any] = {
        "harness_version": harness.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": sys.argv,
        "suite": {"name": loaded.suite.name, "version": loaded.suite.version, "path": str(loaded.path),
                  "sha256": loaded.sha256, "spec": loaded.suite.model_dump(mode="json")},
        "dataset": {"split": split.name, "path": str(split.path), "sha256": split.sha256,
                    "n_examples": len(split.examples), "limit": cfg.limit, "n_evaluated": len(results),
                    "category_field": loaded.suite.dataset.fields.category},
        "model": {"display": cfg.model.display(), "spec": cfg.model.model_dump(mode="json"), "fingerprint": fingerprint},
        "generation": loaded.suite.generation.model_dump(mode="json"),
        "metrics": _num(table),
        "artifacts": _num(artifacts),
        "counts": {"examples": len(results), "errors": n_err, "cached": sum(r.cached for r in results),
                   "generated": sum(not r.cached for r in results)},
        "tokens": {"input": sum(r.response.input_tokens or 0 for r in results),
                   "output": sum(r.response.output_tokens or 0 for r in results)},
        "timing": timing,
        "environment": _versions(),
    }
    score_names = list(table)
    rows = [_result_row(r) for r in results]
    with open(directory / "results.jsonl", "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    with open(directory / "summary.json", "w", encoding="utf-8") as fh:
        json.dump(summary, fh, indent=2, ensure_ascii=False)
    _write_results_csv(directory / "results.csv", rows, score_names)
    _write_summary_csv(directory / "summary.csv", summary["metrics"])
    return directory, summary


def _result_row(r: ExampleResult) -> dict[str, Any]:
    ex, resp = r.example, r.response
    scores = {k: (None if isinstance(v, Failure) else v) for k, v in r.scores.items()}
    errors = {k: v.reason for k, v in r.scores.items() if isinstance(v, Failure)}
    return {
        "id": ex.id, "line": ex.line, "category": ex.category, "input": ex.input,
        "prompt": r.request.chat(), "output": resp.text, "reference": ex.reference,
        "scores": scores, "score_errors": errors, "latency_s": resp.latency_s,
        "input_tokens": resp.input_tokens, "output_tokens": resp.output_tokens,
        "finish_reason": resp.finish_reason, "error": resp.error, "attempts": resp.attempts, "cached": r.cached,
    }


def _write_results_csv(path: Path, rows: list[dict[str, Any]], score_names: list[str]) -> None:
    cols = ["id", "category", "input", "reference", "output", "error", "latency_s", "input_tokens", "output_tokens",
            "finish_reason", "cached"]
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(safe_row(cols + score_names))
        for row in rows:
            ref = row["reference"]
            flat = {**row, "reference": ref if isinstance(ref, str) or ref is None else json.dumps(ref, ensure_ascii=False)}
            w.writerow(safe_row([flat.get(c) for c in cols] + [row["scores"].get(s) for s in score_names]))


def _write_summary_csv(path: Path, metrics: dict[str, Any]) -> None:
    cols = ["score", "metric", "mean", "ci_low", "ci_high", "n", "n_failed", "direction", "level", "binary", "ci_method"]
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(safe_row(cols))
        for name, e in metrics.items():
            w.writerow(safe_row([name] + [e.get(c) for c in cols[1:]]))


def load_run(directory: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Read a run directory back: (summary, per-example rows)."""
    d = Path(directory)
    if not (d / "summary.json").is_file():
        raise HarnessError(f"{d}: not a run directory (no summary.json); give a folder under reports/runs/")
    summary = json.loads((d / "summary.json").read_text(encoding="utf-8"))
    rows = []
    with open(d / "results.jsonl", encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise HarnessError(f"{d / 'results.jsonl'}:{n}: invalid JSON: {e.msg}") from None
    return summary, rows
