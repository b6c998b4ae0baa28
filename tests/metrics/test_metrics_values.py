"""Each metric against values computed by hand."""

from __future__ import annotations

import math
import random

import pytest

from harness.core.types import Failure, Item
from harness.metrics.base import build_metric
from harness.metrics.classification import NO_LABEL


def item(output: str | None, reference, **kw) -> Item:
    return Item(id=kw.pop("id", "x"), output=output, reference=reference, **kw)


def test_exact_match() -> None:
    m = build_metric("exact_match", {})
    assert m.score(item(" Paris \n", "Paris")) == {"exact_match": 1.0}
    assert m.score(item("paris", "Paris")) == {"exact_match": 0.0}
    assert m.score(item("Lyon", ["Paris", "Lyon"])) == {"exact_match": 1.0}
    assert build_metric("exact_match", {"strip": False}).score(item("Paris ", "Paris")) == {"exact_match": 0.0}


def test_normalized_match() -> None:
    m = build_metric("normalized_match", {})
    assert m.score(item("The  Eiffel-Tower!", "eiffel tower")) == {"normalized_match": 1.0}
    assert m.score(item("Ｐａｒｉｓ", "paris")) == {"normalized_match": 1.0}  # NFKC full-width
    assert m.score(item("Paris, France", "Paris")) == {"normalized_match": 0.0}
    assert m.score(item("", "Paris")) == {"normalized_match": 0.0}


def test_failed_generation_is_a_failure_not_zero() -> None:
    for name in ("exact_match", "normalized_match", "rouge"):
        scores = build_metric(name, {}).score(item(None, "x", error="RateLimitError"))
        assert all(isinstance(v, Failure) and "RateLimitError" in v.reason for v in scores.values())
    assert isinstance(build_metric("exact_match", {}).score(item("x", None))["exact_match"], Failure)


LABELS = ["order_status", "cancel_order", "refund_request"]


def test_classification_extraction() -> None:
    norm = build_metric("classification", {"labels": LABELS})
    assert norm.predict("Cancel order.") == "cancel_order"
    assert norm.predict("cancel_order") == "cancel_order"
    assert norm.predict("The intent is cancel_order") == NO_LABEL
    first = build_metric("classification", {"labels": LABELS, "extract": "first_label"})
    assert first.predict("The intent is refund_request, or maybe cancel order") == "refund_request"
    assert first.predict("no idea") == NO_LABEL
    exact = build_metric("classification", {"labels": LABELS, "extract": "exact"})
    assert exact.predict("Cancel order.") == NO_LABEL


def test_classification_accuracy_macro_f1_confusion() -> None:
    m = build_metric("classification", {"labels": LABELS})
    items = [item("order_status", "order_status"), item("order status", "order_status"),
             item("cancel_order", "cancel_order"), item("refund_request", "cancel_order"),
             item("blah", "refund_request")]
    per = m.score_batch(items)
    assert [p["accuracy"] for p in per] == [1.0, 1.0, 1.0, 0.0, 0.0]
    # order_status: tp2 true2 pred2 -> F1 1; cancel_order: tp1 true2 pred1 -> 2/3; refund: tp0 -> 0
    assert m.corpus(items, per)["macro_f1"] == pytest.approx((1 + 2 / 3 + 0) / 3)
    art = m.artifacts(items, per)
    assert art["confusion_matrix"]["labels"] == LABELS + [NO_LABEL]
    assert art["confusion_matrix"]["matrix"] == [[2, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 1]]
    assert art["per_class"]["cancel_order"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}


def test_vectorised_macro_f1_equals_scikit_learn() -> None:
    """The bootstrap's sufficient statistics give scikit-learn's macro-F1 on any multiset of examples."""
    import numpy as np
    from sklearn.metrics import f1_score

    m = build_metric("classification", {"labels": LABELS, "extract": "exact"})
    rng = random.Random(7)
    for _ in range(50):
        n = rng.randint(1, 40)
        t = [rng.choice(LABELS) for _ in range(n)]
        p = [rng.choice(LABELS + [NO_LABEL]) for _ in range(n)]
        items = [item(pi, ti) for ti, pi in zip(t, p)] + [item(None, LABELS[0], error="timeout"), item("x", "not a label")]
        stat = m.corpus_statistic(items, m.score_batch(items), "macro_f1")
        want = f1_score(t, p, labels=sorted(set(t)), average="macro", zero_division=0)
        assert stat.value() == pytest.approx(want)
        assert m.corpus(items, [])["macro_f1"] == pytest.approx(want)
        idx = [rng.randrange(n) for _ in range(n)]  # one resample, with repeats: sums weighted by counts
        counts = np.bincount(idx, minlength=len(items))[None, :].astype(float)
        sub_t, sub_p = [t[i] for i in idx], [p[i] for i in idx]
        want = f1_score(sub_t, sub_p, labels=sorted(set(sub_t)), average="macro", zero_division=0)
        assert stat.score(counts @ stat.rows)[0] == pytest.approx(want)


def test_rouge_hand_computed() -> None:
    m = build_metric("rouge", {})
    s = m.score(item("the cat on the mat", "the cat sat on the mat"))
    # unigrams: 5 of 5 output, 5 of 6 reference -> F = 2*(1*5/6)/(1+5/6) = 10/11
    assert s["rouge1"] == pytest.approx(10 / 11)
    # bigrams: 3 shared of 4 (output) and 5 (reference) -> F = 2*(3/4*3/5)/(3/4+3/5) = 2/3
    assert s["rouge2"] == pytest.approx(2 / 3)
    assert s["rougeL"] == pytest.approx(10 / 11)  # LCS of 5 tokens
    assert m.score(item("", "the cat"))["rouge1"] == 0.0
    assert m.score(item("dog", ["the cat", "a dog"]))["rouge1"] == pytest.approx(2 * 1 * 0.5 / 1.5)  # best reference


def test_embedding_similarity_real_minilm() -> None:
    m = build_metric("embedding_similarity", {})
    items = [item("The capital of France is Paris.", "The capital of France is Paris."),
             item("Paris is France's capital city.", "The capital of France is Paris."),
             item("I like turtles and jazz.", "The capital of France is Paris."),
             item(None, "x", error="timeout")]
    s = [r["embedding_similarity"] for r in m.score_batch(items)]
    assert s[0] == pytest.approx(1.0, abs=1e-5)
    assert 0.7 < s[1] < 0.999
    assert s[2] < 0.3 < s[1]
    assert isinstance(s[3], Failure)
    assert m.scores()[0].range == (-1.0, 1.0)


def test_every_metric_declares_direction_range_level() -> None:
    from harness.metrics.base import METRICS

    # Metrics whose parameters have no defaults get the least they need.
    params = {"classification": {"labels": LABELS}, "json_schema": {"schema": {"type": "object"}},
              "regex_match": {"pattern": "x"}, "length": {"max": 10},
              "judge_rubric": {"judge": "scripted", "rubric": "coherence"},
              "judge_pairwise": {"judge": "scripted", "rubric": "coherence"},
              "agreement": {"labels": LABELS}, "agreement_judge": {"judge": "scripted", "rubric": "coherence"},
              "string_check": {"score": "s", "operation": "eq", "reference": "{{ r }}"},
              "text_similarity": {"score": "t", "evaluation_metric": "cosine", "reference": "{{ r }}", "pass_threshold": 0.5},
              "judge_label": {"judge": "scripted", "score": "j", "labels": ["a", "b"], "passing_labels": ["a"],
                              "messages": [{"role": "user", "content": "{{ output }}"}]}}
    for name, cls in METRICS.items():
        for s in build_metric(name, params.get(name, {})).scores():
            assert s.direction in ("higher", "lower") and s.level in ("example", "corpus")
            assert len(s.range) == 2 and isinstance(s.binary, bool)
            assert not s.binary or s.range == (0.0, 1.0), f"{name}.{s.name}: a pass/fail score lies in [0, 1]"


def test_stats_hand_computed() -> None:
    from harness.stats import mean_ci, t_quantile_975, wilson

    for df, t in ((10, 2.228139), (30, 2.042272), (100, 1.983972), (1000, 1.962339)):
        assert t_quantile_975(df) == pytest.approx(t, abs=2e-4)
    lo, hi = wilson(3, 4)
    assert (lo, hi) == (pytest.approx(0.3006, abs=1e-3), pytest.approx(0.9544, abs=1e-3))
    e = mean_ci([1.0, 2.0, 3.0, 4.0])  # sd = 1.29099, t(3) = 3.18245 -> half = 2.05426
    assert e.mean == 2.5 and e.lo == pytest.approx(0.44574, abs=1e-4) and e.hi == pytest.approx(4.55426, abs=1e-4)
    assert math.isnan(mean_ci([]).mean)


def test_per_class_report_and_confusion_matrix_equal_scikit_learn() -> None:
    """The artifacts come from per-label counts in numpy; scikit-learn is the oracle."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    m = build_metric("classification", {"labels": LABELS, "extract": "exact"})
    rng = random.Random(11)
    for _ in range(30):
        n = rng.randint(1, 60)
        t = [rng.choice(LABELS) for _ in range(n)]
        p = [rng.choice(LABELS + ([NO_LABEL] if rng.random() < 0.5 else [])) for _ in range(n)]
        items = [item(pi, ti) for ti, pi in zip(t, p)] + [item(None, LABELS[0], error="timeout"), item("x", "not a label")]
        art = m.artifacts(items, m.score_batch(items))
        cols = LABELS + ([NO_LABEL] if NO_LABEL in p else [])
        assert art["confusion_matrix"]["labels"] == cols
        assert art["confusion_matrix"]["matrix"] == confusion_matrix(t, p, labels=cols)[: len(LABELS)].tolist()
        prec, rec, f1, sup = precision_recall_fscore_support(t, p, labels=LABELS, zero_division=0)
        for i, lab in enumerate(LABELS):
            got = art["per_class"][lab]
            assert (got["precision"], got["recall"], got["f1"]) == pytest.approx((prec[i], rec[i], f1[i]))
            assert got["support"] == sup[i]
