"""The openai provider's ``/v1/completions`` path: plain-text prompts, and log-likelihood scoring on
servers that return prompt log-probabilities (vLLM, llama.cpp's server, the legacy OpenAI
completions models).

A plain-text prompt (``prompt.text``) is one completion. A multiple-choice item is one request per
continuation (sent together; one attempt for the engine) whose ``prompt`` is context + continuation,
with ``echo: true, logprobs: 1, max_tokens: 1, temperature: 0`` (``max_tokens: 1`` because vLLM refuses 0; the generated token lies past the
prompt and is not counted). The context's trailing whitespace moves onto the continuation as in
lm-eval's ``_encode_pair``; a continuation's log-probability is the sum over the echoed tokens whose
``text_offset`` lies at or after the context's end and before the prompt's end (a token straddling
the boundary counts with the context: the server's tokenisation decides, where lm-eval's local
model re-tokenises). ``is_greedy``: each such token is its position's top log-probability.
A rolling text sums every echoed token that has a log-probability (the server gives none for
the first one unless it adds a BOS token; this path therefore scores one token less than lm-eval's
local model, whose windows start after its prefix token).

An endpoint that answers 404 on /completions (a chat-only API) or refuses ``echo``/``logprobs``, or
whose reply holds no prompt log-probabilities, raises :class:`~harness.core.errors.CannotScore`:
one line naming the scoring it cannot do and the generation-based alternative; the run stops there.
"""

from __future__ import annotations

from typing import Any

from harness.core.errors import CannotScore
from harness.core.types import LoglikQuery, Request, Response

ALTERNATIVE = ("score by generation instead: prompt for the answer's letter and use the `choice` metric, or run "
               "this suite with the local provider or a completions server that returns prompt log-probabilities "
               "(vLLM, llama.cpp's server)")


class Refused(Exception):
    """The reply was a 200 without the prompt log-probabilities asked for."""


def what(q: LoglikQuery) -> str:
    return "multiple_choice log-likelihood (acc, acc_norm)" if q.kind == "multiple_choice" else \
        "rolling log-likelihood (word_perplexity, byte_perplexity, bits_per_byte)"


def refusal(model: str, endpoint: str, q: LoglikQuery, why: str) -> CannotScore:
    return CannotScore(f"openai:{model} at {endpoint} cannot do {what(q)}: {why}; {ALTERNATIVE}")


def sampling(s: Any) -> dict[str, Any]:
    """The decoding settings both endpoints take: max_tokens, temperature, and top_p, stop, seed when set."""
    kw: dict[str, Any] = {"max_tokens": s.max_tokens, "temperature": s.temperature}
    if s.top_p != 1.0:
        kw["top_p"] = s.top_p
    if s.stop:
        kw["stop"] = list(s.stop)
    if s.seed is not None:
        kw["seed"] = s.seed
    return kw


def text_body(model: str, request: Request) -> dict[str, Any]:
    return {"model": model, "prompt": request.prompt, **sampling(request.settings)}


def split_context(context: str, continuation: str) -> tuple[str, str]:
    """lm-eval's ``_encode_pair`` on text: the context's trailing whitespace goes to the continuation."""
    n = len(context) - len(context.rstrip())
    return (context[:-n], context[-n:] + continuation) if n else (context, continuation)


def loglik_bodies(model: str, q: LoglikQuery) -> list[dict[str, Any]]:
    """One body per prompt (context + continuation, or the rolling text): llama.cpp's server answers
    a list of prompts with HTTP 500, so the item's prompts go as concurrent requests of one attempt."""
    if q.kind == "rolling":
        prompts = [q.text]
    else:
        prompts = ["".join(split_context(q.context, c)) for c in q.continuations]
    return [{"model": model, "prompt": p, "echo": True, "logprobs": 1, "max_tokens": 1, "temperature": 0} for p in prompts]


def merge_replies(replies: list[Any]) -> dict[str, Any]:
    """The replies to one item's prompts as one reply whose choices are indexed by prompt."""
    choices, prompt_tokens = [], 0
    for i, r in enumerate(replies):
        cs = r.get("choices") if isinstance(r, dict) else None
        if not isinstance(cs, list) or len(cs) != 1 or not isinstance(cs[0], dict):
            raise ValueError("reply has no single choice")
        choices.append({**cs[0], "index": i})
        usage = r.get("usage") if isinstance(r.get("usage"), dict) else {}
        prompt_tokens += usage.get("prompt_tokens") or 0
    model = replies[0].get("model") if replies and isinstance(replies[0], dict) else None
    return {"choices": choices, "usage": {"prompt_tokens": prompt_tokens}, "model": model}


def to_text_response(reply: Any) -> Response:
    choices = reply.get("choices") if isinstance(reply, dict) else None
    if not choices or not isinstance(choices, list) or not isinstance(choices[0], dict):
        raise ValueError("reply has no choices")
    usage = reply.get("usage") if isinstance(reply.get("usage"), dict) else {}
    c = choices[0]
    return Response(text=c.get("text") or "", finish_reason=c.get("finish_reason"), input_tokens=usage.get("prompt_tokens"),
                    output_tokens=usage.get("completion_tokens"),
                    model=reply.get("model") if isinstance(reply.get("model"), str) else None)


def _span(lp: dict[str, Any], start: int, end: int) -> tuple[float, bool, int]:
    """Summed log-probability of the echoed tokens starting in [start, end), greedy or not, how many."""
    tokens, logprobs, offsets = lp.get("tokens"), lp.get("token_logprobs"), lp.get("text_offset")
    tops = lp.get("top_logprobs") or [None] * len(tokens or [])
    if not isinstance(tokens, list) or not isinstance(logprobs, list) or not isinstance(offsets, list):
        raise Refused("the reply's logprobs hold no tokens, token_logprobs and text_offset")
    total, greedy, n = 0.0, True, 0
    for tok, v, off, top in zip(tokens, logprobs, offsets, tops, strict=False):
        if not (start <= off < end):
            continue
        if v is None:
            if start == 0:
                continue  # the first prompt token has no log-probability
            raise Refused("no log-probability for a prompt token (echo ignored?)")
        total += float(v)
        n += 1
        if isinstance(top, dict) and top:
            best = max(top.items(), key=lambda kv: kv[1])[0]
            greedy = greedy and best == tok
    return total, greedy, n


def to_loglik_response(reply: Any, q: LoglikQuery) -> Response:
    """The reply's choices (one per prompt, by ``index``) as one Response with ``loglik`` entries."""
    import re

    choices = reply.get("choices") if isinstance(reply, dict) else None
    want = 1 if q.kind == "rolling" else len(q.continuations)
    if not isinstance(choices, list) or len(choices) != want:
        raise ValueError(f"reply has {len(choices) if isinstance(choices, list) else 'no'} choices for {want} prompts")
    by_index = sorted(choices, key=lambda c: c.get("index", 0) if isinstance(c, dict) else 0)
    entries = []
    for i, c in enumerate(by_index):
        lp = c.get("logprobs") if isinstance(c, dict) else None
        if not isinstance(lp, dict):
            raise Refused("the reply has no logprobs")
        if q.kind == "rolling":
            total, greedy, n = _span(lp, 0, len(q.text))
            text = q.text
            entry = {"logprob": total, "is_greedy": greedy, "tokens": n, "bytes": len(text.encode("utf-8")),
                     "chars": len(text), "words": len(re.split(r"\s+", text))}
        else:
            ctx, cont = split_context(q.context, q.continuations[i])
            total, greedy, n = _span(lp, len(ctx), len(ctx) + len(cont))
            if n == 0:
                raise Refused("no echoed token falls inside the continuation")
            text = q.continuations[i]
            entry = {"logprob": total, "is_greedy": greedy, "tokens": n, "bytes": len(text.encode("utf-8")),
                     "chars": len(text)}
        entries.append(entry)
    usage = reply.get("usage") if isinstance(reply.get("usage"), dict) else {}
    best = "" if q.kind == "rolling" else q.continuations[max(range(len(entries)), key=lambda i: entries[i]["logprob"])]
    return Response(text=best, input_tokens=usage.get("prompt_tokens"), output_tokens=0, finish_reason="loglik",
                    loglik=entries, model=reply.get("model") if isinstance(reply.get("model"), str) else None)


def refused_status(status: int, message: str) -> str | None:
    """Why an HTTP error on /completions means the endpoint cannot score (None: an ordinary error)."""
    low = message.lower()
    if status in (404, 405, 501):
        return f"its /v1/completions answered HTTP {status} ({message[:120]}): a chat-only endpoint"
    if status in (400, 422) and any(w in low for w in ("echo", "logprobs", "chat model", "not supported")):
        return f"its /v1/completions refused echo with logprobs (HTTP {status}: {message[:120]})"
    return None
