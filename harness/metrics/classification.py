"""Classification: accuracy per example; macro-F1, per-class report and confusion matrix over
the corpus, from per-label counts in numpy, as scikit-learn computes them (scikit-learn is the
tests' oracle: importing it costs more than a 100,000-example corpus). The predicted label is read
from the output; each distinct output is read once."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from harness.core.types import Failure, Item, ScoreValue
from harness.metrics.base import Metric, ScoreSpec, metric
from harness.metrics.text import normalize

if TYPE_CHECKING:
    import numpy as np

    from harness.stats.bootstrap import Summed

NO_LABEL = "(no label)"


class ClassificationParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    labels: list[str] = Field(..., min_length=2, description="Every allowed label.")
    extract: Literal["exact", "normalized", "first_label"] = Field(
        "normalized",
        description="exact: the output is the label; normalized: equal after lowercasing and dropping "
        "punctuation; first_label: the first allowed label the output mentions.",
    )


def _label_key(label: str) -> str:
    return normalize(label.replace("_", " "), articles=False)


@metric("classification")
class Classification(Metric):
    """Scores `accuracy` (per example) and `macro_f1` (over the corpus)."""

    Params = ClassificationParams
    score_cache = False  # cheaper to score again than to read back (harness.evaluate.score_cache)

    def __init__(self, params: BaseModel | None = None):
        super().__init__(params)
        labels = self.params.labels
        self._by_key = {_label_key(lab): lab for lab in labels}
        alts = sorted(self._by_key, key=len, reverse=True)  # longest first: "refund request" before "refund"
        self._finder = re.compile(r"(?<![a-z0-9])(" + "|".join(re.escape(a) for a in alts) + r")(?![a-z0-9])")
        self._predicted: dict[str, str] = {}  # output -> label: scoring, corpus and artifacts read each once

    def scores(self) -> list[ScoreSpec]:
        return [
            ScoreSpec("accuracy", binary=True, description="predicted label equals the reference label"),
            ScoreSpec("macro_f1", level="corpus", description="unweighted mean of per-label F1 (as scikit-learn's)"),
        ]

    def predict(self, output: str) -> str:
        label = self._predicted.get(output)
        if label is None:
            label = self._read_label(output)
            if len(self._predicted) < 100_000:
                self._predicted[output] = label
        return label

    def _read_label(self, output: str) -> str:
        p = self.params
        if p.extract == "exact":
            s = output.strip()
            return s if s in p.labels else NO_LABEL
        key = _label_key(output)
        if p.extract == "normalized":
            return self._by_key.get(key, NO_LABEL)
        m = self._finder.search(key)
        return self._by_key[m.group(1)] if m else NO_LABEL

    def score(self, item: Item) -> dict[str, ScoreValue]:
        if item.output is None:
            return {"accuracy": Failure(f"no output: {item.error}")}
        ref = str(item.reference)
        if ref not in self.params.labels:
            return {"accuracy": Failure(f"reference {ref!r} is not one of the suite's labels")}
        return {"accuracy": float(self.predict(item.output) == ref)}

    def _codes(self, items: Sequence[Item]) -> tuple[np.ndarray, np.ndarray]:
        """Per item: the reference's label index and the predicted one (k: no label parsed); -1 for
        items that do not count (no output, or a reference outside the labels)."""
        import numpy as np

        index = {lab: i for i, lab in enumerate(self.params.labels)}
        k = len(index)
        t = np.full(len(items), -1, dtype=np.int64)
        p = np.full(len(items), -1, dtype=np.int64)
        for j, it in enumerate(items):
            ti = index.get(str(it.reference))
            if it.output is None or ti is None:
                continue
            t[j] = ti
            p[j] = index.get(self.predict(it.output), k)
        return t, p

    def corpus(self, items: Sequence[Item], per_example: Sequence[dict[str, ScoreValue]]) -> dict[str, float]:
        # Macro over the allowed labels present in the reference: an unparseable output counts
        # as a wrong prediction, never as a class of its own.
        stat = self.corpus_stats(items, per_example, "macro_f1")
        return {"macro_f1": stat.value() if stat is not None else float("nan")}

    def corpus_stats(self, items: Sequence[Item], per_example: Sequence[dict[str, ScoreValue]],
                     name: str) -> Summed | None:
        # macro-F1 is a function of per-label counts, so each example gives one-hot (true, predicted,
        # correct) rows and the bootstrap sums them per resample (tests check it equals scikit-learn's).
        import numpy as np

        from harness.stats.bootstrap import Summed

        k = len(self.params.labels)
        t, p = self._codes(items)
        rows = np.zeros((len(items), 3 * k))
        counted = np.flatnonzero(t >= 0)
        rows[counted, t[counted]] = 1.0
        labelled = counted[p[counted] < k]  # no label parsed: a wrong prediction, never a class of its own
        rows[labelled, k + p[labelled]] = 1.0
        right = labelled[p[labelled] == t[labelled]]
        rows[right, 2 * k + t[right]] = 1.0
        return Summed(rows, partial(macro_f1_from_counts, k=k))

    def artifacts(self, items: Sequence[Item], per_example: Sequence[dict[str, ScoreValue]]) -> dict[str, Any]:
        import numpy as np

        labels = list(self.params.labels)
        k = len(labels)
        t, p = self._codes(items)
        ok = t >= 0
        if not ok.any():
            return {}
        t, p = t[ok], p[ok]
        cm = np.bincount(t * (k + 1) + p, minlength=k * (k + 1)).reshape(k, k + 1)
        cols = labels + ([NO_LABEL] if cm[:, k].any() else [])
        support, predicted, tp = cm.sum(axis=1), cm[:, :k].sum(axis=0), np.diag(cm[:, :k])
        with np.errstate(invalid="ignore", divide="ignore"):  # zero_division=0, as scikit-learn's
            precision = np.where(predicted > 0, tp / np.maximum(predicted, 1), 0.0)
            recall = np.where(support > 0, tp / np.maximum(support, 1), 0.0)
            f1 = np.where(support + predicted > 0, 2 * tp / np.maximum(support + predicted, 1), 0.0)
        return {
            "confusion_matrix": {"labels": cols, "rows": "reference", "columns": "predicted",
                                 "matrix": cm[:, : len(cols)].tolist()},
            "per_class": {
                lab: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                      "support": int(support[i])}
                for i, lab in enumerate(labels)
            },
        }


def macro_f1_from_counts(sums: np.ndarray, k: int) -> np.ndarray:
    """Macro-F1 of each row of summed counts [true per label | predicted per label | correct per label],
    over the labels present in the references, as scikit-learn computes it (``labels=sorted(set(y_true))``,
    ``zero_division=0``); NaN where no example counted."""
    import numpy as np

    n_true, n_pred, tp = sums[:, :k], sums[:, k:2 * k], sums[:, 2 * k:]
    present = n_true > 0
    denom = n_true + n_pred
    f1 = np.where(denom > 0, 2 * tp / np.where(denom > 0, denom, 1.0), 0.0)
    labels = present.sum(axis=1)
    return np.where(labels > 0, (f1 * present).sum(axis=1) / np.maximum(labels, 1), np.nan)
