"""Strict verdict parsing, and grades read from token probabilities."""

from __future__ import annotations

import pytest
from judge_helpers import LogprobJudge, item, judge_metric, lp, scripted

from harness.core.types import Failure
from harness.judge.rubric import BUILTIN, Rubric
from harness.judge.verdict import Unparseable, parse_verdict, read_verdict

R5 = BUILTIN["support_reply"]
PF = BUILTIN["grounded_answer"]


@pytest.mark.parametrize("reply", [
    "",
    "Score: 5",
    "I'd give it a 4 out of 5.",
    '{"score": 4}',  # no reason
    '{"reason": "fine", "score": 4, "extra": 1}',
    '{"reason": "fine", "score": "4"}',  # a string, not an integer
    '{"reason": "fine", "score": 4.0}',
    '{"reason": "fine", "score": 6}',  # out of range
    '{"reason": "fine", "score": 0}',
    '{"reason": "fine", "score": true}',
    '{"reason": 3, "score": 4}',
    '{"reason": "a", "score": 2, "score": 5}',  # repeated key
    '[{"reason": "fine", "score": 4}]',
    '{"reason": "fine", "score": 4} and some prose',
    '{"reason": "fine", "score": 4',
])
def test_malformed_scale_verdicts_are_unparseable(reply: str) -> None:
    with pytest.raises(Unparseable):
        parse_verdict(reply, "scale", R5)


def test_valid_verdicts() -> None:
    assert parse_verdict('{"reason": "ok", "score": 4}', "scale", R5) == ("4", "ok")
    assert parse_verdict('```json\n{"score": 5, "reason": "é"}\n```', "scale", R5) == ("5", "é")
    assert parse_verdict('{"reason": "r", "pass": false}', "pass_fail", PF) == ("false", "r")
    assert parse_verdict('{"reason": "r", "winner": "tie"}', "pairwise") == ("tie", "r")
    for bad in ('{"reason": "r", "pass": "yes"}', '{"reason": "r", "pass": 1}'):
        with pytest.raises(Unparseable):
            parse_verdict(bad, "pass_fail", PF)
    with pytest.raises(Unparseable):
        parse_verdict('{"reason": "r", "winner": "C"}', "pairwise")


def test_unparseable_verdict_is_a_failure_never_zero_or_pass() -> None:
    replies = iter(["The answer is great, 5/5!", '{"reason": "ok", "pass": "yes"}', ""])
    m = judge_metric({"rubric": "grounded_answer", "use_logprobs": False}, scripted(lambda r: next(replies)))
    rows = m.score_batch([item("a", id="1"), item("b", id="2"), item("c", id="3")])
    for row in rows:
        assert isinstance(row["judge"], Failure) and row["judge"].reason.startswith("unparseable verdict: ")
    assert m._run["unparseable"] == 3


def tokens(*pieces: str, top_at: int | None = None, top: dict[str, float] | None = None, key: str = "top"):
    out = []
    for i, p in enumerate(pieces):
        e = {"token": p, "logprob": -0.01}
        if i == top_at:
            e["logprob"] = lp(top[p])
            e[key] = [{"token": t, "logprob": lp(q)} for t, q in top.items()]
        out.append(e)
    return out


@pytest.mark.parametrize("key", ["top", "top_logprobs"])  # local provider / OpenAI API naming
def test_logprob_weighted_grade(key: str) -> None:
    # P(4) = .6, P(5) = .3, P(3) = .1 -> expected grade 4*.6 + 5*.3 + 3*.1 = 4.2
    lps = tokens('{"', "reason", '":', ' "', "ok", '",', ' "', "score", '":', " ", "4", "}", top_at=10,
                 top={"4": 0.6, "5": 0.3, "3": 0.1}, key=key)
    v = read_verdict('{"reason": "ok", "score": 4}', lps, "scale", R5)
    assert v.method == "logprobs" and v.expected({str(g): float(g) for g in R5.grades}) == pytest.approx(4.2)
    # the space merged into the grade token; alternatives that are no grade ("x") are left out and
    # the rest renormalised: P(2) = .5/.8, P(3) = .3/.8 -> 2.375
    lps = tokens('{"reason": "ok", "score":', " 2", "}", top_at=1, top={" 2": 0.5, " 3": 0.3, "x": 0.2}, key=key)
    v = read_verdict('{"reason": "ok", "score": 2}', lps, "scale", R5)
    assert v.mass == pytest.approx(0.8) and v.expected({str(g): float(g) for g in R5.grades}) == pytest.approx(2.375)


def test_logprob_grade_through_the_metric() -> None:
    text = '{"reason": "ok", "pass": true}'
    lps = tokens('{"reason": "ok", "pass": ', "true", "}", top_at=1, top={"true": 0.8, "false": 0.15, "maybe": 0.05})
    m = judge_metric({"rubric": "grounded_answer"}, LogprobJudge(text, lps))
    (row,) = m.score_batch([item("a")])
    assert row["judge"] == pytest.approx(0.8 / 0.95)
    assert m.entry_fields()["judge"]["grade_method"] == {"logprobs": 1, "parsed": 0}
    assert not m.scores()[0].binary  # a probability, not a pass/fail
    # probabilities never rescue an invalid verdict
    m = judge_metric({"rubric": "grounded_answer"}, LogprobJudge("yes it passes", lps))
    assert isinstance(m.score_batch([item("a")])[0]["judge"], Failure)


def test_logprobs_ignored_when_ambiguous_or_off() -> None:
    r10 = Rubric("ten", "x", 10)  # "1" is a prefix of "10": one token cannot decide the grade
    lps = tokens('{"reason": "ok", "score": ', "1", "}", top_at=1, top={"1": 0.5, "9": 0.5})
    assert read_verdict('{"reason": "ok", "score": 1}', lps, "scale", r10).method == "parsed"
    lps = tokens('{"reason": "ok", "score": ', "4", "}", top_at=1, top={"4": 0.5, "5": 0.5})
    assert read_verdict('{"reason": "ok", "score": 4}', lps, "scale", R5, use_logprobs=False).probs["4"] == 1.0
