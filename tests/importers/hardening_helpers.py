"""Shared by the importer hardening tests (issue 20): a small registry, a small eval object, the CLI in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main

SAMPLES = [{"input": [{"role": "user", "content": "Capital of France?"}], "ideal": "Paris"},
           {"input": "Capital of Italy?", "ideal": "Rome"}]
SPEC = """
capitals:
  id: capitals.dev.v0
capitals.dev.v0:
  class: evals.elsuite.basic.{cls}
  args:
    samples_jsonl: {samples}
    {extra}
"""
MODELGRADED = """
fact:
  prompt: "Question: {input}\\nExpert: {ideal}\\nAnswer: {completion}\\n(A) right or (B) wrong?"
  choice_strings: AB
  choice_scores: {A: 1.0, B: 0.0}
  input_outputs: {input: completion}
"""
STRING_CHECK = {"type": "string_check", "name": "intent", "input": "{{sample.output_text}}", "operation": "eq",
                "reference": "{{item.intent}}"}
SCORE_MODEL = {"type": "score_model", "name": "quality", "model": "gpt-4o-mini", "range": [1, 5], "pass_threshold": 3,
               "input": [{"role": "user", "content": "Grade {{sample.output_text}} for {{item.ticket}}"}]}
ITEMS = [{"item": {"ticket": "Where is my order?", "intent": "order_status"}}]


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    reg = tmp_path / "registry"
    for sub in ("data/capitals", "evals", "modelgraded"):
        (reg / sub).mkdir(parents=True)
    (reg / "data" / "capitals" / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in SAMPLES))
    (reg / "modelgraded" / "fact.yaml").write_text(MODELGRADED)
    return reg


def _spec(registry: Path, cls: str = "match:Match", samples: str = "capitals/samples.jsonl", extra: str = "",
          text: str | None = None) -> Path:
    path = registry / "evals" / "capitals.yaml"
    path.write_text(text if text is not None else SPEC.format(cls=cls, samples=samples, extra=extra))
    return path


def _eval(tmp_path: Path, criteria: list | None = None, schema: dict | None = None, name: object = "capitals",
          raw: bytes | None = None) -> Path:
    obj = {"object": "eval", "id": "eval_1", "name": name,
           "data_source_config": {"type": "custom", "item_schema": schema if schema is not None else {
               "type": "object", "properties": {"ticket": {"type": "string"}, "intent": {"type": "string"}},
               "required": ["ticket", "intent"]}},
           "testing_criteria": criteria if criteria is not None else [STRING_CHECK]}
    path = tmp_path / "eval.json"
    path.write_bytes(raw if raw is not None else json.dumps(obj).encode())
    return path


def _cli(argv: list[str], capsys) -> tuple[int, str]:
    """Run the CLI in-process; an exception escaping main() is a traceback, so it fails the test."""
    rc = main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return rc, err


def _one_located_line(err: str, *parts: str) -> None:
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.endswith("found")]
    assert len(lines) == 1, err
    for p in parts:
        assert p in lines[0], (p, err)


def _registry_cmd(registry: Path) -> list[str]:
    return ["import", "openai-evals-registry", str(_spec(registry))]


def _eval_cmd(tmp_path: Path) -> list[str]:
    data = tmp_path / "items.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ITEMS))
    return ["import", "openai-eval", str(_eval(tmp_path)), "--data", str(data)]


def _expect_2(argv: list[str], capsys, *parts: str) -> None:
    rc, err = _cli(argv, capsys)
    assert rc == 2, err
    _one_located_line(err, *parts)
