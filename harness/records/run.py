"""A run directory's records: summary.json (RunSummary) and results.jsonl (one ExampleRow a line)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field, model_serializer

from harness.core.errors import HarnessError
from harness.core.types import Example, Request, Response, ScoreValue
from harness.records.base import (
    Record,
    VersionedRecord,
    parse_json,
    read_text,
    validate,
)


@dataclass
class ExampleResult:
    """One example as the runner finished it (in memory); written as an ExampleRow."""

    example: Example
    request: Request
    response: Response
    cached: bool
    scores: dict[str, ScoreValue] = field(default_factory=dict)  # with repeats: reduced over them (harness.evaluate.repeats)
    repeats: list[RepeatResult] | None = None  # generation.repeats > 1: every repeat, in order
    flakiness: dict[str, float] | None = None  # per score: share of repeats disagreeing with the modal value


@dataclass
class RepeatResult:
    """One repeat of one example (generation.repeats > 1)."""

    request: Request
    response: Response
    cached: bool
    scores: dict[str, ScoreValue] = field(default_factory=dict)


class MetricEntry(Record):
    """One score's aggregate. Beyond the fields every score has, a metric may add its own (see
    Metric.entry_fields and harness.evaluate.run.aggregate); each is declared here, so a misspelt or
    unknown field is refused. An added field is written only where it was set: entries of scores
    without it are unchanged on disk (byte for byte)."""

    metric: str
    name: str
    direction: str
    range: list[float | None]
    level: str
    binary: bool
    description: str = ""
    mean: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    ci_method: str | None = None
    n_failed: int = 0
    failure_reasons: dict[str, int] = Field(default_factory=dict)
    # -- added by some metrics only (written only when set), in the order they are added:
    advisory_reason: str | None = None  # Metric.advisory: gates on this score only advise
    judge: dict[str, Any] | None = None  # judges: the judge model's record
    rubric: dict[str, Any] | None = None  # judges: the rubric or criteria, with their sha256
    prompt: dict[str, Any] | None = None  # judges: the judge prompt's record
    calibration: dict[str, Any] | None = None  # judge_rubric: agreement with human labels (null: none)
    min_kappa: float | None = None  # judge_rubric: the kappa below which gates only advise
    grade_method: dict[str, Any] | None = None  # judge_rubric: how grades were read
    baseline: str | dict[str, Any] | None = None  # judge_pairwise / agreement_judge: what the output was compared with
    first_position_rate: float | None = None  # judge_pairwise: how often the first-shown answer won
    reference: dict[str, Any] | None = None  # agreement metrics: the recording compared with
    flaky_share: float | None = None  # generation.repeats > 1: share of scored examples that are flaky
    n_flaky: int | None = None  # generation.repeats > 1: how many examples are flaky

    def added(self, name: str) -> bool:
        """Whether the metric added field ``name`` (an added field may be set to null: "none")."""
        return name in self.model_fields_set

    @model_serializer(mode="wrap")
    def _only_set_extensions(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        for k in EXTENSION_FIELDS:
            if k not in self.model_fields_set:
                data.pop(k, None)
        return data


EXTENSION_FIELDS = ("advisory_reason", "judge", "rubric", "prompt", "calibration", "min_kappa", "grade_method",
                    "baseline", "first_position_rate", "reference", "flaky_share", "n_flaky")


class SuiteInfo(Record):
    name: str
    version: int | str | None = None
    path: str
    sha256: str
    spec: dict[str, Any]


class SampleInfo(Record):
    """How a ``--sample N --seed S`` run drew its examples (harness.data.sample): absent when the run
    evaluated the whole split or its first ``limit`` examples."""

    n: int = Field(description="N as asked (--sample N).")
    seed: int
    method: str = Field(description="stratified by category (proportional, largest remainder) or simple random.")
    population: int = Field(description="Examples in the split the sample was drawn from.")
    drawn: int = Field(description="Examples drawn: N, or the whole split when N is at least its size.")
    strata: dict[str, int] | None = Field(None, description="Category -> examples drawn from it; null: not stratified.")
    ids_sha256: str = Field(description="sha256 of the drawn ids, one a line in the split's order.")
    ids: list[str] = Field(description="The drawn ids, in the split's order.")


class DatasetInfo(Record):
    split: str
    path: str
    sha256: str
    n_examples: int
    limit: int | None = None
    n_evaluated: int
    category_field: str | None = None
    sample: SampleInfo | None = None  # written only when set: summaries of runs without --sample are unchanged

    @model_serializer(mode="wrap")
    def _sample_only_when_set(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        if self.sample is None:
            data.pop("sample", None)
        return data


class ModelInfo(Record):
    display: str
    spec: dict[str, Any]
    fingerprint: dict[str, Any]

    @property
    def label(self) -> str | None:
        """The label given (``--label NAME`` or ``label:`` in a model file), kept in ``spec``; None: none given."""
        return spec_label(self.spec)

    @property
    def short(self) -> str:
        """The name reports show: the label given, else the display shortened (:func:`short_label`)."""
        return self.label or short_label(self.display)


GENERIC_PARTS = {"adapter", "adapters", "final", "model", "models", "output", "outputs", "out", "latest", "best", "merged",
                 "export", "exported", "weights", "lora", "checkpoint", "outputs.jsonl", "results", "run"}
_EXTENSIONS = (".jsonl", ".json", ".yaml", ".yml", ".gguf", ".safetensors", ".bin", ".csv")


def spec_label(spec: Any) -> str | None:
    label = spec.get("label") if isinstance(spec, dict) else None
    return label if isinstance(label, str) and label.strip() else None


def short_label(display: str) -> str:
    """A path-like model name shortened to its last meaningful part: ``scripted:/tmp/x/good.jsonl`` ->
    ``scripted:good``, ``local:/ckpt/run3/adapter`` -> ``local:run3/adapter`` (a generic last part such as
    ``adapter``, ``final`` or ``checkpoint-500`` keeps its parent); a name without a path is unchanged."""
    head, colon, rest = display.partition(":")
    if not colon:
        head, rest = "", display
    tail = ""
    plus = rest.rfind("+")
    if plus > 0 and not re.search(r"[\\/]", rest[plus:]):
        rest, tail = rest[:plus], rest[plus:]
    query = ""
    if "?" in rest:
        rest, query = rest.split("?", 1)
        query = "?" + query
        if re.search(r"[\\/]", query):  # a path in the query (?adapter=out/it-2): its last part names the model
            key, _, value = query[1:].rpartition("=")
            return f"{head}{colon}{rest}+{short_label(value)}{tail}" if value else display
    if not re.search(r"[\\/]", rest):
        return display
    parts = [p for p in re.split(r"[\\/]+", rest) if p]
    if not parts:
        return display
    last = parts[-1]
    for ext in _EXTENSIONS:
        if last.lower().endswith(ext) and len(last) > len(ext):
            last = last[: -len(ext)]
            break
    if len(parts) > 1 and (last.lower() in GENERIC_PARTS or re.fullmatch(r"(checkpoint|step|epoch)[-_]?\d+", last.lower())):
        last = f"{parts[-2]}/{last}"
    return f"{head}{colon}{last}{query}{tail}"


class Counts(Record):
    examples: int
    errors: int
    cached: int
    generated: int


class Tokens(Record):
    input: int
    output: int


class ModelCost(Record):
    """One model's calls in a run (the candidate, or a judge model): tokens as reported, dollars by the price table."""

    requests: int
    sent: int
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int = 0
    cost_usd: float | None = Field(None, description="All the run's responses; null: the model has no price.")
    spent_usd: float | None = Field(None, description="Responses sent by this invocation (cached ones cost nothing now).")


class CostInfo(Record):
    """Tokens and dollars per model; absent in runs written before cost accounting."""

    currency: str = "USD"
    prices_as_of: str = ""
    batch: bool = False
    max_cost_usd: float | None = None
    cap_reached: str | None = None
    total_usd: float | None = None
    spent_usd: float | None = None
    models: dict[str, ModelCost] = Field(default_factory=dict)


class RunSummary(VersionedRecord):
    harness_version: str
    code_revision: str = Field("unknown", description="git describe of the code that wrote the run, or \"unknown\".")
    created: str
    command: list[str]
    suite: SuiteInfo
    dataset: DatasetInfo
    model: ModelInfo
    generation: dict[str, Any]
    metrics: dict[str, MetricEntry]
    artifacts: dict[str, Any] = Field(default_factory=dict)
    counts: Counts
    tokens: Tokens
    timing: dict[str, float]
    environment: dict[str, str] = Field(default_factory=dict)
    cost: CostInfo | None = None


class ExampleRow(Record):
    id: str
    line: int | None = None
    category: str | None = None
    input: Any = None
    prompt: list[dict[str, Any]] = Field(default_factory=list)
    output: str | None = None
    reference: Any = None
    scores: dict[str, float | None] = Field(default_factory=dict)
    score_errors: dict[str, str] = Field(default_factory=dict)
    latency_s: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    finish_reason: str | None = None
    error: str | None = None
    attempts: int | None = None
    cached: bool = False
    # generation.repeats > 1 only (absent otherwise, so rows of runs without repeats are unchanged):
    # ``scores`` above are then reduced over the repeats; ``output`` is the first repeat's.
    repeats: list[RepeatRow] | None = None
    flakiness: dict[str, float] | None = None  # per score; see harness.evaluate.repeats.flakiness
    flaky: bool | None = None  # any score's flakiness above 0
    # log-likelihood suites only (absent otherwise): per choice (multiple_choice) or for the text (rolling),
    # {logprob, is_greedy, tokens, bytes, chars[, words]} as the provider computed them
    loglik: list[dict[str, Any]] | None = None

    @model_serializer(mode="wrap")
    def _omit_loglik(self, handler: Any) -> dict[str, Any]:
        out = handler(self)  # absent unless set: rows of other suites dump as they always did
        if out.get("loglik", 0) is None:
            del out["loglik"]
        return out


class RepeatRow(Record):
    repeat: int
    seed: int | None = None
    output: str | None = None
    scores: dict[str, float | None] = Field(default_factory=dict)
    error: str | None = None
    cached: bool = False


ExampleRow.model_rebuild()


@dataclass(eq=False)  # a run is itself: comparing DataFrames field by field has no single truth value
class RunRecord:
    """A run directory read back and validated: the one type for a run read back (compare, gate, the
    pytest plugin and the loop hold this, or a thin view of it). The examples as columns
    (harness.records.columns); ``rows()`` builds the per-example dicts once, on first use."""

    directory: Path
    summary: RunSummary
    frame: Any  # pandas.DataFrame, one row per example; scores as float64 columns "scores.NAME"
    _rows: list[dict[str, Any]] | None = field(default=None, repr=False)

    @property
    def model(self) -> str:
        return self.summary.model.display

    @property
    def label(self) -> str:
        """The short name reports show (the label given, else the display shortened)."""
        return self.summary.model.short

    @property
    def n_errors(self) -> int:
        return self.summary.counts.errors

    @property
    def results(self) -> list[ExampleRow]:
        """One model per example, built on demand (costly at 100,000 examples: prefer ``frame``)."""
        return [ExampleRow.model_validate(r) for r in self.rows()]

    def rows(self) -> list[dict[str, Any]]:
        """The rows as results.jsonl holds them (built once)."""
        if self._rows is None:
            from harness.records.columns import frame_rows

            self._rows = frame_rows(self.frame)
        return self._rows


def read_run(directory: str | Path) -> RunRecord:
    """Read and validate a run directory; a problem is one line naming the file (and line) and the field."""
    from harness.records.columns import (
        arrow_frame,
        parse_lines,
        read_table,
        sample_check,
        to_frame,
    )

    d = Path(directory)
    if not d.is_dir():
        raise HarnessError(f"{d}: no such run directory; give a folder under reports/runs/")
    s_path, r_path = d / "summary.json", d / "results.jsonl"
    if not s_path.exists():
        raise HarnessError(f"{d}: not a run directory (no summary.json); give a folder under reports/runs/")
    summary = validate(RunSummary, parse_json(read_text(s_path, "a run directory has one"), s_path), str(s_path))
    if not r_path.exists():
        read_text(r_path, "summary.json is there but the per-example results are not: rerun the run "
                          "(cached responses make it cheap) or copy the whole directory")
    table = read_table(r_path)  # columns straight from Arrow (or its Parquet copy) when the file allows
    if table is not None and table.num_rows == summary.counts.examples:
        try:
            frame = arrow_frame(table, r_path)
            sample_check(frame, None, r_path, ExampleRow)
            return RunRecord(d, summary, frame)
        except UnicodeDecodeError:
            pass  # bytes that are not UTF-8 inside a value: the text reader below names the file

    text = read_text(r_path, "summary.json is there but the per-example results are not: rerun the run "
                             "(cached responses make it cheap) or copy the whole directory")
    rows, lines = parse_lines(text, r_path)
    del text
    if len(rows) != summary.counts.examples:
        raise HarnessError(f"{r_path}: {len(rows)} example rows, but {s_path.name} counts {summary.counts.examples} "
                           "(a partial copy or an interrupted write?); rerun the run")
    return RunRecord(d, summary, to_frame(rows, lines, r_path, ExampleRow))
