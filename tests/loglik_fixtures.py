"""Tiny log-likelihood suites (multiple choice, rolling, few-shot) written into tmp folders."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import write_jsonl

MC_ROWS = [
    {"id": "q1", "question": "What is the capital of France?", "choices": ["Paris", "London", "Berlin", "Madrid"], "label": 0},
    {"id": "q2", "question": "What colour is the sky on a clear day?", "choices": ["green", "blue", "red", "black"], "label": "blue"},
    {"id": "q3", "question": "How many legs has a spider?", "choices": ["six", "eight", "four", "ten"], "label": 1},
]
TRAIN_ROWS = [
    {"id": "t1", "question": "What is 2 + 2?", "choices": ["3", "4"], "label": 1},
    {"id": "t2", "question": "Which animal barks?", "choices": ["dog", "cat"], "label": 0},
    {"id": "t3", "question": "What is frozen water?", "choices": ["steam", "ice"], "label": 1},
]
TEXT_ROWS = [
    {"id": "d1", "text": "The quick brown fox jumps over the lazy dog."},
    {"id": "d2", "text": "A journey of a thousand miles begins with a single step."},
]

MC_SUITE = """\
name: tiny-mc
version: 1
dataset:
  splits: {test: test.jsonl, train: train.jsonl}
  fields: {id: id}
scoring:
  type: multiple_choice
  context: "Question: {{ question }}\\nAnswer:"
  choices: choices
  target: label
metrics:
  - name: acc
  - name: acc_norm
"""

ROLLING_SUITE = """\
name: tiny-rolling
version: 1
dataset:
  splits: {test: text.jsonl}
  fields: {id: id}
scoring:
  type: loglikelihood_rolling
  text: "{{ text }}"
metrics:
  - name: word_perplexity
  - name: byte_perplexity
  - name: bits_per_byte
"""


def write_mc(tmp: Path, extra: str = "") -> Path:
    write_jsonl(tmp / "test.jsonl", MC_ROWS)
    write_jsonl(tmp / "train.jsonl", TRAIN_ROWS)
    p = tmp / "mc.yaml"
    p.write_text(MC_SUITE + extra, encoding="utf-8")
    return p


def write_rolling(tmp: Path) -> Path:
    write_jsonl(tmp / "text.jsonl", TEXT_ROWS)
    p = tmp / "rolling.yaml"
    p.write_text(ROLLING_SUITE, encoding="utf-8")
    return p
