"""A fake OpenAI-compatible ``/v1/completions`` endpoint with ``echo`` and ``logprobs``, as vLLM
answers them, over a toy model whose numbers a test can work out by hand.

The toy model's tokens are the prompt split before each space (" Paris" is one token) and a
token's log-probability is ``-0.5 * len(token)``, the first token's included (the SDK's
``Logprobs`` type holds floats only; the parser also takes vLLM's null there). Every request body is checked against the SDK's ``CompletionCreateParams`` (strict) and
every reply is validated as the SDK's ``Completion`` model before it is sent.
``chat_only=True`` serves no completions route at all (404, as a chat-only API answers).
"""

from __future__ import annotations

import re
from typing import Any

from .contract import check
from .server import ApiError, Call, FakeServer


def toy_tokens(text: str) -> list[str]:
    return [t for t in re.split(r"(?= )", text) if t]


def toy_logprob(token: str) -> float:
    return -0.5 * len(token)


class FakeCompletions(FakeServer):
    def __init__(self, *, chat_only: bool = False, refuse_echo: bool = False, **kw: Any):
        super().__init__(**kw)
        self.refuse_echo = refuse_echo
        if not chat_only:
            self.route("POST", "/completions", self._completions)

    def completion_requests(self) -> list[Call]:
        return self.calls("POST", "/v1/completions") + self.calls("POST", "/completions")

    def _completions(self, call: Call) -> dict[str, Any]:
        from openai.types import Completion, completion_create_params

        body = check(completion_create_params.CompletionCreateParamsNonStreaming, call.body)
        prompts = body["prompt"] if isinstance(body["prompt"], list) else [body["prompt"]]
        if body.get("echo") and self.refuse_echo:
            raise ApiError(400, "echo is not supported with logprobs for this model", param="echo")
        choices = []
        for i, prompt in enumerate(prompts):
            gen = " x"  # max_tokens >= 1: one generated token after the prompt
            text = (prompt + gen) if body.get("echo") else gen
            toks = toy_tokens(prompt) + [gen] if body.get("echo") else [gen]
            offsets, at = [], 0
            for t in toks:
                offsets.append(at)
                at += len(t)
            lps = [toy_logprob(t) for t in toks]  # the SDK's Logprobs holds floats only (vLLM's first-token null is not in it)
            logprobs = None
            if body.get("logprobs") is not None:
                logprobs = {"tokens": toks, "token_logprobs": lps, "text_offset": offsets,
                            "top_logprobs": [{t: v} for t, v in zip(toks, lps)]}
            choices.append({"index": i, "text": text, "finish_reason": "length", "logprobs": logprobs})
        reply = {"id": "cmpl-fake", "object": "text_completion", "created": 0, "model": body["model"],
                 "choices": choices, "usage": {"prompt_tokens": sum(len(toy_tokens(p)) for p in prompts),
                                               "completion_tokens": len(prompts), "total_tokens": 0}}
        Completion.model_validate(reply)  # the SDK's own reply model: the shape is OpenAI's
        return reply
