"""An imported eval's first run: a judge that needs a key is said at import and validate time (with the
flags that pick another), score_model grades in the eval's own words, and a $schema line that exists."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from harness.cli import main
from harness.importers.openai_eval import grade_levels

GRADER_TEXT = ("Grade how well the answer routes the ticket.\n1: wrong team\n2 - right team, wrong queue\n"
               "3: exactly right\nAnswer: {{sample.output_text}}")


def _eval(tmp_path: Path) -> Path:
    ev = {"object": "eval", "name": "Routing", "data_source_config": {"type": "custom", "schema": {
        "type": "object", "properties": {"item": {"type": "object", "properties": {"ticket": {"type": "string"}},
                                                  "required": ["ticket"]}}, "required": ["item"]}},
          "testing_criteria": [{"type": "score_model", "name": "Routing", "model": "gpt-4o-mini", "range": [1, 3],
                                "pass_threshold": 2, "input": [{"role": "developer", "content": GRADER_TEXT}]}]}
    (tmp_path / "items.jsonl").write_text('{"item": {"ticket": "Where is my order?"}}\n')
    path = tmp_path / "eval.json"
    path.write_text(json.dumps(ev))
    return path


def test_a_keyless_default_judge_is_said_at_import_and_validate(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    suite = tmp_path / "suites" / "routing.yaml"
    assert main(["import", "openai-eval", str(_eval(tmp_path)), "--data", str(tmp_path / "items.jsonl"),
                 "--out", str(suite), "--data-out", str(tmp_path / "data")]) == 0
    err = capsys.readouterr().err
    want = ("metrics[0] (judge_rubric) is judged by openai:gpt-4o-mini, which needs OPENAI_API_KEY (not set): set it, "
            "or pick another judge at run time with --judge local")
    assert want in err
    assert main(["validate", str(suite)]) == 0
    assert want in capsys.readouterr().err
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert main(["validate", str(suite)]) == 0
    assert "warning" not in capsys.readouterr().err


def test_an_imported_score_model_has_the_evals_own_grades(tmp_path: Path, capsys) -> None:
    suite = tmp_path / "routing.yaml"
    assert main(["import", "openai-eval", str(_eval(tmp_path)), "--data", str(tmp_path / "items.jsonl"),
                 "--out", str(suite), "--data-out", str(tmp_path / "data"), "--judge", "local"]) == 0
    (metric,) = yaml.safe_load(suite.read_text())["metrics"]
    assert metric["levels"] == {1: "wrong team (a score of 1 on the original 1..3 scale)",
                                2: "right team, wrong queue (a score of 2 on the original 1..3 scale)",
                                3: "exactly right (a score of 3 on the original 1..3 scale)"}
    assert "warning" not in capsys.readouterr().err  # --judge local needs no key


def test_levels_the_text_does_not_describe_say_the_original_score() -> None:
    assert grade_levels("Score 0: nothing\nscore of 2 = all", 0, 2) == {
        1: "nothing (a score of 0 on the original 0..2 scale)", 2: "a score of 1 on the original 0..2 scale",
        3: "all (a score of 2 on the original 0..2 scale)"}


def test_the_schema_line_points_at_a_file_that_exists(tmp_path: Path, capsys) -> None:
    suite = tmp_path / "deep" / "er" / "routing.yaml"
    assert main(["import", "openai-eval", str(_eval(tmp_path)), "--data", str(tmp_path / "items.jsonl"),
                 "--out", str(suite), "--data-out", str(tmp_path / "data"), "--judge", "local"]) == 0
    first = suite.read_text().splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    target = (suite.parent / first.split("$schema=", 1)[1]).resolve()
    assert target.is_file() and json.loads(target.read_text())["title"] == "harness suite"
    capsys.readouterr()
    assert main(["schema", "--path"]) == 0
    assert Path(capsys.readouterr().out.strip()).resolve() == target
