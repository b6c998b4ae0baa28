"""Preference (DPO) JSONL: `harness data validate` locates every mistake; `prepare` cleans and splits pairs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.data.preference import detect_format, validate_preference_file
from harness.data.prepare import PrepareConfig, prepare_data


def pair(user: str, good: str, bad: str, **extra: object) -> dict:
    return extra | {"input": {"messages": [{"role": "system", "content": "Route the message."},
                                           {"role": "user", "content": user}]},
                    "preferred_output": [{"role": "assistant", "content": good}],
                    "non_preferred_output": [{"role": "assistant", "content": bad}]}


GOOD = pair("where is my parcel", "order_status", "cancel_order")


def write(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def test_each_mistake_located_by_line_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    two = GOOD | {"preferred_output": [{"role": "assistant", "content": "a"}, {"role": "assistant", "content": "b"}]}
    rows = [
        GOOD,                                                                                     # 1 fine
        {"input": {"messages": []}, "preferred_output": [], "non_preferred_output": []} | {},     # 2 empty everything
        {k: v for k, v in GOOD.items() if k != "non_preferred_output"},                           # 3 missing key
        GOOD | {"preferred_output": [{"role": "user", "content": "order_status"}]},               # 4 wrong role
        two,                                                                                      # 5 two messages
        GOOD | {"non_preferred_output": {"role": "assistant", "content": "x"}},                   # 6 not a list
        GOOD | {"input": {"messages": [{"role": "user", "content": "hi"}], "prompt": "hi"}},     # 7 unknown input key
        GOOD | {"input": {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}},  # 8
        pair("where is it", "order_status", "order_status"),                                      # 9 same answers
        GOOD | {"input": {"messages": [{"role": "user", "content": 5}]}},                        # 10 content type
        GOOD | {"preferred_output": [{"role": "assistant", "content": "x", "weight": 1}]},        # 11 weight
        '{"input": ',                                                                             # 12 bad JSON
        pair("cancel it", "cancel_order", "order_status", id="p13", category="cancel_order"),     # 13 fine, bookkeeping kept
    ]
    f = write(tmp_path / "prefs.jsonl", rows)
    got = [str(p) for p in validate_preference_file(f).problems]
    assert got == [
        f"{f}:2: input.messages is empty",
        f"{f}:2: preferred_output: expected exactly one assistant message, got 0",
        f"{f}:2: non_preferred_output: expected exactly one assistant message, got 0",
        f"{f}:3: missing key 'non_preferred_output': expected a list with one assistant message",
        f"{f}:4: preferred_output[0].role: got 'user'; expected assistant",
        f"{f}:5: preferred_output: expected exactly one assistant message, got 2",
        f"{f}:6: non_preferred_output: expected a list with one assistant message, got object",
        f"{f}:7: input: unknown key 'prompt'; allowed: messages, tools, parallel_tool_calls",
        (f"{f}:8: input.messages[1].role: the input ends on the assistant turn; it must end with the user (or tool) "
         "turn the outputs answer"),
        f"{f}:9: preferred_output and non_preferred_output are the same: nothing to learn from",
        f"{f}:10: input.messages[0].content: expected a string, got int",
        f"{f}:11: preferred_output[0]: unknown key 'weight'; preference outputs are always learned from",
        f"{f}:12: invalid JSON: Expecting value (column 11)",
    ]
    assert detect_format(f) == "preference"

    code = main(["data", "validate", str(f), "--tokenizer", "estimate"])
    out, err = capsys.readouterr()
    assert code == 2
    assert err.splitlines() == got
    assert out.splitlines()[0] == f"{f}: 2 valid example(s) of 13, 13 problem(s)"


def test_valid_file_statistics_and_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = write(tmp_path / "p.jsonl", [GOOD, pair("stop my order", "cancel_order", "I cannot help with that, sorry.")])
    v = validate_preference_file(f)
    assert v.ok and v.stats.examples == 2
    # the count is the longer of the two sequences: input + the long non-preferred answer on line 2
    assert v.stats.tokens[1] > v.stats.tokens[0]
    assert main(["data", "validate", str(f), "--tokenizer", "estimate", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["format"], out["examples"], out["problems"]) == ("preference", 2, [])
    # a chat file is still read as chat, and a preference file forced to chat fails on `messages`
    assert main(["data", "validate", str(f), "--format", "chat", "--tokenizer", "estimate"]) == 2
    assert "missing key 'messages'" in capsys.readouterr().err


def test_prepare_keeps_pairs_normalises_dedups_and_splits(tmp_path: Path) -> None:
    rows = [pair(f"where is parcel number {i}  now", "order_status", "cancel_order", id=f"p{i}", category="order_status")
            for i in range(8)]
    rows.append(dict(rows[0]))                                                  # exact duplicate
    rows.append(pair("please   cancel\tit", "cancel_order", "order_status", id="c1", category="cancel_order"))
    src = write(tmp_path / "prefs.jsonl", rows)
    res = prepare_data(PrepareConfig(input=src, out_dir=tmp_path / "out", tokenizer="estimate", validation_fraction=0.2,
                                     category_field="category", id_field="id", near_duplicate_threshold=None))
    c = res.report["counts"]
    assert (res.report["input"]["format"], c["read"], c["exact_duplicates"]) == ("preference", 10, 1)
    assert c["train"] + c["validation"] == 9 and c["validation"] >= 1
    written = [json.loads(x) for p in (res.train_path, res.validation_path) for x in p.read_text().splitlines()]
    assert validate_preference_file(res.train_path).ok
    by_id = {r["id"]: r for r in written}
    assert by_id["c1"]["input"]["messages"][-1]["content"] == "please cancel it"  # normalised
    assert by_id["c1"]["preferred_output"] == [{"role": "assistant", "content": "cancel_order"}]
    assert by_id["c1"]["non_preferred_output"] == [{"role": "assistant", "content": "order_status"}]
    assert by_id["c1"]["category"] == "cancel_order"


def test_prepare_reports_bad_pairs_with_lines(tmp_path: Path) -> None:
    src = write(tmp_path / "prefs.jsonl", [GOOD, GOOD | {"preferred_output": "order_status"}])
    with pytest.raises(Exception) as e:
        prepare_data(PrepareConfig(input=src, out_dir=tmp_path / "out", tokenizer="estimate"))
    assert str(e.value) == f"{src}:2: preferred_output: expected a list with one assistant message, got string"


def test_a_repeated_pair_is_a_warning_naming_its_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # issue 20: the same preference pair three times passed validate silently. The API accepts it (a
    # warning, exit 0, as for a repeated chat example), but it is trained on three times.
    other = pair("stop my order", "cancel_order", "order_status")
    f = write(tmp_path / "p.jsonl", [GOOD, other, GOOD | {"id": "x"}, GOOD])  # `id` is bookkeeping: still the same pair
    v = validate_preference_file(f)
    assert v.ok and [str(w) for w in v.warnings] == [
        f"{f}:1: the same preference pair is on lines 1, 3, 4 (3 times): it is trained on that many times; "
        "`harness data prepare` drops the repeats"]
    assert main(["data", "validate", str(f), "--tokenizer", "estimate"]) == 0
    cap = capsys.readouterr()
    assert cap.err.splitlines() == [f"warning: {v.warnings[0]}"]
    assert "4 valid example(s) of 4, 0 problem(s), 1 warning(s)" in cap.out
    assert main(["data", "validate", str(f), "--tokenizer", "estimate", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["warnings"] == [str(v.warnings[0])]
    # pairs that differ in any API field are not repeats
    assert not validate_preference_file(write(tmp_path / "q.jsonl", [GOOD, other])).warnings


def test_a_dpo_file_is_priced_from_the_price_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json as _json

    from harness.cli import main
    from harness.pricing import load_prices

    f = write(tmp_path / "dpo.jsonl", [pair(f"question {i}", "right", "wrong") for i in range(4)])
    for base in ("gpt-4o-mini", "gpt-4.1"):
        assert main(["data", "validate", str(f), "--tokenizer", "estimate", "--base", base, "--json"]) == 0
        d = _json.loads(capsys.readouterr().out)
        want = load_prices().price(base).training / 1000
        assert d["format"] == "preference" and d["price_per_1k"] == pytest.approx(want)
        assert d["price_source"].startswith(f"{base}'s training price in the price table")
    assert main(["data", "validate", str(f), "--tokenizer", "estimate", "--base", "gpt-4.1"]) == 0
    assert "$0.025 per 1K training tokens (gpt-4.1's training price in the price table" in capsys.readouterr().out
    assert main(["data", "validate", str(f), "--base", "no-such-model"]) == 2
    assert "--base no-such-model: no training price in the price table" in capsys.readouterr().err
