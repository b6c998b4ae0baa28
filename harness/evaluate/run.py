"""`harness run`: load suite -> load data -> generate (engine) -> score -> aggregate -> write.

Each stage is a small function taking what the previous one made, so the work reads top to
bottom in :func:`run_suite_async`. One :class:`~harness.engine.Engine` serves the whole run: the
candidate's generation and every judge's, with one cache, one limit per model and the circuit
breaker. :func:`run_suite` is the same from synchronous code.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.store.responses import ResponseCache
from harness.core.aio import run_sync
from harness.core.executor import ExecutorSpec
from harness.core.trust import TrustPolicy
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
from harness.distributed import executor_for, with_executor
from harness.engine import Engine
from harness.metrics.base import Metric
from harness.providers.base import ModelSpec, Provider, build_provider
from harness.records.run import ExampleResult, MetricEntry, RepeatResult, RunSummary, SampleInfo
from harness.evaluate.repeats import expand_requests, reduce_example
from harness.stats import mean_ci
from harness.suite.load import LoadedSuite, load_suite

DEFAULT_REPORTS = Path("reports")


@dataclass
class RunConfig:
    """Everything `harness run` needs; recorded in the run's summary."""

    suite: Path
    model: ModelSpec
    split: str | None = None
    limit: int | None = None  # the first N examples (not a sample)
    sample: int | None = None  # draw N at random, stratified by category where the suite has one (harness.data.sample)
    sample_seed: int | None = None  # the sample's seed (default 0); recorded with the drawn ids
    reports_dir: Path = DEFAULT_REPORTS
    out: Path | None = None  # exact run directory; default reports/runs/<suite>-<split>-<model>-<time>
    cache: Path | None = None  # default reports/cache.sqlite
    progress: bool = True
    bootstrap_resamples: int = 2000  # = harness.stats.bootstrap.RESAMPLES (not imported: numpy)
    judge: str | None = None  # replaces the judge model of every judge metric (recorded in the summary)
    repeats: int | None = None  # replaces the suite's generation.repeats (recorded in the summary's generation)
    max_cost: float | None = None  # --max-cost USD: stop sending once spent + in flight would pass it
    prices: Path | None = None  # --prices FILE: entries laid over the shipped price table
    executor: ExecutorSpec | None = None  # --executor/--ray-address: over the model's executor: (harness.distributed)
    # Key hosts and data root (harness.core.trust): the caller's, never the suite's; not recorded.
    # Left out: the environment's policy, read once here.
    trust: TrustPolicy = field(default_factory=TrustPolicy.from_env)


@dataclass
class RunOutcome:
    directory: Path
    summary: RunSummary
    results: list[ExampleResult]
    endpoint_down: str | None = None  # "endpoint down: URL (...)": the breaker stopped sending; a rerun resumes
    cap_reached: str | None = None  # the --max-cost cap stopped sending; a rerun with a higher cap resumes

    @property
    def n_errors(self) -> int:
        return self.summary.counts.errors


# ---------------------------------------------------------------- stages


def build_requests(loaded: LoadedSuite, examples: Sequence[Example], split: str | None = None) -> list[Request]:
    """One request per example and repeat (repeat-major: harness.evaluate.repeats.expand_requests).

    A log-likelihood suite (``scoring.type`` multiple_choice or loglikelihood_rolling) makes one
    log-likelihood request per example (never repeated: it is deterministic); a plain-text prompt
    (``prompt.text``) a request with ``prompt`` set. ``split``: the evaluated split's name, so that
    few-shot examples drawn from the same split exclude the example itself, lm-eval's way."""
    s = loaded.suite
    settings = s.generation.request_settings()  # without repeats/reducer: the cache key of a suite without repeats is unchanged
    kind = s.scoring.type if s.scoring else "generate"
    if kind == "generate" and s.prompt.text is None:
        base = [Request(tuple(render_messages(s.prompt, ex)), settings, ex.id) for ex in examples]
        return expand_requests(base, s.generation.repeats)
    scored = scored_examples(loaded, examples, split)
    if kind == "generate":
        base = [Request((("user", q.text),), settings, ex.id, prompt=q.text) for ex, q in zip(examples, scored, strict=True)]
        return expand_requests(base, s.generation.repeats)
    from harness.core.settings import GenerationSettings
    from harness.core.types import LoglikQuery

    fixed = GenerationSettings()  # decoding settings do not change a log-likelihood: one key whatever the suite says
    chat = bool(s.scoring and s.scoring.chat_template)
    out = []
    for ex, q in zip(examples, scored, strict=True):
        if kind == "multiple_choice":
            ll = LoglikQuery("multiple_choice", context=q.context, continuations=q.choices, chat_template=chat)
            out.append(Request((("user", q.context),), fixed, ex.id, loglik=ll))
        else:
            out.append(Request((("user", q.text),), fixed, ex.id, loglik=LoglikQuery("rolling", text=q.text)))
    return out


def scored_examples(loaded: LoadedSuite, examples: Sequence[Example], split: str | None) -> list[Any]:
    """Each example's context / choices / target (harness.data.scoring), with its few-shot block."""
    from harness.data.scoring import build_scored

    s = loaded.suite
    pool: list[Example] = []
    if s.fewshot is not None:
        pool = load_split(s.dataset, loaded.dataset_dir(), s.fewshot.split).examples
    path = str(loaded.dataset_dir() / s.dataset.splits[split]) if split in s.dataset.splits else str(loaded.path)
    return build_scored(s, examples, path, pool, same_split=s.fewshot is not None and s.fewshot.split == split)


def generate(provider: Provider, requests: list[Request], cache: ResponseCache | None, progress: bool = True,
             desc: str = "generate") -> tuple[list[Response], list[bool]]:
    """Responses for every request, from synchronous code: cached ones read back, the rest generated
    and stored as they finish. In async code: ``await Engine(cache).generate(provider, requests)``."""

    async def go() -> tuple[list[Response], list[bool]]:
        async with Engine(cache, progress, executors=executor_for) as engine:
            g = await engine.generate(provider, requests, desc)
        return g.responses, g.cached

    return run_sync(go())


def to_items(examples: Sequence[Example], requests: Sequence[Request], responses: Sequence[Response],
             targets: Sequence[tuple[int, list[str]]] | None = None) -> list[Item]:
    """What the metrics see; ``targets``: a multiple-choice suite's (right choice, choices) per example."""
    tg: Sequence[tuple[int | None, list[str] | None]] = targets if targets is not None else [(None, None)] * len(examples)
    return [
        Item(id=ex.id, output=resp.text, reference=ex.reference, input=ex.input, category=ex.category,
             record=ex.record, messages=req.chat(), logprobs=resp.logprobs, error=resp.error,
             finish_reason=resp.finish_reason, loglik=resp.loglik, target=t, choices=c)
        for ex, req, resp, (t, c) in zip(examples, requests, responses, tg, strict=True)
    ]


def mc_targets(loaded: LoadedSuite, examples: Sequence[Example]) -> list[tuple[int, list[str]]] | None:
    """A multiple-choice suite's (right choice, choices) per example (None for other suites)."""
    s = loaded.suite
    if s.scoring is None or s.scoring.type != "multiple_choice":
        return None
    from harness.data.scoring import choices_of, target_of

    out = []
    for ex in examples:
        choices = choices_of(s.scoring, ex.record)
        out.append((target_of(s.scoring, ex.record, choices), choices))
    return out


async def score(metrics: Sequence[Metric], items: Sequence[Item]) -> list[dict[str, ScoreValue]]:
    """Per-example scores of every metric (a judge awaits the engine bound in its context). A
    metric that raises is recorded on every example."""
    per_example: list[dict[str, ScoreValue]] = [{} for _ in items]
    for m in metrics:
        try:
            batch = await m.ascore_batch(items)
        except Exception as e:  # noqa: BLE001 - a broken metric must not lose the generated outputs
            reason = f"metric {m.name} failed: {type(e).__name__}: {e}"
            batch = [{s.name: Failure(reason) for s in m.scores() if s.level == "example"} for _ in items]
        for row, part in zip(per_example, batch, strict=True):
            row.update(part)
    return per_example


async def score_step(metrics: Sequence[Metric], items: Sequence[Item], fingerprint: dict[str, Any],
                     requests: Sequence[Request], cache_path: Path | None) -> list[dict[str, ScoreValue]]:
    """The run's score step: :func:`score`, with scores already computed for these responses read
    back from the cache file (harness.evaluate.score_cache) instead of recomputed."""
    from harness.evaluate.score_cache import item_keys, score_cached
    from harness.metrics.base import cacheable_metric

    if cache_path is None or not any(cacheable_metric(m) for m in metrics):  # nothing to read back: no keys, no file
        return await score(metrics, items)
    return await score_cached(metrics, items, item_keys(fingerprint, requests, items), cache_path, score)


def aggregate(metrics: Sequence[Metric], items: Sequence[Item], per_example: Sequence[dict[str, ScoreValue]],
              resamples: int = 2000, repeats: int = 1, reducer: str = "mean") -> tuple[dict[str, Any], dict[str, Any]]:
    """Each score's mean (or corpus value) with a 95% CI, and each metric's artifacts.

    With repeats, ``per_example`` holds the reduced values (one per example: the CI is clustered by
    example) and ``items`` the first repeat's outputs (which corpus scores are computed on)."""
    table: dict[str, Any] = {}
    artifacts: dict[str, Any] = {}
    for m in metrics:
        for spec in m.scores():
            entry: dict[str, Any] = {"metric": m.name, **spec.as_dict()}
            if spec.level == "example":
                vals = [row[spec.name] for row in per_example if spec.name in row]
                ok = [float(v) for v in vals if not isinstance(v, Failure)]
                failed = [v.reason for v in vals if isinstance(v, Failure)]
                still_binary = spec.binary and (repeats == 1 or reducer != "mean")  # a mean of 0/1 repeats is a share
                entry.update(mean_ci(ok, binary=still_binary).as_dict())
                if repeats > 1:
                    entry["binary"] = still_binary
                    entry["ci_method"] += (f", clustered by example (the unit is each example's {reducer} of its "
                                           f"{repeats} repeats, not {repeats} independent samples)")
                _clip_to_range(entry, spec.range)
                entry["n_failed"] = len(failed)
                entry["failure_reasons"] = _top_reasons(failed)
            else:
                from harness.stats.bootstrap import (
                    bootstrap_ci,  # numpy: only when a corpus score needs it
                )

                value = m.corpus(items, per_example).get(spec.name, float("nan"))
                lo, hi = bootstrap_ci(len(items), m.corpus_statistic(items, per_example, spec.name), resamples=resamples)
                n_ok = sum(1 for it in items if it.output is not None)
                entry.update({"mean": value, "ci_low": lo, "ci_high": hi, "n": n_ok, "ci_method": f"bootstrap-{resamples}"
                              + (" (on the first of the repeats)" if repeats > 1 else ""),
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


def select_examples(cfg: RunConfig, loaded: LoadedSuite, split: Split) -> tuple[list[Example], SampleInfo | None]:
    """The split's examples this run evaluates (every one, the first --limit, or a --sample) and how
    a sample was drawn (harness.data.sample: the one sampler of every command)."""
    from harness.data.sample import select

    return select(split.examples, cfg.limit, cfg.sample, cfg.sample_seed,
                  stratify=loaded.suite.dataset.fields.category is not None)


def run_suite(cfg: RunConfig) -> RunOutcome:
    """:func:`run_suite_async` from synchronous code (not from inside a running event loop)."""
    return run_sync(run_suite_async(cfg))


async def run_suite_async(cfg: RunConfig) -> RunOutcome:
    """The whole run in the running event loop: a notebook, a server or another harness can await it."""
    from harness.records.rundir import FinishedRun, prepare_run_dir, write_run

    t0 = time.perf_counter()
    if cfg.executor is not None:  # recorded in the summary's model spec, as a model file's executor: would be
        cfg = replace(cfg, model=with_executor(cfg.model, cfg.executor), executor=None)
    loaded = load_suite(cfg.suite, trust=cfg.trust)
    split_name = cfg.split or loaded.suite.default_split
    if split_name not in loaded.suite.dataset.split_names():
        from harness.core.errors import HarnessError

        raise HarnessError(f"{cfg.suite}: no split {split_name!r}; the suite has: {', '.join(loaded.suite.dataset.split_names())}")
    split: Split = load_split(loaded.suite.dataset, loaded.dataset_dir(), split_name, loaded.suite.prompt)
    examples, drawn = select_examples(cfg, loaded, split)
    if cfg.repeats is not None:
        gen_settings = loaded.suite.generation.model_copy(update={"repeats": cfg.repeats})
        loaded.suite = loaded.suite.model_copy(update={"generation": gen_settings})
    requests = build_requests(loaded, examples, split_name)
    targets = mc_targets(loaded, examples)
    for ex, (t, choices) in zip(examples, targets, strict=True) if targets is not None else ():
        if ex.reference is None:  # the reference shown in records: the right choice's text
            ex.reference = choices[t]
    from harness.engine.cost import Ledger, cost_block
    from harness.pricing import load_prices

    prices = load_prices(cfg.prices)  # a bad --prices file fails before the run directory exists
    prepared = prepare_run_dir(cfg, loaded.suite.name, split_name)  # unwritable/locked --out fails before any request
    provider = build_provider(cfg.model, cfg.trust)
    fingerprint = provider.fingerprint()
    if cfg.judge:
        from harness.metrics.base import override_judge

        loaded.metrics = override_judge(loaded.metrics, cfg.judge)
    cache_path = cfg.cache or cfg.reports_dir / "cache.sqlite"
    ledger = Ledger(prices, cfg.max_cost)
    async with Engine.at(cache_path, cfg.progress, ledger, prepared.directory, executor_for) as engine:
        t_gen = time.perf_counter()
        gen = await engine.generate(provider, requests, f"{loaded.suite.name} | {cfg.model.display()}")
        t_score = time.perf_counter()
        repeated = [ex for _ in range(loaded.suite.generation.repeats) for ex in examples]  # repeat-major, as the requests
        items = to_items(repeated, requests, gen.responses, targets)
        context = RunContext(cache_path=cache_path, reports_dir=cfg.reports_dir, progress=cfg.progress,
                             suite_path=loaded.path, engine=engine, generation=loaded.suite.generation, suite=loaded,
                             trust=cfg.trust)
        for m in loaded.metrics:
            m.bind(context)
        per_example = await score_step(loaded.metrics, items, fingerprint, requests, cache_path)
        down = engine.down()
    g = loaded.suite.generation
    if g.repeats > 1:
        results = repeat_results(loaded.metrics, examples, requests, gen.responses, gen.cached, per_example, g.reducer)
        per_example = [r.scores for r in results]
        items = items[: len(examples)]
    table, artifacts = aggregate(loaded.metrics, items, per_example, cfg.bootstrap_resamples, g.repeats, g.reducer)
    if g.repeats > 1:
        add_flaky_shares(table, results)
    else:
        results = [ExampleResult(ex, req, resp, c, sc)
                   for ex, req, resp, c, sc in zip(examples, requests, gen.responses, gen.cached, per_example, strict=True)]
    t_end = time.perf_counter()
    timing = {"total_s": t_end - t0, "load_s": t_gen - t0, "generation_s": t_score - t_gen, "scoring_s": t_end - t_score}
    finished = FinishedRun(cfg, loaded, split, fingerprint, results, table, artifacts, timing,
                           cost_block(ledger, provider.batch_api() is not None), drawn)
    directory, summary = write_run(finished, prepared)
    return RunOutcome(directory, summary, results, "; ".join(down) or None, summary.cost.cap_reached if summary.cost else None)


def repeat_results(metrics: Sequence[Metric], examples: Sequence[Example], requests: Sequence[Request],
                   responses: Sequence[Response], cached: Sequence[bool], per_example: Sequence[dict[str, ScoreValue]],
                   reducer: str) -> list[ExampleResult]:
    """Repeat-major generations and scores (len = examples x repeats) -> one result per example with
    its scores reduced and its flakiness (harness.evaluate.repeats). The example's response is its first failed
    repeat's, else its first: an example with a failed repeat counts as an error and a rerun retries it."""
    higher = {s.name: s.direction != "lower" for m in metrics for s in m.scores()}
    n = len(examples)
    out = []
    for i, ex in enumerate(examples):
        reps = [RepeatResult(requests[k], responses[k], cached[k], per_example[k]) for k in range(i, len(requests), n)]
        reduced, flaky = reduce_example([r.scores for r in reps], reducer, higher)
        shown = next((r for r in reps if r.response.error), reps[0])
        out.append(ExampleResult(ex, reps[0].request, shown.response, all(r.cached for r in reps), reduced, reps, flaky))
    return out


def add_flaky_shares(table: dict[str, Any], results: Sequence[ExampleResult]) -> None:
    """Each example-level score's share of flaky examples (flakiness above 0) and their count."""
    from harness.evaluate.repeats import flaky_share

    for name, entry in table.items():
        if entry.get("level") != "example":
            continue
        figures = [(r.flakiness or {}).get(name) for r in results]
        entry["flaky_share"] = flaky_share(figures)
        entry["n_flaky"] = sum(1 for f in figures if f is not None and f > 0)


def format_table(summary: RunSummary) -> str:
    """The per-metric table printed after a run."""
    rows = [("metric", "mean", "95% CI", "n", "failed", "better", "calibration")]
    for name, e in summary.metrics.items():
        ci = "-" if _nan(e.ci_low) or e.ci_high is None else f"[{e.ci_low:.3f}, {e.ci_high:.3f}]"
        mean = "n/a" if e.mean is None or _nan(e.mean) else f"{e.mean:.3f}"
        rows.append((name, mean, ci, str(e.n), str(e.n_failed), e.direction, _calibration_cell(e)))
    if all(not r[-1] for r in rows[1:]):
        rows = [r[:-1] for r in rows]  # no judge in this suite: no calibration column
    if any(e.added("flaky_share") for e in summary.metrics.values()):  # generation.repeats > 1
        rows = [rows[0] + ("flaky",)] + [
            r + (("-" if e.flaky_share is None or _nan(e.flaky_share) else f"{e.n_flaky} ({e.flaky_share:.0%})")
                 if e.added("flaky_share") else "",)
            for r, e in zip(rows[1:], summary.metrics.values(), strict=True)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _calibration_cell(e: MetricEntry) -> str:
    """A judge score's agreement with human labels, and '(advisory)' when gates on it only advise."""
    if not e.added("calibration"):
        return ""
    c = e.calibration
    text = "none" if not c else (f"{c.get('statistic_short', 'kappa')} "
                                 + ("n/a" if _nan(c.get("kappa")) else f"{c['kappa']:.2f}")
                                 + ("" if _nan(c.get("ci_low")) else f" [{c['ci_low']:.2f}, {c['ci_high']:.2f}]")
                                 + f" n={c.get('n')}")
    return text + (" (advisory)" if e.advisory_reason else "")


def _nan(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))
