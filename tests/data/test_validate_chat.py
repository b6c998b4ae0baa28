"""`harness data validate`: every mistake located by line, exact messages; statistics and cost."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.data.validate import EstimateCounter, validate_chat_file

GOOD = {"messages": [{"role": "system", "content": "Route messages."}, {"role": "user", "content": "where is my parcel"},
                     {"role": "assistant", "content": "order_status"}]}


def line(obj: object) -> str:
    return obj if isinstance(obj, str) else json.dumps(obj)


def test_ten_kinds_of_mistakes_each_located(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    long_text = "word " * 400  # 2,000 characters: about 500 tokens by the estimate
    lines = [
        GOOD,                                                                                        # 1 fine
        '{"messages": [{"role": "user", "content": "hi"}',                                           # 2 invalid JSON
        ["not", "an", "object"],                                                                     # 3 not an object
        {"prompt": "hi", "completion": "there"},                                                     # 4 no messages
        {"messages": [{"role": "bot", "content": "hi"}, {"role": "assistant", "content": "x"}]},   # 5 unknown role
        {"messages": [{"role": "user", "content": 42}, {"role": "assistant", "content": "x"}]},    # 6 content not a string
        {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}]},     # 7 no assistant
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "x", "weight": 2}]},  # 8 bad weight
        {"messages": [{"role": "user", "content": "hi", "text": "hi"}, {"role": "assistant", "content": "x"}]},  # 9 unknown key
        {"messages": [{"role": "user", "content": "weather?"},                                      # 10 tool answers no call
                      {"role": "tool", "tool_call_id": "call_9", "content": "sunny"},
                      {"role": "assistant", "content": "sunny"}]},
        {"messages": [{"role": "user", "content": long_text}, {"role": "assistant", "content": "x"}]},  # 11 too long
        "",                                                                                          # 12 blank: allowed
        GOOD,                                                                                        # 13 fine, a repeat
    ]
    f = tmp_path / "train.jsonl"
    f.write_text("\n".join(line(x) for x in lines) + "\n", encoding="utf-8")
    got = [str(p) for p in validate_chat_file(f, max_tokens=300, counter=EstimateCounter()).problems]
    assert got == [
        f"{f}:2: invalid JSON: Expecting ',' delimiter (column 48)",
        f"{f}:3: expected a JSON object, got list",
        f"{f}:4: missing key 'messages': expected a non-empty list of {{role, content}} objects",
        f"{f}:5: messages[0].role: got 'bot'; expected one of system, user, assistant, tool",
        f"{f}:6: messages[0].content: expected a string, got int",
        f"{f}:7: no assistant message: the model learns from assistant turns, at least one is needed",
        f"{f}:8: messages[1].weight: got 2; expected 0 or 1",
        f"{f}:9: messages[0]: unknown key 'text'; allowed on a user message: role, content, name",
        f"{f}:10: messages[1].tool_call_id: 'call_9' answers no earlier assistant tool call",
        f"{f}:11: 511 tokens; the limit is 300 (--max-tokens)",
    ]

    code = main(["data", "validate", str(f), "--max-tokens", "300", "--tokenizer", "estimate"])
    out, err = capsys.readouterr()
    assert code == 2
    assert err.splitlines() == got + [f"warning: {f}:1: the same example is on lines 1, 13 (2 times): it is trained "
                                      "on that many times; `harness data prepare` drops the repeats"]
    assert out.splitlines()[0] == f"{f}: 2 valid example(s) of 12, 10 problem(s), 1 warning(s)"


def test_more_rules(tmp_path: Path) -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{\"order\": 1}"}}
    rows = [
        {"messages": [{"role": "user", "content": "where?"}, {"role": "assistant", "content": None, "tool_calls": [call]},
                      {"role": "tool", "tool_call_id": "call_1", "content": "shipped"},
                      {"role": "assistant", "content": "It shipped."}]},                       # 1 fine: tool use
        {"messages": [{"role": "user", "content": "hi", "weight": 1}, {"role": "assistant", "content": "x"}]},
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "x", "weight": 0}]},
        {"messages": [{"role": "user", "content": "  "}, {"role": "assistant", "content": "x"}]},
        {"messages": [{"content": "hi"}, {"role": "assistant", "content": "x"}]},
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "tool_calls": [{"id": "c"}]}]},
        {"messages": [{"role": "user", "content": "hi"}, {"role": "tool", "content": "r"}, {"role": "assistant", "content": "x"}]},
        {"messages": "hello"},
        {"messages": ["hello", {"role": "assistant", "content": "x"}]},
        {"messages": []},
    ]
    f = tmp_path / "t.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows) + "\xff\n".encode("latin-1").decode("latin-1"), encoding="latin-1")
    got = [str(p) for p in validate_chat_file(f).problems]
    assert got == [
        f"{f}:2: messages[0]: unknown key 'weight'; only assistant messages take a weight",
        f"{f}:3: every assistant message has weight 0: nothing to learn from",
        f"{f}:4: messages[0].content: empty",
        f"{f}:5: messages[0]: missing key 'role'",
        f"{f}:6: messages[1].tool_calls[0]: expected {{id, type: 'function', function: {{name, arguments: string}}}}",
        f"{f}:7: messages[1].tool_call_id: a tool message needs the id of the call it answers",
        f"{f}:8: `messages`: expected a list, got string",
        f"{f}:9: messages[0]: expected an object with role and content, got string",
        f"{f}:10: `messages` is empty",
        f"{f}:11: not UTF-8 (invalid start byte at byte 0)",
    ]


def test_statistics_and_cost(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = []
    for n in range(1, 11):  # user text of 4n characters: n tokens by the estimate
        rows.append({"messages": [{"role": "user", "content": "abcd" * n}, {"role": "assistant", "content": "okay"}]})
    f = tmp_path / "t.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    v = validate_chat_file(f)
    # per example: 2 + (4 + n) + (4 + 1) = n + 11
    assert v.stats.tokens == [n + 11 for n in range(1, 11)]
    assert v.stats.distribution() == {"min": 12, "p50": 16, "p90": 20, "max": 21}
    d = v.stats.to_json(epochs=3, price_per_1k=0.01)
    assert d["total_tokens"] == 165
    assert d["estimated_training_tokens"] == 495
    assert d["estimated_cost"] == pytest.approx(0.00495)
    assert main(["data", "validate", str(f), "--tokenizer", "estimate", "--epochs", "3", "--price-per-1k", "0.01"]) == 0
    out = capsys.readouterr().out
    assert "tokens per example: min 12  p50 16  p90 20  max 21" in out
    assert "estimated training tokens for 3 epoch(s): 495" in out
    assert "estimated cost: $0.00 at $0.01 per 1K training tokens" in out


def test_a_repeated_chat_example_is_a_warning_naming_its_lines(tmp_path: Path) -> None:
    ex = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    f = tmp_path / "chat.jsonl"
    f.write_text("".join(json.dumps(x) + "\n" for x in (ex, ex | {"id": "b"}, {"messages": ex["messages"][:1] + [
        {"role": "assistant", "content": "hey"}]})))
    v = validate_chat_file(f)
    assert v.ok and len(v.warnings) == 1 and "the same example is on lines 1, 2 (2 times)" in str(v.warnings[0])
