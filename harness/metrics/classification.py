"""Classification: accuracy per example; macro-F1, per-class report and confusion matrix over
the corpus, computed with scikit-learn. The predicted label is read from the output."""

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
    score_cache = False  # cheaper to score again than to read back (harness.scorecache)

    def __init__(self, params: BaseModel | None = None):
        super().__init__(params)
        labels = self.params.labels
        self._by_key = {_label_key(lab): lab for lab in labels}
        alts = sorted(self._by_key, key=len, reverse=True)  # longest first: "refund request" before "refund"
        self._finder = re.compile(r"(?<![a-z0-9])(" + "|".join(re.escape(a) for a in alts) + r")(?![a-z0-9])")

    def scores(self) -> list[ScoreSpec]:
        return [
            ScoreSpec("accuracy", binary=True, description="predicted label equals the reference label"),
            ScoreSpec("macro_f1", level="corpus", description="unweighted mean of per-label F1 (scikit-learn)"),
        ]

    def predict(self, output: str) -> str:
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

    def _pairs(self, items: Sequence[Item]) -> tuple[list[str], list[str]]:
        y_true, y_pred = [], []
        for it in items:
            if it.output is not None and str(it.reference) in self.params.labels:
                y_true.append(str(it.reference))
                y_pred.append(self.predict(it.output))
        return y_true, y_pred

    def corpus(self, items: Sequence[Item], per_example: Sequence[dict[str, ScoreValue]]) -> dict[str, float]:
        from sklearn.metrics import f1_score

        y_true, y_pred = self._pairs(items)
        if not y_true:
            return {"macro_f1": float("nan")}
        # Macro over the allowed labels present in the reference: an unparseable output counts
        # as a wrong prediction, never as a class of its own.
        labels = sorted(set(y_true))
        return {"macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0))}

    def corpus_stats(self, items: Sequence[Item], per_example: Sequence[dict[str, ScoreValue]],
                     name: str) -> Summed | None:
        # scikit-learn's f1_score costs ~1-20 ms a call and the bootstrap needs 2,000 of them; macro-F1
        # is a function of per-label counts, so each example gives one-hot (true, predicted, correct)
        # rows and the bootstrap sums them per resample (tests check it equals scikit-learn's).
        import numpy as np

        from harness.stats.bootstrap import Summed

        index = {lab: i for i, lab in enumerate(self.params.labels)}
        k = len(index)
        rows = np.zeros((len(items), 3 * k))
        for j, it in enumerate(items):
            t = index.get(str(it.reference))
            if it.output is None or t is None:
                continue  # not counted: no output, or a reference outside the labels
            p = index.get(self.predict(it.output))
            rows[j, t] = 1.0
            if p is not None:  # no label parsed: a wrong prediction, never a class of its own
                rows[j, k + p] = 1.0
                rows[j, 2 * k + t] = float(p == t)
        return Summed(rows, partial(macro_f1_from_counts, k=k))

    def artifacts(self, items: Sequence[Item], per_example: Sequence[dict[str, ScoreValue]]) -> dict[str, Any]:
        from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

        y_true, y_pred = self._pairs(items)
        if not y_true:
            return {}
        labels = list(self.params.labels)
        cols = labels + ([NO_LABEL] if NO_LABEL in y_pred else [])
        cm = confusion_matrix(y_true, y_pred, labels=cols)
        p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
        return {
            "confusion_matrix": {"labels": cols, "rows": "reference", "columns": "predicted", "matrix": cm[: len(labels)].tolist()},
            "per_class": {
                lab: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
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
