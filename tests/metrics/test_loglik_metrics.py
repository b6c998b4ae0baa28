"""acc, acc_norm and the rolling perplexities on hand-worked items (lm-eval's definitions)."""

from __future__ import annotations

import math

import pytest

from harness.core.types import Failure, Item
from harness.metrics.base import build_metric


def mc_item(logprobs: list[float], choices: list[str], target: int) -> Item:
    entries = [{"logprob": lp, "is_greedy": False, "tokens": 1, "bytes": len((" " + c).encode()), "chars": len(" " + c)}
               for lp, c in zip(logprobs, choices, strict=True)]
    return Item(id="x", output="", reference=None, loglik=entries, target=target, choices=choices)


def test_acc_and_acc_norm_disagree_on_a_hand_worked_item() -> None:
    # choices "cat" (3 chars) and "elephant" (8): summed -6.0 vs -8.0, so acc picks "cat";
    # per character -2.0 vs -1.0, so acc_norm picks "elephant" (lm-eval divides by len(choice)).
    item = mc_item([-6.0, -8.0], ["cat", "elephant"], target=1)
    assert build_metric("acc", {}).score(item) == {"acc": 0.0}
    assert build_metric("acc_norm", {}).score(item) == {"acc_norm": 1.0}
    # by bytes of the scored continuation (" cat" 4, " elephant" 9): -1.5 vs -0.889: elephant again
    assert build_metric("acc_norm", {"by": "bytes"}).score(item) == {"acc_norm": 1.0}
    # the lengths matter: -6/3 = -2.0 beats -8.5/4 = -2.125 once the long choice is only 4 characters
    short = mc_item([-6.0, -8.5], ["cat", "mole"], target=1)
    assert build_metric("acc_norm", {}).score(short) == {"acc_norm": 0.0}


def test_non_ascii_choice_chars_vs_bytes() -> None:
    # "é" is one character, two bytes: chars -3/1 = -3 vs -4/2 = -2 -> choice 1; bytes -3/3 = -1 vs -4/3 -> choice 0
    item = mc_item([-3.0, -4.0], ["é", "ab"], target=0)
    assert build_metric("acc_norm", {}).score(item) == {"acc_norm": 0.0}
    assert build_metric("acc_norm", {"by": "bytes"}).score(item) == {"acc_norm": 1.0}


def test_missing_loglik_is_a_failure_not_zero() -> None:
    item = Item(id="x", output=None, reference=None, error="HTTP 500")
    assert isinstance(build_metric("acc", {}).score(item)["acc"], Failure)


def test_rolling_corpus_is_lm_eval_weighted_perplexity() -> None:
    lls, words, nbytes = [-20.0, -50.0], [4, 10], [20, 55]
    items = [Item(id=str(i), output="", reference=None,
                  loglik=[{"logprob": ll, "is_greedy": False, "tokens": 1, "bytes": b, "chars": b, "words": w}])
             for i, (ll, w, b) in enumerate(zip(lls, words, nbytes, strict=True))]
    for name, want, doc0 in [
        ("word_perplexity", math.exp(70 / 14), math.exp(20 / 4)),
        ("byte_perplexity", math.exp(70 / 75), math.exp(20 / 20)),
        ("bits_per_byte", 70 / 75 / math.log(2), 20 / 20 / math.log(2)),
    ]:
        m = build_metric(name, {})
        per = m.score_batch(items)
        assert per[0][f"{name}_doc"] == pytest.approx(doc0)
        assert m.corpus(items, per)[name] == pytest.approx(want)  # not the mean of the per-example values
        # rebuilt from the recorded per-example scores alone (what compare does): the same figure
        assert m.corpus_stats([Item(id=i.id, output="", reference=None) for i in items], per, name).value() == pytest.approx(want)
