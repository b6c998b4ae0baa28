"""Log-likelihood of text under an in-process causal LM, as lm-evaluation-harness's ``hf`` model
(HFLM, 0.4.x) computes it, so a suite scored here gives lm-eval's numbers on the same weights.

Multiple choice (:func:`score_choices`): lm-eval's ``_encode_pair`` moves the context's trailing
whitespace onto the continuation, encodes the context alone and context + continuation whole,
and takes the continuation's tokens as the whole encoding after the context's length. The
scored input is context tokens + continuation tokens (left-truncated to the model's length + 1),
each continuation token's log-probability read from the logits of the position before it, summed;
``is_greedy``: every continuation token is the argmax. An empty context is the prefix token
(BOS, else EOS). The provider scores a batch's pairs together (:func:`score_many`, lm-eval's
rows); :func:`score_choices` instead computes an item's context once and shares its KV cache with
the item's continuations: fewer tokens, but two forwards an item, slower on this CPU (measured in
score_many's docstring); kept for long shared contexts (issue 23's prefix reuse). Both give the
same numbers to float32 rounding (tests/providers/test_loglik_local.py checks 1e-4 against a
direct computation and lm-eval's HFLM).

Rolling (:func:`score_rolling`): lm-eval's ``loglikelihood_rolling``: the text's tokens in
disjoint windows of the model's length (``get_rolling_token_windows`` with context length 1 and
``make_disjoint_window``), the first one after the prefix token; their sums added. A text that fits
is one window.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

DEFAULT_MAX_LENGTH = 2048  # lm-eval's HFLM fallback when neither config nor tokenizer says


def max_length(model: Any, tokenizer: Any) -> int:
    """lm-eval HFLM.max_length: the config's n_positions / max_position_embeddings / n_ctx, else the
    tokenizer's model_max_length (unless it is the 'no limit' sentinel), else 2048."""
    cfg = getattr(model, "config", None)
    for attr in ("n_positions", "max_position_embeddings", "n_ctx"):
        v = getattr(cfg, attr, None)
        if isinstance(v, int) and v > 0:
            return v
    v = getattr(tokenizer, "model_max_length", None)
    if isinstance(v, int) and 0 < v < 1_000_000_000_000:
        return v
    return DEFAULT_MAX_LENGTH


def prefix_token_id(tokenizer: Any) -> int:
    """lm-eval's prefix token: BOS where the tokenizer has one, else EOS."""
    bos = getattr(tokenizer, "bos_token_id", None)
    return int(bos) if bos is not None else int(tokenizer.eos_token_id)


def encode(tokenizer: Any, text: str) -> list[int]:
    """lm-eval's ``tok_encode`` for a causal model: no special tokens."""
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def encode_pair(tokenizer: Any, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """lm-eval's ``_encode_pair``: (context tokens, continuation tokens)."""
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces > 0:
        continuation = context[-n_spaces:] + continuation
        context = context[:-n_spaces]
    whole = encode(tokenizer, context + continuation)
    ctx = encode(tokenizer, context)
    return ctx, whole[len(ctx):]


def _entry(lp: float, greedy: bool, n_tokens: int, text: str) -> dict[str, Any]:
    return {"logprob": lp, "is_greedy": greedy, "tokens": n_tokens, "bytes": len(text.encode("utf-8")),
            "chars": len(text)}


def _gather(torch: Any, logits: Any, targets: list[int]) -> tuple[float, bool]:
    """Summed log-probability of ``targets`` under ``logits`` (one row per target), and whether each is the argmax."""
    lp = torch.log_softmax(logits.float(), dim=-1)
    t = torch.tensor(targets, dtype=torch.long, device=lp.device)
    greedy = bool((lp.argmax(dim=-1) == t).all())
    return float(lp.gather(1, t.unsqueeze(1)).sum()), greedy


def _whole(torch: Any, model: Any, ctx: list[int], cont: list[int], limit: int) -> tuple[float, bool]:
    """lm-eval's own computation of one pair: (ctx + cont)[-(limit + 1):][:-1] forwarded whole."""
    inp = (ctx + cont)[-(limit + 1):][:-1]
    device = next(model.parameters()).device
    logits = model(input_ids=torch.tensor([inp], dtype=torch.long, device=device)).logits[0]
    return _gather(torch, logits[len(inp) - len(cont):], cont)


def score_choices(model: Any, tokenizer: Any, context: str, continuations: Sequence[str],
                  limit: int | None = None) -> list[dict[str, Any]]:
    """One item: each continuation's summed log-probability after ``context``, with is_greedy, its
    token count and its UTF-8 length. The context's forward is computed once."""
    from harness.local.models import inference_lock, setup_torch

    torch = setup_torch()
    limit = limit or max_length(model, tokenizer)
    device = next(model.parameters()).device
    pairs = [encode_pair(tokenizer, context, c) if context else ([prefix_token_id(tokenizer)], encode(tokenizer, c))
             for c in continuations]
    ctx = pairs[0][0]  # the same for every continuation: _encode_pair strips the same context
    out: list[dict[str, Any] | None] = [None] * len(pairs)
    shared = [i for i, (c, k) in enumerate(pairs) if k and c == ctx and len(c) + len(k) <= limit + 1]
    with inference_lock, torch.inference_mode():
        for i, (c, k) in enumerate(pairs):
            if i not in shared:
                lp, greedy = _whole(torch, model, c, k, limit) if k else (0.0, True)
                out[i] = _entry(lp, greedy, len(k), continuations[i])
        if shared:
            first = model(input_ids=torch.tensor([ctx], dtype=torch.long, device=device), use_cache=True)
            last = first.logits[0, -1:]  # predicts each continuation's first token
            rest = [pairs[i][1][:-1] for i in shared]  # the continuation tokens that predict the next ones
            width = max(len(r) for r in rest)
            logits_rest = None
            if width:
                cache = _cache_of(first)
                cache.batch_repeat_interleave(len(shared))
                pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
                ids = torch.full((len(shared), width), int(pad), dtype=torch.long)
                for r, toks in enumerate(rest):  # right padding: causal attention keeps real tokens from seeing it
                    ids[r, : len(toks)] = torch.tensor(toks, dtype=torch.long)
                logits_rest = model(input_ids=ids.to(device), use_cache=True, **{_cache_kwarg(model): cache}).logits
            for r, i in enumerate(shared):
                k = pairs[i][1]
                rows = last if len(k) == 1 else torch.cat([last, logits_rest[r, : len(k) - 1]], dim=0)  # type: ignore[index]
                lp, greedy = _gather(torch, rows, k)
                out[i] = _entry(lp, greedy, len(k), continuations[i])
    return out  # type: ignore[return-value]


def score_many(model: Any, tokenizer: Any, items: Sequence[tuple[str, Sequence[str]]], rows: int = 32,
               limit: int | None = None) -> list[list[dict[str, Any]]]:
    """Several items at once, lm-eval's way: every (context, continuation) pair is one row, longest
    first, ``rows`` rows a forward, right-padded (causal attention keeps real tokens from seeing the
    padding, so no mask is needed and each row's numbers are its own). Measured on this 2-core CPU
    (16 four-choice items): 20-29 s this way, 44-91 s with the context shared per item
    (:func:`score_choices`: two forwards an item); forward calls, not tokens, cost most here."""
    from harness.local.models import inference_lock, setup_torch

    torch = setup_torch()
    limit = limit or max_length(model, tokenizer)
    device = next(model.parameters()).device
    pairs: list[tuple[int, int, list[int], list[int]]] = []
    for i, (context, conts) in enumerate(items):
        for j, c in enumerate(conts):
            ctx, k = encode_pair(tokenizer, context, c) if context else ([prefix_token_id(tokenizer)], encode(tokenizer, c))
            pairs.append((i, j, ctx, k))
    out: list[list[dict[str, Any] | None]] = [[None] * len(conts) for _, conts in items]
    order = sorted(range(len(pairs)), key=lambda p: -len(pairs[p][2]) - len(pairs[p][3]))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    with inference_lock, torch.inference_mode():
        for start in range(0, len(order), max(1, rows)):
            chunk = [pairs[p] for p in order[start : start + rows]]
            inps = [(ctx + k)[-(limit + 1):][:-1] for _, _, ctx, k in chunk]
            width = max(len(x) for x in inps)
            ids = torch.full((len(inps), width), int(pad), dtype=torch.long)
            for r, x in enumerate(inps):
                ids[r, : len(x)] = torch.tensor(x, dtype=torch.long)
            logits = model(input_ids=ids.to(device)).logits
            for r, ((i, j, _, k), x) in enumerate(zip(chunk, inps, strict=True)):
                lp, greedy = _gather(torch, logits[r, len(x) - len(k) : len(x)], k) if k else (0.0, True)
                out[i][j] = _entry(lp, greedy, len(k), items[i][1][j])
    return out  # type: ignore[return-value]


def _cache_kwarg(model: Any) -> str:
    """``cache`` in transformers >= 5.x (``past_key_values`` deprecated there), else ``past_key_values``."""
    import inspect

    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def _cache_of(out: Any) -> Any:
    cache = getattr(out, "cache", None)
    return cache if cache is not None else out.past_key_values


def rolling_windows(tokens: list[int], prefix: int, limit: int) -> Iterator[tuple[list[int], list[int]]]:
    """lm-eval's ``get_rolling_token_windows(context_len=1)`` made disjoint (``make_disjoint_window``):
    (context, predicted) token lists covering every token exactly once."""
    if not tokens:
        return
    pred_len = limit  # max_seq_len - context_len + 1
    first = min(limit, len(tokens))
    windows = [([prefix] + tokens[: first - 1], tokens[:first])]
    predicted = first
    while predicted < len(tokens):
        n = min(len(tokens) - predicted, pred_len)
        end = predicted + n
        windows.append((tokens[max(0, end - limit - 1): end - 1], tokens[end - n: end]))
        predicted += n
    for a, b in windows:
        yield a[: len(a) - (len(b) - 1)], b


def score_rolling(model: Any, tokenizer: Any, text: str, limit: int | None = None) -> dict[str, Any]:
    """The whole text's log-likelihood (lm-eval's loglikelihood_rolling), with its token, word
    (lm-eval's ``re.split(r"\\s+")``) and UTF-8 byte counts."""
    import re

    from harness.local.models import inference_lock, setup_torch

    torch = setup_torch()
    limit = limit or max_length(model, tokenizer)
    tokens = encode(tokenizer, text)
    total, greedy = 0.0, True
    with inference_lock, torch.inference_mode():
        for ctx, cont in rolling_windows(tokens, prefix_token_id(tokenizer), limit):
            lp, g = _whole(torch, model, ctx, cont, limit)
            total += lp
            greedy = greedy and g
    entry = _entry(total, greedy, len(tokens), text)
    entry["words"] = len(re.split(r"\s+", text))
    return entry
