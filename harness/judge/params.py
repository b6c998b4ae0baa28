"""Parameters shared by the judge metrics, and what they resolve to (rubric, settings)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from harness.core.settings import GenerationSettings
from harness.core.types import Request
from harness.judge.rubric import BUILTIN, Rubric

ScaleParam = Literal["pass_fail"] | Annotated[int, Field(ge=2, le=10)]


# A model as a suite writes it: a string (``openai:NAME?base_url=...``, a model YAML file) or a
# mapping of the same keys (``{provider: openai, name: gpt-4o-mini, base_url: ...}``).
ModelRef = str | dict[str, Any]


def suite_model_spec(ref: ModelRef, trusted: bool = False) -> Any:
    """Parse a model spec written in a suite (a judge, a pairwise baseline): a ValueError names what is wrong.

    A suite may not choose which environment variable holds the API key: a pull request can
    change suites, and reading ``api_key_env=AWS_SECRET_ACCESS_KEY`` would hand that secret to
    whatever server the suite names. The key variable comes from the command line (``--judge``,
    ``trusted``) or the provider's default; which hosts receive it is the user's allow-list."""
    from harness.core.errors import HarnessError
    from harness.providers.base import ModelSpec

    try:
        spec = ModelSpec.parse(ref)
    except HarnessError as e:
        raise ValueError(str(e)) from None
    if not trusted and "api_key_env" in spec.given():
        raise ValueError(f"a suite cannot choose the API key's environment variable "
                         f"(api_key_env={spec.params.api_key_env}); drop api_key_env here and give the judge with "
                         "its key on the command line (--judge 'openai:NAME?api_key_env=VAR')")
    return spec


def model_text(ref: ModelRef) -> str:
    """A model reference as one line for messages and reports."""
    if isinstance(ref, str):
        return ref
    from harness.providers.base import ModelSpec

    return ModelSpec.parse(ref).display()


class JudgeParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    judge: ModelRef = Field(..., description="The judge model, as for --model: local, openai:gpt-4o-mini, "
                                             "'openai:NAME?base_url=...', or a mapping {provider: openai, name: ..., "
                                             "base_url: ...}. No default: the judge is always named.")
    rubric: str | None = Field(None, description=f"A built-in rubric: {', '.join(BUILTIN)}.")
    criteria: str | None = Field(None, description="Or: your own rubric's criteria text.")
    levels: dict[int, str] | None = Field(None, description="With criteria: what each grade means, {1: ..., 5: ...}.")
    scale: ScaleParam | None = Field(None, description="pass_fail, or N for grades 1..N (2-10). Default: the "
                                                       "built-in rubric's scale, or 5 with criteria.")
    samples: int = Field(1, ge=1, le=20, description="Judge each answer this many times (needs temperature > 0); "
                                                     "the score is their mean and agreement across them is reported.")
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="Judge sampling temperature.")
    seed: int = Field(0, description="Seed of the first sample; sample i uses seed + i.")
    max_tokens: int = Field(160, ge=8, le=4096, description="Longest judge reply.")
    use_logprobs: bool = Field(True, description="Read the grade from token probabilities where the judge's "
                                                 "provider returns them; else parse the verdict.")
    top_logprobs: int = Field(10, ge=1, le=20, description="Alternatives per token asked of the provider.")
    prefill: bool | None = Field(None, description="Start the judge's reply with the verdict's grade key "
                                 "('{\"score\": ') and read the grade from the next token's probabilities: one token per "
                                 "answer, no reason text. Default: on for in-process judges (local, vllm; small models rarely write a valid "
                                 "JSON verdict unaided), off for API judges (OpenAI's chat API does not continue a reply).")
    include_request: bool = Field(True, description="Show the judge the prompt the answer responds to.")
    include_reference: bool = Field(True, description="Show the judge the example's reference answer, if any.")
    min_kappa: float = Field(0.6, ge=-1.0, le=1.0, description="Calibration agreement (Cohen's kappa, "
                                 "quadratic-weighted for scales) under which gates on this score only advise.")

    @field_validator("judge")
    @classmethod
    def _judge_parses(cls, v: ModelRef, info: ValidationInfo) -> ModelRef:
        suite_model_spec(v, trusted=bool(info.context and info.context.get("command_line")))
        return v

    @model_validator(mode="after")
    def _consistent(self) -> JudgeParams:
        if (self.rubric is None) == (self.criteria is None):
            raise ValueError("give exactly one of `rubric` (a built-in name) or `criteria` (your own text)")
        if self.rubric is not None:
            if self.rubric not in BUILTIN:
                raise ValueError(f"unknown rubric {self.rubric!r}; built-in rubrics: {', '.join(BUILTIN)}")
            if self.levels is not None:
                raise ValueError("`levels` only applies with `criteria`")
            built = BUILTIN[self.rubric].scale
            if self.scale is not None and self.scale != built:
                raise ValueError(f"rubric {self.rubric!r} grades on scale {built!r}; drop `scale` or write your own `criteria`")
        scale = self.resolved_scale()
        if self.levels and (scale == "pass_fail" or any(k < 1 or k > int(scale) for k in self.levels)):
            raise ValueError(f"`levels` keys must be grades from 1 to the scale ({scale})")
        if self.samples > 1 and self.temperature == 0:
            raise ValueError("samples > 1 needs temperature > 0: repeats of a greedy judge are identical")
        return self

    def resolved_scale(self) -> Literal["pass_fail"] | int:
        if self.scale is not None:
            return self.scale
        return BUILTIN[self.rubric].scale if self.rubric else 5

    def build_rubric(self) -> Rubric:
        if self.rubric is not None:
            return BUILTIN[self.rubric]
        return Rubric("custom", self.criteria or "", self.resolved_scale(), dict(self.levels or {}))

    def use_prefill(self, provider: str) -> bool:
        return self.prefill if self.prefill is not None else provider in ("local", "vllm")

    def settings(self, sample: int) -> GenerationSettings:
        return GenerationSettings(max_tokens=self.max_tokens, temperature=self.temperature, seed=self.seed + sample,
                                  logprobs=self.use_logprobs, top_logprobs=self.top_logprobs if self.use_logprobs else 0)

    def requests(self, messages: tuple[tuple[str, str], ...], id_prefix: str, prefill: str | None) -> list[Request]:
        """One judge request per sample (ids ``<id_prefix><sample>``). With ``prefill`` the reply is
        started for the judge and it writes one token, the grade, with its alternatives' probabilities."""
        if prefill is None:
            return [Request(messages, self.settings(s), f"{id_prefix}{s}") for s in range(self.samples)]
        one_token = {"max_tokens": 1, "stop": [], "logprobs": True, "top_logprobs": max(self.top_logprobs, 10)}
        return [Request((*messages, ("assistant", prefill)), self.settings(s).model_copy(update=one_token), f"{id_prefix}{s}")
                for s in range(self.samples)]
