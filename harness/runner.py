"""`harness run`: load suite -> load data -> generate (cached) -> score -> aggregate -> write.

Each stage is a small function taking what the previous one made, so the work reads top to
bottom in :func:`run_suite`.
"""

from __future__ import annotations

import asyncio
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.cache import ResponseCache, request_key
from harness.core.types import (
    Example,
    Failure,
    Item,
    Request,
    Response,
    RunContext,
    ScoreValue,
)
from harness.data.examples import Split, load_split, render_messages
from harness.metrics.base import Metric
from harness.providers.base import ModelSpec, Provider, build_provider
from harness.records.run import ExampleResult
from harness.stats import bootstrap_ci, mean_ci
from harness.suite.load import LoadedSuite, load_suite

DEFAULT_REPORTS = Path("reports")


@dataclass
class RunConfig:
    """Everything `harness run` needs; recorded in the run's summary."""

    suite: Path
    model: ModelSpec
    split: str | None = None
    limit: int | None = None
    reports_dir: Path = DEFAULT_REPORTS
    out: Path | None = None  # exact run directory; default reports/runs/<suite>-<split>-<model>-<time>
    cache: Path | None = None  # default reports/cache.sqlite
    progress: bool = True
    bootstrap_resamples: int = 1000
    judge: str | None = None  # replaces the judge model of every judge metric (recorded in the summary)


@dataclass
class RunOutcome:
    directory: Path
    summary: dict[str, Any]
    results: list[ExampleResult]

    @property
    def n_errors(self) -> int:
        return self.summary["counts"]["errors"]


# ---------------------------------------------------------------- stages


def build_requests(loaded: LoadedSuite, examples: Sequence[Example]) -> list[Request]:
    s = loaded.suite
    return [Request(tuple(render_messages(s.prompt, ex)), s.generation, ex.id) for ex in examples]


async def _generate(provider: Provider, fingerprint: dict[str, Any], requests: list[Request], cache: ResponseCache,
                    progress: bool, desc: str) -> tuple[list[Response], list[bool]]:
    keys = [request_key(fingerprint, r) for r in requests]
    hits = cache.get_many(keys)
    responses: list[Response | None] = [hits.get(k) for k in keys]
    cached = [r is not None for r in responses]
    todo = [i for i, r in enumerate(responses) if r is None]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(requests), initial=len(requests) - len(todo), desc=desc, unit="ex",
                   file=sys.stderr, dynamic_ncols=True, smoothing=0.1)
    errors = 0
    try:
        if todo:
            async for j, resp in provider.stream([requests[i] for i in todo]):
                i = todo[j]
                responses[i] = resp
                cache.put(keys[i], fingerprint, resp)
                if resp.error:
                    errors += 1
                if bar is not None:
                    bar.update(1)
                    if errors:
                        bar.set_postfix(errors=errors, refresh=False)
    finally:
        if bar is not None:
            bar.close()
        await provider.aclose()
    return [r for r in responses if r is not None], cached


def generate(provider: Provider, requests: list[Request], cache: ResponseCache, progress: bool = True,
             desc: str = "generate") -> tuple[list[Response], list[bool]]:
    """Responses for every request: cached ones read back, the rest generated and stored as they finish."""
    return asyncio.run(_generate(provider, provider.fingerprint(), requests, cache, progress, desc))


def to_items(examples: Sequence[Example], requests: Sequence[Request], responses: Sequence[Response]) -> list[Item]:
    return [
        Item(id=ex.id, output=resp.text, reference=ex.reference, input=ex.input, category=ex.category,
             record=ex.record, messages=req.chat(), logprobs=resp.logprobs, error=resp.error,
             finish_reason=resp.finish_reason)
        for ex, req, resp in zip(examples, requests, responses, strict=True)
    ]


def score(metrics: Sequence[Metric], items: Sequence[Item]) -> list[dict[str, ScoreValue]]:
    """Per-example scores of every metric. A metric that raises is recorded on every example."""
    per_example: list[dict[str, ScoreValue]] = [{} for _ in items]
    for m in metrics:
        try:
            batch = m.score_batch(items)
        except Exception as e:  # noqa: BLE001 - a broken metric must not lose the generated outputs
            reason = f"metric {m.name} failed: {type(e).__name__}: {e}"
            batch = [{s.name: Failure(reason) for s in m.scores() if s.level == "example"} for _ in items]
        for row, part in zip(per_example, batch, strict=True):
            row.update(part)
    return per_example


def score_step(metrics: Sequence[Metric], items: Sequence[Item], fingerprint: dict[str, Any],
               requests: Sequence[Request], cache_path: Path | None) -> list[dict[str, ScoreValue]]:
    """The run's score step: :func:`score`, with scores already computed for these responses read
    back from the cache file (harness.scorecache) instead of recomputed."""
    if cache_path is None:
        return score(metrics, items)
    from harness.scorecache import item_keys, score_cached

    return score_cached(metrics, items, item_keys(fingerprint, requests, items), cache_path, score)


def aggregate(metrics: Sequence[Metric], items: Sequence[Item], per_example: Sequence[dict[str, ScoreValue]],
              resamples: int = 1000) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each score's mean (or corpus value) with a 95% CI, and each metric's artifacts."""
    table: dict[str, Any] = {}
    artifacts: dict[str, Any] = {}
    for m in metrics:
        for spec in m.scores():
            entry: dict[str, Any] = {"metric": m.name, **spec.as_dict()}
            if spec.level == "example":
                vals = [row[spec.name] for row in per_example if spec.name in row]
                ok = [float(v) for v in vals if not isinstance(v, Failure)]
                failed = [v.reason for v in vals if isinstance(v, Failure)]
                entry.update(mean_ci(ok, binary=spec.binary).as_dict())
                _clip_to_range(entry, spec.range)
                entry["n_failed"] = len(failed)
                entry["failure_reasons"] = _top_reasons(failed)
            else:
                value = m.corpus(items, per_example).get(spec.name, float("nan"))
                lo, hi = bootstrap_ci(len(items), m.corpus_statistic(items, per_example, spec.name), resamples=resamples)
                n_ok = sum(1 for it in items if it.output is not None)
                entry.update({"mean": value, "ci_low": lo, "ci_high": hi, "n": n_ok, "ci_method": f"bootstrap-{resamples}",
                              "n_failed": len(items) - n_ok, "failure_reasons": {}})
            table[spec.name] = entry
        for name, reason in m.advisory().items():
            if name in table:
                table[name]["advisory_reason"] = reason
        for name, extra in m.entry_fields().items():
            if name in table:
                table[name].update(extra)
        try:
            art = m.artifacts(items, per_example)
        except Exception as e:  # noqa: BLE001
            art = {"error": f"{type(e).__name__}: {e}"}
        if art:
            artifacts[m.name] = art
    return table, artifacts


def _clip_to_range(entry: dict[str, Any], bounds: tuple[float | None, float | None]) -> None:
    """A t-interval can overshoot a bounded score (ROUGE near 1); no mean can lie outside its range."""
    lo, hi = bounds
    if lo is not None and not _nan(entry["ci_low"]):
        entry["ci_low"] = max(lo, entry["ci_low"])
    if hi is not None and not _nan(entry["ci_high"]):
        entry["ci_high"] = min(hi, entry["ci_high"])


def _top_reasons(reasons: list[str], k: int = 5) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in reasons:
        counts[r] = counts.get(r, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1])[:k])


# ---------------------------------------------------------------- the whole run


def run_suite(cfg: RunConfig) -> RunOutcome:
    from harness.run_record import prepare_run_dir, write_run

    t0 = time.perf_counter()
    loaded = load_suite(cfg.suite)
    split_name = cfg.split or loaded.suite.default_split
    if split_name not in loaded.suite.dataset.splits:
        from harness.core.errors import HarnessError

        raise HarnessError(f"{cfg.suite}: no split {split_name!r}; the suite has: {', '.join(loaded.suite.dataset.splits)}")
    split: Split = load_split(loaded.suite.dataset, loaded.dataset_dir(), split_name, loaded.suite.prompt)
    examples = split.examples[: cfg.limit] if cfg.limit else split.examples
    requests = build_requests(loaded, examples)
    prepared = prepare_run_dir(cfg, loaded.suite.name, split_name)  # unwritable/locked --out fails before any request
    provider = build_provider(cfg.model)
    fingerprint = provider.fingerprint()
    cache = ResponseCache(cfg.cache or cfg.reports_dir / "cache.sqlite")
    t_gen = time.perf_counter()
    try:
        responses, cached = asyncio.run(
            _generate(provider, fingerprint, requests, cache, cfg.progress, f"{loaded.suite.name} | {cfg.model.display()}")
        )
    finally:
        cache.close()
    t_score = time.perf_counter()
    items = to_items(examples, requests, responses)
    if cfg.judge:
        from harness.metrics.base import override_judge

        loaded.metrics = override_judge(loaded.metrics, cfg.judge)
    context = RunContext(cache_path=cfg.cache or cfg.reports_dir / "cache.sqlite", reports_dir=cfg.reports_dir,
                         progress=cfg.progress, suite_path=loaded.path)
    for m in loaded.metrics:
        m.bind(context)
    per_example = score_step(loaded.metrics, items, fingerprint, requests, context.cache_path)
    table, artifacts = aggregate(loaded.metrics, items, per_example, cfg.bootstrap_resamples)
    t_end = time.perf_counter()
    results = [ExampleResult(ex, req, resp, c, sc)
               for ex, req, resp, c, sc in zip(examples, requests, responses, cached, per_example, strict=True)]
    timing = {"total_s": t_end - t0, "load_s": t_gen - t0, "generation_s": t_score - t_gen, "scoring_s": t_end - t_score}
    directory, summary = write_run(cfg, loaded, split, fingerprint, results, table, artifacts, timing, prepared)
    return RunOutcome(directory, summary, results)


def format_table(summary: dict[str, Any]) -> str:
    """The per-metric table printed after a run."""
    rows = [("metric", "mean", "95% CI", "n", "failed", "better", "calibration")]
    for name, e in summary["metrics"].items():
        ci = "-" if _nan(e["ci_low"]) else f"[{e['ci_low']:.3f}, {e['ci_high']:.3f}]"
        mean = "n/a" if _nan(e["mean"]) else f"{e['mean']:.3f}"
        rows.append((name, mean, ci, str(e["n"]), str(e["n_failed"]), e["direction"], _calibration_cell(e)))
    if all(not r[-1] for r in rows[1:]):
        rows = [r[:-1] for r in rows]  # no judge in this suite: no calibration column
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _calibration_cell(e: dict[str, Any]) -> str:
    """A judge score's agreement with human labels, and '(advisory)' when gates on it only advise."""
    if "calibration" not in e:
        return ""
    c = e["calibration"]
    text = "none" if not c else (f"{c.get('statistic_short', 'kappa')} "
                                 + ("n/a" if _nan(c.get("kappa")) else f"{c['kappa']:.2f}")
                                 + ("" if _nan(c.get("ci_low")) else f" [{c['ci_low']:.2f}, {c['ci_high']:.2f}]")
                                 + f" n={c.get('n')}")
    return text + (" (advisory)" if e.get("advisory_reason") else "")


def _nan(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))
