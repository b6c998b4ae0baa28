"""BLEU against the reference(s), per example and over the corpus, computed by sacreBLEU with its defaults
(``13a`` tokenizer, case-sensitive, n-grams 1..4, closest reference length):

- ``bleu``: sentence BLEU with ``exp`` smoothing and effective order (``BLEU(effective_order=True)
  .sentence_score``), as sacreBLEU recommends for sentences;
- ``corpus_bleu``: n-gram counts summed over the corpus first, then BLEU with no smoothing
  (``corpus_bleu(..., smooth_method="none")``: its default "exp" differs only when some n-gram order
  has no match in the whole corpus, where ours is 0); the bootstrap sums the same per-example counts.

Scores are sacreBLEU's divided by 100, in [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING

from pydantic import BaseModel

from harness.core.types import Failure, Item, ScoreValue
from harness.metrics.base import Metric, ScoreSpec, metric
from harness.metrics.text import references

if TYPE_CHECKING:
    import numpy as np
    from sacrebleu.metrics.bleu import BLEU, BLEUScore

    from harness.stats.bootstrap import Summed

MAX_N = 4


@cache
def _sentence_bleu() -> BLEU:
    from sacrebleu.metrics.bleu import BLEU

    return BLEU(effective_order=True)  # smooth_method="exp" is the default


def sentence_score(output: str, refs: Sequence[str]) -> BLEUScore:
    """sacreBLEU's sentence score; it also carries the sufficient statistics (counts, totals, lengths)."""
    return _sentence_bleu().sentence_score(output, list(refs))


def stats_row(s: BLEUScore) -> list[float]:
    """[correct 1..4, total 1..4, output length, reference length, 1 (counted)]."""
    return [*s.counts, *s.totals, s.sys_len, s.ref_len, 1.0]


def corpus_bleu_from_sums(sums: np.ndarray) -> np.ndarray:
    """sacreBLEU's ``compute_bleu(smooth_method="none")`` / 100 on each row of summed statistics; NaN where
    no example counted. No smoothing: any order with no n-gram or no match makes the score 0."""
    import numpy as np

    correct, total = sums[:, :MAX_N], sums[:, MAX_N:2 * MAX_N]
    sys_len, ref_len, seen = sums[:, 2 * MAX_N], sums[:, 2 * MAX_N + 1], sums[:, 2 * MAX_N + 2]
    ok = (correct > 0).all(axis=1) & (total > 0).all(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_p = np.log(np.where(ok[:, None], correct / np.where(total > 0, total, 1.0), 1.0)).mean(axis=1)
        bp = np.where(sys_len >= ref_len, 1.0, np.exp(1 - ref_len / np.where(sys_len > 0, sys_len, 1.0)))
    return np.where(seen > 0, np.where(ok, bp * np.exp(log_p), 0.0), np.nan)


@metric("bleu")
class Bleu(Metric):
    """Sentence BLEU (exp-smoothed, effective order) per example and corpus BLEU, sacreBLEU, in [0, 1]."""

    def scores(self) -> list[ScoreSpec]:
        return [ScoreSpec("bleu", description="sacreBLEU sentence BLEU (13a, exp smoothing, effective order) / 100"),
                ScoreSpec("corpus_bleu", level="corpus", description="sacreBLEU corpus BLEU (13a, no smoothing) / 100")]

    def __init__(self, params: BaseModel | None = None):
        super().__init__(params)
        # score(), corpus() and the corpus bootstrap all need each example's counts: compute them once
        self._seen: dict[tuple[str, tuple[str, ...]], BLEUScore] = {}

    def _score(self, it: Item) -> BLEUScore | Failure:
        if it.output is None:
            return Failure(f"no output: {it.error}")
        refs = tuple(references(it.reference))
        if not refs:
            return Failure("example has no reference")
        key = (it.output, refs)
        if key not in self._seen:
            self._seen[key] = sentence_score(it.output, refs)
        return self._seen[key]

    def score(self, item: Item) -> dict[str, ScoreValue]:
        s = self._score(item)
        return {"bleu": s if isinstance(s, Failure) else s.score / 100}

    def corpus(self, items: Sequence[Item], per_example: Sequence[dict[str, ScoreValue]]) -> dict[str, float]:
        stat = self.corpus_stats(items, per_example, "corpus_bleu")
        return {"corpus_bleu": stat.value()}

    def corpus_stats(self, items: Sequence[Item], per_example: Sequence[dict[str, ScoreValue]],
                     name: str) -> Summed:
        import numpy as np

        from harness.stats.bootstrap import Summed

        rows = np.zeros((len(items), 2 * MAX_N + 3))
        for j, it in enumerate(items):
            s = self._score(it)
            if not isinstance(s, Failure):
                rows[j] = stats_row(s)
        return Summed(rows, corpus_bleu_from_sums)
