"""The metric extension point.

A metric is a class whose ``Params`` (a strict pydantic model) are its YAML keys, and which
turns examples into scores. Each score it produces declares its direction, range and level
(per example, or over the corpus) here, with the metric: comparison and gates read them.
A score that cannot be computed is a :class:`Failure` with a reason, never a silent 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from harness.core.registry import Registry
from harness.core.types import Item, RunContext, ScoreValue

if TYPE_CHECKING:  # numpy only where a corpus score is bootstrapped
    from harness.stats.bootstrap import Statistic, Summed


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


class Metric:
    """Base class. Subclasses set ``Params`` and implement :meth:`score` (or :meth:`score_batch`)."""

    Params: ClassVar[type[BaseModel]] = NoParams
    name: ClassVar[str] = ""
    # Whether a rerun reads this metric's per-example scores back from the cache file instead of
    # scoring again (harness.evaluate.score_cache). False where scoring costs less than the lookup (string
    # comparisons: 100,000 items score in about 0.3 s of CPU and read back in about 2 s here) or
    # where the scores depend on something outside the key (a file its params name).
    score_cache: ClassVar[bool] = True
    # The responses it reads: generated text (default), or a log-likelihood scoring's figures
    # ("multiple_choice", "loglikelihood_rolling": the suite's scoring.type); the loader refuses a mismatch.
    scoring: ClassVar[str] = "generate"

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

    async def ascore_batch(self, items: Sequence[Item]) -> list[dict[str, ScoreValue]]:
        """What the runner awaits. Override instead of :meth:`score_batch` when scoring calls a
        model (a judge): generate with ``await self.context.engine.generate(...)``."""
        return self.score_batch(items)

    def corpus(self, items: Sequence[Item], per_example: Sequence[dict[str, ScoreValue]]) -> dict[str, float]:
        """Corpus-level scores (macro-F1, ...) on all the examples."""
        return {}

    def corpus_stats(self, items: Sequence[Item], per_example: Sequence[dict[str, ScoreValue]],
                     name: str) -> Summed | None:
        """The vectorised bootstrap path of a corpus score: per-example sufficient statistics (one row
        per item, zeros for an item that does not count) and a function from their column sums to the
        score, as a :class:`harness.stats.bootstrap.Summed`. None: the metric has none, and the
        bootstrap recomputes :meth:`corpus` on every resample instead (slow)."""
        return None

    def corpus_statistic(self, items: Sequence[Item], per_example: Sequence[dict[str, ScoreValue]],
                         name: str) -> Statistic:
        """The corpus score as a bootstrap statistic: :meth:`corpus_stats` when the metric has them,
        else a function of resampled example indices that recomputes :meth:`corpus`."""
        fast = self.corpus_stats(items, per_example, name)
        if fast is not None:
            return fast
        return lambda idx: self.corpus([items[i] for i in idx], [per_example[i] for i in idx]).get(name, float("nan"))

    def artifacts(self, items: Sequence[Item], per_example: Sequence[dict[str, ScoreValue]]) -> dict[str, Any]:
        """Non-scalar results stored in the summary (a confusion matrix, ...)."""
        return {}

    def spec(self) -> dict[str, Any]:
        return {"name": self.name, "params": self.params.model_dump(mode="json")}


# The one list of built-in metrics: each name and the module (harness/metrics/<module>.py) that
# defines it, so a suite that names two metrics imports two modules. A new built-in metric is one
# file with @metric("name") and one line here; third parties register theirs with the decorator alone.
BUILTIN_METRICS: dict[str, str] = {
    "exact_match": "match", "normalized_match": "match", "classification": "classification", "rouge": "rouge",
    "embedding_similarity": "embedding", "contains": "contains", "regex_match": "regex", "choice": "choice",
    "json_valid": "json_valid", "json_schema": "json_schema", "token_f1": "token_f1", "bleu": "bleu",
    "question_similarity": "question_similarity", "fact_coverage": "fact_coverage", "perplexity": "perplexity",
    "repetition": "repetition", "length": "length", "truncation": "length", "judge_rubric": "judge_rubric",
    "judge_pairwise": "judge_pairwise", "judge_label": "judge_label",
    "agreement": "agreement", "agreement_text": "agreement", "agreement_judge": "agreement",
    "string_check": "graders", "text_similarity": "graders",
    "gsm8k_answer": "gsm8k", "ifeval": "ifeval",
    "acc": "loglik", "acc_norm": "loglik", "word_perplexity": "loglik_rolling", "byte_perplexity": "loglik_rolling",
    "bits_per_byte": "loglik_rolling",
}

METRICS: Registry[type[Metric]] = Registry(
    "metric", builtin_modules=tuple(dict.fromkeys(f"harness.metrics.{m}" for m in BUILTIN_METRICS.values())))
for _name, _module in BUILTIN_METRICS.items():
    METRICS.lazy(_name, f"harness.metrics.{_module}")


def metric(name: str):
    """Register a metric class under ``name``: ``@metric("exact_match")``."""

    def deco(cls: type[Metric]) -> type[Metric]:
        cls.name = name
        return METRICS.register(name)(cls)

    return deco


def build_metric(name: str, params: dict[str, Any], context: dict[str, Any] | None = None) -> Metric:
    """``context`` reaches the params' validators: ``{"command_line": True}`` marks values the user typed."""
    cls = METRICS.get(name)
    return cls(cls.Params.model_validate(params, context=context))


def override_judge(metrics: list, judge: str) -> list:
    """The suite's metrics with every judge metric's model replaced by ``judge`` (``--judge``)."""
    from harness.judge.params import JudgeParams

    out = []
    for m in metrics:
        if isinstance(m.params, JudgeParams):
            m = build_metric(m.name, {**m.params.model_dump(by_alias=True, exclude_unset=True), "judge": judge},
                             context={"command_line": True})
        out.append(m)
    return out


def cacheable_metric(metric: Any) -> bool:
    """Whether a metric's scores may be cached: not when it says so (``score_cache = False``), and not
    for a metric that generates (a judge: it awaits the engine in ``ascore_batch``). Its calls are in
    the response cache already, and it keeps what it saw (verdicts, calibration) for the run's
    summary, which a score read back from the cache would not give it."""
    return getattr(metric, "score_cache", True) and type(metric).ascore_batch is Metric.ascore_batch
