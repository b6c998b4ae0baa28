"""Check an OpenAI preference (DPO) fine-tuning JSONL file, line by line, like the chat format.

Each line is one comparison::

    {"input": {"messages": [...], "tools": [...], "parallel_tool_calls": true},
     "preferred_output": [{"role": "assistant", "content": "..."}],
     "non_preferred_output": [{"role": "assistant", "content": "..."}]}

The rules follow OpenAI's DPO guide: ``input.messages`` is a chat conversation (checked with the
chat format's message rules) that ends on the turn to be answered (user or tool); each output is
a list of exactly one assistant message; the two outputs differ. A pair repeated verbatim on
several lines is a warning naming them (as in the chat format). Other top-level keys (``id``,
``category``) are this harness's bookkeeping, stripped before upload like the chat format's.
Every problem names the line and the field path (``preferred_output[0].role``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.core.errors import Problem
from harness.core.jsonl import json_type, jsonl_lines
from harness.data.validate import (
    DEFAULT_MAX_TOKENS,
    EXAMPLE_OVERHEAD,
    ChatStats,
    ChatValidation,
    Duplicates,
    EstimateCounter,
    TokenCounter,
    _message_problems,
)

OUTPUT_KEYS = ("preferred_output", "non_preferred_output")
INPUT_KEYS = ("messages", "tools", "parallel_tool_calls")
# Top-level keys the API reads from a preference line; others are stripped before upload.
API_KEYS = ("input",) + OUTPUT_KEYS


def is_preference(obj: Any) -> bool:
    """Whether a parsed line looks like the preference format (not chat, not an input/output record)."""
    return isinstance(obj, dict) and "messages" not in obj and any(k in obj for k in OUTPUT_KEYS)


def _output_problems(key: str, out: Any) -> list[str]:
    if not isinstance(out, list):
        return [f"{key}: expected a list with one assistant message, got {json_type(out)}"]
    if len(out) != 1:
        return [f"{key}: expected exactly one assistant message, got {len(out)}"]
    m = out[0]
    if isinstance(m, dict) and m.get("role") not in (None, "assistant"):
        return [f"{key}[0].role: got {m['role']!r}; expected assistant"]
    errs = [e.replace("messages[0]", f"{key}[0]", 1) for e in _message_problems(0, m, set())]
    if isinstance(m, dict) and "weight" in m:
        errs.append(f"{key}[0]: unknown key 'weight'; preference outputs are always learned from")
    return errs


def _input_problems(inp: Any) -> list[str]:
    if not isinstance(inp, dict):
        return [f"input: expected an object with `messages`, got {json_type(inp)}"]
    errs = [f"input: unknown key {k!r}; allowed: {', '.join(INPUT_KEYS)}" for k in inp if k not in INPUT_KEYS]
    msgs = inp.get("messages")
    if msgs is None:
        return errs + ["input: missing key 'messages': expected a non-empty list of {role, content} objects"]
    if not isinstance(msgs, list):
        return errs + [f"input.messages: expected a list, got {json_type(msgs)}"]
    if not msgs:
        return errs + ["input.messages is empty"]
    call_ids: set[str] = set()
    for i, m in enumerate(msgs):
        errs += ["input." + e for e in _message_problems(i, m, call_ids)]
    last = msgs[-1]
    if isinstance(last, dict) and last.get("role") in ("assistant", "system"):
        errs.append(f"input.messages[{len(msgs) - 1}].role: the input ends on the {last['role']} turn; it must end "
                    "with the user (or tool) turn the outputs answer")
    return errs


def preference_problems(obj: Any) -> list[str]:
    """Every problem of one parsed preference line, as messages without the location."""
    if not isinstance(obj, dict):
        return [f"expected a JSON object, got {json_type(obj)}"]
    missing = [k for k in API_KEYS if k not in obj]
    if missing:
        return [f"missing key {k!r}" + (": expected {messages: [...]}" if k == "input" else ": expected a list with one "
                "assistant message") for k in missing]
    errs = _input_problems(obj["input"])
    for key in OUTPUT_KEYS:
        errs += _output_problems(key, obj[key])
    if not errs and _content(obj["preferred_output"][0]) == _content(obj["non_preferred_output"][0]):
        errs.append("preferred_output and non_preferred_output are the same: nothing to learn from")
    return errs


def _content(m: dict[str, Any]) -> Any:
    return (m.get("content") or "", m.get("tool_calls"))


def sequences(obj: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(prompt + preferred, prompt + non-preferred) message lists of a valid line."""
    msgs = obj["input"]["messages"]
    return msgs + obj["preferred_output"], msgs + obj["non_preferred_output"]


def validate_preference_file(path: str | Path, max_tokens: int = DEFAULT_MAX_TOKENS,
                             counter: TokenCounter | None = None,
                             on_example: Callable[[int, dict[str, Any], int], None] | None = None) -> ChatValidation:
    """Check every line of a preference file; never raises on bad content.

    An example's token count is its longer sequence (input plus one output), what the model reads
    at once; the trained tokens are both outputs'.
    """
    path = Path(path)
    counter = counter or EstimateCounter()
    stats = ChatStats(tokenizer=counter.name, max_tokens=max_tokens)
    if not path.is_file():
        return ChatValidation(path, [Problem(str(path), "", "no such file")], stats, 0)
    problems: list[Problem] = []
    estimate = EstimateCounter()
    seen = Duplicates(API_KEYS)
    rows = list(jsonl_lines(path))
    for line, obj, err in rows:
        errs = [err] if err else preference_problems(obj)
        if not errs:
            n = max(counter.count(s) for s in sequences(obj))
            if n > max_tokens:
                errs.append(f"{n} tokens; the limit is {max_tokens} (--max-tokens)")
        problems += [Problem(str(path), "", e, line=line) for e in errs]
        if errs:
            continue
        stats.examples += 1
        stats.tokens.append(n)
        stats.trained_tokens += sum(estimate.count(obj[k]) - EXAMPLE_OVERHEAD for k in OUTPUT_KEYS)
        seen.add(line, obj)
        if on_example:
            on_example(line, obj, n)
    if not rows:
        problems.append(Problem(str(path), "", "no examples: the file is empty"))
    return ChatValidation(path, problems, stats, len(rows), seen.warnings(path, "preference pair"))


def detect_format(path: Path) -> str:
    """``preference`` when the first parsable line is a preference example, else ``chat``."""
    for _, obj, _ in itertools.islice(jsonl_lines(path), 5) if path.is_file() else []:
        if obj is not None:
            return "preference" if is_preference(obj) else "chat"
    return "chat"


def validate_training_file(path: str | Path, method: str = "supervised", **kw: Any) -> ChatValidation:
    """The check for a fine-tuning method's file: chat for supervised, preference for dpo."""
    from harness.data.validate import validate_chat_file

    return (validate_preference_file if method == "dpo" else validate_chat_file)(path, **kw)
