"""Perplexity of reference texts by rolling log-likelihood, lm-evaluation-harness's
``word_perplexity``, ``byte_perplexity`` and ``bits_per_byte`` (``scoring: {type:
loglikelihood_rolling}``).

Each is a corpus figure, lm-eval's ``weighted_perplexity`` / ``bits_per_byte`` aggregation over the
examples: ``exp(-sum(loglik) / sum(words))``, ``exp(-sum(loglik) / sum(bytes))`` and
``-sum(loglik) / sum(bytes) / ln 2``, where words are ``len(re.split(r"\\s+", text))`` and bytes
the text's UTF-8 length, as lm-eval counts them. Each example keeps its own value (``NAME_doc``)
and its weight (``NAME_weight``: its words or bytes), from which the corpus figure is rebuilt on
any subset: compare and the gates bootstrap it from the recorded per-example scores alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

from harness.core.types import Failure, Item, ScoreValue
from harness.metrics.base import Metric, ScoreSpec, metric


class _Rolling(Metric):
    scoring = "loglikelihood_rolling"
    score_cache = False
    unit: ClassVar[str] = "bytes"  # the entry field the log-likelihood is divided by

    def doc_value(self, ll: float, weight: float) -> float:
        raise NotImplementedError

    def loglik_of(self, value: float, weight: float) -> float:
        """The log-likelihood back from an example's value and weight (the inverse of doc_value)."""
        raise NotImplementedError

    def scores(self) -> list[ScoreSpec]:
        n, rng = self.name, ((0.0, None) if self.name == "bits_per_byte" else (1.0, None))
        return [ScoreSpec(n, direction="lower", range=rng, level="corpus", description=self.__doc__ or ""),
                ScoreSpec(f"{n}_doc", direction="lower", range=rng, description=f"{n} of the example's text alone"),
                ScoreSpec(f"{n}_weight", direction="higher", range=(0.0, None),
                          description=f"the example's {self.unit} (its weight in {n})")]

    def score(self, item: Item) -> dict[str, ScoreValue]:
        n = self.name
        if not item.loglik:
            bad = Failure(f"no log-likelihood: {item.error}" if item.error else "no log-likelihood in the response")
            return {f"{n}_doc": bad, f"{n}_weight": bad}
        e = item.loglik[0]
        weight = float(e[self.unit])
        if weight <= 0:
            bad = Failure(f"empty text: no {self.unit}")
            return {f"{n}_doc": bad, f"{n}_weight": bad}
        return {f"{n}_doc": self.doc_value(float(e["logprob"]), weight), f"{n}_weight": weight}

    def corpus(self, items: Sequence[Item], per_example: Sequence[dict[str, ScoreValue]]) -> dict[str, float]:
        return {self.name: self.corpus_stats(items, per_example, self.name).value()}

    def corpus_stats(self, items: Sequence[Item], per_example: Sequence[dict[str, ScoreValue]], name: str) -> Any:
        import numpy as np

        from harness.stats.bootstrap import Summed

        rows = np.zeros((len(per_example), 2))
        for j, row in enumerate(per_example):
            v, w = row.get(f"{self.name}_doc"), row.get(f"{self.name}_weight")
            if isinstance(v, float | int) and isinstance(w, float | int) and not (math.isnan(v) or math.isnan(w)):
                rows[j] = (self.loglik_of(float(v), float(w)), float(w))
        return Summed(rows, self.from_sums)

    def from_sums(self, sums: Any) -> Any:
        import numpy as np

        ll, w = sums[:, 0], sums[:, 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(w > 0, self.aggregate(ll / np.where(w > 0, w, 1.0)), np.nan)

    def aggregate(self, mean_ll: Any) -> Any:
        import numpy as np

        return np.exp(-mean_ll)


@metric("word_perplexity")
class WordPerplexity(_Rolling):
    """exp(-sum of log-likelihoods / sum of words), lm-eval's word_perplexity"""

    unit = "words"

    def doc_value(self, ll: float, weight: float) -> float:
        return math.exp(-ll / weight)

    def loglik_of(self, value: float, weight: float) -> float:
        return -math.log(value) * weight


@metric("byte_perplexity")
class BytePerplexity(_Rolling):
    """exp(-sum of log-likelihoods / sum of UTF-8 bytes), lm-eval's byte_perplexity"""

    def doc_value(self, ll: float, weight: float) -> float:
        return math.exp(-ll / weight)

    def loglik_of(self, value: float, weight: float) -> float:
        return -math.log(value) * weight


@metric("bits_per_byte")
class BitsPerByte(_Rolling):
    """-sum of log-likelihoods / sum of UTF-8 bytes / ln 2, lm-eval's bits_per_byte"""

    def doc_value(self, ll: float, weight: float) -> float:
        return -ll / weight / math.log(2)

    def loglik_of(self, value: float, weight: float) -> float:
        return -value * weight * math.log(2)

    def aggregate(self, mean_ll: Any) -> Any:
        return -mean_ll / math.log(2)
