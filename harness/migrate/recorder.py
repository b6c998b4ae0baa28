"""`harness record`: ask a model every input of a suite split (or an inputs file) and keep its answers.

    load inputs -> build requests (the suite's prompt and settings) -> generate through the response
    cache (each answer committed as it arrives) -> write the recording (header, outputs, chat)

Generation goes through :func:`harness.evaluate.run.generate`, the same cached path as `harness run`, so
a recording of a suite split and a run of the same model on it share their answers, and a killed
recording redoes nothing when rerun.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field as _field
from pathlib import Path
from typing import Any

from harness.core.version import code_revision, version
from harness.core.errors import HarnessError
from harness.core.redact import redacted
from harness.core.settings import GenerationSettings
from harness.core.trust import TrustPolicy
from harness.core.types import Request, Response
from harness.data.sample import DEFAULT_SEED, check_selection, draw, select
from harness.providers.base import ModelSpec
from harness.records.run import SampleInfo
from harness.records.recording import (
    InputsSource,
    RecordingHeader,
    SuiteSource,
    prompt_sha256,
    suite_hashes,
    write_recording,
)


@dataclass
class RecordConfig:
    """Everything `harness record` needs."""

    model: ModelSpec
    out: Path
    suite: Path | None = None
    split: str | None = None
    inputs: Path | None = None
    field: str = "text"
    id_field: str | None = None
    system: str | None = None
    generation: GenerationSettings | None = None  # inputs only; a suite's own settings win
    limit: int | None = None  # the first N examples or inputs
    sample: int | None = None  # or a seeded random sample of N (stratified by the suite's category): harness.data.sample
    sample_seed: int | None = None
    cache: Path = Path("reports/cache.sqlite")
    progress: bool = True
    # Key hosts and data root (harness.core.trust): the caller's; the environment's when not given.
    trust: TrustPolicy = _field(default_factory=TrustPolicy.from_env, repr=False)


@dataclass
class RecordOutcome:
    folder: Path
    header: RecordingHeader
    rows: list[dict[str, Any]]

    @property
    def n_errors(self) -> int:
        return self.header.counts.get("errors", 0)


def _suite_rows(cfg: RecordConfig) -> tuple[list[dict[str, Any]], list[Request], GenerationSettings, SuiteSource, SampleInfo | None]:
    from harness.data.examples import load_split, render_messages
    from harness.suite.load import load_suite

    assert cfg.suite is not None
    loaded = load_suite(cfg.suite, trust=cfg.trust)
    s = loaded.suite
    split_name = cfg.split or s.default_split
    if split_name not in s.dataset.split_names():
        raise HarnessError(f"{cfg.suite}: no split {split_name!r}; the suite has: {', '.join(s.dataset.split_names())}")
    split = load_split(s.dataset, loaded.dataset_dir(), split_name, s.prompt)
    examples, drawn = select(split.examples, cfg.limit, cfg.sample, cfg.sample_seed, stratify=s.dataset.fields.category is not None)
    rows, reqs = [], []
    for ex in examples:
        msgs = render_messages(s.prompt, ex)
        reqs.append(Request(tuple(msgs), s.generation, ex.id))
        rows.append({"id": ex.id, "line": ex.line, "input": ex.input, "category": ex.category, "reference": ex.reference,
                     "messages": [{"role": r, "content": c} for r, c in msgs]})
    source = SuiteSource(path=str(cfg.suite), name=s.name, version=s.version, split=split_name, split_path=str(split.path),
                         split_sha256=split.sha256, category_field=s.dataset.fields.category, **suite_hashes(loaded))
    return rows, reqs, s.generation, source, drawn


def _input_rows(cfg: RecordConfig) -> tuple[list[dict[str, Any]], list[Request], GenerationSettings, InputsSource, SampleInfo | None]:
    from harness.migrate.inputs import read_inputs

    assert cfg.inputs is not None
    inputs = read_inputs(cfg.inputs, cfg.field, cfg.system, cfg.id_field)
    settings = cfg.generation or GenerationSettings()
    check_selection(cfg.limit, cfg.sample)
    drawn = None
    if cfg.sample is not None:  # unlabelled inputs have no category: a plain seeded sample
        d = draw([it.id for it in inputs.items], None, cfg.sample, DEFAULT_SEED if cfg.sample_seed is None else cfg.sample_seed)
        items, drawn = [inputs.items[p] for p in d.positions], d.info
    else:
        items = inputs.items[: cfg.limit] if cfg.limit else inputs.items
    hashes: dict[str, str] = {}
    if cfg.suite is not None:  # the suite's own prompt and settings, so its candidates are asked the same
        loaded, hashes = _render_with_suite(cfg, items)
        settings = loaded.suite.generation
    rows, reqs = [], []
    for it in items:
        reqs.append(Request(tuple((m["role"], m["content"]) for m in it.messages), settings, it.id))
        rows.append({"id": it.id, "line": it.line, "input": it.text, "category": None, "reference": None,
                     "messages": it.messages})
    source = InputsSource(path=str(cfg.inputs), sha256=inputs.sha256, format=inputs.format,
                          field=None if inputs.format == "chat" else cfg.field, system=cfg.system,
                          suite_path=str(cfg.suite) if cfg.suite else None, prompt_sha256=hashes.get("prompt_sha256"),
                          generation_sha256=hashes.get("generation_sha256"))
    return rows, reqs, settings, source, drawn


def _render_with_suite(cfg: RecordConfig, items: list[Any]) -> tuple[Any, dict[str, str]]:
    """Render each input as the suite would (its template's columns must be in every record)."""
    from harness.core.errors import InputProblems, Problem
    from harness.core.types import Example
    from harness.data.examples import render_messages
    from harness.suite.load import load_suite

    loaded = load_suite(cfg.suite, trust=cfg.trust)  # type: ignore[arg-type]
    prompt = loaded.suite.prompt
    problems = []
    for it in items:
        if prompt.from_dataset:
            system = [{"role": "system", "content": prompt.system}] if prompt.system is not None else []
            it.messages = system + [m for m in it.messages if not (system and m["role"] == "system")]
            continue
        missing = sorted(v for v in prompt.variables() if v not in it.record)
        if missing:
            problems.append(Problem(str(cfg.inputs), "", f"missing field {', '.join(map(repr, missing))} (used in the "
                                                         f"prompt of {cfg.suite}); the record has: {', '.join(it.record)}",
                                    line=it.line))
            continue
        it.messages = [{"role": r, "content": c} for r, c in render_messages(prompt, Example(it.id, it.record, it.line))]
    if problems:
        raise InputProblems(problems)
    return loaded, suite_hashes(loaded)


def _fill(row: dict[str, Any], resp: Response, cached: bool) -> dict[str, Any]:
    return row | {"prompt_sha256": prompt_sha256(row["messages"]), "output": resp.text, "error": resp.error,
                  "model": resp.model, "system_fingerprint": resp.system_fingerprint,
                  "finish_reason": resp.finish_reason, "input_tokens": resp.input_tokens,
                  "output_tokens": resp.output_tokens, "cached": cached}


def record(cfg: RecordConfig) -> RecordOutcome:
    from harness.store.responses import ResponseCache
    from harness.providers.base import build_provider
    from harness.evaluate.run import generate

    if cfg.suite is None and cfg.inputs is None:
        raise HarnessError("record: give a SUITE, --inputs FILE, or both (the inputs asked with the suite's prompt)")
    if cfg.inputs is None:
        rows, reqs, settings, source, drawn = _suite_rows(cfg)
    else:
        rows, reqs, settings, source, drawn = _input_rows(cfg)
    provider = build_provider(cfg.model, cfg.trust)
    fingerprint = provider.fingerprint()
    cache = ResponseCache(cfg.cache)
    try:
        responses, cached = generate(provider, reqs, cache, cfg.progress, f"record | {cfg.model.display()}")
    finally:
        cache.close()
    rows = [_fill(r, resp, c) for r, resp, c in zip(rows, responses, cached, strict=True)]
    ok = [r for r in rows if r["output"] is not None]
    header = RecordingHeader(
        kind="inputs" if cfg.inputs is not None else "suite",
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        harness_version=version(),
        code_revision=code_revision(),
        model={"display": cfg.model.display(), "spec": redacted(cfg.model.model_dump(mode="json")), "fingerprint": fingerprint},
        reported_models=dict(Counter(r["model"] for r in ok if r["model"])),
        system_fingerprints=dict(Counter(r["system_fingerprint"] for r in ok if r["system_fingerprint"])),
        generation=settings.model_dump(mode="json"),
        suite=source if isinstance(source, SuiteSource) else None,
        inputs=source if isinstance(source, InputsSource) else None,
        counts={"examples": len(rows), "outputs": len(ok), "errors": len(rows) - len(ok), "cached": sum(cached)},
        sample=drawn,
    )
    write_recording(cfg.out, header, rows)
    return RecordOutcome(cfg.out, header, rows)
