"""harness import openai-evals-registry: Match, Includes, FuzzyMatch and ModelBasedClassify evals -> suites that run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from harness.cli import main

SPEC = """
capitals:
  id: capitals.dev.v0
  metrics: [accuracy]
capitals.dev.v0:
  class: evals.elsuite.basic.{cls}
  args:
    samples_jsonl: capitals/samples.jsonl
    {extra}
"""
MODELGRADED = """
fact:
  prompt: |-
    Question: {input}
    Expert answer: {ideal}
    Submitted answer: {completion}
    Is the submitted answer (A) consistent with the expert's, or (B) wrong?
  choice_strings: AB
  choice_scores:
    A: 1.0
    B: 0.0
  input_outputs:
    input: completion
"""
SAMPLES = [
    {"input": [{"role": "system", "content": "Answer with the city."}, {"role": "user", "content": "Capital of France?"}], "ideal": "Paris"},
    {"input": [{"role": "user", "content": "Capital of Japan?"}], "ideal": ["Tokyo", "Tōkyō"]},
    {"input": "Capital of Italy?", "ideal": "Rome"},
]
# sample-00001 starts with the ideal; sample-00002 contains it later; sample-00003 is wrong.
OUTPUTS = {"sample-00001": "Paris, of course.", "sample-00002": "It is tokyo", "sample-00003": "Milan"}


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    reg = tmp_path / "registry"
    (reg / "data" / "capitals").mkdir(parents=True)
    (reg / "evals").mkdir()
    (reg / "modelgraded").mkdir()
    (reg / "data" / "capitals" / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in SAMPLES))
    (reg / "modelgraded" / "fact.yaml").write_text(MODELGRADED)
    return reg


def _run(tmp_path: Path, registry: Path, cls: str, extra: str = "", judge: dict[str, str] | None = None) -> dict:
    spec = registry / "evals" / "capitals.yaml"
    spec.write_text(SPEC.format(cls=cls, extra=extra))
    suite = tmp_path / "suites" / "capitals.yaml"
    cmd = ["import", "openai-evals-registry", str(spec), "--out", str(suite), "--data-out", str(tmp_path / "data"), "--force"]
    if judge is not None:
        (tmp_path / "judge.jsonl").write_text("".join(json.dumps({"id": k, "output": v}) + "\n" for k, v in judge.items()))
        cmd += ["--judge", f"scripted:{tmp_path / 'judge.jsonl'}"]
    assert main(cmd) == 0
    assert main(["validate", str(suite)]) == 0
    (tmp_path / "model.jsonl").write_text("".join(json.dumps({"id": k, "output": v}) + "\n" for k, v in OUTPUTS.items()))
    out = tmp_path / "run"
    assert main(["run", str(suite), "--model", f"scripted:{tmp_path / 'model.jsonl'}", "--reports", str(tmp_path / "reports"),
                 "--out", str(out), "--no-progress"]) == 0
    return json.loads((out / "summary.json").read_text())["metrics"]


def test_match_is_a_prefix_of_any_ideal(tmp_path, registry):
    m = _run(tmp_path, registry, "match:Match")
    assert m["match"]["mean"] == pytest.approx(1 / 3)  # "It is tokyo" does not start with Tokyo


def test_includes_and_ignore_case(tmp_path, registry):
    assert _run(tmp_path, registry, "includes:Includes")["includes"]["mean"] == pytest.approx(1 / 3)  # "tokyo" != "Tokyo"
    assert _run(tmp_path, registry, "includes:Includes", "ignore_case: true")["includes"]["mean"] == pytest.approx(2 / 3)


def test_fuzzy_match_normalises(tmp_path, registry):
    m = _run(tmp_path, registry, "fuzzy_match:FuzzyMatch")
    assert m["fuzzy_match"]["mean"] == pytest.approx(2 / 3) and "token_f1" in m


def test_model_based_classify_is_a_label_judge(tmp_path, registry, capsys):
    judge = {"sample-00001#label": "A", "sample-00002#label": "A", "sample-00003#label": "B"}
    m = _run(tmp_path, registry, "modelgraded.classify:ModelBasedClassify", "modelgraded_spec: fact", judge)
    assert m["model_graded"]["mean"] == pytest.approx(2 / 3)
    suite = yaml.safe_load((tmp_path / "suites" / "capitals.yaml").read_text())
    msg = suite["metrics"][0]["messages"][0]["content"]
    assert "{{ input_text }}" in msg and "{{ output }}" in msg and "{{ ideal }}" in msg
    assert "eval_type: partly converted" in capsys.readouterr().err


def test_unknown_class_is_located(tmp_path, registry, capsys):
    spec = registry / "evals" / "capitals.yaml"
    spec.write_text(SPEC.format(cls="translate:Translate", extra=""))
    assert main(["import", "openai-evals-registry", str(spec), "--out", str(tmp_path / "s.yaml")]) == 2
    assert "capitals.dev.v0.class: cannot convert 'evals.elsuite.basic.translate:Translate'" in capsys.readouterr().err
