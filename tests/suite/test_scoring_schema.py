"""The suite's `scoring:` and `fewshot:` blocks: few-shot contexts laid out as lm-eval lays them,
plain-text prompts, and errors that name the field and the fix."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from harness.core.errors import InputProblems
from harness.evaluate.run import build_requests
from harness.data.examples import load_split
from harness.suite.load import load_suite
from tests.conftest import write_jsonl
from tests.loglik_fixtures import MC_ROWS, TRAIN_ROWS, write_mc


def requests_of(suite: Path, split: str = "test"):
    loaded = load_suite(suite)
    examples = load_split(loaded.suite.dataset, loaded.dataset_dir(), split, loaded.suite.prompt).examples
    return build_requests(loaded, examples, split)


def test_zero_shot_context_and_continuations(tmp_path: Path) -> None:
    r = requests_of(write_mc(tmp_path))[0]
    assert r.loglik is not None and r.kind == "multiple_choice" and not r.loglik.chat_template
    assert r.loglik.context == "Question: What is the capital of France?\nAnswer:"
    assert r.loglik.continuations == (" Paris", " London", " Berlin", " Madrid")  # target_delimiter " " before each


def test_fewshot_first_n_matches_lm_eval_layout(tmp_path: Path) -> None:
    suite = write_mc(tmp_path, "fewshot: {split: train, n: 2}\n")
    r = requests_of(suite)[1]
    # lm-eval: shot = doc_to_text + target_delimiter + choice[target] + fewshot_delimiter; then the doc's text
    assert r.loglik.context == (
        "Question: What is 2 + 2?\nAnswer: 4\n\n"
        "Question: Which animal barks?\nAnswer: dog\n\n"
        "Question: What colour is the sky on a clear day?\nAnswer:")


def test_fewshot_random_same_split_excludes_the_item(tmp_path: Path) -> None:
    suite = write_mc(tmp_path, "fewshot: {split: test, n: 2, sampler: random, seed: 7}\n")
    reqs = requests_of(suite)
    rnd = random.Random(7)  # lm-eval: one Random(seed) for the task, rnd.sample(docs, n + 1) per doc in order
    for r, row in zip(reqs, MC_ROWS, strict=True):
        drawn = [d for d in rnd.sample(MC_ROWS, 3) if d != row][:2]
        assert row["question"] not in r.loglik.context.split("\n\n")[0] or drawn[0] is row
        first = drawn[0]
        answer = first["choices"][first["label"]] if isinstance(first["label"], int) else first["label"]
        assert r.loglik.context.startswith(f"Question: {first['question']}\nAnswer: {answer}\n\n")
        assert r.loglik.context.count("\n\n") == 2


def test_generation_with_plain_text_prompt_and_fewshot(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "test.jsonl", [{"id": "a", "question": "1+1?", "answer": "2"}])
    write_jsonl(tmp_path / "train.jsonl", [{"id": "b", "question": "2+2?", "answer": "4"}])
    (tmp_path / "s.yaml").write_text(
        "name: g\nversion: 1\ndataset:\n  splits: {test: test.jsonl, train: train.jsonl}\n"
        "  fields: {id: id, reference: answer}\n"
        "prompt:\n  text: \"Question: {{ question }}\\nAnswer:\"\n"
        "fewshot: {split: train, n: 1}\nmetrics:\n  - name: exact_match\n")
    (r,) = requests_of(tmp_path / "s.yaml")
    assert r.loglik is None and r.prompt == "Question: 2+2?\nAnswer: 4\n\nQuestion: 1+1?\nAnswer:"


def problems(tmp_path: Path, text: str) -> str:
    write_jsonl(tmp_path / "test.jsonl", MC_ROWS)
    write_jsonl(tmp_path / "train.jsonl", TRAIN_ROWS)
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(InputProblems) as e:
        load_suite(p)
    return str(e.value)


HEAD = "name: x\nversion: 1\ndataset:\n  splits: {test: test.jsonl, train: train.jsonl}\n"


def test_errors_name_the_field_and_the_fix(tmp_path: Path) -> None:
    msg = problems(tmp_path, HEAD + "scoring:\n  type: multiple_choice\n  context: 'Q: {{ question }}'\nmetrics:\n  - name: acc\n")
    assert "scoring" in msg and "needs choices, target" in msg and "choices: choices" in msg
    msg = problems(tmp_path, HEAD + "scoring: {type: multiple_choice, context: 'Q', choices: c, target: t}\n"
                               "metrics:\n  - name: exact_match\n")
    assert "metrics[0].name" in msg and "use acc, acc_norm" in msg
    msg = problems(tmp_path, HEAD + "prompt:\n  messages: [{role: user, content: hi}]\nmetrics:\n  - name: acc\n")
    assert "acc needs scoring: {type: multiple_choice}" in msg
    msg = problems(tmp_path, HEAD + "scoring: {type: multiple_choice, context: 'Q', choices: c, target: t}\n"
                               "fewshot: {split: dev, n: 2}\nmetrics:\n  - name: acc\n")
    assert "fewshot.split: 'dev' is not one of dataset.splits" in msg
    msg = problems(tmp_path, HEAD + "prompt:\n  messages: [{role: user, content: hi}]\nfewshot: {split: train, n: 1}\n"
                               "metrics:\n  - name: exact_match\n")
    assert "fewshot with generation needs a plain-text prompt" in msg


def test_bad_record_is_located(tmp_path: Path) -> None:
    rows = [dict(MC_ROWS[0], label=7)]
    write_jsonl(tmp_path / "test.jsonl", rows)
    write_jsonl(tmp_path / "train.jsonl", TRAIN_ROWS)
    suite = write_mc(tmp_path)
    write_jsonl(tmp_path / "test.jsonl", rows)
    with pytest.raises(InputProblems, match=r"test.jsonl:1: scoring.target: index 7 out of range: this record has 4 choices"):
        requests_of(suite)


def test_suites_without_the_blocks_keep_their_sha256(tiny_suite: Path) -> None:
    loaded = load_suite(tiny_suite)
    dump = loaded.suite.model_dump(mode="json")
    assert "scoring" not in dump and "fewshot" not in dump and "text" not in dump["prompt"]
