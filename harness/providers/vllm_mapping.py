"""The vllm provider's translation, both ways, as plain functions on duck-typed objects: no vllm
import, so it is tested offline against recorded vLLM output objects (tests/providers/data/).

* :func:`sampling_kwargs`: :class:`~harness.core.settings.GenerationSettings` -> the keyword
  arguments of ``vllm.SamplingParams``. Temperature 0 is greedy (``temperature=0.0``; vLLM then
  ignores top_p, top_k and the seed, so they are sent neutral and the seed not at all); otherwise
  temperature, top_p and the seed (vLLM seeds each request on its own, so a sampled answer does not
  depend on the batch it was in, unlike the local provider). No top-k and no repetition penalty, as
  the local provider. Stop strings end a row and are left out of its text; the model's end-of-
  sequence ids (its generation config's and its tokenizer's, as the local provider reads them) go
  as ``stop_token_ids``. ``logprobs``: ``top_logprobs`` alternatives per token (vLLM always adds
  the chosen token's); vLLM's default ``logprobs_mode`` is the raw model's log-softmax, as local's.
* :func:`to_response`: a ``RequestOutput`` (``prompt_token_ids``, ``num_cached_tokens``,
  ``outputs[0]``: a ``CompletionOutput`` with ``text``, ``token_ids``, ``logprobs``,
  ``finish_reason``, ``stop_reason``) -> :class:`~harness.core.types.Response` in the local
  provider's shape: ``output_tokens`` counts the generated tokens without the end-of-sequence (or
  stop-token) that ended the row; ``logprobs`` one ``{token, logprob, top: [{token, logprob}]}``
  per counted token, ``top`` sorted most likely first.
* Log-likelihood (lm-eval's ``vllm`` model, ``vllm_causallms.py``): :func:`loglik_inputs` builds
  the token ids to score exactly as :mod:`harness.local.loglik` encodes them (lm-eval's
  ``_encode_pair``; the prefix token for an empty context; disjoint rolling windows), each scored
  with ``prompt_logprobs=1, max_tokens=1`` (:func:`loglik_kwargs`); :func:`score_prompt` sums the
  continuation's prompt log-probabilities and checks each is its position's argmax (lm-eval's
  ``_parse_logprobs``); :func:`loglik_entries` gives the entries :mod:`harness.local.loglik`
  returns (``logprob, is_greedy, tokens, bytes, chars``; rolling also ``words``). A sequence
  longer than the engine allows keeps its last ``max_model_len - 1`` tokens (vLLM must generate one
  token; local keeps ``max_length + 1``), and rolling windows are ``max_model_len - 2`` long (lm-
  eval's vllm model): the same numbers as local for every text that fits.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from harness.core.types import LoglikQuery, Response
from harness.local import loglik as ll

# ---------------------------------------------------------------- request -> SamplingParams


def sampling_kwargs(s: Any, stop_token_ids: Sequence[int] = ()) -> dict[str, Any]:
    """``SamplingParams(**sampling_kwargs(settings))`` for a generation request."""
    kw: dict[str, Any] = {"n": 1, "max_tokens": int(s.max_tokens)}
    if s.temperature > 0:
        kw.update(temperature=float(s.temperature), top_p=float(s.top_p))
        if s.seed is not None:
            kw["seed"] = int(s.seed)
    else:
        kw.update(temperature=0.0, top_p=1.0)
    kw.update(top_k=-1, repetition_penalty=1.0)  # no top-k (-1 means none in every vLLM version; 0 only in newer)
    kw["stop"] = list(s.stop)
    if stop_token_ids:
        kw["stop_token_ids"] = [int(i) for i in stop_token_ids]
    kw["logprobs"] = int(s.top_logprobs) if s.logprobs else None
    kw["skip_special_tokens"] = True  # as local decodes its rows
    return kw


def loglik_kwargs() -> dict[str, Any]:
    """Scoring a prompt: its tokens' log-probabilities (the actual token's and the top one) and one
    generated token that is not used (vLLM refuses ``max_tokens=0``)."""
    return {"n": 1, "temperature": 0.0, "max_tokens": 1, "prompt_logprobs": 1, "detokenize": False}


def eos_ids(generation_config: Any, tokenizer: Any) -> list[int]:
    """The end-of-sequence ids the local provider stops on: the generation config's, then the tokenizer's."""
    ids: list[int] = []
    for v in (getattr(generation_config, "eos_token_id", None), getattr(tokenizer, "eos_token_id", None)):
        for i in v if isinstance(v, (list, tuple)) else [v]:
            if i is not None and int(i) not in ids:
                ids.append(int(i))
    return ids


# ---------------------------------------------------------------- RequestOutput -> Response


def _value(lp: Any) -> float:
    """A Logprob object (vllm >= 0.3.3), its dict form (Ray Data rows) or a bare float (older vllm)."""
    if isinstance(lp, dict):
        return float(lp["logprob"])
    return float(getattr(lp, "logprob", lp))


def _decoded(lp: Any) -> str | None:
    return lp.get("decoded_token") if isinstance(lp, dict) else getattr(lp, "decoded_token", None)


def _position(d: Any) -> dict[int, Any]:
    """One position's ``{token_id: Logprob}`` with int keys (a Ray row may carry them as strings)."""
    return {int(k): v for k, v in d.items()}


def _name(token_id: int, lp: Any, decode: Callable[[int], str] | None) -> str:
    text = _decoded(lp)
    if text is None:
        text = decode(token_id) if decode is not None else str(token_id)
    return text


def counted_tokens(token_ids: Sequence[int], finish_reason: str | None, stop_reason: Any) -> int:
    """Generated tokens before the end-of-sequence or stop token that ended the row (vLLM keeps that
    token in ``token_ids``; a stop *string* has ``stop_reason`` set to it and its tokens count, as
    in the local provider)."""
    n = len(token_ids)
    if n and finish_reason == "stop" and not isinstance(stop_reason, str):
        n -= 1
    return n


def token_logprobs(chosen: Sequence[int], positions: Sequence[Any], n: int, top: int,
                   decode: Callable[[int], str] | None = None) -> list[dict[str, Any]]:
    """Per generated token (the first ``n``): its log-probability and the ``top`` most likely."""
    out = []
    for t, (tok, pos) in enumerate(zip(chosen, positions, strict=False)):
        if t >= n:
            break
        d = _position(pos or {})
        tok = int(tok)
        entry: dict[str, Any] = {"token": _name(tok, d.get(tok), decode),
                                 "logprob": _value(d[tok]) if tok in d else float("nan")}
        best = sorted(d.items(), key=lambda kv: (-_value(kv[1]), _rank(kv[1])))[:top] if top else []
        entry["top"] = [{"token": _name(i, lp, decode), "logprob": _value(lp)} for i, lp in best]
        out.append(entry)
    return out


def _rank(lp: Any) -> int:
    r = lp.get("rank") if isinstance(lp, dict) else getattr(lp, "rank", None)
    return int(r) if r is not None else 1 << 30


def to_response(output: Any, top_logprobs: int = 0, decode: Callable[[int], str] | None = None) -> Response:
    """A ``vllm.RequestOutput`` of a generation request as the harness's Response."""
    outputs = getattr(output, "outputs", None) or []
    if not outputs:
        return Response(text=None, error="vllm returned no completion for the request")
    c = outputs[0]
    if c.finish_reason not in ("stop", "length"):
        return Response(text=None, error=f"vllm finished the request with {c.finish_reason!r} (aborted)")
    ids = list(c.token_ids)
    n = counted_tokens(ids, c.finish_reason, c.stop_reason)
    prompt_ids = getattr(output, "prompt_token_ids", None)
    cached = getattr(output, "num_cached_tokens", None)
    return Response(
        text=c.text,
        input_tokens=len(prompt_ids) if prompt_ids is not None else None,
        output_tokens=n,
        cached_tokens=int(cached) if cached else None,
        finish_reason=c.finish_reason,
        logprobs=token_logprobs(ids, c.logprobs, n, top_logprobs, decode) if c.logprobs is not None else None,
    )


# ---------------------------------------------------------------- log-likelihood


def score_prompt(prompt_logprobs: Sequence[Any], tokens: Sequence[int], ctxlen: int) -> tuple[float, bool]:
    """lm-eval's ``VLLM._parse_logprobs``: the summed log-probability of ``tokens[ctxlen:]`` read
    from the prompt log-probabilities, and whether each is its position's most likely token (the
    first position has none: ``ctxlen`` is at least 1)."""
    if len(prompt_logprobs) != len(tokens):
        raise ValueError(f"vllm returned {len(prompt_logprobs)} prompt log-probabilities for {len(tokens)} tokens")
    total, greedy = 0.0, True
    for tok, pos in zip(tokens[ctxlen:], prompt_logprobs[ctxlen:], strict=True):
        if pos is None:
            raise ValueError("vllm returned no log-probability for a scored prompt token")
        d = {k: _value(v) for k, v in _position(pos).items()}
        total += d[int(tok)]
        if greedy and max(d, key=d.__getitem__) != int(tok):  # first of equals: the chosen token comes first
            greedy = False
    return total, greedy


def prompt_token_logprobs(prompt_logprobs: Sequence[Any], tokens: Sequence[int], start: int) -> list[float]:
    """Each of ``tokens[start:]``'s own log-probability, read from the prompt log-probabilities
    (the perplexity metric's ``score_continuations``; ``start`` is at least 1)."""
    if len(prompt_logprobs) != len(tokens):
        raise ValueError(f"vllm returned {len(prompt_logprobs)} prompt log-probabilities for {len(tokens)} tokens")
    return [_value(_position(pos)[int(tok)]) for tok, pos in zip(tokens[start:], prompt_logprobs[start:], strict=True)]


def entry(logprob: float, greedy: bool, n_tokens: int, text: str) -> dict[str, Any]:
    """One continuation's figures, as :mod:`harness.local.loglik` gives them."""
    return {"logprob": logprob, "is_greedy": greedy, "tokens": n_tokens, "bytes": len(text.encode("utf-8")),
            "chars": len(text)}


class Scored:
    """One prompt to score: its token ids, how many of them are context, which entry it adds to."""

    __slots__ = ("ids", "ctxlen", "entry", "n_tokens")

    def __init__(self, ids: list[int], ctxlen: int, entry: int, n_tokens: int):
        self.ids, self.ctxlen, self.entry, self.n_tokens = ids, ctxlen, entry, n_tokens

    def __repr__(self) -> str:
        return f"Scored(ids={self.ids}, ctxlen={self.ctxlen}, entry={self.entry}, n_tokens={self.n_tokens})"


def _truncated(ctx: list[int], cont: list[int], max_cxt: int) -> tuple[list[int], int]:
    """lm-eval's vllm ``_loglikelihood_tokens``: (ctx + cont)[-max_cxt:] and the context's share of it."""
    inp = (ctx + cont)[-max_cxt:]
    ctxlen = len(ctx) - max(0, len(ctx) + len(cont) - max_cxt)
    return inp, max(1, ctxlen)


def loglik_inputs(tokenizer: Any, q: LoglikQuery, max_model_len: int, context: str | None = None) -> list[Scored]:
    """The prompts a log-likelihood query is scored by. ``context`` overrides ``q.context`` (the
    provider passes the chat-templated one when ``q.chat_template``)."""
    max_cxt = max_model_len - 1  # vLLM generates at least one token
    prefix = ll.prefix_token_id(tokenizer)
    if q.kind == "rolling":
        tokens = ll.encode(tokenizer, q.text)
        out = []
        for a, b in ll.rolling_windows(tokens, prefix, max_model_len - 2):
            inp, ctxlen = _truncated(list(a), list(b), max_cxt)
            out.append(Scored(inp, ctxlen, 0, len(b)))
        return out
    context = q.context if context is None else context
    out = []
    for j, c in enumerate(q.continuations):
        ctx, cont = ll.encode_pair(tokenizer, context, c) if context else ([prefix], ll.encode(tokenizer, c))
        inp, ctxlen = _truncated(ctx, cont, max_cxt)
        out.append(Scored(inp, ctxlen, j, len(cont)))
    return out


def loglik_entries(q: LoglikQuery, scored: Sequence[Scored], results: Sequence[tuple[float, bool]]) -> list[dict[str, Any]]:
    """The query's entries from each prompt's (logprob, is_greedy): one per continuation, or one for
    the rolling text (its windows' sums added)."""
    if q.kind == "rolling":
        total, greedy = sum(r[0] for r in results), all(r[1] for r in results)
        e = entry(total, greedy, sum(s.n_tokens for s in scored), q.text)
        e["words"] = len(re.split(r"\s+", q.text))
        return [e]
    out: list[dict[str, Any] | None] = [None] * len(q.continuations)
    for s, (lp, greedy) in zip(scored, results, strict=True):
        out[s.entry] = entry(lp, greedy, s.n_tokens, q.continuations[s.entry])
    return out  # type: ignore[return-value]


def loglik_response(q: LoglikQuery, entries: list[dict[str, Any]], context_tokens: int) -> Response:
    """As the local provider answers: the most likely continuation (multiple choice) or empty (rolling)."""
    if q.kind == "rolling":
        return Response(text="", input_tokens=entries[0]["tokens"], output_tokens=0, finish_reason="loglik",
                        loglik=entries)
    best = max(range(len(entries)), key=lambda i: entries[i]["logprob"])
    return Response(text=q.continuations[best], input_tokens=context_tokens + sum(e["tokens"] for e in entries),
                    output_tokens=0, finish_reason="loglik", loglik=entries)


# ---------------------------------------------------------------- adapters


def adapter_id(path: str | Path) -> int:
    """A LoRA adapter's ``lora_int_id``: from its resolved path, the same in every process (Ray
    actors agree without talking), in 1 .. 2**31 - 1."""
    key = str(Path(path).expanduser().resolve()).encode("utf-8")
    return int.from_bytes(hashlib.sha256(key).digest()[:4], "big") % (2**31 - 1) + 1


class AdapterIds:
    """One id per adapter path within a process: :func:`adapter_id`, moved on past an id another
    path already holds (two adapters never share one; vLLM caches an adapter by its id)."""

    def __init__(self) -> None:
        self._by_path: dict[str, int] = {}
        self._taken: dict[int, str] = {}
        self._lock = threading.Lock()

    def __call__(self, path: str | Path) -> int:
        key = str(Path(path).expanduser().resolve())
        with self._lock:
            if key in self._by_path:
                return self._by_path[key]
            i = adapter_id(key)
            while i in self._taken:
                i = i % (2**31 - 1) + 1
            self._by_path[key], self._taken[i] = i, key
            return i


LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)  # the max_lora_rank values vLLM accepts


def lora_rank(ranks: Iterable[int]) -> int:
    """The smallest max_lora_rank vLLM accepts that holds every adapter's rank (16 with none)."""
    need = max(list(ranks) or [16])
    return next((r for r in LORA_RANKS if r >= need), need)


def adapter_rank(folder: str | Path) -> int:
    """The LoRA rank ``r`` in a PEFT adapter's adapter_config.json (16, peft's default, when unsaid)."""
    import json

    data = json.loads((Path(folder) / "adapter_config.json").read_text(encoding="utf-8"))
    ranks = [int(data.get("r") or 16), *(int(v) for v in (data.get("rank_pattern") or {}).values())]
    return max(ranks)


def engine_kwargs(model: str, p: Any, ranks: Sequence[int] = (), enable_lora: bool | None = None) -> dict[str, Any]:
    """``vllm.LLM(**engine_kwargs(...))`` (also Ray Data LLM's ``engine_kwargs``) for a base model
    folder and the provider's params; LoRA on when ``enable_lora`` (None: when any adapter is named)."""
    lora = bool(ranks) if enable_lora is None else enable_lora
    kw: dict[str, Any] = {
        "model": model, "tokenizer": model, "dtype": p.dtype, "seed": int(p.engine_seed),
        "tensor_parallel_size": int(p.tensor_parallel_size), "gpu_memory_utilization": float(p.gpu_memory_utilization),
        "enable_prefix_caching": bool(p.enable_prefix_caching), "enforce_eager": bool(p.enforce_eager),
    }
    if p.max_model_len is not None:
        kw["max_model_len"] = int(p.max_model_len)
    if lora:
        kw.update(enable_lora=True, max_loras=int(p.max_loras),
                  max_lora_rank=int(p.max_lora_rank) if p.max_lora_rank else lora_rank(ranks))
    return kw
