"""``harness run --dry-run``: what a run would send and cost, before anything is sent.

Reads the suite, its examples and the response cache (without creating it), counts the requests
still to send and their tokens (the local model's own tokenizer; otherwise an estimate, said to be
one), and prices them at their most (every reply running to ``max_tokens``). Judge calls depend on
the outputs, so they are not in the figure (the line says so when the suite has judges).
"""

from __future__ import annotations

from typing import Any

from harness.pricing import estimate_tokens, format_dollars, load_prices


def dry_run(cfg: Any) -> str:
    from harness.store.responses import ResponseCache, request_keys
    from harness.core.errors import HarnessError
    from harness.data.examples import load_split
    from harness.providers.base import build_provider
    from harness.evaluate.run import build_requests
    from harness.suite.load import load_suite

    prices = load_prices(cfg.prices)
    loaded = load_suite(cfg.suite, trust=cfg.trust)
    split_name = cfg.split or loaded.suite.default_split
    if split_name not in loaded.suite.dataset.splits:
        raise HarnessError(f"{cfg.suite}: no split {split_name!r}; the suite has: {', '.join(loaded.suite.dataset.splits)}")
    split = load_split(loaded.suite.dataset, loaded.dataset_dir(), split_name, loaded.suite.prompt)
    examples = split.examples[: cfg.limit] if cfg.limit else split.examples
    requests = build_requests(loaded, examples)
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
    price_name = cfg.model.name or cfg.model.display()
    batch = bool(getattr(cfg.model.params, "batch", False))
    worst = prices.cost(price_name, n_in, n_out, batch=batch)
    judges = [m.name for m in loaded.metrics if getattr(m, "judge_spec", None) or "judge" in type(m).__name__.lower()]
    exact = "counted by the model's tokenizer" if tokenizer is not None else "estimated, ~4 characters a token"
    lines = [
        f"dry run: {loaded.suite.name} split={split_name} model={cfg.model.display()}" + (" (Batch API)" if batch else ""),
        f"examples:            {len(examples)}",
        f"requests:            {len(requests)} ({len(requests) - len(todo)} cached, {len(todo)} to send)",
        f"input tokens:        {n_in} ({exact})",
        f"max output tokens:   {n_out} ({len(todo)} x max_tokens)",
        f"estimated cost:      " + (f"{format_dollars(worst)} at most" if worst is not None else "no price")
        + (f" (list prices as of {prices.as_of}" + (f", batch discount {prices.batch_discount:.0%}" if batch else "") + ")"
           if worst is not None else f" (no price for {price_name!r} in the table; --prices FILE adds one)"),
    ]
    if judges:
        lines.append(f"not included:        judge calls of {', '.join(judges)} (they depend on the outputs)")
    if cfg.max_cost is not None:
        lines.append(f"cost cap:            {format_dollars(cfg.max_cost)}")
    lines.append("nothing was sent")
    return "\n".join(lines)
