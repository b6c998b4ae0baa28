"""`harness data prepare`: cleaning, duplicates, conversion, stratified split, contamination, CLI."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest

from harness.cli import main
from harness.data.dedup import near_duplicates
from harness.data.prepare import (
    ContaminationFound,
    PrepareConfig,
    format_report,
    normalize_text,
    prepare_data,
)

ROOT = Path(__file__).resolve().parents[2]
INTENT_SUITE = ROOT / "suites" / "support_intent.yaml"
INTENT_TEST = ROOT / "datasets" / "support_intent" / "test.jsonl"


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def cfg(tmp_path: Path, src: Path, **kw) -> PrepareConfig:
    return PrepareConfig(**({"input": src, "out_dir": tmp_path / "out", "tokenizer": "estimate"} | kw))


# ------------------------------------------------------------------------------ cleaning

def test_normalize_text_nfc_nfkc_and_whitespace() -> None:
    assert normalize_text("cafe\u0301") == "caf\u00e9"  # NFC: e + combining acute -> one code point
    assert normalize_text("\uff26\uff55\uff4c\uff4c width \ufb01le") == "Full width file"  # NFKC: fullwidth, fi ligature
    assert normalize_text("a\u00a0\u00a0b") == "a b"  # no-break spaces are spaces
    assert normalize_text("  where \t is   my\tparcel?  ") == "where is my parcel?"
    assert normalize_text("one\r\ntwo\r\n\r\n\r\n\r\nthree  \n") == "one\ntwo\n\nthree"


def test_empty_and_overlong_dropped_with_counts(tmp_path: Path) -> None:
    rows = [
        {"input": "Where   is\tmy parcel?", "output": "order_status"},
        {"input": "   ", "output": "cancel_order"},                      # empty after normalisation
        {"input": "Please refund me", "output": "\u3000"},                 # empty answer (ideographic space)
        {"input": "word " * 200, "output": "refund_request"},             # about 250 tokens by the estimate
        {"input": "I need to change the delivery address", "output": "change_address"},
    ]
    res = prepare_data(cfg(tmp_path, write_jsonl(tmp_path / "raw.jsonl", rows), max_tokens=100, validation_fraction=0))
    c = res.report["counts"]
    assert (c["read"], c["empty"], c["overlong"], c["train"], c["validation"]) == (5, 2, 1, 2, 0)
    assert c["normalized"] == 4  # lines 1-4 change; line 5 is already clean
    assert res.report["dropped"]["empty"] == [f"raw.jsonl:2 ({tmp_path / 'raw.jsonl'}:2)", f"raw.jsonl:3 ({tmp_path / 'raw.jsonl'}:3)"]
    assert res.report["dropped"]["overlong"][0].startswith(f"raw.jsonl:4 ({tmp_path / 'raw.jsonl'}:4): ")
    kept = read_jsonl(res.train_path)
    assert [m["content"] for m in kept[0]["messages"]] == ["Where is my parcel?", "order_status"]
    assert res.validation_path is None
    text = format_report(res)
    assert "normalised 4; dropped 2 empty, 1 overlong, 0 exact and 0 near duplicate(s), 0 contaminated" in text


# ------------------------------------------------------------------------------ duplicates

ONE = "My new tent arrived yesterday with a broken pole and a torn rain fly"
ONE_WORD_CHANGED = "My new tent arrived yesterday with a broken pole and a ripped rain fly"
DISTINCT = [
    "My new tent arrived yesterday and I would like to know when the matching footprint ships",
    "Could you change the shipping address on my order to my office in Leeds",
    "I was charged twice for the same pair of hiking boots last Friday",
]


def test_near_duplicates_catch_one_changed_word_and_keep_distinct_sentences() -> None:
    pairs = near_duplicates([ONE, *DISTINCT, ONE_WORD_CHANGED])
    assert [(p.kept, p.dropped) for p in pairs] == [(0, 4)]
    assert 0.8 <= pairs[0].similarity < 1


def test_exact_and_near_duplicates_removed(tmp_path: Path) -> None:
    rows = [{"input": ONE, "output": "damaged_item"}] + [{"input": t, "output": "other"} for t in DISTINCT] + [
        {"input": "  " + ONE.replace(" ", "   "), "output": "damaged_item"},  # exact once whitespace is collapsed
        {"input": ONE_WORD_CHANGED, "output": "damaged_item"},
    ]
    res = prepare_data(cfg(tmp_path, write_jsonl(tmp_path / "raw.jsonl", rows), validation_fraction=0))
    c = res.report["counts"]
    assert (c["exact_duplicates"], c["near_duplicates"], c["train"]) == (1, 1, 4)
    src = tmp_path / "raw.jsonl"
    assert res.report["duplicates"]["exact"] == [{"kept": f"raw.jsonl:1 ({src}:1)", "dropped": f"raw.jsonl:5 ({src}:5)"}]
    near = res.report["duplicates"]["near"][0]
    assert (near["kept"], near["dropped"], near["different_answers"]) == (f"raw.jsonl:1 ({src}:1)", f"raw.jsonl:6 ({src}:6)", False)
    assert [r["messages"][0]["content"] for r in read_jsonl(res.train_path)] == [ONE, *DISTINCT]


# ------------------------------------------------------------------------------ conversion

def test_jsonl_input_output_to_chat_with_system_prompt(tmp_path: Path) -> None:
    rows = [{"id": "a1", "question": "Where is my parcel?", "answer": "order_status"},
            {"id": "a2", "question": "Cancel my order please", "answer": "cancel_order"}]
    res = prepare_data(cfg(tmp_path, write_jsonl(tmp_path / "raw.jsonl", rows), input_field="question", output_field="answer",
                           id_field="id", system_prompt="Answer with one intent label.", validation_fraction=0))
    assert res.report["input"]["format"] == "jsonl"
    assert read_jsonl(res.train_path) == [
        {"id": "a1", "messages": [{"role": "system", "content": "Answer with one intent label."},
                                  {"role": "user", "content": "Where is my parcel?"},
                                  {"role": "assistant", "content": "order_status"}]},
        {"id": "a2", "messages": [{"role": "system", "content": "Answer with one intent label."},
                                  {"role": "user", "content": "Cancel my order please"},
                                  {"role": "assistant", "content": "cancel_order"}]},
    ]


def test_csv_to_chat_with_system_prompt(tmp_path: Path) -> None:
    src = tmp_path / "raw.csv"
    with open(src, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["input", "output"])
        w.writerow(["Hi, where is my parcel?", "order_status"])
        w.writerow(["My card, the one ending 42, was charged twice", "billing_issue"])
    res = prepare_data(cfg(tmp_path, src, system_prompt="Route it.", validation_fraction=0))
    assert res.report["input"]["format"] == "csv"
    out = read_jsonl(res.train_path)
    assert [r["id"] for r in out] == ["raw.csv:2", "raw.csv:3"]
    assert out[1]["messages"] == [{"role": "system", "content": "Route it."},
                                  {"role": "user", "content": "My card, the one ending 42, was charged twice"},
                                  {"role": "assistant", "content": "billing_issue"}]


def test_missing_columns_are_located_by_line(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "raw.jsonl", [{"input": "a", "output": "b"}, {"input": "c"}, {"text": "d"}])
    with pytest.raises(Exception) as e:
        prepare_data(cfg(tmp_path, src))
    assert str(e.value).splitlines() == [
        f"{src}:2: missing field 'output'; the record has: input",
        f"{src}:3: missing field 'input', 'output'; the record has: text",
    ]
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------ split

def test_split_is_stratified_by_category(tmp_path: Path) -> None:
    sizes = {"alpha": 20, "bravo": 10, "charlie": 30}
    rows = [{"id": f"{cat}-{i}", "input": f"question {i} about {cat}", "output": f"answer {cat}", "cat": cat}
            for cat, n in sizes.items() for i in range(n)]
    res = prepare_data(cfg(tmp_path, write_jsonl(tmp_path / "raw.jsonl", rows), id_field="id", category_field="cat",
                           validation_fraction=0.2, seed=7))
    train, val = read_jsonl(res.train_path), read_jsonl(res.validation_path)
    assert Counter(r["category"] for r in val) == {"alpha": 4, "bravo": 2, "charlie": 6}
    assert Counter(r["category"] for r in train) == {"alpha": 16, "bravo": 8, "charlie": 24}
    assert res.report["categories"] == {"train": {"alpha": 16, "bravo": 8, "charlie": 24},
                                        "validation": {"alpha": 4, "bravo": 2, "charlie": 6}}
    ids_t, ids_v = {r["id"] for r in train}, {r["id"] for r in val}
    assert not ids_t & ids_v and len(ids_t | ids_v) == 60
    # the same seed gives the same split; another seed another one
    again = prepare_data(cfg(tmp_path, tmp_path / "raw.jsonl", id_field="id", category_field="cat", validation_fraction=0.2,
                             seed=7, out_dir=tmp_path / "again"))
    assert {r["id"] for r in read_jsonl(again.validation_path)} == ids_v
    other = prepare_data(cfg(tmp_path, tmp_path / "raw.jsonl", id_field="id", category_field="cat", validation_fraction=0.2,
                             seed=8, out_dir=tmp_path / "other"))
    assert {r["id"] for r in read_jsonl(other.validation_path)} != ids_v


# ------------------------------------------------------------------------------ contamination

def _leaky(tmp_path: Path) -> tuple[Path, dict]:
    test_rows = read_jsonl(INTENT_TEST)
    leaked = test_rows[1]  # line 2 of the test split
    rows = [{"input": "Where is the hiking backpack I ordered last week?", "output": "order_status"},
            {"input": "Could you tell me why my account is locked after the password reset", "output": "account_access"},
            {"input": "Hello! " + leaked["text"] + " What now?", "output": leaked["intent"]}]
    return write_jsonl(tmp_path / "raw.jsonl", rows), leaked


def test_contamination_refused_with_offending_pairs(tmp_path: Path) -> None:
    src, leaked = _leaky(tmp_path)
    with pytest.raises(ContaminationFound) as e:
        prepare_data(cfg(tmp_path, src, suites=[INTENT_SUITE]))
    first = e.value.problems[0]
    assert first.line == 3
    assert str(first) == (f"{src}:3: example 'raw.jsonl:3' overlaps test example {leaked['id']!r} of suite support-intent at "
                          f"{INTENT_TEST}:2: " + first.message.split(": ", 1)[1])
    assert len(e.value.problems) == 2 and "--allow-contamination" in str(e.value.problems[-1])
    assert not (tmp_path / "out").exists()  # nothing written


def test_contamination_allowed_drops_and_reports(tmp_path: Path) -> None:
    src, leaked = _leaky(tmp_path)
    res = prepare_data(cfg(tmp_path, src, suites=[INTENT_SUITE], allow_contamination=True, validation_fraction=0))
    assert res.report["counts"]["contaminated"] == 1
    (pair,) = res.report["contamination"]["pairs"]
    assert (pair["train"], pair["test"], pair["test_id"], pair["overlap"]) == (f"{src}:3", f"{INTENT_TEST}:2", leaked["id"], 1.0)
    assert len(read_jsonl(res.train_path)) == 2


def test_suite_train_split_is_clean() -> None:
    """The shipped support-intent training split does not overlap its own test split."""
    from harness.data.contamination import find_overlaps, suite_test_texts

    train = [r["text"] for r in read_jsonl(INTENT_TEST.with_name("train.jsonl"))]
    assert find_overlaps(train, suite_test_texts([INTENT_SUITE])) == []


# ------------------------------------------------------------------------------ CLI

def test_cli_prepare_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [{"text": f"message {i} about my {w} order", "label": w, "kind": w}
            for w in ("late", "lost") for i in range(10)] + [{"text": "message 0 about my late order", "label": "late", "kind": "late"}]
    src = write_jsonl(tmp_path / "raw.jsonl", rows)
    out = tmp_path / "prepared"
    code = main(["data", "prepare", str(src), "--out", str(out), "--input-field", "text", "--output-field", "label",
                 "--category-field", "kind", "--system", "Classify.", "--validation-fraction", "0.2", "--tokenizer", "estimate",
                 "--suite", str(INTENT_SUITE)])
    stdout = capsys.readouterr().out
    assert code == 0
    assert f"read 21 example(s) from {src} (jsonl)" in stdout
    assert "1 exact and 0 near duplicate(s), 0 contaminated" in stdout
    assert f"train 16 -> {out / 'train.jsonl'}; validation 4 -> {out / 'validation.jsonl'}" in stdout
    report = json.loads((out / "prepare_report.json").read_text())
    assert report["categories"]["validation"] == {"late": 2, "lost": 2}
    assert report["outputs"]["train"]["examples"] == 16
    assert all(r["messages"][0] == {"role": "system", "content": "Classify."} for r in read_jsonl(out / "train.jsonl"))
    # the output is valid chat fine-tuning data
    assert main(["data", "validate", str(out / "train.jsonl"), "--tokenizer", "estimate"]) == 0


def test_cli_prepare_refuses_contamination_then_flag_overrides(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src, leaked = _leaky(tmp_path)
    args = ["data", "prepare", str(src), "--out", str(tmp_path / "p"), "--tokenizer", "estimate", "--suite", str(INTENT_SUITE)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"{src}:3: example 'raw.jsonl:3' overlaps test example {leaked['id']!r}" in err
    assert f"{INTENT_TEST}:2" in err and "2 problems found" in err
    assert main([*args, "--allow-contamination"]) == 0
    assert f"contaminated (dropped): {src}:3 ~ {INTENT_TEST}:2 (100%)" in capsys.readouterr().out


def test_cli_prepare_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "prepare", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "p")]) == 2
    assert "no such file" in capsys.readouterr().err
    src = write_jsonl(tmp_path / "raw.jsonl", [{"input": "a b c", "output": "x"}, {"input": "d"}])
    assert main(["data", "prepare", str(src), "--out", str(tmp_path / "p"), "--tokenizer", "estimate"]) == 2
    assert f"{src}:2: missing field 'output'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:  # checked when the line is parsed (harness.core.options)
        main(["data", "prepare", str(src), "--out", str(tmp_path / "p"), "--validation-fraction", "1.5"])
    assert e.value.code == 2
    assert "argument --validation-fraction: expected a number from 0 and under 1, got '1.5'" in capsys.readouterr().err
