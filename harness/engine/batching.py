"""The engine's Batch API path: a provider that declares the capability (``Provider.batch_api``: openai
with ``batch=true``) gets its uncached requests sent as batches.

The request bodies are the provider's own (``provider.body``: exactly what the synchronous path
posts), one ``custom_id`` per request: the example id, plus ``#r<k>`` for a repeat, plus ``~<n>`` for
a later duplicate, so the ids are distinct and the same on every rerun (a rerun reattaches to the
live batches recorded in ``<run dir>/batches.json``). Results stream back to the engine, which
caches them; a line that failed or never ran (an expired batch) is that example's error, not
cached, so a rerun sends exactly those again. The cost cap holds here too: requests are reserved
in order at their worst case and the first that would cross the cap, and all after it, are not sent.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from harness.core.errors import HarnessError
from harness.core.types import Request, Response
from harness.engine.cost import Ledger, not_sent
from harness.providers.base import BatchApi

STATE_FILE = "batches.json"


def custom_ids(requests: Sequence[Request]) -> list[str]:
    """Distinct, deterministic ids: example id (+ repeat index), a counter on duplicates."""
    seen: dict[str, int] = {}
    out = []
    for r in requests:
        base = r.example_id or "request"
        repeat = getattr(r, "repeat", None)
        if repeat:
            base += f"#r{repeat}"
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.append(base if n == 0 else f"{base}~{n + 1}")
    return out


async def batch_api(provider: BatchApi, requests: Sequence[Request], batch_dir: Path | None,
                    ledger: Ledger | None) -> AsyncIterator[tuple[int, Response]]:
    if batch_dir is None:
        raise HarnessError(f"{provider.spec.display()}: batch=true needs a run directory to keep batches.json in "
                           "(use harness run, or give the engine batch_dir)")
    ids = custom_ids(requests)
    send: list[int] = []
    held = 0.0
    for i, r in enumerate(requests):
        worst = ledger.reserve_now(provider.spec, r) if ledger is not None else 0.0
        if worst is None:
            yield i, not_sent(ledger)  # type: ignore[arg-type]
            continue
        held += worst
        send.append(i)
    if not send:
        return
    index = {ids[i]: i for i in send}
    runner = _runner(provider, batch_dir / STATE_FILE)
    try:
        results = await runner.run([(ids[i], provider.body(requests[i])) for i in send])
    except HarnessError:
        raise  # the service refused the batch: a rule of its input, named by line
    except Exception as e:  # noqa: BLE001 - the service could not be reached or said no: every request's error
        reason = provider.classify(e).reason
        results = {ids[i]: Response(text=None, error=f"batch: {reason}") for i in send}
    finally:
        if ledger is not None:
            ledger.release(held)
    for cid, resp in results.items():
        if ledger is not None:
            ledger.record(provider.spec, resp, sent=True)
        yield index[cid], resp


def _runner(provider: BatchApi, state_path: Path) -> Any:
    """A BatchRunner on the provider's own client: its endpoint and its key rule (harness.providers.keys)."""
    from harness.providers.openai_batch import BatchPolicy, BatchRunner

    poll = provider.batch_poll_s
    policy = BatchPolicy(poll_first_s=poll, poll_max_s=max(poll, min(60.0, 12 * poll)))
    return BatchRunner(provider.client(), state_path, policy, log=lambda s: print(s, file=sys.stderr),
                       metadata={"harness_model": provider.spec.name})
