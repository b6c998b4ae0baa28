"""The ``openai`` provider: chat completions from OpenAI or any OpenAI-compatible server.

``openai:gpt-4o-mini``, ``openai:ft:gpt-4o-mini:org::id`` (a fine-tuned model: the id is passed
through as is) or ``openai:NAME?base_url=http://127.0.0.1:8080/v1&concurrency=64`` for vLLM,
llama.cpp's server and the like. The endpoint is ``base_url``, else ``OPENAI_BASE_URL``, else
api.openai.com; the key is read from the environment variable ``api_key_env`` (default
``OPENAI_API_KEY``, no fallback) when the client is made and is never stored, logged or
fingerprinted. It is sent only to api.openai.com or a host the run's trust policy allows
(:class:`~harness.core.trust.TrustPolicy`: ``--allow-key-host``, ``HARNESS_KEY_HOSTS``); any other
server gets a placeholder (see :mod:`harness.providers.keys`). With ``batch=true`` the provider
declares the Batch API capability (:meth:`OpenAIProvider.batch_api`, :mod:`harness.providers.openai_batch`).

This provider makes one attempt per :meth:`OpenAIProvider.complete` (the SDK's ``max_retries``
is 0) and :meth:`OpenAIProvider.classify` says what a failure means; the engine
(:mod:`harness.engine`) retries by the policy of :mod:`harness.providers.retry` (the SDK's rules:
408/409/429/5xx unless ``x-should-retry`` says otherwise, ``retry-after-ms`` / ``Retry-After``,
exponential backoff with jitter), so every attempt is counted on the :class:`Response`. Timeouts
(``timeout_s`` per attempt), connection errors and malformed replies (bad JSON, no choices) are
retried too; connection errors also count toward the engine's circuit breaker.

Plain-text prompts (``prompt.text``) and log-likelihood requests go to ``/v1/completions``
(:mod:`harness.providers.openai_completions`: ``echo`` with ``logprobs``); a chat-only endpoint stops
the run with one line (:class:`~harness.core.errors.CannotScore`).

For ``http://`` endpoints the SDK sends through :class:`harness.providers._http.StreamsTransport`
(HTTP/1.1 keep-alive over asyncio streams), a third of the default transport's CPU per request;
``HARNESS_HTTP_TRANSPORT=httpx`` goes back to the SDK's own. The SDK is imported when the first request is made, so choosing this provider costs nothing
until then, and nothing here imports torch, transformers, pandas or scikit-learn.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, field_validator

from harness.core.errors import CannotScore, HarnessError
from harness.core.redact import strip_userinfo
from harness.core.trust import TrustPolicy
from harness.core.types import Request, Response
from harness.providers import keys
from harness.providers.base import BatchApi, ModelSpec, Provider, ProviderParams, provider
from harness.providers.retry import Fault, http_fault

OPENAI_URL = "https://api.openai.com/v1"
PLACEHOLDER_KEY = keys.PLACEHOLDER_KEY


class InvalidReply(Exception):
    """A 200 reply that is not a usable chat completion (no choices, no message)."""


class OpenAIParams(ProviderParams):
    """The openai provider's own keys (``openai:NAME?base_url=...&api_key_env=...``)."""

    base_url: str | None = Field(None, description="OpenAI-compatible endpoint; else OPENAI_BASE_URL or api.openai.com.")
    api_key_env: str = Field(keys.DEFAULT_KEY_ENV, description="Environment variable holding the API key (never stored); "
                                                              "a suite may not set it.")
    batch: bool = Field(False, description="Send uncached requests through the Batch API (half the price, up to 24 h); "
                                           "judges stay synchronous.")
    price_as: str | None = Field(None, description="Price these requests as this model of the price table. By default "
                                                   "only api.openai.com is priced: a server of your own (base_url) is "
                                                   "not charged OpenAI's list price for a model it names gpt-4o-mini.")
    batch_poll_s: float = Field(5.0, gt=0, le=3600, description="Batch API: first polling interval (backs off to "
                                                                "12x, at most 60 s).")

    @field_validator("base_url")
    @classmethod
    def _a_url(cls, value: str | None) -> str | None:
        """A URL urllib can split, with a port in range (``http://[::1/v1`` is not): one located error, not a traceback."""
        if value is not None:
            try:
                urlsplit(value).port
            except ValueError as e:
                raise ValueError(f"not a valid URL ({e}); e.g. http://127.0.0.1:8080/v1 or http://[::1]:8080/v1") from None
        return value


@provider("openai")
class OpenAIProvider(Provider):
    Params = OpenAIParams
    params: OpenAIParams
    sends_key = True
    # text and log-likelihood go to /v1/completions (harness.providers.openai_completions); a
    # chat-only endpoint is told apart by its answer there
    kinds = frozenset({"generate", "text", "multiple_choice", "rolling"})

    def __init__(self, spec: ModelSpec, trust: TrustPolicy | None = None):
        super().__init__(spec)
        self.trust = trust if trust is not None else TrustPolicy.from_env()
        if not spec.name:
            raise HarnessError("openai provider: name the model, e.g. openai:gpt-4o-mini or openai:ft:gpt-4o-mini:org::id")
        url = self.params.base_url or os.environ.get("OPENAI_BASE_URL") or None
        self.base_url = url.rstrip("/") if url else None
        self._api_key()  # fail now, before any work, when no key can be found
        self._client: Any = None

    def _api_key(self) -> str:
        """The key for this endpoint, by the one rule in :mod:`harness.providers.keys` (never stored)."""
        return keys.api_key(self.base_url or OPENAI_URL, self.params.api_key_env, official=self.base_url is None,
                            trust=self.trust)

    def batch_api(self) -> BatchApi | None:
        """This provider, when its spec says ``batch=true``: the engine sends through the Batch API."""
        return self if self.params.batch else None

    @property
    def batch_poll_s(self) -> float:
        return self.params.batch_poll_s

    def fingerprint(self) -> dict[str, Any]:
        # no userinfo: a password in base_url is not stored (cache.sqlite, summary.json); without one, unchanged
        return {"provider": "openai", "name": self.spec.name, "base_url": strip_userinfo(self.base_url or OPENAI_URL)}

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

    def body(self, request: Request) -> dict[str, Any]:
        """The chat-completions request body (also a Batch API line's body)."""
        from harness.providers.openai_completions import sampling

        s = request.settings
        kw: dict[str, Any] = {"model": self.spec.name, "messages": request.chat(), **sampling(s)}
        if s.logprobs:
            kw["logprobs"] = True
            if s.top_logprobs:
                kw["top_logprobs"] = s.top_logprobs
        return kw

    async def complete(self, request: Request) -> Response:
        """One attempt; raises on any failure (see :meth:`classify`)."""
        import httpx2  # loaded with the SDK by client()

        # The SDK's documented raw call: its auth, headers and status errors, without the
        # typed-params transform and reply models (1.4 ms of CPU a request here).
        if request.loglik is not None or request.prompt is not None:
            return await self._completion(request)
        async with asyncio.timeout(self.spec.timeout_s):  # the whole attempt, on any transport
            reply = await self.client().post("/chat/completions", cast_to=httpx2.Response, body=self.body(request))
        return to_response(json.loads(reply.content))

    async def _completion(self, request: Request) -> Response:
        """A plain-text prompt or a log-likelihood request, on /v1/completions."""
        import httpx2
        import openai

        from harness.providers import openai_completions as oc

        q = request.loglik
        bodies = oc.loglik_bodies(self.spec.name, q) if q is not None else [oc.text_body(self.spec.name, request)]
        try:
            async with asyncio.timeout(self.spec.timeout_s):
                replies = await asyncio.gather(*(self.client().post("/completions", cast_to=httpx2.Response, body=b)
                                                 for b in bodies))
        except openai.APIStatusError as e:
            why = oc.refused_status(e.status_code, _message(e))
            if why is None:
                raise
            if q is None:
                raise CannotScore(f"openai:{self.spec.name} at {self.endpoint()} cannot take plain-text prompts: {why}; "
                                  "write the prompt as chat messages (prompt.messages) instead") from None
            raise oc.refusal(self.spec.name, self.endpoint(), q, why) from None
        if q is None:
            return oc.to_text_response(json.loads(replies[0].content))
        try:
            return oc.to_loglik_response(oc.merge_replies([json.loads(r.content) for r in replies]), q)
        except oc.Refused as e:
            raise oc.refusal(self.spec.name, self.endpoint(), q, f"its /v1/completions reply has no prompt "
                             f"log-probabilities ({e})") from None

    def classify(self, error: Exception) -> Fault:
        return classify(error, self.spec.timeout_s)

    def endpoint(self) -> str:
        """The base URL without user, password, query or fragment: safe to print."""
        parts = urlsplit(self.base_url or OPENAI_URL)
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host
        return urlunsplit((parts.scheme, host + (f":{parts.port}" if parts.port else ""), parts.path.rstrip("/"), "", ""))


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
    details = usage.get("prompt_tokens_details") if isinstance(usage.get("prompt_tokens_details"), dict) else {}
    return Response(text=message.get("content") or "", finish_reason=choice.get("finish_reason"),
                    input_tokens=usage.get("prompt_tokens"), output_tokens=usage.get("completion_tokens"),
                    cached_tokens=details.get("cached_tokens"),
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


def classify(e: Exception, timeout_s: float) -> Fault:
    """One failed attempt as a Fault: HTTP errors by the shared policy's rules, timeouts, connection
    errors and malformed replies retried, anything else not."""
    import openai

    if isinstance(e, (TimeoutError, openai.APITimeoutError)):
        return Fault(f"timeout: no reply within {timeout_s:g} s", retry=True)
    if isinstance(e, openai.APIStatusError):
        return http_fault(e.status_code, e.response.headers, _line(f"HTTP {e.status_code} {type(e).__name__}: {_message(e)}"))
    if isinstance(e, openai.APIConnectionError):
        cause = e.__cause__ or e.__context__
        return Fault(_line(f"connection error: {type(cause).__name__ if cause else e.message}"), retry=True, connection=True)
    if isinstance(e, (openai.APIResponseValidationError, InvalidReply, ValueError, KeyError, TypeError)):  # bad JSON: ValueError
        return Fault(_line(f"malformed reply: {type(e).__name__}: {e}"), retry=True)
    return Fault(_line(f"{type(e).__name__}: {e}"), retry=False)


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
