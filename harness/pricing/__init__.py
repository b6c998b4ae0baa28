"""What a suite costs: a price table, token estimates before a run, and dollars after it.

The shipped table (``openai.yaml`` beside this file) holds OpenAI's list prices per 1M tokens;
``--prices FILE`` or ``HARNESS_PRICES`` replaces entries of it. A model with no price (a local model,
a self-hosted server) costs "no price", never a silent $0, so a cap or a report never pretends.

Token counts before a run come from the model's own tokenizer where the harness has it (local
models) and are otherwise an estimate (about 4 characters a token plus the chat format's few tokens
a message), and say so: :class:`TokenEstimate` carries ``exact``.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.core.errors import HarnessError

SHIPPED = Path(__file__).with_name("openai.yaml")
PER_MESSAGE_TOKENS = 3  # role and separators of the chat format, per message
REPLY_PRIMING_TOKENS = 3
CHARS_PER_TOKEN = 4.0
_DATED = re.compile(r"-\d{4}-\d{2}-\d{2}$")


class Price(BaseModel):
    """US dollars per 1M tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    input: float = Field(..., ge=0, description="Input (prompt) tokens.")
    output: float = Field(..., ge=0, description="Output (completion) tokens.")
    cached_input: float | None = Field(None, ge=0, description="Input tokens served from the prompt cache.")
    training: float | None = Field(None, ge=0, description="Fine-tuning, per 1M trained tokens (a base model's entry).")


class PriceTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    as_of: str = Field("", description="When these prices were read.")
    currency: str = "USD"
    batch_discount: float = Field(0.5, ge=0, le=1, description="Share of the price the Batch API takes off.")
    models: dict[str, Price] = Field(default_factory=dict)
    # the models a --prices / $HARNESS_PRICES file priced: the only ones a server of one's own is charged for
    added: frozenset[str] = Field(frozenset(), exclude=True)

    def price_added(self, model: str) -> bool:
        """Whether ``model``'s price comes from the user's own price file."""
        name = "ft:" + model.split(":")[1] if model.startswith("ft:") else model
        return any(c in self.added for c in (name, _DATED.sub("", name)))

    def price(self, model: str) -> Price | None:
        """The price of a model id: exact, else its undated family, else a fine-tune's ``ft:BASE`` entry."""
        name = model
        if name.startswith("ft:"):  # ft:gpt-4o-mini-2024-07-18:org:suffix:id
            name = "ft:" + name.split(":")[1]
        for candidate in (name, _DATED.sub("", name)):
            if candidate in self.models:
                return self.models[candidate]
        return None

    def cost(self, model: str, input_tokens: int, output_tokens: int, cached_tokens: int = 0,
             batch: bool = False) -> float | None:
        """Dollars for this usage, or None when the model has no price."""
        p = self.price(model)
        if p is None:
            return None
        cached = min(cached_tokens, input_tokens)
        cached_rate = p.cached_input if p.cached_input is not None else p.input
        dollars = ((input_tokens - cached) * p.input + cached * cached_rate + output_tokens * p.output) / 1e6
        return dollars * (1 - self.batch_discount) if batch else dollars


    def training_cost(self, base_model: str, trained_tokens: int | None) -> float | None:
        """Dollars of a fine-tuning job that trained ``trained_tokens``, or None (no training price or no count)."""
        p = self.price(base_model)
        if p is None or p.training is None or trained_tokens is None:
            return None
        return trained_tokens * p.training / 1e6


def load_prices(path: str | Path | None = None) -> PriceTable:
    """The shipped table, with the entries of ``path`` (or ``$HARNESS_PRICES``) laid over it."""
    import yaml

    table = _read(SHIPPED, yaml)
    override = path or os.environ.get("HARNESS_PRICES")
    if override:
        extra = _read(Path(override), yaml)
        table = PriceTable(as_of=extra.as_of or table.as_of, currency=extra.currency,
                           batch_discount=extra.batch_discount, models={**table.models, **extra.models},
                           added=frozenset(extra.models))
    return table


def _read(path: Path, yaml: Any) -> PriceTable:
    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: the shipped table in 1 ms, not 5
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader) or {}  # a safe loader
    except OSError as e:
        raise HarnessError(f"{path}: cannot read the price table: {e.strerror or e}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise HarnessError(f"{path}:{mark.line + 1 if mark else '?'}: invalid YAML in the price table") from None
    try:
        return PriceTable.model_validate(data)
    except ValidationError as e:
        lines = [f"{path}: {'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors()]
        raise HarnessError("\n".join(lines) + "\n(expected: models: {NAME: {input: $/1M, output: $/1M, "
                           "cached_input: $/1M}})") from None


@dataclass
class TokenEstimate:
    input_tokens: int
    max_output_tokens: int
    exact: bool  # counted by the model's tokenizer (True) or estimated from characters (False)


def estimate_tokens(messages: Sequence[tuple[str, str]] | Sequence[dict[str, str]], max_tokens: int,
                    tokenizer: Any = None) -> TokenEstimate:
    """Input tokens of one chat request and the most it may write."""
    pairs = [(m["role"], m["content"]) if isinstance(m, dict) else (m[0], m[1]) for m in messages]
    if tokenizer is not None:
        chat = [{"role": r, "content": c} for r, c in pairs]
        ids = tokenizer.apply_chat_template(chat, tokenize=True, add_generation_prompt=True)
        if isinstance(ids, dict) or hasattr(ids, "input_ids"):  # a BatchEncoding in newer transformers
            ids = ids["input_ids"]
        return TokenEstimate(len(ids), max_tokens, exact=True)
    chars = sum(len(c) for _, c in pairs)
    n = math.ceil(chars / CHARS_PER_TOKEN) + PER_MESSAGE_TOKENS * len(pairs) + REPLY_PRIMING_TOKENS
    return TokenEstimate(n, max_tokens, exact=False)


def format_dollars(x: float | None) -> str:
    if x is None:
        return "no price"
    return f"${x:,.4f}" if x < 1 else f"${x:,.2f}"
