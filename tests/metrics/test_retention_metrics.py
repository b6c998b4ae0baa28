"""gsm8k_answer and ifeval against lm-evaluation-harness's own code (the reference): the same
extraction, normalisation and checker results on hand-written generations."""

from __future__ import annotations

import pytest

import harness.metrics.ifeval  # noqa: F401  (first: punkt_tab on nltk's path before lm-eval's ifeval module loads)
from harness.core.types import Item
from harness.metrics.base import build_metric
from tests.deps import missing

SOLUTION = "Natalia sold 48/2 = 24 clips in May.\nNatalia sold 48+24 = 72 clips altogether.\n#### 72"
OUTPUTS = [
    "She sold 48 + 24 = 72.\n#### 72",          # strict and flexible
    "In April 48, in May 24, so 72 in total.",   # flexible only (the last number)
    "#### 72.\n\nQuestion: next one",           # the trailing period is ignored
    "#### $1,072",                                # wrong number; $ and , ignored
    "The answer is seventy-two.",                # no number: [invalid]
    "So 72 clips, not 70",                       # flexible takes the last number: wrong
]


def lm_eval_gsm8k(output: str) -> tuple[float, float]:
    try:
        from lm_eval.api.metrics import exact_match_hf_evaluate
        from lm_eval.filters.extraction import RegexFilter
    except ImportError as e:
        missing(f"lm_eval ({e})", "pip install 'harness[retention]'")
    ignore = [",", "\\$", "(?s).*#### ", "\\.$"]
    strict = RegexFilter(r"#### (\-?[0-9\.\,]+)", 0).apply([[output]], [{}])[0][0]
    flex = RegexFilter(r"(-?[$0-9.,]{2,})|(-?[0-9]+)", -1).apply([[output]], [{}])[0][0]
    em = lambda p: exact_match_hf_evaluate([p], [SOLUTION], regexes_to_ignore=ignore, ignore_case=True)["exact_match"]  # noqa: E731
    return float(em(strict)), float(em(flex))


@pytest.mark.parametrize("output", OUTPUTS)
def test_gsm8k_scores_as_lm_eval_does(output: str) -> None:
    got = build_metric("gsm8k_answer", {}).score(Item(id="x", output=output, reference=SOLUTION))
    assert (got["exact_match_strict"], got["exact_match_flexible"]) == lm_eval_gsm8k(output)


def test_gsm8k_hand_worked() -> None:
    m = build_metric("gsm8k_answer", {})
    score = lambda out: m.score(Item(id="x", output=out, reference=SOLUTION))  # noqa: E731
    assert score(OUTPUTS[0]) == {"exact_match_strict": 1.0, "exact_match_flexible": 1.0}
    assert score(OUTPUTS[1]) == {"exact_match_strict": 0.0, "exact_match_flexible": 1.0}
    assert score(OUTPUTS[5]) == {"exact_match_strict": 0.0, "exact_match_flexible": 0.0}
    bad = m.score(Item(id="x", output="72", reference="72"))
    assert "not a GSM8K solution" in bad["exact_match_strict"].reason


IFEVAL_DOC = {"key": 1000, "prompt": "Write a 2 paragraph note about tea, in all lowercase letters. Separate paragraphs with ***.",
              "instruction_id_list": ["change_case:english_lowercase", "length_constraints:number_paragraphs"],
              "kwargs": [{}, {"num_paragraphs": 2}]}
IFEVAL_OUTPUTS = [
    "tea is a drink.\n***\nit is brewed from leaves.",   # both followed
    "Tea is a drink.\n***\nit is brewed from leaves.",   # capital T: lowercase broken
    "**tea is a drink.**\n***\nit is brewed.",            # markdown asterisks
    "tea is a drink. it is brewed from leaves.",          # one paragraph
]


def test_ifeval_uses_lm_evals_checker() -> None:
    # through the harness first: it puts punkt_tab on nltk's path before lm-eval's ifeval module is imported
    # (that import otherwise tries nltk.download, which cannot run offline)
    from harness.core.errors import HarnessError
    from harness.metrics.ifeval import checker

    try:
        checker()
    except HarnessError as e:
        missing(f"lm-eval's IFEval checker ({e})", "pip install 'finetune-harness[retention]'")
    m = build_metric("ifeval", {})
    items = [Item(id=str(i), output=o, reference=None, record=dict(IFEVAL_DOC)) for i, o in enumerate(IFEVAL_OUTPUTS)]
    per = [m.score(i) for i in items]
    from lm_eval.tasks.ifeval.utils import agg_inst_level_acc, process_results

    ref = [process_results(IFEVAL_DOC, [o]) for o in IFEVAL_OUTPUTS]
    assert [p["prompt_level_strict_acc"] for p in per] == [float(r["prompt_level_strict_acc"]) for r in ref]
    assert [p["prompt_level_loose_acc"] for p in per] == [float(r["prompt_level_loose_acc"]) for r in ref]
    corpus = m.corpus(items, per)
    assert corpus["inst_level_strict_acc"] == pytest.approx(agg_inst_level_acc([r["inst_level_strict_acc"] for r in ref]))
    assert corpus["inst_level_loose_acc"] == pytest.approx(agg_inst_level_acc([r["inst_level_loose_acc"] for r in ref]))
    assert per[0]["prompt_level_strict_acc"] == 1.0 and per[1]["prompt_level_strict_acc"] == 0.0
    # pooled over instructions, not a mean of per-example shares
    stat = m.corpus_stats(items, per, "inst_level_strict_acc")
    assert stat.rows.sum(axis=0)[1] == 2 * len(items)


def test_ifeval_scores_a_text_the_same_every_time() -> None:
    """english_lowercase asks langdetect, which is random unless seeded: this short text came back 'af' about
    one call in 30. Scored 200 times, it has one score."""
    item = Item(id="2", output=IFEVAL_OUTPUTS[2], reference=None, record=dict(IFEVAL_DOC))
    # a metric keeps each item's result: a fresh one each time, as each run builds its own
    seen = {build_metric("ifeval", {}).score(item)["prompt_level_strict_acc"] for _ in range(200)}
    assert seen == {1.0}, seen  # lm-eval's checker on 'en': all lowercase, two paragraphs


def test_ifeval_names_missing_fields() -> None:
    out = build_metric("ifeval", {}).score(Item(id="x", output="hi", reference=None, record={"prompt": "p"}))
    assert "key, instruction_id_list, kwargs" in out["prompt_level_strict_acc"].reason
