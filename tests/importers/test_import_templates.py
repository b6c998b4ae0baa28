"""Imported templates the harness cannot substitute are refused by field, never written verbatim."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.importers.hardening_helpers import registry, _spec, _eval, _cli, MODELGRADED, STRING_CHECK, SCORE_MODEL  # noqa: F401 (registry: a fixture)


@pytest.mark.parametrize("template", ["{{ item.intent | upper }}", "{% if item.intent %}{{item.intent}}{% endif %}",
                                      "{{{{item.intent}}}}", "{{ item.intent.strip() }}"])
def test_openai_templates_with_filters_tags_or_braces_are_refused_by_field(tmp_path, capsys, monkeypatch, template):
    monkeypatch.chdir(tmp_path)
    rc, err = _cli(["import", "openai-eval", str(_eval(tmp_path, [{**STRING_CHECK, "reference": template}])), "--strict"], capsys)
    assert rc == 2
    assert "testing_criteria[0]" in err and "reference" in err and "template" in err


def test_openai_message_template_with_a_filter_names_its_message(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bad = {**SCORE_MODEL, "input": [{"role": "user", "content": "Grade {{ sample.output_text | trim }}"}]}
    rc, err = _cli(["import", "openai-eval", str(_eval(tmp_path, [STRING_CHECK, bad]))], capsys)
    assert rc == 0  # the string check converts; the rubric is named and left out
    assert "testing_criteria[1]" in err and "input[0].content" in err
    assert "judge_rubric" not in Path("suites/capitals.yaml").read_text()


def test_registry_prompt_braces_follow_python_format(tmp_path, registry, capsys, monkeypatch):
    """evals fills a modelgraded prompt with str.format: ``{{`` is a literal brace, not a variable."""
    monkeypatch.chdir(tmp_path)
    (registry / "modelgraded" / "fact.yaml").write_text(MODELGRADED.replace("(A) right", "Reply as {{\\\"label\\\": ...}}. (A) right"))
    spec = _spec(registry, cls="modelgraded.classify:ModelBasedClassify", extra="modelgraded_spec: fact")
    assert _cli(["import", "openai-evals-registry", str(spec)], capsys)[0] == 0
    import yaml

    prompt = yaml.safe_load(Path("suites/capitals.yaml").read_text())["metrics"][0]["messages"][0]["content"]
    assert 'Reply as {"label": ...}.' in prompt and "{{ input_text }}" in prompt and "{{ output }}" in prompt


def test_registry_prompt_with_harness_template_syntax_is_refused(tmp_path, registry, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (registry / "modelgraded" / "fact.yaml").write_text(MODELGRADED.replace("(A) right", "{{{{ secret }}}} (A) right"))
    spec = _spec(registry, cls="modelgraded.classify:ModelBasedClassify", extra="modelgraded_spec: fact")
    rc, err = _cli(["import", "openai-evals-registry", str(spec)], capsys)
    assert rc == 2 and "fact.yaml" in err and "prompt" in err and "template" in err
