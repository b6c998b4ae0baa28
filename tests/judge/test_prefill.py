"""A prefilled judge reply: the judge writes only the grade, read from that token's probabilities."""

from __future__ import annotations

import math

import pytest

from harness.core.types import Item
from harness.judge.prompt import PREFILL
from harness.judge.rubric import BUILTIN
from harness.judge.verdict import Unparseable, read_prefilled
from harness.metrics.base import build_metric

RUBRIC = BUILTIN["support_reply"]


def lp(p: float) -> float:
    return math.log(p)


def test_grade_is_probability_weighted_over_allowed_grades():
    logprobs = [{"token": "4", "logprob": lp(0.6),
                 "top": [{"token": "4", "logprob": lp(0.6)}, {"token": "5", "logprob": lp(0.3)},
                         {"token": " The", "logprob": lp(0.1)}]}]
    v = read_prefilled("4", logprobs, "scale", RUBRIC, PREFILL["scale"])
    assert v.label == "4" and v.method == "logprobs"
    assert v.mass == pytest.approx(0.9)
    assert v.probs["4"] == pytest.approx(2 / 3) and v.probs["5"] == pytest.approx(1 / 3)
    assert v.expected({str(g): float(g) for g in RUBRIC.grades}) == pytest.approx(4 + 1 / 3)


def test_a_reply_that_is_not_a_grade_is_unparseable_never_a_score():
    with pytest.raises(Unparseable, match=r"""after '\{"score": ' the judge wrote 'The', not one of 1, 2, 3, 4, 5"""):
        read_prefilled("The", [{"token": "The", "logprob": -0.1, "top": []}], "scale", RUBRIC, PREFILL["scale"])
    with pytest.raises(Unparseable, match="no reply"):
        read_prefilled(None, None, "scale", RUBRIC, PREFILL["scale"])


def test_pass_fail_reads_true_and_false_tokens():
    logprobs = [{"token": " true", "logprob": lp(0.7), "top": [{"token": " true", "logprob": lp(0.7)},
                                                                {"token": " false", "logprob": lp(0.2)}]}]
    v = read_prefilled(" true", logprobs, "pass_fail", None, PREFILL["pass_fail"])
    assert v.label == "true" and v.probs["true"] == pytest.approx(0.7 / 0.9)


def test_local_judges_prefill_api_and_scripted_judges_do_not():
    item = Item(id="e1", input="Where is my order?", output="It ships today.", reference="It ships today.",
                messages=[{"role": "user", "content": "Where is my order?"}])
    local = build_metric("judge_rubric", {"judge": "local", "rubric": "support_reply"})
    (req,) = local.requests(item)
    assert req.messages[-1] == ("assistant", '{"score": ')
    assert req.settings.max_tokens == 1 and req.settings.logprobs and req.settings.top_logprobs >= 10
    api = build_metric("judge_rubric", {"judge": "openai:gpt-4o-mini", "rubric": "support_reply"})
    (req2,) = api.requests(item)
    assert req2.messages[-1][0] == "user" and req2.settings.max_tokens == 160
    # the recorded prompt differs, so a calibration of one mode never vouches for the other
    assert local.prompt_sha256() != api.prompt_sha256()
    off = build_metric("judge_rubric", {"judge": "local", "rubric": "support_reply", "prefill": False})
    assert off.requests(item)[0].messages[-1][0] == "user"


def test_local_pairwise_judges_prefill_both_orders():
    item = Item(id="e1", input="Where is my order?", output="It ships today.", reference="It shipped yesterday.",
                messages=[{"role": "user", "content": "Where is my order?"}])
    local = build_metric("judge_pairwise", {"judge": "local", "rubric": "support_reply"})
    reqs = local._requests(item, "It ships today.", "It shipped yesterday.", 0) + local._requests(item, "x", "y", 1)
    assert [r.messages[-1] for r in reqs] == [("assistant", '{"winner": "')] * 2
    assert all(r.settings.max_tokens == 1 and r.settings.logprobs for r in reqs)
    api = build_metric("judge_pairwise", {"judge": "openai:gpt-4o-mini?base_url=http://127.0.0.1:9/v1", "rubric": "support_reply"})
    assert api._requests(item, "a", "b", 0)[0].messages[-1][0] == "user"
    assert local.entry_fields()["pairwise_win"]["prompt"]["prefill"] == '{"winner": "'
    assert local.entry_fields()["pairwise_win"]["prompt"]["sha256"] != api.entry_fields()["pairwise_win"]["prompt"]["sha256"]


def test_prefilled_pairwise_reads_the_winner_from_one_tokens_probabilities(tmp_path):
    from judge_helpers import LogprobJudge, judge_metric
    from judge_helpers import item as judge_item

    run = tmp_path / "baseline"
    run.mkdir()
    (run / "results.jsonl").write_text('{"id": "1", "output": "We will look into it."}\n')
    # After '{"winner": "' the judge's token: A 0.6, B 0.3, "t" (tie) 0.1; the same whichever order.
    logprobs = [{"token": "A", "logprob": lp(0.6), "top": [{"token": "A", "logprob": lp(0.6)},
                                                           {"token": "B", "logprob": lp(0.3)},
                                                           {"token": "t", "logprob": lp(0.1)}]}]
    m = judge_metric({"rubric": "support_reply", "baseline_run": str(run), "prefill": True},
                     LogprobJudge("A", logprobs), "judge_pairwise")
    (row,) = m.score_batch([judge_item("Sorry! Send a photo and your order number.", id="1")])
    # candidate first: 0.6 + 0.1/2; candidate second: 0.3 + 0.1/2; a judge that favours position A
    assert row["pairwise_win"] == pytest.approx((0.65 + 0.35) / 2)
    assert row["pairwise_consistency"] == 0.0
    assert m._run["first_position_rate"] == 1.0 and m._run["grade_method"] == {"logprobs": 2, "parsed": 0}
    bad = judge_metric({"rubric": "support_reply", "baseline_run": str(run), "prefill": True},
                       LogprobJudge("The", [{"token": "The", "logprob": -0.1, "top": []}]), "judge_pairwise")
    (row,) = bad.score_batch([judge_item("Sorry!", id="1")])
    assert row["pairwise_win"].reason.startswith("""unparseable verdict: after '{"winner": "' the judge wrote 'The'""")
