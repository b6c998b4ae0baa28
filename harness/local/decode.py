"""Greedy decoding for in-process models, faster than ``model.generate`` for evaluation batches.

Same tokens as plain greedy ``generate`` (argmax of the raw logits at every step, no logits
processors), computed with less work:

* **The shared prompt prefix is prefilled once.** Every prompt of a suite starts with the same
  tokens (the system prompt, a few-shot block, the chat header): their keys and values are computed
  once (batch 1), kept per model and adapter, and copied into each batch's cache, so a batch
  prefills only what differs. Rows are laid out ``[prefix][padding][own tokens]`` with an attention
  mask that hides the padding and position ids that skip it, so every row sees what it would see
  alone.
* **Finished rows leave the batch.** A row that reached end-of-sequence, a stop string or its
  token limit is dropped from the batch and from the cache (``DynamicCache.batch_select_indices``),
  so the decode steps left cost what the live rows cost, not what the longest row costs.
* **Per-row stop strings** are checked on each row's decoded tail only.

What a row returns matches the ``generate`` path of the local provider: the generated token ids
before end-of-sequence (stop-string tokens included), whether it ended on EOS or a stop string,
and, when asked, the log-probabilities of each chosen token and the top alternatives (log-softmax of
the raw logits).
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.local import models as lm

PREFIX_KEEP = 4  # prefixes kept per loaded base (a suite's prompt, its judge's rubric, ...)
MIN_PREFIX = 8  # a shorter common prefix is not worth a separate pass


@dataclass
class Decoded:
    """One row's result: generated ids (EOS excluded), why it ended, and optional log-probs per step."""

    ids: list[int]
    stopped: bool  # ended on EOS or a stop string (else: the token limit)
    logprobs: list[tuple[float, list[tuple[int, float]]]] | None = None  # (chosen lp, [(id, lp) top])


@dataclass
class PrefixStore:
    """Keys and values of shared prompt prefixes, per adapter, least recently used dropped first."""

    entries: OrderedDict = field(default_factory=OrderedDict)
    hits: int = 0
    misses: int = 0

    def get(self, key: tuple) -> Any:
        kv = self.entries.get(key)
        if kv is not None:
            self.entries.move_to_end(key)
            self.hits += 1
        return kv

    def put(self, key: tuple, kv: Any) -> None:
        self.misses += 1
        self.entries[key] = kv
        self.entries.move_to_end(key)
        while len(self.entries) > PREFIX_KEEP:
            self.entries.popitem(last=False)


_private_stores: dict[int, PrefixStore] = {}


def prefix_store(model) -> PrefixStore | None:
    """The store of the loaded base behind ``model`` (a :class:`~harness.local.models.ModelView`);
    None for a private model (nothing outlives the call)."""
    shared = getattr(model, "__dict__", {}).get("_shared")
    if shared is None:
        return None
    store = getattr(shared, "prefix_store", None)
    if store is None:
        store = shared.prefix_store = PrefixStore()
    return store


def common_prefix(rows: Sequence[Sequence[int]]) -> int:
    """Length of the longest token prefix every row shares."""
    if not rows:
        return 0
    first, n = rows[0], min(len(r) for r in rows)
    for r in rows[1:]:
        k = 0
        while k < n and r[k] == first[k]:
            k += 1
        n = k
        if n == 0:
            break
    return n


def supported(model) -> bool:
    """Whether this model can take a precomputed prefix cache: a plain causal LM or a LoRA view
    (a prompt-learning adapter puts its own virtual tokens in the cache: it keeps ``generate``)."""
    cfg = getattr(model, "active_peft_config", None)
    return not bool(getattr(cfg, "is_prompt_learning", False))


def greedy(model, tok, prompts: Sequence[Sequence[int]], max_new_tokens: int, eos: Sequence[int],
           stops: Sequence[str] = (), top_logprobs: int | None = None, prefix_hint: int | None = None) -> list[Decoded]:
    """Greedy continuations of ``prompts`` (token ids, no padding). ``top_logprobs`` None: no
    log-probs; 0 or more: the chosen token's and that many alternatives'. ``prefix_hint``: a prefix
    length known to be shared by every prompt of the run (so batches reuse one cached prefix)."""
    torch = lm.setup_torch()
    if not prompts:
        return []
    device = next(model.parameters()).device
    pad = tok.pad_token_id if tok.pad_token_id is not None else (eos[0] if eos else 0)
    eos_set = set(int(e) for e in eos)
    rows = [list(p) for p in prompts]
    n_rows = len(rows)
    shared = common_prefix(rows)
    if prefix_hint is not None and 0 < prefix_hint <= shared:
        shared = prefix_hint
    p_len = min(shared, min(len(r) for r in rows) - 1)  # every row keeps at least one token to feed
    if p_len < MIN_PREFIX:
        p_len = 0

    with lm.inference_lock, torch.inference_mode():
        cache = _prefix_cache(model, rows[0][:p_len], device) if p_len else None
        if cache is not None:
            cache = copy.deepcopy(cache)
            if n_rows > 1:
                cache.batch_repeat_interleave(n_rows)
        own = [r[p_len:] for r in rows]
        width = max(len(o) for o in own)
        ids = torch.full((n_rows, width), pad, dtype=torch.long)
        own_mask = torch.zeros((n_rows, width), dtype=torch.long)
        for i, o in enumerate(own):
            ids[i, width - len(o):] = torch.tensor(o, dtype=torch.long)
            own_mask[i, width - len(o):] = 1
        mask = torch.cat([torch.ones((n_rows, p_len), dtype=torch.long), own_mask], dim=1)
        positions = (p_len + own_mask.cumsum(-1) - 1).clamp(min=0)
        kw = _cache_keyword(model)
        if cache is None:
            from transformers import DynamicCache

            cache = DynamicCache()
        out = model(input_ids=ids.to(device), attention_mask=mask.to(device), position_ids=positions.to(device),
                    use_cache=True, logits_to_keep=1, **{kw: cache})
        cache = _returned_cache(out)
        logits = out.logits[:, -1, :]
        next_pos = positions[:, -1] + 1
        mask = mask.to(device)
        next_pos = next_pos.to(device)

        live = list(range(n_rows))  # original row index of each batch row
        gen: list[list[int]] = [[] for _ in range(n_rows)]
        stopped = [False] * n_rows
        lps: list[list] | None = [[] for _ in range(n_rows)] if top_logprobs is not None else None
        window = 4 * max((len(s) for s in stops), default=0) + 4

        for step in range(max_new_tokens):
            nxt = logits.argmax(dim=-1)
            if lps is not None:
                lp = torch.log_softmax(logits.float(), dim=-1)
                chosen = lp.gather(1, nxt.unsqueeze(1)).squeeze(1).tolist()
                if top_logprobs:
                    tv, ti = lp.topk(top_logprobs, dim=-1)
                    tops = [list(zip(a, b)) for a, b in zip(ti.tolist(), tv.tolist())]
                else:
                    tops = [[] for _ in live]
            keep: list[int] = []
            for b, row in enumerate(live):
                t = int(nxt[b])
                if t in eos_set:
                    stopped[row] = True
                    continue
                gen[row].append(t)
                if lps is not None:
                    lps[row].append((chosen[b], tops[b]))
                if stops and any(s in tok.decode(gen[row][-window:], skip_special_tokens=True) for s in stops):
                    stopped[row] = True
                    continue
                keep.append(b)
            if not keep or step == max_new_tokens - 1:
                break
            if len(keep) < len(live):
                idx = torch.tensor(keep, dtype=torch.long, device=device)
                cache.batch_select_indices(idx)
                nxt, mask, next_pos = nxt[idx], mask[idx], next_pos[idx]
                live = [live[b] for b in keep]
            mask = torch.cat([mask, torch.ones((len(live), 1), dtype=mask.dtype, device=device)], dim=1)
            out = model(input_ids=nxt.unsqueeze(1), attention_mask=mask, position_ids=next_pos.unsqueeze(1),
                        use_cache=True, **{kw: cache})
            cache = _returned_cache(out)
            logits = out.logits[:, -1, :]
            next_pos = next_pos + 1

    return [Decoded(gen[i], stopped[i], lps[i] if lps is not None else None) for i in range(n_rows)]


_KEYWORD: dict[type, str] = {}


def _returned_cache(out) -> Any:
    """The cache a forward pass returns: ``out.cache`` (transformers 5.2x) or ``out.past_key_values``."""
    return out["cache"] if "cache" in out else out["past_key_values"]


def _cache_keyword(model) -> str:
    """``cache`` (transformers 5.2x) or ``past_key_values`` (earlier): the forward's name for the cache."""
    import inspect

    shared = getattr(model, "__dict__", {}).get("_shared")  # a ModelView: its loaded base
    base = shared.base if shared is not None else model
    if hasattr(base, "get_base_model"):  # a PeftModel: the causal LM under it
        base = base.get_base_model()
    cls = type(base)
    if cls not in _KEYWORD:
        params = inspect.signature(cls.forward).parameters
        _KEYWORD[cls] = "cache" if "cache" in params else "past_key_values"
    return _KEYWORD[cls]


def _prefix_cache(model, prefix: list[int], device) -> Any:
    """The cache of ``prefix`` for ``model``'s current adapter: from the store, or one forward pass."""
    import torch

    store = prefix_store(model)
    key = (getattr(model, "adapter_name", None), tuple(prefix))
    kv = store.get(key) if store is not None else None
    if kv is None:
        from transformers import DynamicCache

        out = model(input_ids=torch.tensor([prefix], dtype=torch.long, device=device), use_cache=True, logits_to_keep=1,
                    **{_cache_keyword(model): DynamicCache()})
        kv = _returned_cache(out)
        if store is not None:
            store.put(key, kv)
    return kv
