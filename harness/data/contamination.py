"""Contamination: does training text reproduce a suite's test examples?

For each training example's user text and each test example's input, the overlap is the share
of the test example's word n-grams that also occur in the training text (containment): 1.0
means the whole test input appears in training, a paraphrase shares a few common phrases and
scores low. A test input shorter than n words counts as contained when its words appear
contiguously in the training text. An inverted index over test n-grams keeps this linear.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.core.trust import TrustPolicy
from harness.data.dedup import words

DEFAULT_NGRAM = 4
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class HeldOutText:
    suite: str
    id: str
    file: str
    line: int
    text: str


@dataclass(frozen=True)
class Overlap:
    train_index: int
    test: HeldOutText
    shared: int
    total: int
    n: int

    @property
    def score(self) -> float:
        return self.shared / self.total if self.total else 0.0


def _ngrams(w: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(w[i : i + n]) for i in range(len(w) - n + 1)}


def suite_test_texts(suite_paths: Sequence[str | Path], trust: TrustPolicy | None = None) -> list[HeldOutText]:
    """The inputs of every named suite's test split (its default split when it has no `test`); each
    suite's dataset must stay inside ``trust``'s data root (None: :meth:`TrustPolicy.from_env`)."""
    from harness.data.examples import load_split
    from harness.suite.load import load_suite

    out = []
    for p in suite_paths:
        ls = load_suite(p, trust=trust)
        split = "test" if "test" in ls.suite.dataset.split_names() else ls.suite.default_split
        sp = load_split(ls.suite.dataset, ls.dataset_dir(), split, ls.suite.prompt)
        for ex in sp.examples:
            text = ex.input if ex.input is not None else "\n".join(m["content"] for m in ex.messages if m["role"] == "user")
            out.append(HeldOutText(ls.suite.name, ex.id, str(sp.path), ex.line, text))
    return out


def find_overlaps(train_texts: Sequence[str], tests: Sequence[HeldOutText], n: int = DEFAULT_NGRAM,
                  threshold: float = DEFAULT_THRESHOLD) -> list[Overlap]:
    """Every (training text, test text) pair whose containment is at least ``threshold``."""
    index: dict[tuple[str, ...], list[int]] = defaultdict(list)
    totals: list[int] = []
    short: list[tuple[int, str]] = []  # test inputs under n words: contiguous-words check
    for t_i, t in enumerate(tests):
        w = words(t.text)
        grams = _ngrams(w, n)
        totals.append(len(grams))
        if grams:
            for g in grams:
                index[g].append(t_i)
        elif w:
            short.append((t_i, " " + " ".join(w) + " "))
    found = []
    for i, text in enumerate(train_texts):
        w = words(text)
        shared: dict[int, int] = defaultdict(int)
        for g in _ngrams(w, n):
            for t_i in index.get(g, ()):
                shared[t_i] += 1
        for t_i, k in sorted(shared.items()):
            if k / totals[t_i] >= threshold:
                found.append(Overlap(i, tests[t_i], k, totals[t_i], n))
        if short:
            joined = " " + " ".join(w) + " "
            for t_i, needle in short:
                if needle in joined:
                    found.append(Overlap(i, tests[t_i], 1, 1, len(needle.split())))
    return found
