"""The price table, cost arithmetic and token estimates."""

from __future__ import annotations

import pytest

from harness.core.errors import HarnessError
from harness.pricing import estimate_tokens, format_dollars, load_prices


def test_shipped_prices_cover_the_retiring_models_and_their_fine_tunes():
    t = load_prices()
    for name in ("gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "ft:gpt-4o-mini", "ft:gpt-4.1-mini"):
        assert t.price(name) is not None, name


def test_a_dated_snapshot_and_a_fine_tune_take_their_family_price():
    t = load_prices()
    assert t.price("gpt-4o-mini-2024-07-18") == t.price("gpt-4o-mini")
    assert t.price("ft:gpt-4o-mini-2024-07-18:acme::abc123") == t.price("ft:gpt-4o-mini")
    assert t.price("smollm2") is None


def test_cost_by_hand():
    t = load_prices()
    # gpt-4o-mini: $0.15 in, $0.075 cached in, $0.60 out per 1M
    assert t.cost("gpt-4o-mini", 1_000_000, 0) == pytest.approx(0.15)
    assert t.cost("gpt-4o-mini", 2_000_000, 1_000_000, cached_tokens=1_000_000) == pytest.approx(0.15 + 0.075 + 0.60)
    assert t.cost("gpt-4o-mini", 1_000_000, 1_000_000, batch=True) == pytest.approx((0.15 + 0.60) / 2)
    assert t.cost("local-model", 10, 10) is None
    assert format_dollars(None) == "no price" and format_dollars(0.0123) == "$0.0123" and format_dollars(12.5) == "$12.50"


def test_an_override_file_replaces_entries_and_adds_models(tmp_path, monkeypatch):
    f = tmp_path / "prices.yaml"
    f.write_text("models:\n  gpt-4o-mini: {input: 1.0, output: 2.0}\n  my-vllm: {input: 0.01, output: 0.02}\n")
    t = load_prices(f)
    assert t.cost("gpt-4o-mini", 1_000_000, 1_000_000) == pytest.approx(3.0)
    assert t.price("my-vllm").input == 0.01 and t.price("gpt-4o") is not None
    monkeypatch.setenv("HARNESS_PRICES", str(f))
    assert load_prices().price("my-vllm") is not None


def test_a_bad_price_file_names_the_file_and_field(tmp_path):
    f = tmp_path / "prices.yaml"
    f.write_text("models:\n  gpt-4o-mini: {input: -1, output: 2.0, cachd: 1}\n")
    with pytest.raises(HarnessError) as e:
        load_prices(f)
    assert "prices.yaml: models.gpt-4o-mini.input" in str(e.value) and "cachd" in str(e.value)


def test_token_estimate_without_a_tokenizer_says_it_is_one():
    est = estimate_tokens([("system", "x" * 40), ("user", "y" * 8)], max_tokens=16)
    assert (est.input_tokens, est.max_output_tokens, est.exact) == (10 + 2 + 3 * 2 + 3, 16, False)


class CountingTokenizer:
    def apply_chat_template(self, chat, tokenize, add_generation_prompt):
        return list(range(sum(len(m["content"].split()) for m in chat) + 5))


def test_token_count_with_the_models_tokenizer_is_exact():
    est = estimate_tokens([{"role": "user", "content": "one two three"}], 8, tokenizer=CountingTokenizer())
    assert (est.input_tokens, est.exact) == (8, True)


def test_a_training_job_is_priced_by_its_trained_tokens():
    from pathlib import Path

    from harness.loop.lineage import training_cost
    from harness.train.base import TrainResult

    t = load_prices()
    assert t.training_cost("gpt-4o-mini-2024-07-18", 1_000_000) == pytest.approx(3.00)
    assert t.training_cost("gpt-4o-mini", None) is None and t.training_cost("smollm2", 10) is None
    r = TrainResult(trainer="openai", base="openai:gpt-4o-mini", candidate="openai:ft:gpt-4o-mini:o::x", out_dir=Path("."),
                    metrics_csv=None, loss_curve=None, epochs=[], best_epoch=None, stopped_early=False, steps=3,
                    hyperparameters={"model": "gpt-4o-mini-2024-07-18", "trained_tokens": 250_000}, data_hashes={})
    assert training_cost(r) == {"trainer": "openai", "base": "gpt-4o-mini-2024-07-18", "trained_tokens": 250_000,
                                "cost_usd": pytest.approx(0.75)}


def test_only_api_openai_com_is_charged_list_prices(monkeypatch):
    from harness.core.types import Response
    from harness.engine.cost import Ledger, price_name
    from harness.providers.base import ModelSpec

    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    official = ModelSpec.parse("openai:gpt-4o-mini")
    loopback = ModelSpec.parse("openai:gpt-4o-mini?base_url=http://127.0.0.1:8080/v1")
    asked = ModelSpec.parse("openai:gpt-4o-mini?base_url=http://127.0.0.1:8080/v1&price_as=gpt-4o-mini")
    explicit = ModelSpec.parse("openai:gpt-4o-mini?base_url=https://api.openai.com/v1")
    assert [price_name(s) for s in (official, loopback, asked, explicit)] == ["gpt-4o-mini", None, "gpt-4o-mini", "gpt-4o-mini"]
    monkeypatch.setenv("OPENAI_BASE_URL", "http://localhost:9000/v1")
    assert price_name(official) is None
    monkeypatch.delenv("OPENAI_BASE_URL")
    r = Response(text="x", input_tokens=1_000_000, output_tokens=0, attempts=1)
    spent = {}
    for spec in (loopback, official):
        ledger = Ledger(load_prices())
        ledger.record(spec, r, sent=True)
        spent[spec is official] = ledger.usage[spec.display()].spent
    assert spent == {False: None, True: 0.15}  # gpt-4o-mini's input price per 1M, at api.openai.com only


def test_a_price_file_of_ones_own_prices_a_server_of_ones_own(tmp_path, monkeypatch):
    from harness.engine.cost import price_name
    from harness.providers.base import ModelSpec

    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    (tmp_path / "p.yaml").write_text("models:\n  gpt-4o-mini: {input: 1.0, output: 1.0}\n")
    spec = ModelSpec.parse("openai:gpt-4o-mini?base_url=http://127.0.0.1:8080/v1")
    assert price_name(spec, load_prices()) is None
    assert price_name(spec, load_prices(tmp_path / "p.yaml")) == "gpt-4o-mini"
