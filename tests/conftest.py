"""Shared fixtures: tiny suites and datasets written into tmp folders."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

INTENT_SUITE = """\
name: tiny-intent
version: 1
dataset:
  format: jsonl
  splits: {test: test.jsonl}
  fields: {id: id, input: text, reference: intent, category: intent}
prompt:
  messages:
    - role: user
      content: "Classify: {{ text }}"
generation:
  max_tokens: 8
metrics:
  - name: classification
    labels: [order_status, cancel_order, refund_request]
  - name: exact_match
gates:
  - metric: accuracy
    min: 0.5
"""

INTENT_ROWS = [
    {"id": "e1", "text": "where is my parcel", "intent": "order_status"},
    {"id": "e2", "text": "stop my order", "intent": "cancel_order"},
    {"id": "e3", "text": "I want my money back", "intent": "refund_request"},
    {"id": "e4", "text": "tracking number please", "intent": "order_status"},
]


def echo_suite(name: str, max_tokens: int = 4) -> str:
    """A suite that asks each case's ``question`` (cases.jsonl) and scores exact_match on its ``answer``:
    the fake-server tests' suite, where only the harness's plumbing is under test."""
    return f"""\
name: {name}
version: 1
dataset:
  splits: {{test: cases.jsonl}}
  fields: {{id: id, input: question, reference: answer}}
prompt:
  messages:
    - {{role: user, content: "{{{{ question }}}}"}}
generation: {{max_tokens: {max_tokens}}}
metrics:
  - name: exact_match
"""


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def tiny_suite(tmp_path: Path) -> Path:
    """A 4-example intent suite in tmp_path; returns the suite file."""
    write_jsonl(tmp_path / "test.jsonl", INTENT_ROWS)
    suite = tmp_path / "suite.yaml"
    suite.write_text(INTENT_SUITE, encoding="utf-8")
    return suite


def dedent(s: str) -> str:
    return textwrap.dedent(s).lstrip("\n")
