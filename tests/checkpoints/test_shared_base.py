"""Many adapters, one base: the local provider's models share one loaded base per process with
each LoRA adapter attached under its own name and switched on per call (peft's multiple
adapters). Checked on a tiny random llama (fast): one base load for three adapters, and every
adapter's (and the bare base's) outputs identical to those of its own separate load."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.checkpoints.adapters import make_adapter
from tests.train.conftest import need, tiny_llama  # noqa: F401  (the fixture)


@pytest.fixture()
def adapters(tiny_llama, tmp_path: Path) -> list[Path]:  # noqa: F811
    return [make_adapter(str(tiny_llama), tmp_path / f"checkpoint-{s}", seed=s, scale=0.5) for s in (1, 2, 3)]


def logits(model, tok, text: str = "Where is my order? It has not arrived."):
    import torch

    enc = tok([text], return_tensors="pt")
    with torch.inference_mode():
        return model(**enc).logits[0, -4:].clone()


def test_three_adapters_load_the_base_once_and_match_separate_loads(tiny_llama, adapters) -> None:  # noqa: F811
    import torch

    from harness.local import models as lm

    lm.clear_model_cache()
    bases0, adapters0 = lm.load_stats.bases, lm.load_stats.adapters
    base_view, tok = lm.load_model_and_tokenizer(str(tiny_llama), device="cpu")
    before = logits(base_view, tok)
    views = [lm.load_model_and_tokenizer(str(tiny_llama), adapter=a, device="cpu")[0] for a in adapters]
    assert lm.load_stats.bases - bases0 == 1  # one base for the bare model and three adapters
    assert lm.load_stats.adapters - adapters0 == 3
    again = lm.load_model_and_tokenizer(str(tiny_llama), adapter=adapters[1], device="cpu")[0]
    assert again.adapter_name == views[1].adapter_name and lm.load_stats.adapters - adapters0 == 3  # cached

    # interleaved, as runs of different checkpoints and the base would be
    shared = {i: logits(views[i], tok) for i in (2, 0, 1)}
    shared["base"] = logits(base_view, tok)
    shared["0-again"] = logits(views[0], tok)
    assert torch.equal(shared["base"], before)  # attaching adapters did not change the bare base
    separate = []
    for a in adapters:
        m, t = lm.load_model_and_tokenizer(str(tiny_llama), adapter=a, device="cpu", cache=False)
        separate.append(logits(m, t))
    for i in range(3):
        assert torch.allclose(shared[i], separate[i], atol=1e-6), i
        assert not torch.allclose(shared[i], before, atol=1e-3)  # each adapter visibly changes the model
    assert torch.equal(shared[0], shared["0-again"])
    assert not torch.allclose(separate[0], separate[1], atol=1e-3)


def test_generation_through_the_provider_matches_a_private_load(tiny_llama, adapters) -> None:  # noqa: F811
    from harness.core.settings import GenerationSettings
    from harness.core.types import Request
    from harness.local import models as lm
    from harness.providers.base import ModelSpec, build_provider

    lm.clear_model_cache()
    bases0 = lm.load_stats.bases
    req = [Request(messages=(("user", "Where is my order?"),), settings=GenerationSettings(max_tokens=8, temperature=0))]
    shared_out = []
    for a in adapters + [None]:
        p = build_provider(ModelSpec.parse(f"local:{tiny_llama}" + (f"?adapter={a}&device=cpu" if a else "?device=cpu")))
        shared_out.append(p.generate_batch(req)[0].text)
    assert lm.load_stats.bases - bases0 == 1
    for a, text in zip(adapters + [None], shared_out):
        lm.clear_model_cache()
        p = build_provider(ModelSpec.parse(f"local:{tiny_llama}" + (f"?adapter={a}&device=cpu" if a else "?device=cpu")))
        assert p.generate_batch(req)[0].text == text
    assert len(set(shared_out)) > 1  # the adapters answer differently


def test_an_adapter_over_another_base_is_a_located_error_and_leaves_the_base_usable(tiny_llama, tmp_path) -> None:  # noqa: F811
    import json

    import torch

    from harness.core.errors import HarnessError
    from harness.local import models as lm

    lm.clear_model_cache()
    bad = make_adapter(str(tiny_llama), tmp_path / "bad", seed=1, scale=0.5)
    weights = bad / "adapter_model.safetensors"
    from safetensors.torch import load_file, save_file

    tensors = {k: torch.zeros(v.shape[0] + 3, *v.shape[1:]) for k, v in load_file(weights).items()}  # wrong shapes
    save_file(tensors, weights)
    json.loads((bad / "adapter_config.json").read_text())
    base, tok = lm.load_model_and_tokenizer(str(tiny_llama), device="cpu")
    before = logits(base, tok)
    with pytest.raises(HarnessError, match=r"adapter '.*bad': cannot load it on this base model"):
        lm.load_model_and_tokenizer(str(tiny_llama), adapter=bad, device="cpu")
    fresh, tok2 = lm.load_model_and_tokenizer(str(tiny_llama), device="cpu")
    assert torch.equal(logits(fresh, tok2), before)
