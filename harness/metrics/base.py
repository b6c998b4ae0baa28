"""The metric extension point.

A metric is a class whose ``Params`` (a strict pydantic model) are its YAML keys, and which
turns examples into scores. Each score it produces declares its direction, range and level
(per example, or over the corpus) here, with the metric: comparison and gates read them.
A score that cannot be computed is a :class:`Failure` with a reason, never a silent 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from harness.registry import Registry


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class ScoreSpec:
    name: str
    direction: Literal["higher", "lower"] = "higher"
    range: tuple[float | None, float | None] = (0.0, 1.0)
    level: Literal["example", "corpus"] = "example"
    binary: bool = False  # a pass/fail score (0 or 1): McNemar and regressions apply
    description: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "direction": self.direction,
            "range": list(self.range),
            "level": self.level,
            "binary": self.binary,
            "description": self.description,
        }


@dataclass(frozen=True)
class Failure:
    """A score that could not be computed, and why."""

    reason: str


@dataclass
class Item:
    """What a metric sees of one example after generation."""

    id: str
    output: str | None
    reference: Any
    input: str | None = None
    category: str | None = None
    record: dict[str, Any] = field(default_factory=dict)
    messages: list[dict[str, str]] = field(default_factory=list)
    logprobs: list[dict[str, Any]] | None = None
    error: str | None = None  # the generation failed; output is None
    finish_reason: str | None = None  # the provider's: "stop", "length" (cut at max_tokens), ...


ScoreValue = float | Failure


@dataclass
class RunContext:
    """What a metric may need from the run beyond the examples (a judge needs the cache)."""

    cache_path: Any = None  # pathlib.Path of the SQLite response cache
    reports_dir: Any = None
    progress: bool = False
    suite_path: Any = None


class Metric:
    """Base class. Subclasses set ``Params`` and implement :meth:`score` (or :meth:`score_batch`)."""

    Params: ClassVar[type[BaseModel]] = NoParams
    name: ClassVar[str] = ""

    def __init__(self, params: BaseModel | None = None):
        self.params = params if params is not None else self.Params()
        self.context = RunContext()

    def bind(self, context: RunContext) -> None:
        """Called by the runner before scoring."""
        self.context = context

    def advisory(self) -> dict[str, str]:
        """Score name -> why gates on it may only advise (e.g. an uncalibrated judge). Empty: trusted."""
        return {}

    def entry_fields(self) -> dict[str, dict[str, Any]]:
        """Score name -> extra fields for its summary entry (a judge's model, rubric hash, calibration).

        Called after scoring, so it may report what scoring found."""
        return {}

    def scores(self) -> list[ScoreSpec]:
        raise NotImplementedError

    def score(self, item: Item) -> dict[str, ScoreValue]:
        raise NotImplementedError

    def score_batch(self, items: Sequence[Item]) -> list[dict[str, ScoreValue]]:
        """Per-example scores. Override to batch expensive work (embeddings, model calls)."""
        return [self.score(it) for it in items]

    def corpus(self, items: Sequence[Item], per_example: Sequence[dict[str, ScoreValue]]) -> dict[str, float]:
        """Corpus-level scores (macro-F1, ...). Also called on bootstrap resamples for their CI."""
        return {}

    def corpus_statistic(self, items: Sequence[Item], per_example: Sequence[dict[str, ScoreValue]],
                         name: str) -> Callable[[list[int]], float]:
        """A function of resampled example indices -> the corpus score, for its bootstrap CI.

        The default recomputes :meth:`corpus` on each resample; override with a precomputed
        fast path when :meth:`corpus` is costly (it runs a thousand times).
        """
        return lambda idx: self.corpus([items[i] for i in idx], [per_example[i] for i in idx]).get(name, float("nan"))

    def artifacts(self, items: Sequence[Item], per_example: Sequence[dict[str, ScoreValue]]) -> dict[str, Any]:
        """Non-scalar results stored in the summary (a confusion matrix, ...)."""
        return {}

    def spec(self) -> dict[str, Any]:
        return {"name": self.name, "params": self.params.model_dump(mode="json")}


METRICS: Registry[type[Metric]] = Registry(
    "metric",
    builtin_modules=(
        "harness.metrics.match",
        "harness.metrics.classification",
        "harness.metrics.rouge",
        "harness.metrics.embedding",
        "harness.metrics.contains",
        "harness.metrics.regex",
        "harness.metrics.choice",
        "harness.metrics.json_valid",
        "harness.metrics.json_schema",
        "harness.metrics.token_f1",
        "harness.metrics.bleu",
        "harness.metrics.question_similarity",
        "harness.metrics.fact_coverage",
        "harness.metrics.perplexity",
        "harness.metrics.repetition",
        "harness.metrics.length",
        "harness.metrics.judge_rubric",
        "harness.metrics.judge_pairwise",
        "harness.metrics.graders",
        "harness.metrics.judge_label",
    ),
)


# Where each built-in metric lives, so a suite that names two metrics imports two modules.
for _name, _module in {
    "exact_match": "match", "normalized_match": "match", "classification": "classification", "rouge": "rouge",
    "embedding_similarity": "embedding", "contains": "contains", "regex_match": "regex", "choice": "choice",
    "json_valid": "json_valid", "json_schema": "json_schema", "token_f1": "token_f1", "bleu": "bleu",
    "question_similarity": "question_similarity", "fact_coverage": "fact_coverage", "perplexity": "perplexity",
    "repetition": "repetition", "length": "length", "truncation": "length", "judge_rubric": "judge_rubric",
    "judge_pairwise": "judge_pairwise", "string_check": "graders", "text_similarity": "graders",
    "judge_label": "judge_label",
}.items():
    METRICS.lazy(_name, f"harness.metrics.{_module}")


def metric(name: str):
    """Register a metric class under ``name``: ``@metric("exact_match")``."""

    def deco(cls: type[Metric]) -> type[Metric]:
        cls.name = name
        return METRICS.register(name)(cls)

    return deco


def build_metric(name: str, params: dict[str, Any]) -> Metric:
    cls = METRICS.get(name)
    return cls(cls.Params.model_validate(params))
