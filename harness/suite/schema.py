"""The suite file's schema. One source of truth: the JSON Schema is generated from it.

Every model forbids unknown keys so a typo ("max_token") is an error, not a silent default.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator, model_serializer, model_validator

from harness.core.settings import GenerationSettings

TEMPLATE_VAR = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
TEMPLATE_ANY = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)


def template_problems(text: str) -> list[str]:
    """Template syntax other than ``{{ column }}`` (filters, attributes, expressions, tags): it would be
    sent to the model literally, so it is an error rather than a silent surprise."""
    return [f"unsupported template syntax {m.group(0)!r}: templates only substitute a column, written "
            "{{ column }} (no filters, attributes, expressions or tags); transform the data instead"
            for m in TEMPLATE_ANY.finditer(text) if not TEMPLATE_VAR.fullmatch(m.group(0))]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldMap(Strict):
    """Which dataset column plays which role. Columns not named here stay available to templates."""

    id: str | None = Field(None, description="Column with a stable example id. Without it the id is a hash of the record.")
    input: str | None = Field(None, description="Column shown as the example's input in reports (chat format: the last user message).")
    reference: str | None = Field(None, description="Column holding the reference answer (chat format: the last assistant message).")
    category: str | None = Field(None, description="Column used for per-category breakdowns and gates.")


class InlineExample(Strict):
    """One example written in the suite itself (``dataset.examples``): its roles are its keys."""

    id: str | int | None = Field(None, description="A stable id (give every example one, or none: then it is a hash of the example).")
    input: str = Field(..., description="The input; templates use it as {{ input }}.")
    reference: Any = Field(None, description="The reference answer (a string, or what the metric expects).")
    category: str | None = Field(None, description="A category for per-category breakdowns and gates.")
    vars: dict[str, Any] = Field(default_factory=dict, description="More columns for the prompt template ({{ name }}).")

    @field_validator("vars")
    @classmethod
    def _no_role_names(cls, v: dict[str, Any]) -> dict[str, Any]:
        taken = sorted(set(v) & set(INLINE_ROLES))
        if taken:
            raise ValueError(f"{', '.join(taken)}: a role of the example; write it next to `vars`, not inside it")
        return v

    @model_serializer(mode="wrap")
    def _omit_unset(self, handler: Any) -> dict[str, Any]:
        return {k: v for k, v in handler(self).items() if v is not None and v != {}}

    def record(self) -> dict[str, Any]:
        """The example as a dataset row: its roles and vars, as a JSONL line of it would read."""
        out: dict[str, Any] = {k: getattr(self, k) for k in INLINE_ROLES if getattr(self, k) is not None}
        if "id" in out:
            out["id"] = str(out["id"])
        return {**out, **self.vars}


INLINE_ROLES = ("id", "input", "reference", "category")


def _implied_fields(examples: Any) -> dict[str, str] | None:
    """The role map inline examples imply: input, and each other role that some example has."""
    groups = examples.values() if isinstance(examples, dict) else [examples]
    rows = [e for g in groups if isinstance(g, list) for e in g if isinstance(e, dict)]
    return {r: r for r in INLINE_ROLES if r == "input" or any(e.get(r) is not None for e in rows)}


# A list, or split name -> list; tagged so an error names the example (not the union's members).
INLINE_TAGS = ("list-of-examples", "split-to-examples")
InlineExamples = Annotated[
    Annotated[list[InlineExample], Tag(INLINE_TAGS[0])] | Annotated[dict[str, list[InlineExample]], Tag(INLINE_TAGS[1])],
    Discriminator(lambda v: INLINE_TAGS[1] if isinstance(v, dict) else INLINE_TAGS[0]),
]


class DatasetSpec(Strict):
    """Where the examples are and how to read them: split files, or a few examples written inline."""

    path: str = Field(".", description="Folder (relative to the suite file) that the split files are in.")
    format: Literal["jsonl", "csv", "chat", "parquet", "hf"] = Field(
        "jsonl", description="jsonl: one JSON object a line; csv: a header row; chat: OpenAI chat fine-tuning JSONL."
    )
    splits: dict[str, str] = Field(
        default_factory=dict, description="Split name -> file, relative to `path`, e.g. {train: train.jsonl, test: test.jsonl}. "
                                          "Give `splits` or `examples`."
    )
    examples: InlineExamples | None = Field(
        None, description="Examples written here instead of in files: a list (the `test` split) or split name -> list, "
                          "each {id, input, reference, category, vars}. Give `splits` or `examples`.")
    fields: FieldMap = Field(default_factory=FieldMap, description="Column -> role mapping (implied by inline examples).")

    @model_validator(mode="before")
    @classmethod
    def _inline_roles(cls, data: Any) -> Any:
        # Inline examples name their roles by their keys: the role map is implied (and must not say otherwise).
        if not isinstance(data, dict) or data.get("examples") is None:
            return data
        implied = _implied_fields(data["examples"])
        given = data.get("fields")
        if given is not None and given != implied:
            raise ValueError("inline examples name their roles by their keys (id, input, reference, category): "
                             "remove dataset.fields")
        return {**data, "fields": implied}

    @model_validator(mode="after")
    def _one_source(self) -> DatasetSpec:
        if bool(self.splits) == (self.examples is not None):
            raise ValueError("give either `splits` (split name -> file) or `examples` (a list written here), not both or neither")
        if self.examples is not None:
            if self.format != "jsonl":
                raise ValueError("`format` applies to split files; inline examples have none (remove it)")
            for name, rows in self.inline_splits().items():
                if not rows:
                    raise ValueError(f"examples{'' if isinstance(self.examples, list) else '.' + name}: no examples; give at least one")
        return self

    @model_serializer(mode="wrap")
    def _omit_unused(self, handler: Any) -> dict[str, Any]:
        # Absent, `examples` stays out of the dump: a suite of split files keeps its sha256.
        out = handler(self)
        if out.get("examples", 0) is None:
            del out["examples"]
        elif self.examples is not None:
            out.pop("splits", None)
        return out

    def inline_splits(self) -> dict[str, list[InlineExample]]:
        """Split name -> inline examples (a bare list is the `test` split); empty for split files."""
        if self.examples is None:
            return {}
        return {"test": self.examples} if isinstance(self.examples, list) else dict(self.examples)

    def split_names(self) -> list[str]:
        """The suite's splits, from files or inline."""
        return list(self.splits) if self.examples is None else list(self.inline_splits())


class Message(Strict):
    role: Literal["system", "user", "assistant"]
    content: str = Field(..., description="Text; `{{ column }}` is replaced by the example's value.")


class PromptSpec(Strict):
    """What is sent for each example: chat messages from a template, the dataset's own messages, or a
    plain-text prompt (no chat template: the local model reads it as is, an OpenAI-compatible server
    gets it on /v1/completions), as lm-evaluation-harness prompts base-model benchmarks."""

    messages: list[Message] | None = Field(None, min_length=1, description="Chat template messages.")
    from_dataset: bool = Field(
        False, description="Send the example's own messages (chat format), up to its last assistant message."
    )
    system: str | None = Field(None, description="With from_dataset: replace (or add) the system message.")
    text: str | None = Field(None, description="A plain-text prompt, e.g. \"Question: {{ question }}\\nAnswer:\"; "
                                               "sent without a chat template.")

    @model_validator(mode="after")
    def _one_source(self) -> PromptSpec:
        given = [k for k, v in (("messages", self.messages is not None), ("from_dataset", self.from_dataset),
                                ("text", self.text is not None)) if v]
        if len(given) != 1:
            raise ValueError("give one of `messages` (a chat template), `from_dataset: true` or `text` (a plain-text "
                             "prompt)" + (f", not {' and '.join(given)}" if given else ""))
        if self.system is not None and not self.from_dataset:
            raise ValueError("`system` only applies with `from_dataset: true`; put the system message in `messages`")
        return self

    @model_serializer(mode="wrap")
    def _omit_text(self, handler: Any) -> dict[str, Any]:
        out = handler(self)  # absent unless given: the sha256 of every suite without it is unchanged
        if out.get("text", 0) is None:
            del out["text"]
        return out

    def variables(self) -> set[str]:
        found: set[str] = set(TEMPLATE_VAR.findall(self.text or ""))
        for m in self.messages or []:
            found.update(TEMPLATE_VAR.findall(m.content))
        return found


ScoringType = Literal["generate", "multiple_choice", "loglikelihood_rolling"]


class ScoringSpec(Strict):
    """How an example is scored: by generating (the default), or by log-likelihood as
    lm-evaluation-harness defines it. ``multiple_choice``: the summed log-probability of each choice
    written after the context (metrics acc, acc_norm); ``loglikelihood_rolling``: of a whole text
    (metrics word_perplexity, byte_perplexity, bits_per_byte)."""

    type: ScoringType = Field("generate", description="generate | multiple_choice | loglikelihood_rolling.")
    context: str | None = Field(None, description="multiple_choice: the text the choices continue, a template, e.g. "
                                                  "\"Question: {{ question }}\\nAnswer:\".")
    choices: str | list[str] | None = Field(None, description="multiple_choice: a column holding a list of strings, "
                                                              "or a list of templates (one per choice), e.g. "
                                                              "[\"{{ A }}\", \"{{ B }}\"].")
    target: str | None = Field(None, description="multiple_choice: the column holding the right choice's index (0-based) "
                                                 "or its text. generate with fewshot: the column of the shots' answers "
                                                 "(default dataset.fields.reference).")
    target_delimiter: str = Field(" ", description="Written between the context and a choice (lm-eval's default: one space).")
    chat_template: bool = Field(False, description="multiple_choice: wrap the context in the model's chat template "
                                                   "(default: plain text, as lm-eval scores it).")
    text: str | None = Field(None, description="loglikelihood_rolling: the reference text, a template such as "
                                               "\"{{ text }}\".")

    @model_validator(mode="after")
    def _fields_of_type(self) -> ScoringSpec:
        need = {"multiple_choice": ("context", "choices", "target"), "loglikelihood_rolling": ("text",),
                "generate": ()}[self.type]
        missing = [k for k in need if getattr(self, k) is None]
        if missing:
            example = {"context": 'context: "Question: {{ question }}\\nAnswer:"', "choices": "choices: choices",
                       "target": "target: label", "text": 'text: "{{ text }}"'}
            raise ValueError(f"type {self.type} needs {', '.join(missing)}: e.g. "
                             + "; ".join(example[k] for k in missing))
        allowed = {"multiple_choice": {"context", "choices", "target", "chat_template"},
                   "loglikelihood_rolling": {"text"}, "generate": {"target"}}[self.type]
        extra = [k for k in ("context", "choices", "target", "text") if getattr(self, k) is not None and k not in allowed]
        if self.chat_template and "chat_template" not in allowed:
            extra.append("chat_template")
        if extra:
            raise ValueError(f"{', '.join(extra)} do not apply to type {self.type}; remove them"
                             + (" (generate's prompt is `prompt:`)" if self.type == "generate" else ""))
        return self

    def templates(self) -> list[tuple[tuple[str | int, ...], str]]:
        """(field path, template) of every template this block holds, for the loader's checks."""
        out: list[tuple[tuple[str | int, ...], str]] = []
        for k in ("context", "text"):
            if getattr(self, k) is not None:
                out.append(((k,), getattr(self, k)))
        if isinstance(self.choices, list):
            out += [(("choices", i), c) for i, c in enumerate(self.choices)]
        return out

    def variables(self) -> set[str]:
        found = {v for _, t in self.templates() for v in TEMPLATE_VAR.findall(t)}
        for col in (self.target, self.choices if isinstance(self.choices, str) else None):
            if col is not None:
                found.add(col)
        return found


class FewshotSpec(Strict):
    """Few-shot examples written before each example's prompt, lm-evaluation-harness's way: each shot
    is its context, the target delimiter and its right answer; shots are joined by ``delimiter`` and
    the block ends with one more ``delimiter``. The example itself is never its own shot."""

    split: str = Field(..., description="The split the shots come from (one of dataset.splits).")
    n: int = Field(..., ge=1, le=64, description="Shots per example.")
    sampler: Literal["first_n", "random"] = Field("first_n", description="first_n: the split's first n; random: "
                                                                         "seeded draws, as lm-eval's default sampler.")
    seed: int = Field(1234, description="random: the seed (lm-eval's default 1234).")
    delimiter: str = Field("\n\n", description="Between shots and after the last (lm-eval's fewshot_delimiter).")


class MetricEntry(BaseModel):
    """`name` picks a registered metric; every other key is that metric's parameter."""

    model_config = ConfigDict(extra="allow", frozen=True)
    name: str = Field(..., description="A registered metric (see `harness metrics`).")

    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


Reducer = Literal["mean", "majority", "all_pass", "any_pass"]


class SuiteGeneration(GenerationSettings):
    """Decoding settings, plus how many times each example is generated and how its scores are reduced.

    ``repeats`` and ``reducer`` are left out of the dump while they hold their defaults, so a suite
    without them keeps its sha256, and the requests (built from :meth:`request_settings`) keep their
    cache keys. See harness.evaluate.repeats for the reducers and the flakiness figure."""

    repeats: int = Field(1, ge=1, le=100, description="Generate each example this many times (seed + repeat for "
                                                         "each repeat when a seed is set); scores are reduced per example.")
    reducer: Reducer = Field("mean", description="How an example's repeats become its score: mean, majority (the most "
                                                 "common value), all_pass (the worst repeat), any_pass (the best repeat).")

    @model_serializer(mode="wrap")
    def _omit_defaults(self, handler: Any) -> dict[str, Any]:
        out = handler(self)
        if out.get("repeats") == 1:
            del out["repeats"]
        if out.get("reducer") == "mean":
            del out["reducer"]
        return out

    def request_settings(self) -> GenerationSettings:
        """The decoding settings alone: what a request (and its cache key) carries."""
        return GenerationSettings(**{k: getattr(self, k) for k in GenerationSettings.model_fields})


RuleName = Literal["min", "max", "non_inferiority_margin", "min_improvement", "max_regressions", "max_flaky_share"]
RULES = ("min", "max", "non_inferiority_margin", "min_improvement", "max_regressions", "max_flaky_share")


class Gate(Strict):
    """A promotion rule on one score. Exactly one rule key is given."""

    metric: str = Field(..., description="A score the suite's metrics produce, e.g. accuracy or rougeL.")
    name: str | None = Field(None, description="A label for reports; defaults to a description of the rule.")
    min: float | None = Field(None, description="The candidate's mean must be at least this.")
    max: float | None = Field(None, description="The candidate's mean must be at most this.")
    non_inferiority_margin: float | None = Field(
        None, ge=0, description="Lower bound of the paired difference's 95% CI must be above -margin."
    )
    min_improvement: float | None = Field(
        None, description="Lower bound of the paired difference's 95% CI must be at least this."
    )
    max_regressions: int | None = Field(None, ge=0, description="At most this many examples right before, wrong now.")
    max_flaky_share: float | None = Field(
        None, ge=0, le=1, description="At most this share of the candidate's examples may be flaky on the score (their "
                                      "repeats disagree; needs generation.repeats > 1).")
    regression_margin: float = Field(0.0, ge=0, description="A score drop beyond this counts as a regression.")
    category: str | None = Field(None, description="Apply to one category, or `each` for every category separately.")
    advisory: bool = Field(False, description="Report the verdict but never block promotion.")
    point_estimate: bool = Field(
        False, description="min / max only: judge the candidate's mean itself, not its 95% CI (promote or block, never "
                           "inconclusive).")

    @model_validator(mode="after")
    def _one_rule(self) -> Gate:
        rules = [r for r in RULES if getattr(self, r) is not None]
        if len(rules) != 1:
            raise ValueError(
                "give exactly one rule: min, max, non_inferiority_margin, min_improvement, max_regressions or max_flaky_share"
                + (f" (got {', '.join(rules)})" if rules else "")
            )
        if self.point_estimate and rules[0] not in ("min", "max"):
            raise ValueError(f"point_estimate applies to min and max only (this rule is {rules[0]})")
        return self

    @model_serializer(mode="wrap")
    def _omit_unset_flaky(self, handler: Any) -> dict[str, Any]:
        # Absent, the newer rule stays out of the dump: every suite's sha256 is what it was before it existed.
        out = handler(self)
        if out.get("max_flaky_share", 0) is None:
            del out["max_flaky_share"]
        if out.get("point_estimate") is False:  # likewise: absent unless a gate asks for it
            del out["point_estimate"]
        return out

    @property
    def rule(self) -> RuleName:
        for r in RULES:
            if getattr(self, r) is not None:
                return r  # type: ignore[return-value]
        raise AssertionError("validated")


class ReferenceModel(Strict):
    """A recorded model whose behaviour candidates are compared with (the `agreement` metrics)."""

    recording: str = Field(..., description="A recording folder made by `harness record`, relative to the suite file.")


class MlflowTracking(Strict):
    """How this suite's runs, gate decisions and iterate loops are logged when the person running the
    command turns tracking on (`--track mlflow`). A suite names the experiment only: it can neither
    turn tracking on nor choose the store, since MLFLOW_TRACKING_TOKEN goes wherever the store is."""

    tracking_uri: None = Field(None, description="Not allowed in a suite: the store comes from --tracking-uri or "
                                                 "$MLFLOW_TRACKING_URI (default sqlite:///<reports>/mlflow.db).")
    experiment: str | None = Field(None, description="Experiment name; default the suite's name.")

    @field_validator("tracking_uri", mode="before")
    @classmethod
    def _no_uri(cls, v: Any) -> None:
        if v is not None:
            raise ValueError("a suite may not choose the tracking store (MLFLOW_TRACKING_TOKEN would be sent to it); "
                             "remove it and run with --tracking-uri URI or $MLFLOW_TRACKING_URI")
        return None


class TrackingSpec(Strict):
    """Experiment trackers to log to. Not part of the suite's meaning: excluded from its sha256."""

    mlflow: MlflowTracking | None = None


class TrainingSpec(Strict):
    """How `harness iterate` fine-tunes for this suite (command-line flags override it)."""

    method: Literal["supervised", "dpo"] = Field(
        "supervised", description="supervised: learn the reference answers; dpo: the first iteration is supervised, "
                                  "later ones train DPO with the reference preferred over the candidate's wrong or "
                                  "regressed validation answers.")


class RetentionCheck(Strict):
    """What the base could do that the candidate must keep: another suite, run on both models, gated by
    non-inferiority in the same decision (harness.promote.retention)."""

    suite: str = Field(..., description="A retention suite file, relative to this suite's file, e.g. retention/arc_easy.yaml; "
                                        "it must stay inside the project.")
    non_inferiority_margin: float = Field(..., ge=0, description="The candidate may score at most this much below the "
                                                                 "base on the retention suite's score (the paired 95% CI decides).")
    metric: str | None = Field(None, description="The retention suite's score to compare; default its first gate's, else its first score.")
    split: str | None = Field(None, description="The retention suite's split to run; default its default_split.")
    advisory: bool = Field(False, description="Report the outcome but never block promotion.")


class Suite(Strict):
    """An evaluation suite: data, prompt, decoding, metrics and promotion gates."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="Letters, digits, _ . -")]
    version: int | str = Field(..., description="Bump when the suite's meaning changes; recorded in every run.")
    description: str = ""
    include: str | None = Field(None, description="Another suite file whose keys this one extends (merged deeply).")
    dataset: DatasetSpec
    prompt: PromptSpec
    generation: SuiteGeneration = Field(default_factory=SuiteGeneration)
    metrics: list[MetricEntry] = Field(..., min_length=1)
    gates: list[Gate] = Field(default_factory=list)
    default_split: str = Field("test", description="The split `harness run` evaluates unless --split says otherwise.")
    reference_model: ReferenceModel | None = Field(
        None, description="A recording of a model (e.g. one being retired) that the `agreement` metrics compare against.")
    # exclude=True: where results are logged does not change what the suite measures, so it stays
    # out of the suite's dump and sha256 (runs before and after adding it still compare).
    tracking: TrackingSpec | None = Field(None, exclude=True, description="Experiment tracking settings, e.g. {mlflow: {experiment: NAME}}; "
                                                                         "used only when the command has --track.")
    training: TrainingSpec | None = Field(None, description="Fine-tuning settings for `harness iterate`, e.g. {method: dpo}.")
    retention: list[RetentionCheck] = Field(default_factory=list, description="Suites of what the base could do, run on "
                                            "both models and gated by non-inferiority with the task's rules, e.g. "
                                            "[{suite: retention/arc_easy.yaml, non_inferiority_margin: 0.05}].")

    scoring: ScoringSpec | None = Field(None, description="How examples are scored: generate (default), multiple_choice "
                                                          "or loglikelihood_rolling (log-likelihood, lm-eval's way).")
    fewshot: FewshotSpec | None = Field(None, description="Few-shot examples before each prompt, e.g. "
                                                          "{split: train, n: 5}; needs prompt.text or a log-likelihood scoring.")

    @model_validator(mode="before")
    @classmethod
    def _prompt_from_scoring(cls, data: Any) -> Any:
        """A log-likelihood suite needs no `prompt:`: its context (or text) is the prompt shown in
        reports and used by the commands that only render prompts."""
        if isinstance(data, dict) and "prompt" not in data and isinstance(data.get("scoring"), dict):
            sc = data["scoring"]
            src = sc.get("context") if sc.get("type") == "multiple_choice" else (
                sc.get("text") if sc.get("type") == "loglikelihood_rolling" else None)
            if isinstance(src, str):
                return {**data, "prompt": {"text": src}}
        return data

    @model_validator(mode="after")
    def _fewshot_prompt(self) -> Suite:
        kind = self.scoring.type if self.scoring else "generate"
        if self.fewshot is not None and kind == "generate" and self.prompt.text is None:
            raise ValueError("fewshot with generation needs a plain-text prompt: write prompt: {text: \"Question: "
                             "{{ question }}\\nAnswer:\"} (chat messages take no few-shot block)")
        if kind != "generate" and self.generation.repeats > 1:
            raise ValueError(f"generation.repeats applies to generation; a {kind} score is deterministic: remove repeats")
        if self.fewshot is not None and kind == "loglikelihood_rolling":
            raise ValueError("fewshot does not apply to scoring type loglikelihood_rolling; remove it")
        if self.fewshot is not None and self.fewshot.split not in self.dataset.splits:
            raise ValueError(f"fewshot.split: {self.fewshot.split!r} is not one of dataset.splits: "
                             f"{', '.join(self.dataset.splits)}")
        return self

    @field_validator("metrics", mode="before")
    @classmethod
    def _bare_metric_names(cls, v: Any) -> Any:
        # `metrics: [exact_match]` is `metrics: [{name: exact_match}]` (same dump, same sha256)
        return [{"name": m} if isinstance(m, str) else m for m in v] if isinstance(v, list) else v

    @model_serializer(mode="wrap")
    def _omit_unset_reference(self, handler: Any) -> dict[str, Any]:
        # Absent, they are left out of the dump, so the sha256 of every suite without them stays what it was.
        out = handler(self)
        for key in ("reference_model", "training", "scoring", "fewshot"):
            if key in out and out[key] is None:
                del out[key]
        if out.get("retention") == []:
            del out["retention"]
        return out

