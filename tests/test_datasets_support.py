"""Integrity and held-out-wording checks for the hand-written support datasets.

Covers datasets/support_intent (intent classification) and
datasets/support_reply (chat-format reply generation). Uses only the stdlib
and pytest.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

DATASETS = Path(__file__).parent.parent / "datasets"

INTENTS = (
    "order_status",
    "cancel_order",
    "refund_request",
    "change_address",
    "damaged_item",
    "billing_issue",
    "account_access",
    "payment_update",
)

SPLITS = ("train", "validation", "test")
EVAL_SPLITS = ("validation", "test")
ID_SPLIT = {"train": "train", "validation": "val", "test": "test"}

INTENT_COUNTS = {"train": 40, "validation": 10, "test": 15}
REPLY_COUNTS = {"train": 12, "validation": 3, "test": 5}

SYSTEM_PROMPT = (
    "You are Northwind Outfitters' support assistant. "
    "Reply in two or three friendly, concise sentences."
)

NEAR_DUP_THRESHOLD = 0.5


# ---------------------------------------------------------------- helpers


def _load(dataset: str, split: str) -> list[dict]:
    path = DATASETS / dataset / f"{split}.jsonl"
    assert path.is_file(), f"missing {path}"
    rows = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            assert line.strip(), f"{path}:{lineno}: blank line"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:  # pragma: no cover - failure path
                pytest.fail(f"{path}:{lineno}: invalid JSON ({exc})")
            assert isinstance(row, dict), f"{path}:{lineno}: not a JSON object"
            rows.append(row)
    return rows


def _intent_text(row: dict) -> str:
    return row["text"]


def _reply_text(row: dict) -> str:
    return next(m["content"] for m in row["messages"] if m["role"] == "user")


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


def _trigrams(text: str) -> frozenset:
    words = re.findall(r"[a-z0-9]+(?:'[a-z0-9]+)*", text.lower())
    if len(words) < 3:
        return frozenset({tuple(words)})
    return frozenset(tuple(words[i : i + 3]) for i in range(len(words) - 2))


def _jaccard(a: frozenset, b: frozenset) -> float:
    union = a | b
    return len(a & b) / len(union) if union else 0.0


def _max_similarity(eval_texts: list[str], train_texts: list[str]):
    """Return (score, eval_text, train_text) for the most similar pair."""
    train_grams = [(t, _trigrams(t)) for t in train_texts]
    best = (0.0, "", "")
    for text in eval_texts:
        grams = _trigrams(text)
        for train_text, tg in train_grams:
            score = _jaccard(grams, tg)
            if score > best[0]:
                best = (score, text, train_text)
    return best


DATASET_SPECS = {
    "support_intent": {"prefix": "si", "width": 4, "label": "intent", "text": _intent_text,
                       "counts": INTENT_COUNTS},
    "support_reply": {"prefix": "sr", "width": 3, "label": "category", "text": _reply_text,
                      "counts": REPLY_COUNTS},
}


@pytest.fixture(scope="module")
def data() -> dict:
    return {name: {split: _load(name, split) for split in SPLITS} for name in DATASET_SPECS}


# ---------------------------------------------------------------- schema


def test_intent_rows_have_required_fields(data):
    for split, rows in data["support_intent"].items():
        for row in rows:
            assert set(row) == {"id", "text", "intent"}, f"{split}: unexpected keys {sorted(row)}"
            for key in ("id", "text", "intent"):
                assert isinstance(row[key], str) and row[key].strip(), f"{split} {row.get('id')}: empty {key}"


def test_reply_rows_have_required_fields(data):
    for split, rows in data["support_reply"].items():
        for row in rows:
            rid = row.get("id")
            assert set(row) == {"id", "category", "messages"}, f"{split}: unexpected keys {sorted(row)}"
            for key in ("id", "category"):
                assert isinstance(row[key], str) and row[key].strip(), f"{split} {rid}: empty {key}"
            messages = row["messages"]
            assert isinstance(messages, list), f"{rid}: messages must be a list"
            assert [m.get("role") for m in messages] == ["system", "user", "assistant"], rid
            for m in messages:
                assert set(m) == {"role", "content"}, f"{rid}: bad message keys {sorted(m)}"
                assert isinstance(m["content"], str) and m["content"].strip(), f"{rid}: empty {m['role']}"
            assert messages[0]["content"] == SYSTEM_PROMPT, f"{rid}: system prompt differs"


def test_reference_replies_are_two_or_three_sentences(data):
    for split, rows in data["support_reply"].items():
        for row in rows:
            reply = row["messages"][2]["content"].strip()
            sentences = [s for s in re.split(r"(?<=[.!?])\s+", reply) if s]
            assert 2 <= len(sentences) <= 3, f"{split} {row['id']}: {len(sentences)} sentences: {reply!r}"


# ---------------------------------------------------------------- ids and labels


def test_ids_unique_and_well_formed(data):
    seen = Counter()
    for name, spec in DATASET_SPECS.items():
        for split, rows in data[name].items():
            pattern = re.compile(rf"^{spec['prefix']}-{ID_SPLIT[split]}-\d{{{spec['width']}}}$")
            for row in rows:
                assert pattern.match(row["id"]), f"{name}/{split}: bad id {row['id']!r}"
                seen[row["id"]] += 1
    dupes = sorted(i for i, n in seen.items() if n > 1)
    assert not dupes, f"duplicate ids: {dupes}"


def test_labels_from_known_intents(data):
    for name, spec in DATASET_SPECS.items():
        for split, rows in data[name].items():
            bad = {row[spec["label"]] for row in rows} - set(INTENTS)
            assert not bad, f"{name}/{split}: unknown labels {sorted(bad)}"


@pytest.mark.parametrize("name", sorted(DATASET_SPECS))
def test_exact_per_intent_counts(data, name):
    spec = DATASET_SPECS[name]
    for split in SPLITS:
        counts = Counter(row[spec["label"]] for row in data[name][split])
        expected = {intent: spec["counts"][split] for intent in INTENTS}
        assert dict(counts) == expected, f"{name}/{split}: {dict(counts)}"


@pytest.mark.parametrize("name", sorted(DATASET_SPECS))
def test_splits_are_shuffled(data, name):
    """Lines should not be grouped by label: expect plenty of label changes."""
    label = DATASET_SPECS[name]["label"]
    for split in SPLITS:
        labels = [row[label] for row in data[name][split]]
        changes = sum(a != b for a, b in zip(labels, labels[1:]))
        assert changes >= len(labels) // 2, f"{name}/{split} looks grouped by label"


# ---------------------------------------------------------------- held-out wording


@pytest.mark.parametrize("name", sorted(DATASET_SPECS))
def test_no_duplicate_texts_within_dataset(data, name):
    text_of = DATASET_SPECS[name]["text"]
    counts = Counter(_normalise(text_of(row)) for split in SPLITS for row in data[name][split])
    dupes = sorted(t for t, n in counts.items() if n > 1)
    assert not dupes, f"{name}: repeated texts {dupes}"


@pytest.mark.parametrize("name", sorted(DATASET_SPECS))
def test_eval_texts_not_in_train(data, name):
    text_of = DATASET_SPECS[name]["text"]
    train = {_normalise(text_of(row)) for row in data[name]["train"]}
    for split in EVAL_SPLITS:
        leaked = [text_of(r) for r in data[name][split] if _normalise(text_of(r)) in train]
        assert not leaked, f"{name}/{split} texts also in train: {leaked}"


@pytest.mark.parametrize("name", sorted(DATASET_SPECS))
@pytest.mark.parametrize("split", EVAL_SPLITS)
def test_eval_texts_not_near_duplicates_of_train(data, name, split):
    text_of = DATASET_SPECS[name]["text"]
    train_texts = [text_of(r) for r in data[name]["train"]]
    eval_texts = [text_of(r) for r in data[name][split]]
    score, text, train_text = _max_similarity(eval_texts, train_texts)
    print(f"{name}/{split}: max word-trigram Jaccard vs train = {score:.3f}")
    assert score < NEAR_DUP_THRESHOLD, (
        f"{name}/{split} near-duplicate (Jaccard {score:.3f}):\n  {text!r}\n  train: {train_text!r}"
    )


def test_eval_texts_not_near_duplicates_across_datasets(data):
    """A model trained on either train split must not have seen either eval split."""
    train_texts = [
        spec["text"](r) for name, spec in DATASET_SPECS.items() for r in data[name]["train"]
    ]
    eval_texts = [
        spec["text"](r)
        for name, spec in DATASET_SPECS.items()
        for split in EVAL_SPLITS
        for r in data[name][split]
    ]
    train_norm = {_normalise(t) for t in train_texts}
    assert not [t for t in eval_texts if _normalise(t) in train_norm]
    score, text, train_text = _max_similarity(eval_texts, train_texts)
    print(f"cross-dataset: max word-trigram Jaccard eval vs train = {score:.3f}")
    assert score < NEAR_DUP_THRESHOLD, (
        f"cross-dataset near-duplicate (Jaccard {score:.3f}):\n  {text!r}\n  train: {train_text!r}"
    )
