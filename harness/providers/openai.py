"""The ``openai`` provider: chat completions from OpenAI or any OpenAI-compatible server.

``openai:gpt-4o-mini``, ``openai:ft:gpt-4o-mini:org::id`` (a fine-tuned model: the id is passed
through as is) or ``openai:NAME?base_url=http://127.0.0.1:8080/v1&concurrency=64`` for vLLM,
llama.cpp's server and the like. The endpoint is ``base_url``, else ``OPENAI_BASE_URL``, else
api.openai.com; the key is read from the environment variable ``api_key_env`` (default
``OPENAI_API_KEY``) when the client is made and is never stored, logged or fingerprinted. A
server named by ``base_url`` may need no key: a placeholder is sent.

Retries are ours, not the SDK's (its ``max_retries`` is 0), so every attempt is counted on the
:class:`Response`: 429, 408/409, 5xx, timeouts (``timeout_s`` per attempt), connection errors and
malformed replies (bad JSON, no choices) are retried up to ``max_retries`` times with exponential
backoff and full jitter (``retry_base_s`` doubling, capped at 30 s), or after the server's
``Retry-After`` / ``retry-after-ms`` (capped at 60 s). Other 4xx fail at once. A request that
still fails gives a Response with ``error`` set, never an exception: one bad example does not
stop a run. ``latency_s`` is the wall time over all attempts.

For ``http://`` endpoints the SDK sends through :class:`harness.providers._http.StreamsTransport`
(HTTP/1.1 keep-alive over asyncio streams), a third of the default transport's CPU per request;
``HARNESS_HTTP_TRANSPORT=httpx`` goes back to the SDK's own. The SDK is imported when the first request is made, so choosing this provider costs nothing
until then, and nothing here imports torch, transformers, pandas or scikit-learn.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from typing import Any

from harness.errors import HarnessError
from harness.providers.base import ModelSpec, Provider, Request, Response, provider

OPENAI_URL = "https://api.openai.com/v1"
PLACEHOLDER_KEY = "unused"  # a self-hosted server named by base_url usually checks no key
BACKOFF_CAP_S = 30.0
RETRY_AFTER_CAP_S = 60.0
RETRYABLE_STATUS = frozenset({408, 409, 429})


class InvalidReply(Exception):
    """A 200 reply that is not a usable chat completion (no choices, no message)."""


@provider("openai")
class OpenAIProvider(Provider):
    def __init__(self, spec: ModelSpec):
        super().__init__(spec)
        if not spec.name:
            raise HarnessError("openai provider: name the model, e.g. openai:gpt-4o-mini or openai:ft:gpt-4o-mini:org::id")
        url = spec.base_url or os.environ.get("OPENAI_BASE_URL") or None
        self.base_url = url.rstrip("/") if url else None
        self._api_key()  # fail now, before any work, when no key can be found
        self._client: Any = None

    def _api_key(self) -> str:
        key = os.environ.get(self.spec.api_key_env) or os.environ.get("OPENAI_API_KEY")
        if key:
            return key
        if self.base_url:
            return PLACEHOLDER_KEY
        env = self.spec.api_key_env + ("" if self.spec.api_key_env == "OPENAI_API_KEY" else " (or OPENAI_API_KEY)")
        raise HarnessError(f"openai provider: no API key: set {env}, or give "
                           "base_url for an OpenAI-compatible server, e.g. 'openai:NAME?base_url=http://127.0.0.1:8080/v1'")

    def fingerprint(self) -> dict[str, Any]:
        return {"provider": "openai", "name": self.spec.name, "base_url": self.base_url or OPENAI_URL}

    def client(self) -> Any:
        """The AsyncOpenAI client, made on first use in the running event loop (closed by :meth:`aclose`)."""
        if self._client is None:
            AsyncOpenAI = _sdk().AsyncOpenAI

            kw: dict[str, Any] = {}
            url = self.base_url or OPENAI_URL
            if url.startswith("http://") and os.environ.get("HARNESS_HTTP_TRANSPORT", "streams") == "streams":
                # Plain HTTP (self-hosted servers): a lighter transport, about 3x less CPU a request.
                from openai import DefaultAsyncHttpxClient

                from harness.providers._http import StreamsTransport

                kw["http_client"] = DefaultAsyncHttpxClient(transport=StreamsTransport())
            elif self.spec.concurrency > 100:  # the SDK keeps at most 100 idle connections
                import httpx2
                from openai import DefaultAsyncHttpxClient

                n = self.spec.concurrency
                kw["http_client"] = DefaultAsyncHttpxClient(limits=httpx2.Limits(max_connections=n, max_keepalive_connections=n))
            self._client = AsyncOpenAI(api_key=self._api_key(), base_url=url,
                                       timeout=self.spec.timeout_s, max_retries=0, **kw)
        return self._client

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    # ------------------------------------------------------------ one request

    def params(self, request: Request) -> dict[str, Any]:
        s = request.settings
        kw: dict[str, Any] = {"model": self.spec.name, "messages": request.chat(), "max_tokens": s.max_tokens,
                              "temperature": s.temperature}
        if s.top_p != 1.0:
            kw["top_p"] = s.top_p
        if s.stop:
            kw["stop"] = list(s.stop)
        if s.seed is not None:
            kw["seed"] = s.seed
        if s.logprobs:
            kw["logprobs"] = True
            if s.top_logprobs:
                kw["top_logprobs"] = s.top_logprobs
        return kw

    async def complete(self, request: Request) -> Response:
        post = self.client().post
        import httpx2  # loaded with the SDK by client()

        body = self.params(request)
        t0 = time.perf_counter()
        attempt = 0
        while True:
            attempt += 1
            try:
                # The SDK's documented raw call: its auth, headers and status errors, without
                # the typed-params transform and reply models (1.4 ms of CPU a request here).
                async with asyncio.timeout(self.spec.timeout_s):  # the whole attempt, on any transport
                    reply = await post("/chat/completions", cast_to=httpx2.Response, body=body)
                out = to_response(json.loads(reply.content))
                out.latency_s, out.attempts = time.perf_counter() - t0, attempt
                return out
            except Exception as e:  # noqa: BLE001 - classified below; one example never stops a run
                retryable, wait, reason = classify(e, self.spec.timeout_s)
            if not retryable or attempt > self.spec.max_retries:
                tries = f"{attempt} attempt{'s' if attempt != 1 else ''}"
                return Response(text=None, error=f"{reason} (after {tries})", attempts=attempt,
                                latency_s=time.perf_counter() - t0)
            if wait is None:  # full jitter: uniform in [0, base * 2^(attempt-1)], capped
                wait = random.uniform(0.0, min(BACKOFF_CAP_S, self.spec.retry_base_s * 2 ** (attempt - 1)))
            await asyncio.sleep(wait)


def _sdk() -> Any:
    """The openai module, imported once with the cyclic GC paused (about 10% of its 0.6-1 s import
    here is collections over its own new objects), then frozen: its tens of thousands of objects
    live as long as the process, so later collections during a run need not walk them."""
    import sys

    if "openai" not in sys.modules:
        import gc

        enabled = gc.isenabled()
        gc.disable()
        try:
            import openai  # noqa: F401
        finally:
            if enabled:
                gc.enable()
        gc.freeze()
    return sys.modules["openai"]


def to_response(reply: Any) -> Response:
    """A chat completion (parsed JSON) as a Response; :class:`InvalidReply` when it is not one."""
    choices = reply.get("choices") if isinstance(reply, dict) else None
    if not choices or not isinstance(choices, list) or not isinstance(choices[0], dict):
        raise InvalidReply("reply has no choices")
    choice = choices[0]
    message = choice.get("message")
    if not isinstance(message, dict):
        raise InvalidReply("reply's choice has no message")
    usage = reply.get("usage") if isinstance(reply.get("usage"), dict) else {}
    return Response(text=message.get("content") or "", finish_reason=choice.get("finish_reason"),
                    input_tokens=usage.get("prompt_tokens"), output_tokens=usage.get("completion_tokens"),
                    logprobs=_logprobs(choice.get("logprobs")), model=_opt_str(reply.get("model")),
                    system_fingerprint=_opt_str(reply.get("system_fingerprint")))


def _opt_str(v: Any) -> str | None:
    return v if isinstance(v, str) and v else None


def _logprobs(lp: Any) -> list[dict[str, Any]] | None:
    """Per generated token ``{token, logprob, top: [{token, logprob}]}``, as the local provider gives them."""
    content = lp.get("content") if isinstance(lp, dict) else None
    if not content:
        return None
    return [{"token": t["token"], "logprob": t["logprob"],
             "top": [{"token": a["token"], "logprob": a["logprob"]} for a in (t.get("top_logprobs") or [])]}
            for t in content]


def classify(e: Exception, timeout_s: float) -> tuple[bool, float | None, str]:
    """(retryable, seconds the server asked us to wait or None, a one-line reason)."""
    import openai

    if isinstance(e, (TimeoutError, openai.APITimeoutError)):
        return True, None, f"timeout: no reply within {timeout_s:g} s"

    if isinstance(e, openai.APIStatusError):
        status = e.status_code
        retryable = status in RETRYABLE_STATUS or status >= 500
        wait = retry_after(e.response.headers) if retryable else None
        return retryable, wait, _line(f"HTTP {status} {type(e).__name__}: {_message(e)}")
    if isinstance(e, openai.APIConnectionError):
        cause = e.__cause__ or e.__context__
        return True, None, _line(f"connection error: {type(cause).__name__ if cause else e.message}")
    if isinstance(e, (openai.APIResponseValidationError, InvalidReply, ValueError, KeyError, TypeError)):  # bad JSON: ValueError
        return True, None, _line(f"malformed reply: {type(e).__name__}: {e}")
    return False, None, _line(f"{type(e).__name__}: {e}")


def retry_after(headers: Any) -> float | None:
    """Seconds from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date), capped; None if absent."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) * scale
        except ValueError:
            if name != "retry-after":
                continue
            from email.utils import parsedate_to_datetime

            try:
                seconds = parsedate_to_datetime(value).timestamp() - time.time()
            except (TypeError, ValueError):
                continue
        return min(max(seconds, 0.0), RETRY_AFTER_CAP_S)
    return None


def _message(e: Any) -> str:
    body = getattr(e, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
    return str(getattr(e, "message", "") or e)


def _line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
