"""The model-provider extension point: one small interface, found through a registry.

A provider turns chat requests into responses. API providers implement :meth:`Provider.complete`
for one request and the runner keeps ``concurrency`` of them in flight; in-process providers
implement :meth:`Provider.generate_batch` and the runner feeds them batches.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.errors import HarnessError
from harness.registry import Registry
from harness.suite.schema import GenerationSettings


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
    max_retries: int = Field(5, ge=0, le=20, description="Retries on 429, 5xx, timeouts and malformed replies.")
    retry_base_s: float = Field(0.5, gt=0, le=60, description="First retry's backoff ceiling; doubles each retry "
                                                              "(full jitter) unless the server sends Retry-After.")
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

            data = yaml.safe_load(p.read_text()) or {}
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


@dataclass(frozen=True)
class Request:
    """One chat request; ``example_id`` is for scripted providers and logs, not the cache key."""

    messages: tuple[tuple[str, str], ...]
    settings: GenerationSettings
    example_id: str = ""

    def chat(self) -> list[dict[str, str]]:
        return [{"role": r, "content": c} for r, c in self.messages]

    def cache_payload(self) -> dict[str, Any]:
        return {"messages": self.messages, "settings": self.settings.model_dump(mode="json")}


@dataclass
class Response:
    text: str | None
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_s: float | None = None
    finish_reason: str | None = None
    logprobs: list[dict[str, Any]] | None = None  # per generated token: {token, logprob, top: [{token, logprob}]}
    error: str | None = None  # set when every attempt failed; such responses are never cached
    attempts: int = 1
    model: str | None = None  # the model id the API reported (a dated snapshot for an alias), where it says
    system_fingerprint: str | None = None  # the backend configuration the API reported, where it says

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Response:
        return cls(**d)


class Provider:
    """Base class. Subclass and register with ``@provider("name")``."""

    name: ClassVar[str] = ""

    def __init__(self, spec: ModelSpec):
        self.spec = spec

    def fingerprint(self) -> dict[str, Any]:
        """What identifies this model's behaviour; part of every cache key. Never includes keys."""
        return {"provider": self.spec.provider, "name": self.spec.name}

    # Implement one of the two:
    async def complete(self, request: Request) -> Response:
        raise NotImplementedError

    def generate_batch(self, requests: Sequence[Request]) -> list[Response]:
        raise NotImplementedError

    @property
    def batched(self) -> bool:
        return type(self).generate_batch is not Provider.generate_batch

    async def stream(self, requests: Sequence[Request]) -> AsyncIterator[tuple[int, Response]]:
        """Yield (index, response) as each finishes."""
        if self.batched:
            size = self.spec.batch_size
            for start in range(0, len(requests), size):
                chunk = requests[start : start + size]
                t0 = time.perf_counter()
                outs = await asyncio.to_thread(self.generate_batch, chunk)
                per = (time.perf_counter() - t0) / max(1, len(chunk))
                for i, r in enumerate(outs):
                    if r.latency_s is None:
                        r.latency_s = per
                    yield start + i, r
            return
        sem = asyncio.Semaphore(self.spec.concurrency)

        async def one(i: int, req: Request) -> tuple[int, Response]:
            async with sem:
                return i, await self.complete(req)

        tasks = [asyncio.create_task(one(i, r)) for i, r in enumerate(requests)]
        try:
            for fut in asyncio.as_completed(tasks):
                yield await fut
        finally:
            for t in tasks:
                t.cancel()

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


def hash_path(path: str | Path) -> str:
    """sha256 over a file, or over a folder's files (relative names and bytes), sorted."""
    p = Path(path)
    h = hashlib.sha256()
    files = [p] if p.is_file() else sorted(q for q in p.rglob("*") if q.is_file())
    for f in files:
        h.update(str(f.relative_to(p) if p.is_dir() else f.name).encode())
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
