"""Relevance (BLEU, question similarity, fact coverage) and coherence (repetition, length,
truncation, perplexity under SmolLM2) against hand-computed values and edge cases."""

from __future__ import annotations

import math

import pytest

from harness.core.types import Failure, Item
from harness.metrics.base import build_metric

LONG = "lorem ipsum " * 20_000


def item(output: str | None, reference=None, **kw) -> Item:
    return Item(id=kw.pop("id", "x"), output=output, reference=reference, **kw)


# ------------------------------------------------------------------ BLEU

def test_bleu_hand_computed() -> None:
    m = build_metric("bleu", {})
    # hyp "the cat sat on the mat" vs ref "the cat sat on a mat": clipped precisions
    # 1-gram 5/6, 2-gram 3/5, 3-gram 2/4, 4-gram 1/3; equal lengths, BP = 1 -> (1/12) ** (1/4)
    it = item("the cat sat on the mat", "the cat sat on a mat")
    assert m.score(it)["bleu"] == pytest.approx((1 / 12) ** 0.25)
    assert m.score(item("the cat sat on a mat", "the cat sat on a mat"))["bleu"] == pytest.approx(1.0)
    assert m.score(item("", "the cat"))["bleu"] == 0.0
    # short output: hyp "the cat" vs ref of 6 tokens. Effective order 2: p1 = 2/2, p2 = 1/1;
    # BP = exp(1 - 6/2) -> exp(-2)
    assert m.score(item("the cat", "the cat sat on a mat"))["bleu"] == pytest.approx(math.exp(-2))
    # corpus BLEU sums counts first: both items together
    items = [it, item("the cat sat on a mat", "the cat sat on a mat")]
    # 1: (5+6)/12, 2: (3+5)/10, 3: (2+4)/8, 4: (1+3)/6
    expect = ((11 / 12) * (8 / 10) * (6 / 8) * (4 / 6)) ** 0.25
    assert m.corpus(items, m.score_batch(items))["corpus_bleu"] == pytest.approx(expect)
    assert isinstance(m.score(item(None, "x", error="boom"))["bleu"], Failure)
    assert isinstance(m.score(item("x", None))["bleu"], Failure)
    assert 0 < m.score(item(LONG, "lorem ipsum lorem ipsum"))["bleu"] < 0.01  # brevity fine, precision tiny
    assert m.score(item("Ça coûte 5 €.", "Ça coûte 5 €."))["bleu"] == pytest.approx(1.0)


# sacreBLEU's own test cases (sacrebleu test/test_sentence_bleu.py, issue #98 and #141; test/test_bleu.py README corpus)
SB_REF, SB_SYS = "producţia de zahăr brut se exprimă în zahăr alb;", "Producția de zahăr primă va fi exprimată în ceea ce privește zahărul alb;"
SB_HYPS = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."]
SB_REFS = [["The dog bit the man.", "It was not unexpected.", "The man bit him first."],
           ["The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."]]


def test_bleu_equals_sacrebleu_on_its_own_test_sentences() -> None:
    import sacrebleu

    m = build_metric("bleu", {})
    assert m.score(item(SB_SYS, SB_REF))["bleu"] == pytest.approx(0.08493, abs=1e-5)  # exp smoothing, effective order
    assert m.score(item("this is a cat", "okay thanks"))["bleu"] == 0.0  # no match at all: 0 even smoothed (#141)
    assert m.score(item("test", "a test"))["bleu"] == pytest.approx(sacrebleu.sentence_bleu("test", ["a test"]).score / 100)
    items = [item(h, [r0, r1]) for h, r0, r1 in zip(SB_HYPS, *SB_REFS, strict=True)]  # two references each
    assert m.corpus(items, m.score_batch(items))["corpus_bleu"] == pytest.approx(0.48530827, abs=1e-8)
    assert sacrebleu.corpus_bleu(SB_HYPS, SB_REFS, smooth_method="none").score == pytest.approx(48.530827, abs=1e-6)
    empty = [item("", [r0, r1]) for r0, r1 in zip(*SB_REFS, strict=True)]
    assert m.corpus(empty, [])["corpus_bleu"] == 0.0  # empty outputs count, and score 0
    for it in items:
        want = sacrebleu.sentence_bleu(it.output, it.reference, smooth_method="exp", use_effective_order=True).score / 100
        assert m.score(it)["bleu"] == pytest.approx(want)


def test_corpus_bleu_bootstrap_sums_equal_sacrebleu_on_resamples() -> None:
    """The vectorised path: summed per-example counts give sacreBLEU's corpus BLEU of the resampled corpus."""
    import random

    import numpy as np
    import sacrebleu

    m = build_metric("bleu", {})
    rng = random.Random(3)
    words = "the dog bit man it was not a surprise had just bitten him .".split()
    refs = [" ".join(rng.choice(words) for _ in range(rng.randint(3, 12))) for _ in range(30)]
    hyps = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 12))) for _ in range(30)]
    items = [item(h, r) for h, r in zip(hyps, refs, strict=True)] + [item(None, "x", error="timeout")]
    stat = m.corpus_statistic(items, [], "corpus_bleu")
    for _ in range(20):
        idx = [rng.randrange(30) for _ in range(30)]
        counts = np.bincount(idx, minlength=len(items))[None, :].astype(float)
        # corpus_bleu's default smoothing is "exp"; the metric declares none (an order without a match gives 0)
        want = sacrebleu.corpus_bleu([hyps[i] for i in idx], [[refs[i] for i in idx]], smooth_method="none").score / 100
        assert stat.score(counts @ stat.rows)[0] == pytest.approx(want, abs=1e-12)


# ------------------------------------------------------------------ facts

def test_fact_coverage() -> None:
    m = build_metric("fact_coverage", {})
    facts = [["30 days", "thirty days"], "original payment method", "5-7 business days"]
    it = item("Returns are accepted within thirty days; refunds go to your original payment method.",
              record={"required_facts": facts})
    assert m.score_batch([it])[0]["fact_coverage"] == pytest.approx(2 / 3)
    assert m.score_batch([item("", record={"required_facts": facts})])[0]["fact_coverage"] == 0.0
    assert m.score_batch([item("Der Vertrag endet nach 14 Tagen.", record={"required_facts": ["14 Tagen"]})])[0]["fact_coverage"] == 1.0
    bad = m.score_batch([item("x", record={}), item("x", record={"required_facts": []}),
                         item(None, record={"required_facts": ["a"]}, error="timeout")])
    assert all(isinstance(r["fact_coverage"], Failure) for r in bad)
    art = m.artifacts([it], [])
    assert art["facts_checked"] == 3 and art["most_missed"] == {"5-7 business days": 1}


# ------------------------------------------------------------------ repetition, length, truncation

def test_repetition_hand_computed() -> None:
    m = build_metric("repetition", {"n": 3})
    # 6 words, 2 distinct; bigrams: 5, 2 distinct; trigrams: 4, 2 distinct -> repeated 1 - 2/4
    s = m.score(item("The cat, the cat... the CAT!"))
    assert s == {"distinct_1": pytest.approx(1 / 3), "distinct_2": pytest.approx(2 / 5), "repeated_ngram_rate": pytest.approx(0.5)}
    s = m.score(item("Zoë mange une pomme verte"))
    assert s == {"distinct_1": 1.0, "distinct_2": 1.0, "repeated_ngram_rate": 0.0}
    s = m.score(item(""))
    assert all(isinstance(v, Failure) for v in s.values())  # no n-grams: undefined, not 0 or 1
    s = m.score(item("hello there"))
    assert s["distinct_2"] == 1.0 and isinstance(s["repeated_ngram_rate"], Failure)
    s = m.score(item(LONG))
    assert s["distinct_1"] == pytest.approx(2 / 40000) and s["repeated_ngram_rate"] == pytest.approx(1 - 2 / 39998)
    assert {sp.name: sp.direction for sp in m.scores()}["repeated_ngram_rate"] == "lower"


def test_length_and_truncation() -> None:
    m = build_metric("length", {"min": 2, "max": 4})
    assert [m.score(item(t))["length_ok"] for t in ("one", "one two", "one two three four five", "")] == [0.0, 1.0, 0.0, 0.0]
    m = build_metric("length", {"unit": "chars", "max_field": "max_chars"})
    assert m.score(item("héllo", record={"max_chars": 5}))["length_ok"] == 1.0
    assert isinstance(m.score(item("x", record={"max_chars": "lots"}))["length_ok"], Failure)
    with pytest.raises(ValueError):
        build_metric("length", {})
    t = build_metric("truncation", {})
    assert t.score(item("It was cut", finish_reason="length"))["truncated"] == 1.0
    assert t.score(item("Done.", finish_reason="stop"))["truncated"] == 0.0
    assert isinstance(t.score(item("Done."))["truncated"], Failure)  # no finish reason: cannot tell
    tt = build_metric("truncation", {"source": "text"})
    assert [tt.score(item(x))["truncated"] for x in ("Done.", "And then the", "Fini ! 🎉", "```py\nx = 1")] == [0.0, 1.0, 0.0, 1.0]
    assert isinstance(tt.score(item(""))["truncated"], Failure)


# ------------------------------------------------------------------ real models (loaded offline)

def test_question_similarity_with_minilm() -> None:
    m = build_metric("question_similarity", {})
    q = "How long do refunds take to reach my card?"
    rows = m.score_batch([item("Refunds reach your card within 5-7 business days.", input=q),
                          item("Our tents are waterproof to 3000 mm.", input=q),
                          item("", input=q), item("x"), item(None, input=q, error="timeout")])
    s = [r["question_similarity"] for r in rows]
    assert s[0] > s[1] + 0.2
    assert all(isinstance(v, Failure) for v in s[2:])
    f = build_metric("question_similarity", {"field": "question"}).score_batch([item("Paris", record={"question": "Capital of France?"})])
    assert -1 <= f[0]["question_similarity"] <= 1


def test_perplexity_under_smollm2() -> None:
    from harness.providers.base import ModelSpec, build_provider

    m = build_metric("perplexity", {})
    chat = [{"role": "user", "content": "What is the capital of France?"}]
    fluent = "The capital of France is Paris."
    rows = m.score_batch([item(fluent, messages=chat), item("Paris capital the France of is.", messages=chat),
                          item("", messages=chat), item(None, error="x")])
    ppl = [r["perplexity"] for r in rows]
    # by hand from the model's own token log-probabilities
    lps = build_provider(ModelSpec.parse("local")).score_continuations([chat], [fluent])[0]
    assert ppl[0] == pytest.approx(math.exp(-sum(lps) / len(lps)), rel=1e-4)
    assert 1.0 <= ppl[0] < ppl[1]
    assert isinstance(ppl[2], Failure) and isinstance(ppl[3], Failure)
    unc = build_metric("perplexity", {"condition_on_prompt": False}).score_batch([item("Bonjour, ça va très bien, merci !")])
    assert unc[0]["perplexity"] > 1.0
    assert m.scores()[0].direction == "lower"
