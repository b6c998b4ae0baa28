"""Accuracy metrics (contains, regex, choice, JSON validity and schema, token F1, classification)
against hand-computed values, with the edge cases: empty output, unicode, very long output."""

from __future__ import annotations

import json

import pytest

from harness.core.types import Failure, Item
from harness.metrics.base import build_metric

LONG = "lorem ipsum " * 20_000  # 240k characters


def item(output: str | None, reference=None, **kw) -> Item:
    return Item(id=kw.pop("id", "x"), output=output, reference=reference, **kw)


def one(metric: str, params: dict, output: str | None, reference=None, **kw):
    m = build_metric(metric, params)
    (value,) = m.score(item(output, reference, **kw)).values()
    return value


def test_contains() -> None:
    assert one("contains", {}, "Refunds take 5-7 business days.", "5-7 business days") == 1.0
    assert one("contains", {}, "concatenate", "cat") == 0.0  # whole words after normalisation
    assert one("contains", {"match": "exact"}, "concatenate", "cat") == 1.0
    assert one("contains", {"match": "case_insensitive"}, "PARIS", "paris") == 1.0
    assert one("contains", {}, "Ça coûte 5 €, café compris", "café") == 1.0  # unicode
    assert one("contains", {"value": ["photo", "order number"], "mode": "all"}, "send a photo", None) == 0.0
    assert one("contains", {"value": ["photo", "order number"], "mode": "any"}, "send a photo", None) == 1.0
    assert one("contains", {}, "", "x") == 0.0
    assert one("contains", {}, LONG + " needle", "needle") == 1.0
    assert isinstance(one("contains", {}, "x", None), Failure)
    assert isinstance(one("contains", {}, None, "x", error="timeout"), Failure)


def test_regex() -> None:
    assert one("regex_match", {"pattern": r"\b\d{3}-\d{4}\b"}, "call 555-1234 now") == 1.0
    assert one("regex_match", {"pattern": r"\d+", "mode": "fullmatch"}, " 42 \n") == 1.0
    assert one("regex_match", {"pattern": r"\d+", "mode": "fullmatch"}, "42 apples") == 0.0
    assert one("regex_match", {"pattern": "straße", "ignore_case": True}, "STRASSE Straße") == 1.0
    assert one("regex_match", {"pattern": "^$", "mode": "fullmatch"}, "") == 1.0
    assert one("regex_match", {"pattern_field": "rx"}, "ab", record={"rx": "a."}) == 1.0
    assert isinstance(one("regex_match", {"pattern_field": "rx"}, "ab", record={"rx": "("}), Failure)
    assert isinstance(one("regex_match", {"pattern_field": "rx"}, "ab", record={}), Failure)
    with pytest.raises(ValueError, match="not a valid regular expression"):
        build_metric("regex_match", {"pattern": "("})


@pytest.mark.parametrize(("output", "picked"), [
    ("The answer is (C).", "C"),
    ("Answer: b", "B"),
    ("B) Paris", "B"),
    ("(D)", "D"),
    ("C", "C"),
    ("I think it is D.", "D"),  # "I" the pronoun is not option I
    ("A dog would pick it", "(no choice)"),
    ("Either A or B", "(no choice)"),  # two candidates: not a pick
    ("", "(no choice)"),
    ("Réponse : la bonne option est (B)", "B"),
])
def test_choice_extraction(output: str, picked: str) -> None:
    assert build_metric("choice", {}).extract(output) == picked


def test_choice_score() -> None:
    assert one("choice", {}, "The answer is C", "C") == 1.0
    assert one("choice", {}, "The answer is C", "(c)") == 1.0
    assert one("choice", {}, "no idea", "C") == 0.0  # no letter read: not a pick, scores 0
    assert isinstance(one("choice", {}, "C", "E"), Failure)  # E is not a choice
    assert one("choice", {"choices": ["1", "2", "3"]}, "Option 2 is right", "2") == 1.0


def test_json_valid() -> None:
    assert one("json_valid", {}, '{"a": [1, 2]}') == 1.0
    assert one("json_valid", {}, '```json\n{"a": 1}\n```') == 1.0
    assert one("json_valid", {"allow_fences": False}, '```json\n{"a": 1}\n```') == 0.0
    assert one("json_valid", {}, "{'a': 1}") == 0.0
    assert one("json_valid", {}, "") == 0.0
    assert one("json_valid", {"require": "object"}, "[1]") == 0.0
    assert one("json_valid", {}, json.dumps({"é": "ü✓"}, ensure_ascii=False)) == 1.0
    assert one("json_valid", {}, json.dumps({"t": LONG})) == 1.0


SCHEMA = {"type": "object", "required": ["name", "age"], "additionalProperties": False,
          "properties": {"name": {"type": "string", "minLength": 1}, "age": {"type": "integer", "minimum": 0},
                         "tags": {"type": "array", "items": {"enum": ["a", "b"]}}}}


def test_json_schema() -> None:
    p = {"schema": SCHEMA}
    assert one("json_schema", p, '{"name": "Zoë", "age": 3, "tags": ["a"]}') == 1.0
    assert one("json_schema", p, '{"name": "Zoë", "age": -1}') == 0.0
    assert one("json_schema", p, '{"name": "Zoë", "age": 3.5}') == 0.0
    assert one("json_schema", p, '{"name": "Zoë", "age": true}') == 0.0  # a bool is not an integer
    assert one("json_schema", p, '{"name": "Zoë", "age": 3, "x": 1}') == 0.0
    assert one("json_schema", p, '{"name": "Zoë", "age": 3, "tags": ["c"]}') == 0.0
    assert one("json_schema", p, "not json") == 0.0
    assert one("json_schema", p, "") == 0.0
    assert one("json_schema", p, json.dumps({"name": LONG, "age": 1})) == 1.0
    m = build_metric("json_schema", p)
    assert m.violations(item('{"age": 3}')) != []
    per_ex = {"schema_field": "schema"}
    assert one("json_schema", per_ex, "[1, 2]", record={"schema": '{"type": "array"}'}) == 1.0
    assert isinstance(one("json_schema", per_ex, "[1]", record={"schema": "{oops"}), Failure)
    with pytest.raises(ValueError):
        build_metric("json_schema", {"schema": {"type": "object"}, "schema_field": "s"})


def test_json_schema_drafts_and_schema_errors_at_suite_load(tmp_path) -> None:
    from harness.core.errors import InputProblems
    from harness.suite.load import load_suite
    from tests.conftest import INTENT_ROWS, dedent, write_jsonl

    draft7 = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "array", "items": [{"type": "integer"}],
              "additionalItems": False}  # draft-07's tuple form: [1] conforms, [1, 2] does not
    assert one("json_schema", {"schema": draft7}, "[1]") == 1.0
    assert one("json_schema", {"schema": draft7}, "[1, 2]") == 0.0
    assert one("json_schema", {"schema": {"type": "string", "format": "email"}}, '"not an email"') == 1.0  # annotation
    m = build_metric("json_schema", {"schema": SCHEMA})
    assert m.violations(item('{"name": "Zoë", "age": -1}')) == ["$.age: -1 is less than the minimum of 0"]
    remote = {"$ref": "https://example.invalid/schema.json"}  # never fetched: the example fails with the reason
    got = one("json_schema", {"schema": remote}, "{}")
    assert isinstance(got, Failure) and "not fetched" in got.reason
    write_jsonl(tmp_path / "test.jsonl", INTENT_ROWS)
    bad = tmp_path / "bad.yaml"
    bad.write_text(dedent("""
        name: bad
        version: 1
        dataset:
          splits: {test: test.jsonl}
        prompt:
          messages:
            - role: user
              content: "{{ text }}"
        metrics:
          - name: json_schema
            schema: {type: object, properties: {age: {type: integr}}}
          - name: json_schema
            schema: {$schema: "https://example.org/my-draft", type: object}
    """))
    with pytest.raises(InputProblems) as e:
        load_suite(bad)
    got = [str(p) for p in e.value.problems]
    assert len(got) == 2, got
    assert got[0].startswith(f"{bad}:11: metrics[0].schema: $.properties.age.type: 'integr' is not one of ['array', 'boolean', 'integer'")
    assert got[0].endswith("(checked against Draft202012)")
    assert got[1].startswith(f"{bad}:13: metrics[1].schema: $schema 'https://example.org/my-draft' is not a JSON Schema draft")


def test_token_f1_squad() -> None:
    # pred tokens [cat, sat, on, mat], gold [cat, sat]: P = 2/4, R = 1, F1 = 2/3
    assert one("token_f1", {}, "The cat sat on the mat.", "a cat sat") == pytest.approx(2 / 3)
    assert one("token_f1", {}, "Paris", ["London", "paris!"]) == 1.0
    assert one("token_f1", {}, "", "Paris") == 0.0
    assert one("token_f1", {}, "the", "a") == 1.0  # both empty after normalisation (SQuAD v2)
    assert one("token_f1", {}, "Zürich «city»", "zürich") == pytest.approx(2 * 0.5 * 1 / 1.5)
    # long: 40,000 tokens, one of them the reference: P = 1/40000, R = 1
    assert one("token_f1", {}, LONG, "ipsum") == pytest.approx(2 * (1 / 40000) / (1 + 1 / 40000), rel=1e-6)


def test_classification_per_class_and_confusion() -> None:
    m = build_metric("classification", {"labels": ["a", "b", "c"]})
    pairs = [("a", "a"), ("a", "b"), ("b", "b"), ("c", "x"), ("c", "c")]
    items = [item(o, r) for r, o in pairs]
    per = m.score_batch(items)
    art = m.artifacts(items, per)
    # a: tp1 fp0 fn1 -> P1 R.5 F.667; b: tp1 fp1 fn0 -> P.5 R1 F.667; c: tp1 fp0 fn1 -> P1 R.5
    assert art["per_class"]["a"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert art["per_class"]["b"]["precision"] == 0.5 and art["per_class"]["b"]["recall"] == 1.0
    assert art["confusion_matrix"]["labels"] == ["a", "b", "c", "(no label)"]
    assert art["confusion_matrix"]["matrix"] == [[1, 1, 0, 0], [0, 1, 0, 0], [0, 0, 1, 1]]
    assert m.corpus(items, per)["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 2 / 3) / 3)
