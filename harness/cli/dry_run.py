"""``harness run --dry-run``: what a run would send and cost, before anything is sent.

Reads the suite, its examples and the response cache (without creating it), counts the requests
still to send and their tokens (the local model's own tokenizer; otherwise an estimate, said to be
one), and prices them at their most (every reply running to ``max_tokens``). Every repeat is a
request (``--repeats`` or the suite's ``generation.repeats``). Judge calls depend on the outputs, so
they are not in the figure (the line says so when the suite has judges). Nothing is sent, so no API
key is needed (the output says when a real run would lack one).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from harness.pricing import estimate_tokens, format_dollars, load_prices


def dry_run(cfg: Any) -> str:
    from harness.store.responses import ResponseCache, request_keys
    from harness.core.errors import HarnessError
    from harness.data.examples import load_split
    from harness.providers.base import build_provider
    from harness.evaluate.run import build_requests, select_examples
    from harness.suite.load import load_suite

    prices = load_prices(cfg.prices)
    loaded = load_suite(cfg.suite, trust=cfg.trust)
    split_name = cfg.split or loaded.suite.default_split
    if split_name not in loaded.suite.dataset.split_names():
        raise HarnessError(f"{cfg.suite}: no split {split_name!r}; the suite has: {', '.join(loaded.suite.dataset.split_names())}")
    split = load_split(loaded.suite.dataset, loaded.dataset_dir(), split_name, loaded.suite.prompt)
    examples, _ = select_examples(cfg, loaded, split)
    if cfg.repeats is not None:  # as run_suite does: --repeats replaces the suite's generation.repeats
        gen_settings = loaded.suite.generation.model_copy(update={"repeats": cfg.repeats})
        loaded.suite = loaded.suite.model_copy(update={"generation": gen_settings})
    requests = build_requests(loaded, examples, split_name)
    with _no_key_needed(cfg.model) as missing_key:
        provider = build_provider(cfg.model, cfg.trust)
    cache_path = cfg.cache or cfg.reports_dir / "cache.sqlite"
    fp = provider.fingerprint()
    keys = request_keys(fp, requests)
    hits: dict[str, Any] = {}
    if cache_path.is_file():  # never create the cache for a dry run
        cache = ResponseCache(cache_path)
        try:
            hits = cache.get_many(keys)
        finally:
            cache.close()
    todo = [r for r, k in zip(requests, keys, strict=True) if k not in hits]
    tokenizer = provider.load()[1] if cfg.model.provider == "local" and todo else None
    est = [estimate_tokens(r.messages, r.settings.max_tokens, tokenizer) for r in todo]
    n_in, n_out = sum(e.input_tokens for e in est), sum(e.max_output_tokens for e in est)
    from harness.engine.cost import price_name as priced_as

    price_name = priced_as(cfg.model, prices)
    batch = bool(getattr(cfg.model.params, "batch", False))
    worst = prices.cost(price_name, n_in, n_out, batch=batch) if price_name is not None else None
    judges = [m.name for m in loaded.metrics if getattr(m, "judge_spec", None) or "judge" in type(m).__name__.lower()]
    exact = "counted by the model's tokenizer" if tokenizer is not None else "estimated, ~4 characters a token"
    lines = [
        f"dry run: {loaded.suite.name} split={split_name} model={cfg.model.display()}" + (" (Batch API)" if batch else ""),
        f"examples:            {len(examples)}" + (f" x {loaded.suite.generation.repeats} repeats"
                                                     if loaded.suite.generation.repeats > 1 else ""),
        f"requests:            {len(requests)} ({len(requests) - len(todo)} cached, {len(todo)} to send)",
        f"input tokens:        {n_in} ({exact})",
        f"max output tokens:   {n_out} ({len(todo)} x max_tokens)",
        f"estimated cost:      " + (f"{format_dollars(worst)} at most" if worst is not None else "no price")
        + (f" (list prices as of {prices.as_of}" + (f", batch discount {prices.batch_discount:.0%}" if batch else "") + ")"
           if worst is not None else
           f" (no price for {cfg.model.name!r} in your --prices file: a server of your own is not charged the shipped "
           "list prices; --prices FILE or price_as=MODEL prices it)"
           if price_name is None else f" (no price for {price_name!r} in the table; --prices FILE adds one)"),
    ]
    if judges:
        lines.append(f"not included:        judge calls of {', '.join(judges)} (they depend on the outputs)")
    if missing_key:
        lines.append(f"api key:             ${missing_key} is not set; a real run needs it")
    if cfg.max_cost is not None:
        lines.append(f"cost cap:            {format_dollars(cfg.max_cost)}")
    lines.append("nothing was sent")
    return "\n".join(lines)


@contextlib.contextmanager
def _no_key_needed(spec: Any) -> Iterator[str | None]:
    """Build the provider without its API key (a dry run sends nothing): an unset key variable holds
    a placeholder meanwhile, and its name is yielded so the output can say a real run needs it."""
    env = getattr(spec.params, "api_key_env", None)
    if not env or os.environ.get(env):
        yield None
        return
    from harness.providers.keys import PLACEHOLDER_KEY

    os.environ[env] = PLACEHOLDER_KEY
    try:
        yield env
    finally:
        os.environ.pop(env, None)
