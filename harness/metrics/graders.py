"""string_check and text_similarity: OpenAI's Evals graders as harness metrics.

Both compare two templated texts, ``input`` and ``reference``, in which ``{{ column }}`` is an
example's dataset value and ``{{ output }}`` the model's answer (``harness import openai-eval``
writes them from ``{{item.column}}`` and ``{{sample.output_text}}``). So a suite can hold several
graders, each against its own column, as an OpenAI eval could.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from harness.core.types import Failure, Item, ScoreValue
from harness.metrics.base import Metric, ScoreSpec, metric
from harness.metrics.text import normalize

VAR = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
SCORE_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class Unrendered(Exception):
    pass


def render(template: str, item: Item) -> str:
    """The template with ``{{ output }}`` and ``{{ column }}`` filled in for one example."""

    def one(m: re.Match[str]) -> str:
        key = m.group(1)
        if key == "output":
            if item.output is None:
                raise Unrendered(f"no output: {item.error}")
            return item.output
        if key not in item.record:
            raise Unrendered(f"example has no column {key!r} (used in a template)")
        v = item.record[key]
        return v if isinstance(v, str) else "" if v is None else str(v)

    return VAR.sub(one, template)


def render_refs(template: str, item: Item) -> list[str]:
    """Like :func:`render`, but a template that is one column holding a list gives each of its
    values (the openai/evals registry's ``ideal`` may list several right answers)."""
    m = VAR.fullmatch(template.strip())
    if m and m.group(1) != "output" and isinstance(item.record.get(m.group(1)), list):
        return [str(v) for v in item.record[m.group(1)]]
    return [render(template, item)]


def _fuzzy(a: str, b: str) -> bool:
    """openai/evals' fuzzy_match: after normalising, one text contains the other."""
    a, b = normalize(a), normalize(b)
    return a == b if not a or not b else a in b or b in a


CHECKS = {"eq": lambda a, b: a == b, "like": lambda a, b: b in a, "ilike": lambda a, b: b.lower() in a.lower(),
          "starts_with": lambda a, b: a.startswith(b), "fuzzy": _fuzzy}


class CheckParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    score: str = Field(..., pattern=SCORE_NAME, description="Name of the score (the OpenAI grader's name).")
    operation: Literal["eq", "ne", "like", "ilike", "starts_with", "fuzzy"] = Field(
        ..., description="eq: equal; ne: not equal; like: input contains reference; ilike: the same ignoring case "
                         "(OpenAI's operations); starts_with, fuzzy (normalised, either contains the other): "
                         "openai/evals' Match and FuzzyMatch. A reference column holding a list passes if any value does.")
    input: str = Field("{{ output }}", description="Text checked; `{{ output }}` is the answer, `{{ column }}` a dataset value.")
    reference: str = Field(..., description="Text checked against, e.g. '{{ label }}'.")


@metric("string_check")
class StringCheck(Metric):
    """1 when ``input`` and ``reference`` pass the operation (as OpenAI's string_check grader), else 0."""

    Params = CheckParams

    def scores(self) -> list[ScoreSpec]:
        p = self.params
        return [ScoreSpec(p.score, binary=True, description=f"string_check {p.operation}: {p.input} vs {p.reference}")]

    def score(self, item: Item) -> dict[str, ScoreValue]:
        p = self.params
        try:
            a, refs = render(p.input, item), render_refs(p.reference, item)
        except Unrendered as e:
            return {p.score: Failure(str(e))}
        if p.operation == "ne":
            return {p.score: float(all(a != b for b in refs))}
        return {p.score: float(any(CHECKS[p.operation](a, b) for b in refs))}


SimilarityName = Literal["fuzzy_match", "bleu", "gleu", "meteor", "cosine",
                         "rouge_1", "rouge_2", "rouge_3", "rouge_4", "rouge_5", "rouge_l"]


class SimilarityParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    score: str = Field(..., pattern=SCORE_NAME, description="Name of the score (the OpenAI grader's name).")
    evaluation_metric: SimilarityName = Field(..., description="fuzzy_match (difflib ratio), bleu (sentence BLEU, "
                                              "exp smoothing), gleu and meteor (NLTK), cosine (embeddings), rouge_1..5, rouge_l (F).")
    input: str = Field("{{ output }}", description="Text graded; `{{ output }}` is the answer.")
    reference: str = Field(..., description="Text graded against, e.g. '{{ expected }}'.")
    pass_threshold: float | None = Field(None, description="Also score `<score>_pass`: 1 when the similarity is at least this.")
    embedding_model: str = Field("all-MiniLM-L6-v2", description="For cosine: the sentence-transformers model.")


@metric("text_similarity")
class TextSimilarity(Metric):
    """Similarity of ``input`` to ``reference`` in [0, 1], as OpenAI's text_similarity grader."""

    Params = SimilarityParams

    def scores(self) -> list[ScoreSpec]:
        p = self.params
        lo = -1.0 if p.evaluation_metric == "cosine" else 0.0
        out = [ScoreSpec(p.score, range=(lo, 1.0), description=f"{p.evaluation_metric} of {p.input} to {p.reference}")]
        if p.pass_threshold is not None:
            out.append(ScoreSpec(f"{p.score}_pass", binary=True,
                                 description=f"{p.evaluation_metric} at least {p.pass_threshold} (OpenAI's per-item pass)"))
        return out

    def _pairs(self, items: Sequence[Item]) -> list[tuple[str, str] | Failure]:
        out: list[tuple[str, str] | Failure] = []
        for it in items:
            try:
                out.append((render(self.params.input, it), render(self.params.reference, it)))
            except Unrendered as e:
                out.append(Failure(str(e)))
        return out

    def score_batch(self, items: Sequence[Item]) -> list[dict[str, ScoreValue]]:
        p = self.params
        pairs = self._pairs(items)
        ok = [x for x in pairs if not isinstance(x, Failure)]
        values = iter(similarities(p.evaluation_metric, ok, p.embedding_model))
        rows: list[dict[str, ScoreValue]] = []
        for x in pairs:
            v: ScoreValue = x if isinstance(x, Failure) else next(values)
            row = {p.score: v}
            if p.pass_threshold is not None:
                row[f"{p.score}_pass"] = v if isinstance(v, Failure) else float(v >= p.pass_threshold)
            rows.append(row)
        return rows


def similarities(name: str, pairs: list[tuple[str, str]], embedding_model: str) -> list[float]:
    """The similarity of each (text, reference) pair."""
    if not pairs:
        return []
    if name == "cosine":
        from harness.local.embeddings import cosine_pairs

        return cosine_pairs([a for a, _ in pairs], [b for _, b in pairs], embedding_model)
    if name == "fuzzy_match":
        return [difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() for a, b in pairs]
    if name == "bleu":
        from harness.metrics.bleu import sentence_score

        return [sentence_score(a, [b]).score / 100 for a, b in pairs]
    if name in ("gleu", "meteor"):
        return [_nltk(name, a, b) for a, b in pairs]
    from rouge_score import rouge_scorer

    key = "rougeL" if name == "rouge_l" else "rouge" + name[-1]
    scorer = rouge_scorer.RougeScorer([key], use_stemmer=True)
    return [scorer.score(b, a)[key].fmeasure for a, b in pairs]


def _nltk(name: str, text: str, ref: str) -> float:
    hyp, refs = text.split(), [ref.split()]
    if name == "gleu":
        from nltk.translate.gleu_score import sentence_gleu

        return float(sentence_gleu(refs, hyp))
    from nltk.translate.meteor_score import meteor_score

    return float(meteor_score(refs, hyp))


def meteor_available() -> str | None:
    """Why METEOR cannot be computed here (NLTK or its WordNet data missing), or None."""
    try:
        _nltk("meteor", "a quick test", "a fast check")  # different words: WordNet is consulted
    except (LookupError, ImportError, OSError) as e:  # WordNet data missing, NLTK missing
        first = next((ln.strip() for ln in str(e).splitlines() if ln.strip() and not ln.strip().startswith("*")), "")
        return f"METEOR needs NLTK with its WordNet corpus installed ({type(e).__name__}: {first})"
    return None
