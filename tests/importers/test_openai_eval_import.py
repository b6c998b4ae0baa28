"""harness import openai-eval: an eval object with every grader type -> a suite that validates and runs."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from harness.cli import main
from harness.importers.common import Unconvertible, convert_template
from harness.metrics.graders import meteor_available

FIX = Path(__file__).parent / "fixtures"
OUTPUTS = {"item-00001": "order_status", "item-00002": "cancel_order", "item-00003": "billing_issue", "item-00004": "refund_request"}


def _jsonl(path: Path, rows: dict[str, str]) -> Path:
    path.write_text("".join(json.dumps({"id": k, "output": v}) + "\n" for k, v in rows.items()))
    return path


def _import(tmp_path: Path, capsys) -> tuple[Path, dict, str]:
    judge = _jsonl(tmp_path / "judge.jsonl", {**{f"{k}#judge0": '{"reason": "routes it", "score": 4}' for k in OUTPUTS},
                                               **{f"{k}#label": "neutral" for k in OUTPUTS}})
    suite = tmp_path / "suites" / "support.yaml"
    rc = main(["import", "openai-eval", str(FIX / "openai_eval.json"), "--data", str(FIX / "items.jsonl"),
               "--out", str(suite), "--data-out", str(tmp_path / "datasets" / "support"), "--judge", f"scripted:{judge}"])
    err = capsys.readouterr().err
    assert rc == 0
    return suite, yaml.safe_load(suite.read_text()), err


def test_every_grader_type_converts_or_is_named(tmp_path, capsys):
    suite, data, err = _import(tmp_path, capsys)
    by_score = {m["score"]: m for m in data["metrics"]}
    assert [by_score[s]["operation"] for s in ("intent_matches", "not_the_ticket", "mentions_intent", "mentions_intent_any_case")] == ["eq", "ne", "like", "ilike"]
    assert by_score["intent_matches"]["input"] == "{{ output }}" and by_score["intent_matches"]["reference"] == "{{ intent }}"
    sims = {m["evaluation_metric"] for m in data["metrics"] if m["name"] == "text_similarity"}
    assert {"fuzzy_match", "bleu", "gleu", "rouge_1", "rouge_2", "rouge_3", "rouge_4", "rouge_5", "rouge_l", "cosine"} <= sims
    # score_model 1..5 -> a 5-grade rubric; its pass_threshold 3 a gate on the mean grade.
    rq = by_score["reply_quality"]
    assert rq["name"] == "judge_rubric" and rq["scale"] == 5 and rq["temperature"] == 0 and rq["seed"] == 7
    assert "the request (its ticket" in rq["criteria"] and "{{" not in rq["criteria"]
    assert by_score["is_it_polite"]["scale"] == "pass_fail"
    assert by_score["tone"]["name"] == "judge_label" and by_score["tone"]["passing_labels"] == ["neutral"]
    gates = {g["metric"]: g for g in data["gates"]}
    assert gates["fuzzy"]["min"] == 0.8 and gates["reply_quality"]["min"] == 3 and gates["is_it_polite"]["min"] == 0.5
    assert "intent_matches" not in gates  # a string_check has no threshold
    # One located line each for what has no equivalent, in stderr and in the suite's header.
    assert "openai_eval.json: testing_criteria[18] (python 'custom code'): cannot convert: a python grader" in err
    assert "testing_criteria[19] (multi 'combined'): cannot convert: a multi grader" in err
    assert ("testing_criteria[7] (text_similarity 'meteor'): cannot convert: METEOR needs" in err) == (meteor_available() is not None)
    assert "testing_criteria[18]" in suite.read_text().split("name:")[0]


def test_imported_suite_validates_and_runs(tmp_path, capsys):
    suite, data, _ = _import(tmp_path, capsys)
    # The two rubric judges need different verdict shapes: give the pass/fail one a file of its own.
    polite = _jsonl(tmp_path / "polite.jsonl", {f"{k}#judge0": '{"reason": "courteous", "pass": true}' for k in OUTPUTS})
    for m in data["metrics"]:
        if m["score"] == "is_it_polite":
            m["judge"] = f"scripted:{polite}"
    suite.write_text(yaml.safe_dump(data, sort_keys=False))
    assert main(["validate", str(suite)]) == 0
    model = _jsonl(tmp_path / "model.jsonl", OUTPUTS)
    out = tmp_path / "run"
    assert main(["run", str(suite), "--model", f"scripted:{model}", "--reports", str(tmp_path / "reports"),
                 "--out", str(out), "--no-progress"]) == 0
    m = json.loads((out / "summary.json").read_text())["metrics"]
    assert m["intent_matches"]["mean"] == 0.75  # 3 of 4 outputs equal the intent
    assert m["not_the_ticket"]["mean"] == 1.0
    assert m["fuzzy"]["mean"] < 1.0 and m["fuzzy_pass"]["mean"] == 0.75
    assert m["reply_quality"]["mean"] == 4.0 and m["is_it_polite"]["mean"] == 1.0 and m["tone"]["mean"] == 1.0
    assert m["rouge_l"]["mean"] == 0.75 and m["cosine"]["n"] == 4


def test_unconvertible_templates_say_why():
    assert convert_template("{{item.question}} / {{ sample.output_text }}") == ("{{ question }} / {{ output }}", {"question"})
    for bad, why in (("{{sample.output_json.answer}}", "only {{item.<column>}}"), ("{{item.a.b}}", "nested item fields"),
                     ("{{sample.output_text}}", "not known when its prompt is built")):
        try:
            convert_template(bad, output=None if "output_text" in bad else "{{ output }}")
        except Unconvertible as e:
            assert why in str(e)
        else:
            raise AssertionError(bad)


def test_bad_grader_field_is_located(tmp_path, capsys):
    obj = json.loads((FIX / "openai_eval.json").read_text())
    obj["testing_criteria"][0]["operation"] = "contains"
    src = tmp_path / "eval.json"
    src.write_text(json.dumps(obj))
    assert main(["import", "openai-eval", str(src), "--out", str(tmp_path / "s.yaml")]) == 2
    err = capsys.readouterr().err
    assert "testing_criteria[0].operation" in err and "openai SDK" in err
