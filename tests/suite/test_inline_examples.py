"""A suite may hold its examples inline (`dataset.examples`): strict, located, hashed like a file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.core.errors import InputProblems
from harness.data.examples import load_split
from harness.suite.load import load_suite
from tests.conftest import dedent

SUITE = """
    name: inline
    version: 1
    dataset:
      examples:
        - {id: q1, input: "2+2?", reference: "4", category: math}
        - {id: q2, input: "Capital of France?", reference: Paris, category: geo}
        - {id: q3, input: "3+3?", reference: "6", category: math, vars: {hint: even}}
    prompt:
      messages:
        - {role: user, content: "{{ input }}"}
    metrics: [{name: exact_match}]
    gates: [{metric: exact_match, min: 0.5, category: each}]
"""


def write(tmp_path: Path, text: str, name: str = "suite.yaml") -> Path:
    p = tmp_path / name
    p.write_text(dedent(text))
    return p


def problems_of(path: Path) -> list[str]:
    with pytest.raises(InputProblems) as e:
        load_suite(path)
    return [str(p) for p in e.value.problems]


def test_inline_examples_are_the_test_split_with_roles_from_their_keys(tmp_path: Path) -> None:
    loaded = load_suite(write(tmp_path, SUITE))
    ds = loaded.suite.dataset
    assert ds.split_names() == ["test"]
    assert ds.fields.category == "category" and ds.fields.id == "id"  # the category gate needs this
    split = load_split(ds, loaded.dataset_dir(), "test", loaded.suite.prompt)
    assert [e.id for e in split.examples] == ["q1", "q2", "q3"]
    assert split.examples[1].reference == "Paris" and split.examples[2].category == "math"
    assert split.examples[2].record["hint"] == "even"
    assert len(split.sha256) == 64


def test_editing_an_example_changes_the_suite_and_split_hashes(tmp_path: Path) -> None:
    a = load_suite(write(tmp_path, SUITE, "a.yaml"))
    b = load_suite(write(tmp_path, SUITE.replace("Paris", "Lyon"), "b.yaml"))
    sa = load_split(a.suite.dataset, a.dataset_dir(), "test").sha256
    sb = load_split(b.suite.dataset, b.dataset_dir(), "test").sha256
    assert a.sha256 != b.sha256 and sa != sb
    again = load_suite(write(tmp_path, SUITE, "c.yaml"))
    assert again.sha256 == a.sha256 and load_split(again.suite.dataset, again.dataset_dir(), "test").sha256 == sa


def test_a_file_suite_keeps_its_dump_without_examples(tiny_suite: Path) -> None:
    dump = load_suite(tiny_suite).suite.model_dump()
    assert "examples" not in dump["dataset"] and dump["dataset"]["splits"]


def test_the_dump_round_trips(tmp_path: Path) -> None:
    from harness.suite.schema import Suite

    suite = load_suite(write(tmp_path, SUITE)).suite
    assert Suite.model_validate(suite.model_dump()) == suite


def test_per_split_examples(tmp_path: Path) -> None:
    text = SUITE.replace("      examples:\n", "      examples:\n        validation: [{id: v1, input: x, reference: y}]\n        test:\n")
    text = text.replace("        - {id: q", "          - {id: q")
    loaded = load_suite(write(tmp_path, text))
    assert loaded.suite.dataset.split_names() == ["validation", "test"]
    assert [e.id for e in load_split(loaded.suite.dataset, loaded.dataset_dir(), "validation").examples] == ["v1"]


def test_mistakes_are_located(tmp_path: Path) -> None:
    bad = write(tmp_path, """
        name: bad
        version: 1
        dataset:
          examples:
            - {id: a, input: one, reference: "1"}
            - {id: a, input: two, referense: "2"}
            - {input: three, reference: "3"}
            - {id: d, input: four, vars: {input: x}}
        prompt:
          messages: [{role: user, content: "{{ input }} {{ topic }}"}]
        metrics: [{name: exact_match}]
    """)
    f = str(bad)
    got = problems_of(bad)
    assert f"{f}:6: dataset.examples[1].referense: unknown key 'referense'; allowed: id, input, reference, category, vars" in got
    assert any(g.startswith(f"{f}:8: dataset.examples[3].vars: input: a role") for g in got), got


def test_cross_checks_are_located(tmp_path: Path) -> None:
    bad = write(tmp_path, """
        name: bad
        version: 1
        dataset:
          examples:
            - {id: a, input: one, reference: "1", vars: {topic: t}}
            - {id: a, input: two, reference: "2", vars: {topic: t}}
            - {input: three, reference: "3"}
        prompt:
          messages: [{role: user, content: "{{ input }} {{ topic }}"}]
        metrics: [{name: exact_match}]
    """)
    f = str(bad)
    assert problems_of(bad) == [
        f"{f}:7: dataset.examples[2]: this example has no id but others do: give every example an id, or none",
        f"{f}:6: dataset.examples[1]: duplicate id 'a' (first at dataset.examples[0])",
        f"{f}:7: dataset.examples[2]: the prompt uses {{{{ topic }}}} but this example has no such key; add it under `vars`",
    ]


@pytest.mark.parametrize("dataset, says", [
    ("{splits: {test: t.jsonl}, examples: [{input: x}]}", "give either `splits`"),
    ("{}", "give either `splits`"),
    ("{examples: []}", "no examples"),
    ("{examples: [{input: x}], fields: {input: question}}", "remove dataset.fields"),
    ("{examples: [{input: x}], format: csv}", "`format` applies to split files"),
])
def test_one_source_of_examples(tmp_path: Path, dataset: str, says: str) -> None:
    (tmp_path / "t.jsonl").write_text('{"input": "x"}\n')
    bad = write(tmp_path, f"""
        name: bad
        version: 1
        dataset: {dataset}
        prompt: {{messages: [{{role: user, content: "{{{{ input }}}}"}}]}}
        metrics: [{{name: exact_match}}]
    """)
    got = problems_of(bad)
    assert len(got) == 1 and says in got[0] and got[0].startswith(f"{bad}:3: "), got


def test_a_missing_default_split_names_the_inline_splits(tmp_path: Path) -> None:
    bad = write(tmp_path, """
        name: bad
        version: 1
        dataset: {examples: {validation: [{input: x}]}}
        prompt: {messages: [{role: user, content: "{{ input }}"}]}
        metrics: [{name: exact_match}]
    """)
    assert problems_of(bad) == [f"{bad}:1: default_split: 'test' is not one of the inline examples' splits: validation"]


def test_a_run_of_inline_examples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    suite = write(tmp_path, SUITE)
    (tmp_path / "out.json").write_text(json.dumps({"q1": "4", "q2": "Paris", "q3": "5"}))
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(suite), "--model", "scripted:out.json", "--reports", str(tmp_path / "r")]) == 0
    (summary,) = (tmp_path / "r" / "runs").glob("*/summary.json")
    data = json.loads(summary.read_text())
    assert data["dataset"]["sha256"] == load_split(load_suite(suite).suite.dataset, tmp_path, "test").sha256
    assert "0.667" in capsys.readouterr().out


def test_the_json_schema_accepts_an_inline_suite_and_refuses_a_typo() -> None:
    import jsonschema
    import yaml

    from harness.cli.schema import SCHEMA_PATH

    schema = json.loads(SCHEMA_PATH.read_text())
    data = yaml.safe_load(dedent(SUITE))
    jsonschema.validate(data, schema)
    data["dataset"]["examples"][0]["refrence"] = "4"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema)


def test_a_bare_metric_name_is_its_entry(tmp_path: Path) -> None:
    bare = load_suite(write(tmp_path, SUITE.replace("metrics: [{name: exact_match}]", "metrics: [exact_match]"), "bare.yaml"))
    full = load_suite(write(tmp_path, SUITE, "full.yaml"))
    assert bare.sha256 == full.sha256 and [m.name for m in bare.metrics] == ["exact_match"]
    typo = write(tmp_path, SUITE.replace("metrics: [{name: exact_match}]", "metrics: [exact_mach]"), "typo.yaml")
    (problem,) = problems_of(typo)
    assert problem.startswith(f"{typo}:11: metrics[0].name: unknown metric 'exact_mach'. Did you mean: exact_match")


def test_list_providers_describes_each(capsys) -> None:
    assert main(["list", "providers"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert {line.split(":")[0] for line in lines} >= {"local", "openai", "scripted"}
    assert all(len(line.split(": ", 1)[1]) > 20 and "``" not in line for line in lines), lines
