"""The records that flow through a run: an example, the request made for it, the response,
what a metric sees of it (Item), and a score that could not be computed (Failure)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from harness.core.settings import GenerationSettings
from harness.core.trust import TrustPolicy


@dataclass
class Example:
    id: str
    record: dict[str, Any]
    line: int
    input: str | None = None
    reference: Any = None
    category: str | None = None
    messages: list[dict[str, str]] = field(default_factory=list)  # chat format: the prompt turns


@dataclass(frozen=True)
class LoglikQuery:
    """What a log-likelihood request scores (lm-evaluation-harness's ``loglikelihood`` and
    ``loglikelihood_rolling`` requests). ``kind`` is "multiple_choice": the log-probability of each
    continuation after ``context`` (the context's forward is shared by its continuations); or
    "rolling": of the whole ``text`` (``context`` empty, no continuations), in windows of the
    model's length. ``chat_template``: the context is wrapped in the model's chat template (one user
    turn, the reply starting where the continuation is) instead of sent as plain text."""

    kind: str
    context: str = ""
    continuations: tuple[str, ...] = ()
    text: str = ""
    chat_template: bool = False

    def key(self) -> dict[str, Any]:
        return {"kind": self.kind, "context": self.context, "continuations": list(self.continuations),
                "text": self.text, "chat_template": self.chat_template}


@dataclass(frozen=True)
class Request:
    """One request; ``example_id`` is for scripted providers and logs, not the cache key.

    A chat request has ``messages``. A plain-text one (``prompt.text`` in the suite) has ``prompt``
    too: the text sent as is, without a chat template (a completions endpoint); its ``messages``
    hold it as one user turn for reports and for providers without a plain-text form. A
    log-likelihood request has ``loglik`` (:class:`LoglikQuery`) and generates nothing."""

    messages: tuple[tuple[str, str], ...]
    settings: GenerationSettings
    example_id: str = ""
    repeat: int | None = None  # which of the suite's generation.repeats (None: the suite asks for one)
    prompt: str | None = None  # a plain-text prompt (no chat template)
    loglik: LoglikQuery | None = None

    @property
    def kind(self) -> str:
        """generate | multiple_choice | rolling: what the provider is asked to do."""
        return self.loglik.kind if self.loglik is not None else "generate"

    def chat(self) -> list[dict[str, str]]:
        return [{"role": r, "content": c} for r, c in self.messages]


@dataclass
class Response:
    text: str | None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_tokens: int | None = None  # input tokens served from the provider's prompt cache, where it says
    latency_s: float | None = None
    finish_reason: str | None = None
    logprobs: list[dict[str, Any]] | None = None  # per generated token: {token, logprob, top: [{token, logprob}]}
    error: str | None = None  # set when every attempt failed; such responses are never cached
    attempts: int = 1
    model: str | None = None  # the model id the API reported (a dated snapshot for an alias), where it says
    system_fingerprint: str | None = None  # the backend configuration the API reported, where it says
    # A log-likelihood request's answer: one entry per continuation (multiple_choice) or one for the
    # text (rolling): {logprob: summed, is_greedy, tokens, bytes} (rolling: also words).
    loglik: list[dict[str, Any]] | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Response:
        return cls(**d)


@dataclass(frozen=True)
class Failure:
    """A score that could not be computed, and why."""

    reason: str


@dataclass
class Item:
    """What a metric sees of one example after generation."""

    id: str
    output: str | None
    reference: Any
    input: str | None = None
    category: str | None = None
    record: dict[str, Any] = field(default_factory=dict)
    messages: list[dict[str, str]] = field(default_factory=list)
    logprobs: list[dict[str, Any]] | None = None
    error: str | None = None  # the generation failed; output is None
    finish_reason: str | None = None  # the provider's: "stop", "length" (cut at max_tokens), ...
    loglik: list[dict[str, Any]] | None = None  # a log-likelihood request's per-continuation figures (Response.loglik)
    target: int | None = None  # multiple_choice: the index of the right choice
    choices: list[str] | None = None  # multiple_choice: the choices as written (without the target delimiter)


ScoreValue = float | Failure


@dataclass
class RunContext:
    """What a metric may need from the run beyond the examples (a judge needs the engine)."""

    cache_path: Any = None  # pathlib.Path of the SQLite response cache (used when there is no engine)
    reports_dir: Any = None
    progress: bool = False
    suite_path: Any = None
    engine: Any = None  # the run's harness.engine.Engine: judges generate through it (core imports nothing of ours)
    generation: GenerationSettings | None = None  # the suite's generation settings (a pairwise baseline model uses them)
    suite: Any = None  # the loaded suite (harness.suite.load.LoadedSuite): metrics read it here, never reload the YAML
    trust: TrustPolicy | None = None  # the run's key hosts and data root (None: the environment's)
