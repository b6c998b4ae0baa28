"""Agreement with a recorded model: how closely a candidate behaves like the reference recording.

The recording is the suite's ``reference_model: {recording: PATH}`` (or the metric's own
``recording``), made by `harness record`; paths are relative to the suite file. Each candidate
output is compared with the recorded output of the example with the same id:

- ``agreement``: ``agreement_exact`` and ``agreement_normalized`` (per example, 0/1); with
  ``labels``, ``label_agreement`` (the same label read from both, as the classification metric
  reads it) and ``agreement_kappa`` (Cohen's kappa of the two label sequences, harness.stats.agreement).
- ``agreement_text``: token F1, ROUGE and embedding similarity to the recorded text, computed by
  the token_f1, rouge and embedding_similarity metrics with the recorded output as the reference.
- ``agreement_judge``: the pairwise judge, both orders, candidate versus recorded answer.

A recording made on a suite whose prompt or generation settings have since changed is refused
with one line saying which; an example the recording has no output for, or whose prompt differs
from the recorded one, is a failure naming why (the ids are listed in the score's summary entry).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from harness.core.errors import HarnessError
from harness.core.types import Failure, Item, ScoreValue
from harness.metrics.base import Metric, ScoreSpec, metric
from harness.metrics.judge_pairwise import JudgePairwise, JudgePairwiseParams
from harness.metrics.text import normalize
from harness.stats.agreement import cohen_kappa, cohen_kappa_pairs

MISSING_IDS_SHOWN = 20


class RecordingParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    recording: str | None = Field(None, description="Recording folder, relative to the suite file; default: the "
                                                    "suite's reference_model.recording.")


class RecordedOutputs:
    """A bound metric's view of the recording: the recorded output for each item, or why there is none."""

    def __init__(self) -> None:
        self.recording: Any = None
        self.missing: list[str] = []
        self.changed: list[str] = []

    def bind(self, name: str, recording_param: str | None, context: Any) -> None:
        from harness.records.recording import load_recording, suite_hashes

        suite_path, loaded = context.suite_path, context.suite
        if suite_path is None or loaded is None:
            raise HarnessError(f"{name}: needs the suite (for reference_model); run it through `harness run`")
        rel = recording_param or (loaded.suite.reference_model.recording if loaded.suite.reference_model else None)
        if rel is None:
            raise HarnessError(f"{suite_path}: metric {name} needs a recording: add `reference_model: {{recording: PATH}}` "
                               "to the suite (or `recording: PATH` to the metric)")
        rec = load_recording(Path(suite_path).parent / rel)
        src = rec.header.suite
        if src is not None:
            now = suite_hashes(loaded)
            for key, what in (("prompt_sha256", "prompt"), ("generation_sha256", "generation settings")):
                if getattr(src, key) != now[key]:
                    raise HarnessError(f"{rec.folder}: recorded with suite {src.name}'s {what} as they were "
                                       f"(sha256 {getattr(src, key)[:12]}), the suite {suite_path} now has {now[key][:12]}; "
                                       f"the {what} changed since the recording, so its answers are not comparable: "
                                       "restore them or record again")
        self.recording = rec

    def outputs(self, items: Sequence[Item]) -> list[str | Failure]:
        from harness.records.recording import prompt_sha256

        out: list[str | Failure] = []
        self.missing, self.changed = [], []
        where = self.recording.folder
        for it in items:
            row = self.recording.by_id.get(it.id)
            if row is None or row.get("output") is None:
                self.missing.append(it.id)
                why = "not in the recording" if row is None else f"recording failed: {row.get('error')}"
                out.append(Failure(f"no recorded output ({why}; {where})"))
            elif it.messages and row.get("prompt_sha256") and prompt_sha256(it.messages) != row["prompt_sha256"]:
                self.changed.append(it.id)
                out.append(Failure(f"prompt differs from the recorded one ({where})"))
            else:
                out.append(row["output"])
        return out

    def entry(self) -> dict[str, Any]:
        h = self.recording.header if self.recording is not None else None
        info: dict[str, Any] = {"recording": str(self.recording.folder) if h else None,
                                "recorded_model": (h.model.get("display") if h else None),
                                "reported_models": (h.reported_models if h else {}),
                                "missing_ids": self.missing[:MISSING_IDS_SHOWN], "n_missing": len(self.missing),
                                "prompt_changed_ids": self.changed[:MISSING_IDS_SHOWN], "n_prompt_changed": len(self.changed)}
        return {"reference": info}


def _no_output(it: Item) -> Failure:
    return Failure(f"no output: {it.error}")


# ------------------------------------------------------------------ exact, normalised, labels


class AgreementParams(RecordingParams):
    labels: list[str] | None = Field(None, min_length=2, description="Read a label from both outputs (as the "
                                                                     "classification metric does) for label agreement and kappa.")
    extract: Literal["exact", "normalized", "first_label"] = Field("normalized", description="How a label is read; see classification.")
    ignore_articles: bool = Field(True, description="Normalised agreement drops 'a', 'an', 'the'.")


@metric("agreement")
class Agreement(Metric):
    """Agreement with the recorded model's outputs: exact, normalised, and by label with Cohen's kappa."""

    Params = AgreementParams

    def __init__(self, params: BaseModel | None = None):
        super().__init__(params)
        self.ref = RecordedOutputs()
        self._classifier = None
        if self.params.labels:
            from harness.metrics.classification import (
                Classification,
                ClassificationParams,
            )

            self._classifier = Classification(ClassificationParams(labels=self.params.labels, extract=self.params.extract))

    def bind(self, context: Any) -> None:
        super().bind(context)
        self.ref.bind(self.name, self.params.recording, context)

    def scores(self) -> list[ScoreSpec]:
        out = [ScoreSpec("agreement_exact", binary=True, description="output equals the recorded output (stripped)"),
               ScoreSpec("agreement_normalized", binary=True, description="equal to the recorded output after normalisation")]
        if self.params.labels:
            out += [ScoreSpec("label_agreement", binary=True, description="same label as the recorded output"),
                    ScoreSpec("agreement_kappa", level="corpus", range=(-1.0, 1.0),
                              description="Cohen's kappa of candidate and recorded labels (scikit-learn)")]
        return out

    def label(self, text: str) -> str:
        assert self._classifier is not None
        return self._classifier.predict(text)

    def score_batch(self, items: Sequence[Item]) -> list[dict[str, ScoreValue]]:
        names = [s.name for s in self.scores() if s.level == "example"]
        rows: list[dict[str, ScoreValue]] = []
        for it, rec in zip(items, self.ref.outputs(items), strict=True):
            why = _no_output(it) if it.output is None else rec if isinstance(rec, Failure) else None
            if why is not None:
                rows.append({n: why for n in names})
                continue
            assert isinstance(rec, str) and it.output is not None
            row: dict[str, ScoreValue] = {
                "agreement_exact": float(it.output.strip() == rec.strip()),
                "agreement_normalized": float(normalize(it.output, self.params.ignore_articles)
                                              == normalize(rec, self.params.ignore_articles))}
            if self.params.labels:
                row["label_agreement"] = float(self.label(it.output) == self.label(rec))
            rows.append(row)
        return rows

    def _label_pairs(self, items: Sequence[Item]) -> tuple[list[str], list[str]]:
        cand, recd = [], []
        for it in items:
            rec = self.ref.recording.output(it.id) if self.ref.recording is not None else None
            if it.output is not None and rec is not None:
                cand.append(self.label(it.output))
                recd.append(self.label(rec))
        return cand, recd

    def corpus(self, items: Sequence[Item], per_example: Sequence[dict[str, ScoreValue]]) -> dict[str, float]:
        if not self.params.labels:
            return {}
        cand, recd = self._label_pairs(items)
        return {"agreement_kappa": cohen_kappa(cand, recd)}

    def corpus_statistic(self, items: Sequence[Item], per_example: Sequence[dict[str, ScoreValue]],
                         name: str) -> Callable[[list[int]], float]:
        # the bootstrap calls this a thousand times: the labels are read once, here
        rec = self.ref.recording
        pairs = [(self.label(it.output), self.label(rec.output(it.id)))
                 if it.output is not None and rec is not None and rec.output(it.id) is not None else None for it in items]
        return lambda idx: cohen_kappa_pairs([pairs[i] for i in idx if pairs[i] is not None])

    def entry_fields(self) -> dict[str, dict[str, Any]]:
        return {s.name: self.ref.entry() for s in self.scores()}

    def artifacts(self, items: Sequence[Item], per_example: Sequence[dict[str, ScoreValue]]) -> dict[str, Any]:
        art: dict[str, Any] = self.ref.entry()["reference"]
        if self.params.labels:
            from collections import Counter

            cand, recd = self._label_pairs(items)
            pairs = Counter(f"{r} -> {c}" for c, r in zip(cand, recd) if c != r)
            art["label_disagreements"] = dict(pairs.most_common(20))  # recorded label -> candidate's
        return art


# ------------------------------------------------------------------ similarity of the text

TextMeasure = Literal["token_f1", "rouge1", "rouge2", "rougeL", "embedding"]


class AgreementTextParams(RecordingParams):
    measures: list[TextMeasure] = Field(default_factory=lambda: ["token_f1", "rougeL"], min_length=1,
                                        description="token_f1, rouge1, rouge2, rougeL, embedding (all-MiniLM-L6-v2).")
    embedding_model: str = Field("all-MiniLM-L6-v2", description="For `embedding`: a sentence-transformers model.")


@metric("agreement_text")
class AgreementText(Metric):
    """Token F1, ROUGE and embedding similarity of the output to the recorded model's output."""

    Params = AgreementTextParams

    def __init__(self, params: BaseModel | None = None):
        super().__init__(params)
        self.ref = RecordedOutputs()

    def bind(self, context: Any) -> None:
        super().bind(context)
        self.ref.bind(self.name, self.params.recording, context)

    def _delegates(self) -> list[tuple[Metric, dict[str, str]]]:
        """The existing metrics that do the work, and their score names -> ours."""
        from harness.metrics.embedding import EmbeddingParams, EmbeddingSimilarity
        from harness.metrics.rouge import Rouge, RougeParams
        from harness.metrics.token_f1 import TokenF1

        m = self.params.measures
        out: list[tuple[Metric, dict[str, str]]] = []
        if "token_f1" in m:
            out.append((TokenF1(), {"token_f1": "agreement_token_f1"}))
        rouge = [t for t in ("rouge1", "rouge2", "rougeL") if t in m]
        if rouge:
            out.append((Rouge(RougeParams(types=rouge)), {t: f"agreement_{t}" for t in rouge}))
        if "embedding" in m:
            out.append((EmbeddingSimilarity(EmbeddingParams(model=self.params.embedding_model)),
                        {"embedding_similarity": "agreement_embedding"}))
        return out

    def scores(self) -> list[ScoreSpec]:
        out = []
        for metric_, names in self._delegates():
            for s in metric_.scores():
                out.append(ScoreSpec(names[s.name], range=s.range, description=s.description.replace(
                    "the reference", "the recorded output")))
        return out

    def score_batch(self, items: Sequence[Item]) -> list[dict[str, ScoreValue]]:
        recorded = self.ref.outputs(items)
        # The same items with the recorded output as the reference; a missing one stays a failure.
        shadow = [Item(id=it.id, output=it.output, reference=None if isinstance(r, Failure) else r, input=it.input,
                       category=it.category, error=it.error) for it, r in zip(items, recorded, strict=True)]
        rows: list[dict[str, ScoreValue]] = [{} for _ in items]
        for metric_, names in self._delegates():
            for row, part in zip(rows, metric_.score_batch(shadow), strict=True):
                row.update({names[k]: v for k, v in part.items()})
        for row, r in zip(rows, recorded, strict=True):
            if isinstance(r, Failure):
                for k, v in row.items():
                    if isinstance(v, Failure) and "no reference" in v.reason:
                        row[k] = r
        return rows

    def entry_fields(self) -> dict[str, dict[str, Any]]:
        return {s.name: self.ref.entry() for s in self.scores()}


# ------------------------------------------------------------------ the pairwise judge


class AgreementJudgeParams(JudgePairwiseParams, RecordingParams):
    pass


@metric("agreement_judge")
class AgreementJudge(JudgePairwise):
    """The pairwise judge, both orders, of the output against the recorded model's output."""

    Params = AgreementJudgeParams
    RENAME: ClassVar[dict[str, str]] = {"pairwise_win": "agreement_judge_win", "pairwise_consistency": "agreement_judge_consistency",
              "pairwise_agreement": "agreement_judge_repeat_agreement"}

    def __init__(self, params: Any = None):
        super().__init__(params)
        if self.params.baseline_model is not None or self.params.baseline_run is not None:
            raise ValueError("agreement_judge compares with the recording; baseline_model/baseline_run do not apply")
        self.ref = RecordedOutputs()

    def bind(self, context: Any) -> None:
        super().bind(context)
        self.ref.bind(self.name, self.params.recording, context)

    async def baselines(self, items: Sequence[Item]) -> list[str | Failure]:
        return self.ref.outputs(items)

    def scores(self) -> list[ScoreSpec]:
        return [ScoreSpec(self.RENAME[s.name], s.direction, s.range, s.level, s.binary,
                          s.description.replace("the baseline", "the recorded output")) for s in super().scores()]

    async def ascore_batch(self, items: Sequence[Item]) -> list[dict[str, ScoreValue]]:
        return [{self.RENAME.get(k, k): v for k, v in row.items()} for row in await super().ascore_batch(items)]

    def advisory(self) -> dict[str, str]:
        return {self.RENAME.get(k, k): v for k, v in super().advisory().items()}

    def entry_fields(self) -> dict[str, dict[str, Any]]:
        out = {self.RENAME.get(k, k): v | {"baseline": "recording"} for k, v in super().entry_fields().items()}
        out.setdefault("agreement_judge_win", {}).update(self.ref.entry())
        return out
