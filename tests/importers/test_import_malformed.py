"""Malformed eval files: one located line (file, field, what was expected) and exit 2, never a traceback."""

from __future__ import annotations

import json

import pytest

from tests.importers.hardening_helpers import registry, _spec, _eval, _cli, _expect_2, SPEC, MODELGRADED, STRING_CHECK, SCORE_MODEL  # noqa: F401 (registry: a fixture)


def test_eval_name_not_a_string(tmp_path, capsys):
    _expect_2(["import", "openai-eval", str(_eval(tmp_path, name=5)), "--out", str(tmp_path / "s.yaml")], capsys,
              "eval.json", "name", "expected a string")


@pytest.mark.parametrize("props", [["ticket", "intent"], "ticket"])
def test_item_schema_properties_not_an_object(tmp_path, capsys, props):
    _expect_2(["import", "openai-eval", str(_eval(tmp_path, schema={"type": "object", "properties": props})),
               "--out", str(tmp_path / "s.yaml")], capsys, "data_source_config.item_schema.properties", "expected an object")


def test_required_must_be_a_list(tmp_path, capsys):
    data = tmp_path / "items.jsonl"
    data.write_text(json.dumps({"item": {"ticket": "t", "intent": "i"}}) + "\n")
    schema = {"type": "object", "properties": {"ticket": {"type": "string"}, "intent": {"type": "string"}}, "required": "ticket"}
    _expect_2(["import", "openai-eval", str(_eval(tmp_path, schema=schema)), "--data", str(data), "--out", str(tmp_path / "s.yaml")],
              capsys, "data_source_config.item_schema.required", "expected a list")


@pytest.mark.parametrize("rng", [[5], [1, 5, 9], [5, 1], [1, "high"]])
def test_score_model_range_must_be_low_high(tmp_path, capsys, rng):
    _expect_2(["import", "openai-eval", str(_eval(tmp_path, [STRING_CHECK, {**SCORE_MODEL, "range": rng}])),
               "--out", str(tmp_path / "s.yaml")], capsys, "testing_criteria[1].range")


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_pass_threshold_must_be_finite(tmp_path, capsys, value):
    crit = json.dumps([{**SCORE_MODEL, "pass_threshold": "__X__"}]).replace('"__X__"', value)
    raw = json.dumps({"name": "capitals", "data_source_config": {"type": "custom", "item_schema": {
        "type": "object", "properties": {"ticket": {"type": "string"}}}}, "testing_criteria": "__C__"}).replace('"__C__"', crit)
    _expect_2(["import", "openai-eval", str(_eval(tmp_path, raw=raw.encode())), "--out", str(tmp_path / "s.yaml")], capsys,
              "testing_criteria[0].pass_threshold", "finite")


@pytest.mark.parametrize("model", ["gpt-4o-mini?base_url=http://127.0.0.1:9/v1", "gpt-4o?api_key_env=HOME", "x.yaml",
                                   "local:/etc"])
def test_a_grader_model_cannot_pick_the_judge_endpoint(tmp_path, capsys, model):
    src = _eval(tmp_path, [{**SCORE_MODEL, "model": model}])
    _expect_2(["import", "openai-eval", str(src), "--out", str(tmp_path / "s.yaml")], capsys,
              "testing_criteria[0].model", "--judge")
    # With --judge the grader's model is not used, so the import goes on.
    rc, _ = _cli(["import", "openai-eval", str(src), "--out", str(tmp_path / "s.yaml"), "--judge", "openai:gpt-4o-mini"], capsys)
    assert rc == 0 and "127.0.0.1" not in (tmp_path / "s.yaml").read_text()


def test_a_fine_tuned_grader_model_is_still_accepted(tmp_path, capsys):
    src = _eval(tmp_path, [{**SCORE_MODEL, "model": "ft:gpt-4o-mini-2024-07-18:org::abc123"}])
    assert _cli(["import", "openai-eval", str(src), "--out", str(tmp_path / "s.yaml")], capsys)[0] == 0
    assert "openai:ft:gpt-4o-mini-2024-07-18:org::abc123" in (tmp_path / "s.yaml").read_text()


def test_non_utf8_eval_and_data_files_are_named(tmp_path, capsys):
    bad = _eval(tmp_path, raw=b'{"name": "caf\xe9"}')
    _expect_2(["import", "openai-eval", str(bad), "--out", str(tmp_path / "s.yaml")], capsys, str(bad), "UTF-8")
    data = tmp_path / "items.jsonl"
    data.write_bytes(b'{"item": {"ticket": "caf\xe9"}}\n')
    src = _eval(tmp_path)
    _expect_2(["import", "openai-eval", str(src), "--data", str(data), "--out", str(tmp_path / "s.yaml")], capsys, str(data), "UTF-8")


def test_non_utf8_registry_files_are_named(tmp_path, registry, capsys):
    spec = registry / "evals" / "capitals.yaml"
    spec.write_bytes(b"capitals: {id: caf\xe9}\n")
    _expect_2(["import", "openai-evals-registry", str(spec), "--out", str(tmp_path / "s.yaml")], capsys, str(spec), "UTF-8")
    samples = registry / "data" / "capitals" / "samples.jsonl"
    samples.write_bytes(b'{"input": "caf\xe9", "ideal": "x"}\n')
    _spec(registry)
    _expect_2(["import", "openai-evals-registry", str(spec), "--out", str(tmp_path / "s.yaml")], capsys, str(samples), "UTF-8")


REGISTRY_WRONG_TYPES = {
    "args a list": (SPEC.replace("  args:\n    samples_jsonl: {samples}\n    {extra}\n", "  args: [1, 2]\n"), "capitals.dev.v0.args"),
    "max_tokens a word": (SPEC.replace("{extra}", "max_tokens: lots"), "capitals.dev.v0.args.max_tokens"),
    "id a list": (SPEC.replace("id: capitals.dev.v0", "id: [capitals.dev.v0]"), "capitals.id"),
    "eval name a number": (SPEC.replace("capitals:\n", "5:\n"), "5"),
    "samples_jsonl a mapping": (SPEC.replace("{samples}", "{{a: 1}}"), "capitals.dev.v0.args.samples_jsonl"),
    "class a list": (SPEC.replace("class: evals.elsuite.basic.{cls}", "class: [Match]"), "capitals.dev.v0.class"),
    "ignore_case a word": (SPEC.replace("{extra}", "ignore_case: perhaps"), "capitals.dev.v0.args.ignore_case"),
}


@pytest.mark.parametrize("case", list(REGISTRY_WRONG_TYPES))
def test_registry_yaml_with_wrong_types(tmp_path, registry, capsys, case):
    text, field = REGISTRY_WRONG_TYPES[case]
    cls = "includes:Includes" if "ignore_case" in case else "match:Match"
    spec = _spec(registry, text=text.format(cls=cls, samples="capitals/samples.jsonl", extra=""))
    _expect_2(["import", "openai-evals-registry", str(spec), "--out", str(tmp_path / "s.yaml")], capsys, str(spec), field)


MODELGRADED_WRONG_TYPES = {
    "choice_scores not numbers": (MODELGRADED.replace("{A: 1.0, B: 0.0}", "{A: high, B: low}"), "fact.choice_scores"),
    "input_outputs a list": (MODELGRADED.replace("{input: completion}", "[input, completion]"), "fact.input_outputs"),
    "from_strings of letters": (MODELGRADED.replace("{A: 1.0, B: 0.0}", "from_strings"), "fact.choice_scores"),
    "prompt a list": (MODELGRADED.replace('prompt: "', 'prompt: ["').replace('wrong?"', 'wrong?"]'), "fact.prompt"),
}


@pytest.mark.parametrize("case", list(MODELGRADED_WRONG_TYPES))
def test_modelgraded_spec_with_wrong_types(tmp_path, registry, capsys, case):
    text, field = MODELGRADED_WRONG_TYPES[case]
    (registry / "modelgraded" / "fact.yaml").write_text(text)
    spec = _spec(registry, cls="modelgraded.classify:ModelBasedClassify", extra="modelgraded_spec: fact")
    _expect_2(["import", "openai-evals-registry", str(spec), "--out", str(tmp_path / "s.yaml")], capsys, "fact.yaml", field)


def test_yaml_aliases_are_refused_not_expanded(tmp_path, registry, capsys):
    """A billion-laughs description: refused at the first alias (a small one here, so that the test
    cannot eat the machine's memory on code that expands it)."""
    bomb = "a: &a [x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b]\n"
    text = bomb + SPEC.format(cls="match:Match", samples="capitals/samples.jsonl", extra="").replace(
        "capitals.dev.v0:\n", "capitals.dev.v0:\n  description: *c\n")
    spec = _spec(registry, text=text)
    _expect_2(["import", "openai-evals-registry", str(spec), "--out", str(tmp_path / "s.yaml")], capsys,
              f"{spec}:2", "alias")
