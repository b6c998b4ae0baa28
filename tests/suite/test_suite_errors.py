"""Suite validation: every problem located (file:line: field path: message), all reported at once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.core.errors import InputProblems
from harness.suite.load import load_suite
from tests.conftest import INTENT_ROWS, INTENT_SUITE, dedent, write_jsonl


def problems_of(path: Path) -> list[str]:
    with pytest.raises(InputProblems) as e:
        load_suite(path)
    return [str(p) for p in e.value.problems]


def test_valid_suite_loads(tiny_suite: Path) -> None:
    loaded = load_suite(tiny_suite)
    assert loaded.suite.name == "tiny-intent"
    assert list(loaded.score_specs()) == ["accuracy", "macro_f1", "exact_match"]
    assert len(loaded.sha256) == 64


def test_all_problems_reported_together_with_lines(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "test.jsonl", INTENT_ROWS)
    bad = tmp_path / "bad.yaml"
    bad.write_text(dedent("""
        name: bad
        version: 1
        dataset:
          splits: {test: test.jsonl}
          formt: jsonl
        prompt:
          messages:
            - role: robot
              content: hi
        generation:
          max_tokens: 0
        metrics:
          - name: rouge_l
          - name: rouge
            types: [rouge9]
    """))
    f = str(bad)
    got = problems_of(bad)
    # the schema's problems and the metrics' own, in file order, from one pass
    assert got[:3] == [
        f"{f}:5: dataset.formt: unknown key 'formt'; allowed: path, format, splits, examples, fields",
        f"{f}:8: prompt.messages[0].role: got 'robot'; expected 'system', 'user' or 'assistant'",
        f"{f}:11: generation.max_tokens: Input should be greater than or equal to 1",
    ]
    assert got[3].startswith(f"{f}:13: metrics[0].name: unknown metric 'rouge_l'. Did you mean: rouge")
    assert got[4] == f"{f}:15: metrics[1].types[0]: got 'rouge9'; expected 'rouge1', 'rouge2' or 'rougeL'"
    assert len(got) == 5


def test_metric_problems_name_choices(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "test.jsonl", INTENT_ROWS)
    bad = tmp_path / "bad.yaml"
    bad.write_text(INTENT_SUITE.replace("  - name: exact_match\n", "  - name: exact_mach\n  - name: rouge\n    types: [rouge9]\n    stem: true\n"))
    got = problems_of(bad)
    assert got[0].startswith(f"{bad}:16: metrics[1].name: unknown metric 'exact_mach'. Did you mean: exact_match, regex_match? Available: ")
    assert f"{bad}:18: metrics[2].types[0]: got 'rouge9'; expected 'rouge1', 'rouge2' or 'rougeL'" in got
    assert f"{bad}:19: metrics[2].stem: unknown key 'stem'; allowed: types, use_stemmer" in got


def test_gate_must_name_a_produced_score_and_one_rule(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "test.jsonl", INTENT_ROWS)
    bad = tmp_path / "bad.yaml"
    bad.write_text(INTENT_SUITE.replace("    min: 0.5\n", "    min: 0.5\n  - metric: bleu\n    max: 1\n  - metric: accuracy\n    min: 0.1\n    max: 0.9\n"))
    assert problems_of(bad) == [
        f"{bad}:22: gates[2]: give exactly one rule: min, max, non_inferiority_margin, min_improvement, max_regressions or max_flaky_share (got min, max)",
    ]
    bad.write_text(INTENT_SUITE.replace("    min: 0.5\n", "    min: 0.5\n  - metric: bleu\n    max: 1\n"))
    assert problems_of(bad) == [
        f"{bad}:20: gates[1].metric: no metric of this suite produces 'bleu'; its scores are: accuracy, macro_f1, exact_match",
    ]


def test_missing_split_file_and_prompt_source(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(INTENT_SUITE.replace("prompt:\n  messages:", "prompt:\n  from_dataset: true\n  messages:"))
    got = problems_of(bad)
    assert got == [
        f"{bad}:8: prompt: give one of `messages` (a chat template), `from_dataset: true` or `text` (a plain-text prompt), not messages and from_dataset",
    ]
    bad.write_text(INTENT_SUITE)
    assert problems_of(bad) == [f"{bad}:5: dataset.splits.test: no such file: {tmp_path / 'test.jsonl'}"]


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nversion: [1\n")
    (p,) = problems_of(bad)
    assert p.startswith(f"{bad}:3: YAML syntax: ")


def test_include_merges_deeply(tmp_path: Path, tiny_suite: Path) -> None:
    child = tmp_path / "child.yaml"
    child.write_text("include: suite.yaml\nname: child\ngeneration:\n  temperature: 0.5\n")
    loaded = load_suite(child)
    assert loaded.suite.name == "child"
    assert loaded.suite.generation.temperature == 0.5
    assert loaded.suite.generation.max_tokens == 8  # from the included file


def test_cli_validate_exit_2_one_line_per_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_jsonl(tmp_path / "test.jsonl", INTENT_ROWS)
    bad = tmp_path / "bad.yaml"
    bad.write_text(INTENT_SUITE.replace("max_tokens: 8", "max_tokens: -1\n  temprature: 0"))
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"{bad}:12: generation.max_tokens: Input should be greater than or equal to 1",
        f"{bad}:13: generation.temprature: unknown key 'temprature'; allowed: max_tokens, temperature, top_p, stop, seed, logprobs, top_logprobs, repeats, reducer",
        "2 problems found",
    ]


def test_committed_json_schema_matches_models() -> None:
    from harness.cli.schema import SCHEMA_PATH, suite_json_schema

    assert json.loads(SCHEMA_PATH.read_text()) == suite_json_schema(), "run `harness schema --write`"


def test_shipped_suites_validate(capsys: pytest.CaptureFixture[str]) -> None:
    suites = sorted(Path(__file__).resolve().parents[2].joinpath("suites").glob("*.yaml"))
    assert suites
    assert main(["validate", *map(str, suites)]) == 0
