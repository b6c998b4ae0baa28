"""Per-example scores cached beside the responses, so a rerun does no scoring work already done.

A score is stored in the response cache's file (harness.store.scores, table ``scores``) under a key made of

    the response's identity           (model fingerprint + request, as the response cache's key)
    what the metric sees of the item  (output, reference, input, category, dataset record)
    the metric's name, its params, and its ``version`` (a class attribute, default 1)

so a changed reference, a changed param or a bumped metric version rescores, and nothing else does.
A metric sets ``score_cache = False`` (harness.metrics.base.Metric) and is scored every time when
its scores depend on something else (a file its params name, whose content may change), or when
scoring costs less than reading back: the string metrics (exact_match, classification, contains,
regex, ...). On 100,000 items here exact_match and classification score in 0.29 s of CPU; keying
the items costs 0.53 s, a cold cached pass 3.0 s and a warm one 1.8 s (bench/scale.py's sizes).
Only example-level scores from :meth:`Metric.score_batch` are cached; corpus scores and CIs are
recomputed from them (cheap). A :class:`Failure` is never stored: a rerun retries it, as the
response cache retries failed responses.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from harness.store.scores import ScoreStore
from harness.core.hashing import canonical_json
from harness.core.types import Failure, Item, ScoreValue
from harness.metrics.base import cacheable_metric

Scorer = Callable[[Sequence[Any], Sequence[Item]], Awaitable[list[dict[str, ScoreValue]]]]


def metric_key(metric: Any) -> str:
    """Name, params and version: the part of the key that says which scoring this was."""
    params = metric.params.model_dump(mode="json") if hasattr(metric.params, "model_dump") else metric.params
    return canonical_json({"metric": metric.name, "params": params, "version": getattr(metric, "version", 1)})


def item_keys(fingerprint: dict[str, Any], requests: Sequence[Any], items: Sequence[Item]) -> list[str]:
    """One key per item: what identifies its response (the model's fingerprint and the request, as
    harness.store.responses.request_key) and what a metric can read of the item, in one sha256. The fingerprint
    and each distinct settings object are serialised once; the key is order-sensitive JSON, not
    canonical: a dataset rewritten with its fields reordered rescores, which is safe."""
    head = canonical_json(fingerprint)
    settings: dict[int, str] = {}
    dumps = json.dumps
    out = []
    for r, it in zip(requests, items, strict=True):
        s = settings.get(id(r.settings))
        if s is None:
            s = settings[id(r.settings)] = canonical_json(r.settings.model_dump(mode="json"))
        seen = dumps([r.messages, it.output, it.reference, it.input, it.category, it.record, it.error],
                     ensure_ascii=False, default=str)
        out.append(hashlib.sha256(f"{head}\n{s}\n{seen}".encode()).hexdigest())
    return out


async def score_cached(metrics: Sequence[Any], items: Sequence[Item], keys: Sequence[str],
                       cache_path: str | Path, scorer: Scorer) -> list[dict[str, ScoreValue]]:
    """Like ``scorer(metrics, items)`` (the runner's score step), reading and writing cached scores.

    Each metric scores only the items it has no cached scores for; results come back in item order."""
    per_example: list[dict[str, ScoreValue]] = [{} for _ in items]
    keys = list(keys)
    store = ScoreStore(cache_path)
    try:
        for m in metrics:
            if not cacheable_metric(m):
                for row, part in zip(per_example, await scorer([m], items), strict=True):
                    row.update(part)
                continue
            mkey = hashlib.sha256(metric_key(m).encode()).hexdigest()
            names = [s.name for s in m.scores() if s.level == "example"]
            hits = store.get_many(mkey, keys)
            todo = [i for i, k in enumerate(keys) if k not in hits or not set(names) <= set(hits[k])]
            fresh = await scorer([m], [items[i] for i in todo]) if todo else []
            for i, k in enumerate(keys):
                if k in hits and set(names) <= set(hits[k]):
                    per_example[i].update(hits[k])
            store.put_many(mkey, [(keys[i], _cacheable(part)) for i, part in zip(todo, fresh, strict=True)
                                  if _cacheable(part) is not None])
            for i, part in zip(todo, fresh, strict=True):
                per_example[i].update(part)
    finally:
        store.close()
    return per_example


def _cacheable(part: dict[str, ScoreValue]) -> str | None:
    """The scores as JSON, or None when any is a Failure (not stored: retried next time)."""
    if any(isinstance(v, Failure) for v in part.values()):
        return None
    return json.dumps(part, allow_nan=True)
