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
from typing import Any, ClassVar, Protocol
from urllib.parse import parse_qsl

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidationError,
    model_serializer,
    model_validator,
)

from harness.core.errors import HarnessError
from harness.core.executor import ExecutorSpec
from harness.core.redact import redacted, strip_userinfo
from harness.core.registry import Registry
from harness.core.trust import TrustPolicy
from harness.core.types import Request, Response
from harness.providers.retry import Fault


class ProviderParams(BaseModel):
    """A provider's own keys (base class): strict, so a misspelt key is an error, not ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# The keys every provider shares: the model's identity and the engine's scheduling and retry
# policy (harness.engine, harness.providers.retry), which read them for any provider, built-in or a
# plugin. Everything else belongs to one provider and lives in its ``Params``.
COMMON_KEYS = ("provider", "name", "label", "concurrency", "batch_size", "timeout_s", "max_retries", "retry_base_s",
               "max_connection_errors", "executor")


class ModelSpec(BaseModel):
    """Which model to run and how: the common keys here, the provider's own in ``params`` (its
    ``Params`` model). Written as ``PROVIDER[:NAME][?key=value&...]``, a YAML file, or a mapping
    ``{provider: openai, name: gpt-4o-mini, base_url: ...}``; the flat form is split by
    :meth:`from_mapping` and dumped flat again (records keep one shape)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: str = Field(..., description="A registered provider: local, openai, scripted, or your own.")
    name: str = Field("", description="Model id or path; empty means the provider's default.")
    label: str | None = Field(None, description="A short name for reports.")
    concurrency: int = Field(16, ge=1, le=1024, description="Requests in flight at once (API providers).")
    batch_size: int = Field(8, ge=1, le=512, description="Examples per forward pass (in-process providers).")
    timeout_s: float = Field(60.0, gt=0, description="Per-request timeout.")
    max_retries: int = Field(5, ge=0, le=20, description="Retries on 408/409/429, 5xx, timeouts, connection errors "
                                                          "and malformed replies.")
    retry_base_s: float = Field(0.5, gt=0, le=60, description="First retry's backoff; doubles each retry up to 8 s, less "
                                                              "0-25% jitter, unless the server sends Retry-After.")
    max_connection_errors: int = Field(20, ge=0, description="Circuit breaker: after this many consecutive connection "
                                                             "errors the endpoint is down and the rest is not sent; 0: never.")
    executor: ExecutorSpec | None = Field(None, description="Where requests are generated: none or inprocess (this "
                                                            "process), or ray (a pool of Ray actors; "
                                                            "harness.distributed). Never part of a cache key.")
    params: SerializeAsAny[ProviderParams] = Field(default_factory=ProviderParams,
                                                   description="The provider's own keys, validated by its Params model.")

    @model_validator(mode="before")
    @classmethod
    def _split(cls, data: Any) -> Any:
        """Flat keys (``base_url=...``) go to ``params``, validated by the provider's ``Params``."""
        if not isinstance(data, dict) or not isinstance(data.get("provider"), str):
            return data
        own = {k: v for k, v in data.items() if k not in COMMON_KEYS and k != "params"}
        given = data.get("params")
        if isinstance(given, ProviderParams):
            given = given.model_dump(exclude_unset=True)
        merged = {**(given or {}), **own}
        Params = PROVIDERS.get(data["provider"]).Params
        return {**{k: v for k, v in data.items() if k in COMMON_KEYS}, "params": Params.model_validate(merged)}

    @model_serializer(mode="wrap")
    def _flat(self, handler: Any) -> dict[str, Any]:
        out = handler(self)
        if out.get("executor", 0) is None:  # specs without one (every record before it existed) keep their shape
            del out["executor"]
        out.update(out.pop("params", None) or {})
        return out

    def given(self) -> set[str]:
        """Keys written explicitly, common and provider's alike."""
        return (self.model_fields_set - {"params"}) | self.params.model_fields_set

    @classmethod
    def from_mapping(cls, data: dict[str, Any], where: str) -> ModelSpec:
        """A spec from flat keys; errors name ``where`` (the model string or file) and the key."""
        if "model" in data:
            raise HarnessError(f"model {where}: model: write the model id as `name:` (the key of model files "
                               f"and of recorded specs), e.g. {{provider: openai, name: gpt-4o-mini}}")
        if not isinstance(data.get("provider"), str) or not data["provider"]:
            raise HarnessError(f"model {where}: provider: required (local, openai, scripted, ...)")
        Params = PROVIDERS.get(data["provider"]).Params  # unknown provider -> "Did you mean ..."
        errors: list[Any] = []
        params: ProviderParams = ProviderParams()
        try:
            params = Params.model_validate({k: v for k, v in data.items() if k not in COMMON_KEYS})
        except ValidationError as e:
            errors += e.errors()
        try:
            spec = cls.model_validate({**{k: v for k, v in data.items() if k in COMMON_KEYS}, "params": params})
        except ValidationError as e:
            errors = e.errors() + errors
        if errors:
            raise HarnessError("\n".join(_error_line(where, err, Params) for err in errors)) from None
        return spec

    @classmethod
    def parse(cls, text: str | dict[str, Any], **overrides: Any) -> ModelSpec:
        """Parse ``local``, ``local:smollm2?adapter=out/adapter``, ``openai:ft:gpt-4o-mini:org::id``,
        the path of a YAML file holding the same keys, or such a mapping itself."""
        data: dict[str, Any]
        if isinstance(text, dict):
            data, where = dict(text), repr(redacted(dict(text)))
        elif text.endswith((".yaml", ".yml")) and Path(text).is_file():
            data, where = _read_yaml(text), f"file {text}"
        else:
            head, _, query = text.partition("?")
            provider, _, name = head.partition(":")
            data, where = {"provider": provider, "name": name}, repr(strip_userinfo(text))
            try:
                pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
            except ValueError as e:  # an empty field (``?a=1&``, ``?&``) or one without ``=``
                raise HarnessError(f"model {where}: query: {e}; write KEY=VALUE pairs joined by & "
                                   "(no empty field, no trailing &)") from None
            for k, v in pairs:
                data[k] = v
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_mapping(data, where)

    def display(self) -> str:
        if self.label:
            return self.label
        s = f"{self.provider}:{self.name}" if self.name else self.provider
        adapter = getattr(self.params, "adapter", None)
        return s + (f"+{Path(adapter).name}" if adapter else "")


def _read_yaml(text: str) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(Path(text).read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError as e:
        raise HarnessError(f"{text}: not UTF-8 ({e.reason} at byte {e.start}); save the file as UTF-8") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{text}:{mark.line + 1}" if mark is not None else text
        raise HarnessError(f"{where}: invalid YAML: {getattr(e, 'problem', None) or e}") from None
    if not isinstance(data, dict):
        raise HarnessError(f"{text}: expected a mapping of model settings")
    return data


def _error_line(where: str, err: Any, Params: type[ProviderParams]) -> str:
    field = ".".join(str(p) for p in err["loc"]) or "spec"
    if err["type"] == "extra_forbidden" and err["loc"][:1] == ("executor",):
        return f"model {where}: {field}: unknown key; allowed: {', '.join(ExecutorSpec.model_fields)}"
    if err["type"] == "extra_forbidden":
        allowed = ", ".join([*COMMON_KEYS, *Params.model_fields])
        return f"model {where}: {field}: unknown key; allowed: {allowed}"
    return f"model {where}: {field}: {err['msg'].removeprefix('Value error, ')}"


class BatchApi(Protocol):
    """The declared Batch API capability (:meth:`Provider.batch_api`): what the engine's batch path
    (:mod:`harness.engine.batching`) needs of a provider."""

    spec: ModelSpec

    @property
    def batch_poll_s(self) -> float:
        """First polling interval of a batch, in seconds."""
        ...

    def body(self, request: Request) -> dict[str, Any]:
        """One request's body, as the synchronous path posts it (a batch line's ``body``)."""
        ...

    def client(self) -> Any:
        """An AsyncOpenAI-compatible client (``files``, ``batches``) for this endpoint, key included."""
        ...

    def classify(self, error: Exception) -> Fault: ...


class Provider:
    """Base class. Subclass and register with ``@provider("name")``."""

    name: ClassVar[str] = ""
    Params: ClassVar[type[ProviderParams]] = ProviderParams  # the provider's own keys; override
    # Declared, not guessed: a provider that sends an API key is built with the run's trust policy
    # (``cls(spec, trust=...)``, see :func:`build_provider`) and applies it (harness.providers.keys).
    sends_key: ClassVar[bool] = False
    # What the provider can be asked (Request.kind, plus "text": a plain-text prompt without chat
    # template); a suite needing another kind is refused before any request (:func:`check_kinds`).
    kinds: ClassVar[frozenset[str]] = frozenset({"generate"})

    def __init__(self, spec: ModelSpec):
        self.spec = spec
        self.params = spec.params  # an instance of this provider's Params (ModelSpec validated it)

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
        """In-process generation of a batch, in order (run in the engine's inference thread)."""
        raise NotImplementedError

    default_batch_size: ClassVar[int | None] = None  # a provider's own default for spec.batch_size

    @property
    def batch_size(self) -> int:
        """Examples per ``generate_batch`` call: the spec's ``batch_size`` when given, else the
        provider's own default (``default_batch_size``), else the spec's default."""
        if "batch_size" in self.spec.model_fields_set or self.default_batch_size is None:
            return self.spec.batch_size
        return self.default_batch_size

    def batch_order(self, requests: Sequence[Request]) -> list[int]:
        """The order in which a batched provider wants ``requests`` cut into batches (indices into
        ``requests``); responses still go back to their own request. Default: as given."""
        return list(range(len(requests)))

    def classify(self, error: Exception) -> Fault:
        """What a failed :meth:`complete` means: retry or not, after how long. Default: not retried."""
        return Fault(" ".join(f"{type(error).__name__}: {error}".split())[:300], retry=False)

    @property
    def batched(self) -> bool:
        return type(self).generate_batch is not Provider.generate_batch

    def batch_api(self) -> BatchApi | None:
        """The Batch API capability, declared: the provider itself when its spec asks for the Batch
        API and it has one; None (the default) sends requests one by one."""
        return None

    async def aclose(self) -> None:
        """Release connections or memory."""


PROVIDERS: Registry[type[Provider]] = Registry("provider")
PROVIDERS.lazy("local", "harness.providers.local")
PROVIDERS.lazy("openai", "harness.providers.openai")
PROVIDERS.lazy("scripted", "harness.providers.scripted")
PROVIDERS.lazy("vllm", "harness.providers.vllm")


def provider(name: str):
    """Register a provider class: ``@provider("my_api")``."""

    def deco(cls: type[Provider]) -> type[Provider]:
        cls.name = name
        return PROVIDERS.register(name)(cls)

    return deco


KIND_WORDS = {"text": "plain-text prompts (prompt.text, sent without a chat template)",
              "multiple_choice": "multiple_choice log-likelihood scoring (acc, acc_norm)",
              "rolling": "rolling log-likelihood scoring (word_perplexity, byte_perplexity, bits_per_byte)"}


def check_kinds(provider: Provider, requests: Sequence[Request]) -> None:
    """Refuse, in one line, requests of a kind the provider cannot serve (a chat-only provider asked
    for log-likelihood), naming the generation-based alternative."""
    from harness.core.errors import CannotScore

    needed = {"text" if r.prompt is not None and r.loglik is None else r.kind for r in requests}
    missing = sorted(needed - provider.kinds - {"generate"})
    if missing:
        raise CannotScore(f"model {provider.spec.display()} (provider {provider.spec.provider}) cannot do "
                          f"{'; '.join(KIND_WORDS.get(k, k) for k in missing)}: it only generates from chat messages; "
                          "score by generation instead (prompt for the answer's letter and use the `choice` metric) "
                          "or use the local provider or an OpenAI-compatible completions server (openai:NAME?base_url=...)")


def build_provider(spec: ModelSpec, trust: TrustPolicy | None = None) -> Provider:
    """The provider for ``spec``; one that sends a key (``sends_key``) gets ``trust`` (None: the
    environment's, :meth:`TrustPolicy.from_env`)."""
    cls = PROVIDERS.get(spec.provider)
    return cls(spec, trust=trust) if cls.sends_key else cls(spec)  # type: ignore[call-arg]
