"""Chat fine-tuning files as token ids with labels on the assistant turns that are learned from.

TRL's own ``assistant_only_loss`` finds assistant tokens through ``{% generation %}`` markers in
the chat template; SmolLM2's template (and most others) has none, and TRL has no notion of the
chat format's per-message ``weight: 0``. So the local trainer encodes here and hands SFTTrainer a
dataset of ``input_ids``/``labels``, which TRL uses as is (its collator pads them, -100 for labels).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.core.errors import HarnessError
from harness.core.jsonl import read_jsonl


@dataclass
class Encoded:
    input_ids: list[int]
    labels: list[int]  # -100 where the loss does not apply

    @property
    def trained_tokens(self) -> int:
        return sum(1 for x in self.labels if x != -100)


def _plain(messages: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    return [{"role": m["role"], "content": m.get("content") or ""} for m in messages]


def encode_chat(tokenizer: Any, messages: Sequence[dict[str, Any]], max_length: int) -> Encoded:
    """Token ids of the templated conversation, with labels on assistant turns (weight 1) only.

    Each assistant span runs from the end of the generation prompt before it to its end-of-turn
    token inclusive, found by rendering prefixes of the conversation, so the model learns to stop.
    """
    full = tokenizer.apply_chat_template(_plain(messages), tokenize=False)
    spans: list[tuple[int, int]] = []
    for k, m in enumerate(messages):
        if m["role"] != "assistant" or m.get("weight", 1) == 0:
            continue
        prompt = tokenizer.apply_chat_template(_plain(messages[:k]), tokenize=False, add_generation_prompt=True)
        upto = tokenizer.apply_chat_template(_plain(messages[: k + 1]), tokenize=False)
        if not (full.startswith(upto) and upto.startswith(prompt)):
            raise HarnessError("the tokenizer's chat template does not render conversations prefix by prefix; "
                               "cannot locate assistant tokens")
        spans.append((len(prompt), len(upto.rstrip())))
    enc = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    ids = list(enc["input_ids"])[:max_length]
    offsets = list(enc["offset_mapping"])[:max_length]
    labels = [t if any(s <= start < e for s, e in spans) else -100 for t, (start, _) in zip(ids, offsets, strict=True)]
    return Encoded(ids, labels)


def read_chat(path: Path) -> list[list[dict[str, Any]]]:
    return [obj["messages"] for _, obj in read_jsonl(path, objects=True)]


def encode_file(tokenizer: Any, path: Path, max_length: int) -> tuple[list[Encoded], int]:
    """Encoded examples, and how many were dropped because truncation left no assistant token."""
    out, dropped = [], 0
    for msgs in read_chat(path):
        e = encode_chat(tokenizer, msgs, max_length)
        if e.trained_tokens:
            out.append(e)
        else:
            dropped += 1
    return out, dropped


def as_dataset(examples: Sequence[Encoded]) -> Any:
    """A ``datasets.Dataset`` of input_ids/labels: SFTTrainer sees it is tokenized and keeps our labels."""
    from datasets import Dataset

    return Dataset.from_dict({"input_ids": [e.input_ids for e in examples], "labels": [e.labels for e in examples]})
