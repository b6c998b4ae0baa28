"""BLEU against the reference(s), per example (smoothed sentence BLEU) and over the corpus.

sacrebleu is not a dependency of the harness, so this reimplements its defaults and says so:

- tokenisation: sacrebleu's ``13a`` tokenizer (the mteval-v13a rules), case-sensitive;
- n-grams 1..4, clipped counts against the maximum count over the references;
- brevity penalty with the reference length closest to the output's (shorter one on a tie);
- corpus BLEU: counts summed over the corpus first, no smoothing (sacrebleu ``corpus_bleu``);
- sentence BLEU: ``exp`` smoothing (Chen & Cherry 2014 method 3: the k-th n-gram order with no
  match gets precision 1 / (2^k * total)) and effective order (orders with no n-grams in the output
  are left out), as sacrebleu ``sentence_bleu``.

Scores are sacreBLEU's divided by 100, in [0, 1].
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from harness.core.types import Failure, Item, ScoreValue
from harness.metrics.base import Metric, ScoreSpec, metric
from harness.metrics.text import references

MAX_N = 4
_13A = [
    (re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),  # most punctuation and symbols
    (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),  # period and comma unless preceded by a digit
    (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),  # ... unless followed by a digit
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),  # dash after a digit
]


def tokenize_13a(line: str) -> list[str]:
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:
        line = line.replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    line = f" {line} "
    for rx, repl in _13A:
        line = rx.sub(repl, line)
    return line.split()


def _counts(tokens: list[str]) -> Counter[tuple[str, ...]]:
    c: Counter[tuple[str, ...]] = Counter()
    for n in range(1, MAX_N + 1):
        for i in range(len(tokens) - n + 1):
            c[tuple(tokens[i : i + n])] += 1
    return c


@dataclass(frozen=True)
class BleuStats:
    """Sufficient statistics of one output: matches and totals per order, lengths."""

    correct: tuple[int, ...]
    total: tuple[int, ...]
    sys_len: int
    ref_len: int

    def __add__(self, o: BleuStats) -> BleuStats:
        return BleuStats(tuple(a + b for a, b in zip(self.correct, o.correct)), tuple(a + b for a, b in zip(self.total, o.total)),
                         self.sys_len + o.sys_len, self.ref_len + o.ref_len)


ZERO = BleuStats((0,) * MAX_N, (0,) * MAX_N, 0, 0)


def bleu_stats(output: str, refs: Sequence[str]) -> BleuStats:
    hyp = tokenize_13a(output)
    ref_toks = [tokenize_13a(r) for r in refs]
    max_ref: Counter[tuple[str, ...]] = Counter()
    for rt in ref_toks:
        max_ref |= _counts(rt)  # element-wise max
    hyp_counts = _counts(hyp)
    correct = [0] * MAX_N
    total = [max(0, len(hyp) - n) for n in range(MAX_N)]
    for gram, k in hyp_counts.items():
        correct[len(gram) - 1] += min(k, max_ref[gram])
    ref_len = min((abs(len(rt) - len(hyp)), len(rt)) for rt in ref_toks)[1]
    return BleuStats(tuple(correct), tuple(total), len(hyp), ref_len)


def bleu_from_stats(s: BleuStats, smooth: bool) -> float:
    """sacrebleu's compute_bleu with smooth_method 'exp' + effective order (smooth) or 'none'."""
    if s.sys_len == 0:
        return 0.0
    bp = 1.0 if s.sys_len >= s.ref_len else math.exp(1 - s.ref_len / s.sys_len)
    logs = []
    factor = 1.0
    for c, t in zip(s.correct, s.total):
        if t == 0:
            if smooth:
                break  # effective order: leave out orders the output is too short for
            return 0.0
        if c == 0:
            if not smooth:
                return 0.0
            factor *= 2
            logs.append(math.log(1 / (factor * t)))
        else:
            logs.append(math.log(c / t))
    return bp * math.exp(sum(logs) / len(logs)) if logs else 0.0


@metric("bleu")
class Bleu(Metric):
    """Sentence BLEU (exp-smoothed) per example and corpus BLEU, sacreBLEU defaults, in [0, 1]."""

    def scores(self) -> list[ScoreSpec]:
        return [ScoreSpec("bleu", description="sentence BLEU (13a, exp smoothing, effective order) / 100"),
                ScoreSpec("corpus_bleu", level="corpus", description="corpus BLEU (13a, no smoothing) / 100")]

    def _stats(self, it: Item) -> BleuStats | Failure:
        if it.output is None:
            return Failure(f"no output: {it.error}")
        refs = references(it.reference)
        if not refs:
            return Failure("example has no reference")
        return bleu_stats(it.output, refs)

    def score(self, item: Item) -> dict[str, ScoreValue]:
        s = self._stats(item)
        return {"bleu": s if isinstance(s, Failure) else bleu_from_stats(s, smooth=True)}

    def corpus(self, items: Sequence[Item], per_example: Sequence[dict[str, ScoreValue]]) -> dict[str, float]:
        return {"corpus_bleu": self.corpus_statistic(items, per_example, "corpus_bleu")(list(range(len(items))))}

    def corpus_statistic(self, items: Sequence[Item], per_example: Sequence[dict[str, ScoreValue]],
                         name: str) -> Callable[[list[int]], float]:
        stats = [self._stats(it) for it in items]
        ok = [s if isinstance(s, BleuStats) else None for s in stats]

        def stat(idx: list[int]) -> float:
            total, seen = ZERO, False
            for i in idx:
                if ok[i] is not None:
                    total, seen = total + ok[i], True
            return bleu_from_stats(total, smooth=False) if seen else float("nan")

        return stat
