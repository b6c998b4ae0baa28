"""Check an OpenAI chat fine-tuning JSONL file before spending time or money on training.

Each line must be ``{"messages": [{"role": ..., "content": ...}, ...]}``; the checks follow the
fine-tuning API's own rules (and OpenAI's data-preparation cookbook), so a file that passes here
is not rejected after upload:

- a JSON object with a non-empty ``messages`` list; other top-level keys (``id``, ``category``)
  are kept for this harness and stripped by the ``openai`` trainer before upload;
- each message an object with a known ``role`` (system, user, assistant, tool) and only the keys
  the API accepts; ``content`` a non-empty string, except an assistant turn that makes tool calls;
- ``weight`` only on assistant messages, 0 or 1; at least one assistant message with weight 1;
- tool turns kept simple: ``tool_calls`` a list of ``{id, type: function, function: {name,
  arguments}}`` on assistant messages, and every tool message answers an earlier call's id;
- the example's token count under the model's limit.

Every problem is reported with its line; statistics cover the examples without problems. An
example repeated verbatim (the same API fields on two or more lines) is a warning naming every
line: the API accepts it, but it weighs that example double; ``harness data prepare`` drops it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.core.errors import HarnessError, Problem
from harness.core.jsonl import json_type, jsonl_lines

ROLES = ("system", "user", "assistant", "tool")
MESSAGE_KEYS = {
    "system": ("role", "content", "name"),
    "user": ("role", "content", "name"),
    "assistant": ("role", "content", "name", "weight", "tool_calls"),
    "tool": ("role", "content", "tool_call_id"),
}
# Top-level keys the API reads; others are harness bookkeeping, stripped before upload.
API_KEYS = ("messages", "tools", "parallel_tool_calls")

DEFAULT_MAX_TOKENS = 8192  # SmolLM2's context window, the default local base model
# An assumption, not a quote: gpt-4o-mini's published training price at the time of writing
# ($3.00 per 1M training tokens). Pass --price-per-1k for your model and date.
DEFAULT_PRICE_PER_1K = 0.003
CHARS_PER_TOKEN = 4  # OpenAI's rule of thumb for English text
MESSAGE_OVERHEAD = 4  # role and separator tokens per message in chat templates
EXAMPLE_OVERHEAD = 2


# ------------------------------------------------------------------------------ token counting

class TokenCounter:
    """Counts the tokens of one chat example (its template included)."""

    name = ""

    def count(self, messages: Sequence[dict[str, Any]]) -> int:
        raise NotImplementedError


class EstimateCounter(TokenCounter):
    """About 4 characters per token, plus 4 tokens per message and 2 per example.

    Used when no tokenizer is installed; within about 20% of real counts on English prose.
    """

    name = "estimate (~4 characters per token)"

    def count(self, messages: Sequence[dict[str, Any]]) -> int:
        total = EXAMPLE_OVERHEAD
        for m in messages:
            text = m.get("content") or ""
            if m.get("tool_calls"):
                text += json.dumps(m["tool_calls"], ensure_ascii=False)
            total += MESSAGE_OVERHEAD + math.ceil(len(text) / CHARS_PER_TOKEN)
        return total


class TokenizerCounter(TokenCounter):
    """Exact counts with a transformers tokenizer and its chat template."""

    def __init__(self, tokenizer: Any, name: str):
        self.tokenizer = tokenizer
        self.name = name

    def count(self, messages: Sequence[dict[str, Any]]) -> int:
        plain = [{"role": m["role"], "content": m.get("content") or ""} for m in messages]
        ids = self.tokenizer.apply_chat_template(plain, tokenize=True)
        if isinstance(ids, dict) or hasattr(ids, "keys"):  # transformers 5 may return a BatchEncoding
            ids = ids["input_ids"]
        return len(ids)


def token_counter(kind: str = "auto") -> TokenCounter:
    """``estimate``, ``smollm2`` (the local model's tokenizer), or ``auto``: smollm2 when installed."""
    if kind == "estimate":
        return EstimateCounter()
    if kind not in ("auto", "smollm2"):
        raise HarnessError(f"unknown tokenizer {kind!r}; expected auto, smollm2 or estimate")
    from harness.local.models import load_model_and_tokenizer

    try:
        tokenizer = load_model_and_tokenizer("smollm2")[1]
    except (HarnessError, ImportError):
        if kind == "smollm2":
            raise
        return EstimateCounter()  # documented: auto means the tokenizer when it is installed
    return TokenizerCounter(tokenizer, "smollm2 (SmolLM2-135M-Instruct chat template)")


# ------------------------------------------------------------------------------ checks

def _tool_call_problems(i: int, calls: Any) -> tuple[list[str], list[str]]:
    """Problems of an assistant message's ``tool_calls``, and the call ids it declares."""
    shape = "expected {id, type: 'function', function: {name, arguments: string}}"
    if not isinstance(calls, list) or not calls:
        return [f"messages[{i}].tool_calls: expected a non-empty list of tool calls"], []
    errs, ids = [], []
    for j, c in enumerate(calls):
        fn = c.get("function") if isinstance(c, dict) else None
        if (not isinstance(c, dict) or not isinstance(c.get("id"), str) or c.get("type") != "function"
                or not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not isinstance(fn.get("arguments"), str)):
            errs.append(f"messages[{i}].tool_calls[{j}]: {shape}")
        else:
            ids.append(c["id"])
    return errs, ids


def _message_problems(i: int, m: Any, call_ids: set[str]) -> list[str]:
    if not isinstance(m, dict):
        return [f"messages[{i}]: expected an object with role and content, got {json_type(m)}"]
    if "role" not in m:
        return [f"messages[{i}]: missing key 'role'"]
    role = m["role"]
    if role not in ROLES:
        return [f"messages[{i}].role: got {role!r}; expected one of {', '.join(ROLES)}"]
    errs = []
    allowed = MESSAGE_KEYS[role]
    for k in m:
        if k not in allowed:
            hint = "only assistant messages take a weight" if k == "weight" else f"allowed on a {role} message: {', '.join(allowed)}"
            errs.append(f"messages[{i}]: unknown key {k!r}; {hint}")
    calls = m.get("tool_calls")
    if role == "assistant" and calls is not None:
        call_errs, ids = _tool_call_problems(i, calls)
        errs += call_errs
        call_ids.update(ids)
    content = m.get("content")
    if "content" not in m and not (role == "assistant" and calls):
        errs.append(f"messages[{i}]: missing key 'content'")
    elif content is None and role == "assistant" and calls:
        pass  # an assistant turn that only calls tools has no text
    elif not isinstance(content, str):
        errs.append(f"messages[{i}].content: expected a string, got {json_type(content)}")
    elif not content.strip():
        errs.append(f"messages[{i}].content: empty")
    if "name" in m and not isinstance(m["name"], str):
        errs.append(f"messages[{i}].name: expected a string, got {json_type(m['name'])}")
    if role == "assistant" and "weight" in m and (isinstance(m["weight"], bool) or m["weight"] not in (0, 1)):
        errs.append(f"messages[{i}].weight: got {m['weight']!r}; expected 0 or 1")
    if role == "tool":
        tid = m.get("tool_call_id")
        if not isinstance(tid, str):
            errs.append(f"messages[{i}].tool_call_id: a tool message needs the id of the call it answers")
        elif tid not in call_ids:
            errs.append(f"messages[{i}].tool_call_id: {tid!r} answers no earlier assistant tool call")
    return errs


def example_problems(obj: Any) -> list[str]:
    """Every problem of one parsed line, as messages without the location."""
    if not isinstance(obj, dict):
        return [f"expected a JSON object, got {json_type(obj)}"]
    if "messages" not in obj:
        return ["missing key 'messages': expected a non-empty list of {role, content} objects"]
    msgs = obj["messages"]
    if not isinstance(msgs, list):
        return [f"`messages`: expected a list, got {json_type(msgs)}"]
    if not msgs:
        return ["`messages` is empty"]
    errs: list[str] = []
    call_ids: set[str] = set()
    for i, m in enumerate(msgs):
        errs += _message_problems(i, m, call_ids)
    assistants = [m for m in msgs if isinstance(m, dict) and m.get("role") == "assistant"]
    if not assistants:
        errs.append("no assistant message: the model learns from assistant turns, at least one is needed")
    elif all(m.get("weight", 1) == 0 for m in assistants):
        errs.append("every assistant message has weight 0: nothing to learn from")
    return errs


# ------------------------------------------------------------------------------ the file

@dataclass
class ChatStats:
    """Statistics over the examples that passed every check."""

    examples: int = 0
    tokens: list[int] = field(default_factory=list)
    trained_tokens: int = 0  # assistant tokens with weight 1 (an estimate for tokenizer counts too)
    tokenizer: str = ""
    max_tokens: int = DEFAULT_MAX_TOKENS

    @property
    def total_tokens(self) -> int:
        return sum(self.tokens)

    def distribution(self) -> dict[str, int]:
        if not self.tokens:
            return {}
        s = sorted(self.tokens)

        def rank(q: float) -> int:  # nearest-rank percentile
            return s[max(0, math.ceil(q * len(s)) - 1)]

        return {"min": s[0], "p50": rank(0.5), "p90": rank(0.9), "max": s[-1]}

    def training_tokens(self, epochs: int) -> int:
        """Tokens billed: every example (truncated at the limit) once per epoch."""
        return epochs * sum(min(t, self.max_tokens) for t in self.tokens)

    def to_json(self, epochs: int = 1, price_per_1k: float = DEFAULT_PRICE_PER_1K) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if k != "tokens"}
        billed = self.training_tokens(epochs)
        return d | {"tokens_per_example": self.distribution(), "total_tokens": self.total_tokens, "epochs": epochs,
                    "estimated_training_tokens": billed, "price_per_1k": price_per_1k,
                    "estimated_cost": round(billed / 1000 * price_per_1k, 6)}


@dataclass
class ChatValidation:
    path: Path
    problems: list[Problem]
    stats: ChatStats
    lines: int  # non-blank lines read
    warnings: list[Problem] = field(default_factory=list)  # e.g. an example repeated verbatim; not a failure

    @property
    def ok(self) -> bool:
        return not self.problems


class Duplicates:
    """Valid examples seen so far, by their API fields (bookkeeping keys such as ``id`` aside)."""

    def __init__(self, api_keys: Sequence[str]):
        self.api_keys = tuple(api_keys)
        self.lines: dict[str, list[int]] = {}

    def add(self, line: int, obj: dict[str, Any]) -> None:
        key = json.dumps({k: obj[k] for k in self.api_keys if k in obj}, sort_keys=True, ensure_ascii=False)
        self.lines.setdefault(key, []).append(line)

    def warnings(self, path: Path, what: str = "example") -> list[Problem]:
        """One warning per repeated example, at its first line, naming every line it is on."""
        return [Problem(str(path), "", f"the same {what} is on lines {', '.join(map(str, ls))} ({len(ls)} times): "
                        "it is trained on that many times; `harness data prepare` drops the repeats", line=ls[0])
                for ls in self.lines.values() if len(ls) > 1]


def validate_chat_file(path: str | Path, max_tokens: int = DEFAULT_MAX_TOKENS,
                       counter: TokenCounter | None = None,
                       on_example: Callable[[int, dict[str, Any], int], None] | None = None) -> ChatValidation:
    """Check every line of a chat fine-tuning file; never raises on bad content."""
    path = Path(path)
    counter = counter or EstimateCounter()
    problems: list[Problem] = []
    stats = ChatStats(tokenizer=counter.name, max_tokens=max_tokens)
    estimate = EstimateCounter()
    if not path.is_file():
        return ChatValidation(path, [Problem(str(path), "", "no such file")], stats, 0)
    seen = Duplicates(API_KEYS)
    rows = list(jsonl_lines(path))
    for line, obj, err in rows:
        errs = [err] if err else example_problems(obj)
        if not errs:
            n = counter.count(obj["messages"])
            if n > max_tokens:
                errs.append(f"{n} tokens; the limit is {max_tokens} (--max-tokens)")
        problems += [Problem(str(path), "", e, line=line) for e in errs]
        if errs:
            continue
        stats.examples += 1
        stats.tokens.append(n)
        trained = [m for m in obj["messages"] if m["role"] == "assistant" and m.get("weight", 1) == 1]
        stats.trained_tokens += estimate.count(trained) - EXAMPLE_OVERHEAD
        seen.add(line, obj)
        if on_example:
            on_example(line, obj, n)
    if not rows:
        problems.append(Problem(str(path), "", "no examples: the file is empty"))
    return ChatValidation(path, problems, stats, len(rows), seen.warnings(path))


def format_stats(v: ChatValidation, epochs: int, price_per_1k: float, price_source: str | None = None) -> str:
    """``price_source``: where the price came from (the price table's entry); None: the old fixed assumption."""
    s = v.stats
    d = s.to_json(epochs, price_per_1k)
    dist = d["tokens_per_example"]
    warned = f", {len(v.warnings)} warning(s)" if v.warnings else ""
    lines = [f"{v.path}: {s.examples} valid example(s) of {v.lines}, {len(v.problems)} problem(s){warned}"]
    if dist:
        lines += [
            f"tokens per example: min {dist['min']:,}  p50 {dist['p50']:,}  p90 {dist['p90']:,}  max {dist['max']:,}"
            f"  (tokenizer: {s.tokenizer}; limit {s.max_tokens:,})",
            f"total tokens: {s.total_tokens:,}  (assistant tokens trained on: about {s.trained_tokens:,})",
            f"estimated training tokens for {epochs} epoch(s): {d['estimated_training_tokens']:,}",
            f"estimated cost: ${d['estimated_cost']:,.2f} at ${price_per_1k:g} per 1K training tokens "
            f"({price_source or 'an assumption' + (' (gpt-4o-mini training price)' if price_per_1k == DEFAULT_PRICE_PER_1K else '')}"
            f"; set --price-per-1k or --base)",
        ]
    return "\n".join(lines)
