"""Near-duplicate detection: word shingles, MinHash signatures, LSH banding, exact Jaccard.

MinHash with banding finds candidate pairs without comparing every pair (n² is too slow past a
few thousand examples); each candidate is then confirmed with the exact Jaccard similarity of
the two shingle sets, so the threshold means what it says. Everything is seeded: the same texts
always give the same pairs.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

WORD = re.compile(r"\w+")
_PRIME = (1 << 31) - 1  # hashes are reduced mod this Mersenne prime; products fit in int64
NUM_PERM = 128
BANDS = 32  # 32 bands of 4 rows: pairs above a Jaccard of about 0.5 almost surely share a band


def words(text: str) -> list[str]:
    return WORD.findall(text.casefold())


def shingles(text: str, n: int = 1) -> frozenset[str]:
    """Word n-grams; a text shorter than n words is one shingle of all its words."""
    w = words(text)
    if not w:
        return frozenset()
    if len(w) < n:
        return frozenset([" ".join(w)])
    return frozenset(" ".join(w[i : i + n]) for i in range(len(w) - n + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def _hash32(s: str) -> int:
    return int.from_bytes(hashlib.blake2b(s.encode("utf-8"), digest_size=4).digest(), "little")


class MinHasher:
    def __init__(self, num_perm: int = NUM_PERM, seed: int = 1):
        import numpy as np

        rng = np.random.default_rng(seed)
        self.np = np
        self.a = rng.integers(1, _PRIME, size=(num_perm, 1), dtype=np.int64)
        self.b = rng.integers(0, _PRIME, size=(num_perm, 1), dtype=np.int64)

    def signature(self, sh: frozenset[str]) -> tuple[int, ...]:
        np = self.np
        x = np.array(sorted(_hash32(s) % _PRIME for s in sh), dtype=np.int64)[None, :]
        return tuple(int(v) for v in ((self.a * x + self.b) % _PRIME).min(axis=1))


@dataclass(frozen=True)
class NearPair:
    kept: int  # index of the earlier example, which stays
    dropped: int  # index of the later one
    similarity: float


def near_duplicates(texts: Sequence[str], threshold: float = 0.8, n: int = 1) -> list[NearPair]:
    """Pairs (earlier, later) whose shingle sets have Jaccard >= threshold.

    Each later text is matched against earlier texts that are themselves kept, so a chain
    a~b~c keeps a and drops b and c only where they are close to a kept text.
    """
    sets = [shingles(t, n) for t in texts]
    hasher = MinHasher()
    rows = NUM_PERM // BANDS
    buckets: dict[tuple[int, tuple[int, ...]], list[int]] = defaultdict(list)
    candidates: dict[int, set[int]] = defaultdict(set)
    for j, sh in enumerate(sets):
        if not sh:
            continue
        sig = hasher.signature(sh)
        for band in range(BANDS):
            key = (band, sig[band * rows : (band + 1) * rows])
            candidates[j].update(buckets[key])
            buckets[key].append(j)
    dropped: set[int] = set()
    pairs = []
    for j in range(len(sets)):
        best: tuple[float, int] | None = None
        for i in sorted(candidates.get(j, ())):
            if i in dropped:
                continue
            sim = jaccard(sets[i], sets[j])
            if sim >= threshold and (best is None or sim > best[0]):
                best = (sim, i)
        if best is not None:
            dropped.add(j)
            pairs.append(NearPair(best[1], j, round(best[0], 4)))
    return pairs
