"""The model-provider extension point: one small interface, found through a registry.

A provider only translates: a chat request into one call of its model, and a failed call into a
:class:`~harness.providers.retry.Fault` (retry or not, after how long). Scheduling, concurrency,
retries, the response cache and the circuit breaker are the engine's (:mod:`harness.engine`).
API providers implement :meth:`Provider.complete` (one attempt) and :meth:`Provider.classify`;
in-process providers implement :meth:`Provider.generate_batch` and the engine feeds them batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.core.errors import HarnessError
from harness.core.registry import Registry
from harness.core.types import Request, Response
from harness.providers.retry import Fault


class ModelSpec(BaseModel):
    """Which model to run and how. Written as ``PROVIDER[:NAME][?key=value&...]`` or a YAML file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: str = Field(..., description="A registered provider: local, openai, scripted, or your own.")
    name: str = Field("", description="Model id or path; empty means the provider's default.")
    adapter: str | None = Field(None, description="LoRA adapter folder (local provider): a fine-tuned candidate.")
    base_url: str | None = Field(None, description="OpenAI-compatible endpoint; else OPENAI_BASE_URL or api.openai.com.")
    api_key_env: str = Field("OPENAI_API_KEY", description="Environment variable holding the API key (never stored).")
    concurrency: int = Field(16, ge=1, le=1024, description="Requests in flight at once (API providers).")
    batch_size: int = Field(8, ge=1, le=512, description="Examples per forward pass (in-process providers).")
    timeout_s: float = Field(60.0, gt=0, description="Per-request timeout.")
    max_retries: int = Field(5, ge=0, le=20, description="Retries on 408/409/429, 5xx, timeouts, connection errors "
                                                          "and malformed replies.")
    retry_base_s: float = Field(0.5, gt=0, le=60, description="First retry's backoff; doubles each retry up to 8 s, less "
                                                              "0-25% jitter, unless the server sends Retry-After.")
    max_connection_errors: int = Field(20, ge=0, description="Circuit breaker: after this many consecutive connection "
                                                             "errors the endpoint is down and the rest is not sent; 0: never.")
    batch: bool = Field(False, description="openai: send uncached requests through the Batch API (half the price, "
                                           "up to 24 h); judges stay synchronous.")
    batch_poll_s: float = Field(5.0, gt=0, le=3600, description="Batch API: first polling interval (backs off to "
                                                                "12x, at most 60 s).")
    device: str = Field("auto", description="local: cpu, cuda, or auto.")
    label: str | None = Field(None, description="A short name for reports.")

    @classmethod
    def parse(cls, text: str, **overrides: Any) -> ModelSpec:
        """Parse ``local``, ``local:smollm2?adapter=out/adapter``, ``openai:ft:gpt-4o-mini:org::id``
        or the path of a YAML file holding the same keys."""
        data: dict[str, Any]
        p = Path(text)
        if text.endswith((".yaml", ".yml")) and p.is_file():
            import yaml

            try:
                data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
            except UnicodeDecodeError as e:
                raise HarnessError(f"{text}: not UTF-8 ({e.reason} at byte {e.start}); save the file as UTF-8") from None
            except yaml.YAMLError as e:
                mark = getattr(e, "problem_mark", None)
                where = f"{text}:{mark.line + 1}" if mark is not None else text
                raise HarnessError(f"{where}: invalid YAML: {getattr(e, 'problem', None) or e}") from None
            if not isinstance(data, dict):
                raise HarnessError(f"{text}: expected a mapping of model settings")
        else:
            head, _, query = text.partition("?")
            provider, _, name = head.partition(":")
            data = {"provider": provider, "name": name}
            for k, v in parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)):
                data[k] = v
        data.update({k: v for k, v in overrides.items() if v is not None})
        try:
            spec = cls.model_validate(data)
        except ValidationError as e:
            lines = [f"model {text!r}: {'.'.join(map(str, err['loc'])) or 'spec'}: {err['msg']}" for err in e.errors()]
            raise HarnessError("\n".join(lines)) from None
        PROVIDERS.get(spec.provider)  # unknown provider -> "Did you mean ..."
        return spec

    def display(self) -> str:
        if self.label:
            return self.label
        s = f"{self.provider}:{self.name}" if self.name else self.provider
        return s + (f"+{Path(self.adapter).name}" if self.adapter else "")


class Provider:
    """Base class. Subclass and register with ``@provider("name")``."""

    name: ClassVar[str] = ""

    def __init__(self, spec: ModelSpec):
        self.spec = spec

    def fingerprint(self) -> dict[str, Any]:
        """What identifies this model's behaviour; part of every cache key. Never includes keys."""
        return {"provider": self.spec.provider, "name": self.spec.name}

    def endpoint(self) -> str:
        """Where requests go, for messages ("endpoint down: ..."); never holds a key."""
        return self.spec.display()

    # Implement one of the two:
    async def complete(self, request: Request) -> Response:
        """One attempt. Raise on failure (the engine asks :meth:`classify` and retries); a Response
        with ``error`` set is final."""
        raise NotImplementedError

    def generate_batch(self, requests: Sequence[Request]) -> list[Response]:
        """In-process generation of a batch, in order (run in a worker thread by the engine)."""
        raise NotImplementedError

    def classify(self, error: Exception) -> Fault:
        """What a failed :meth:`complete` means: retry or not, after how long. Default: not retried."""
        return Fault(" ".join(f"{type(error).__name__}: {error}".split())[:300], retry=False)

    @property
    def batched(self) -> bool:
        return type(self).generate_batch is not Provider.generate_batch

    async def aclose(self) -> None:
        """Release connections or memory."""


PROVIDERS: Registry[type[Provider]] = Registry("provider")
PROVIDERS.lazy("local", "harness.providers.local")
PROVIDERS.lazy("openai", "harness.providers.openai")
PROVIDERS.lazy("scripted", "harness.providers.scripted")


def provider(name: str):
    """Register a provider class: ``@provider("my_api")``."""

    def deco(cls: type[Provider]) -> type[Provider]:
        cls.name = name
        return PROVIDERS.register(name)(cls)

    return deco


def build_provider(spec: ModelSpec) -> Provider:
    return PROVIDERS.get(spec.provider)(spec)
