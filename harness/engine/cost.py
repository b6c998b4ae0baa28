"""What the engine's calls cost, and the cap (``--max-cost``) that stops sending new ones.

Every response the engine hands back is accounted per model (the candidate and each judge model
apart): tokens from the usage the provider reported, dollars from the price table
(:mod:`harness.pricing`). ``spent`` is what this process sent (cached responses cost nothing now);
``cost`` is what all the responses a run used cost when they were made.

The cap: before a request is sent its most expensive outcome (estimated input tokens plus
``max_tokens`` of output) is reserved; it is sent only when spent + everything reserved stays
within the cap, so a cap holds however many requests are in flight at once. A request that would
cross it is not sent, is recorded as not attempted (no cache entry) and a rerun with a higher cap
resumes. A model with no price cannot be capped: it is counted as "no price", never as $0.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from harness.core.types import Request, Response
from harness.pricing import PriceTable, estimate_tokens, format_dollars

CAP_REACHED = "not attempted: cost cap"


@dataclass
class ModelUsage:
    """Tokens and dollars of one model's calls in this process."""

    model: str
    requests: int = 0
    sent: int = 0  # requests sent now (the rest came from the cache)
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cost: float | None = 0.0  # all responses; None: the model has no price
    spent: float | None = 0.0  # responses sent now

    def as_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "sent": self.sent, "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens, "cached_input_tokens": self.cached_input_tokens,
                "cost_usd": self.cost, "spent_usd": self.spent}


@dataclass
class Ledger:
    """Per-model usage and the optional cap, shared by every generate() of one engine."""

    prices: PriceTable
    max_cost: float | None = None
    usage: dict[str, ModelUsage] = field(default_factory=dict)
    reserved: float = 0.0
    capped: int = 0  # requests not sent because of the cap
    stopped: bool = False  # the cap was reached: nothing more is sent in this process
    _wake: asyncio.Event | None = None  # set when a reservation is released
    _priced: dict[str, bool] = field(default_factory=dict)

    @property
    def spent(self) -> float:
        return sum(u.spent or 0.0 for u in self.usage.values())

    def price_of(self, model: str, input_tokens: int, output_tokens: int, cached: int = 0,
                 batch: bool = False) -> float | None:
        if model not in self._priced:  # the table's lookup (family, dated snapshot, fine-tune) once a model
            self._priced[model] = self.prices.price(model) is not None
        if not self._priced[model]:
            return None
        return self.prices.cost(model, input_tokens, output_tokens, cached, batch=batch)

    def worst(self, spec: Any, request: Request) -> float:
        """A request's most expensive outcome: estimated input plus every token of ``max_tokens``."""
        name = price_name(spec, self.prices)
        if name is None:
            return 0.0
        est = estimate_tokens(request.messages, request.settings.max_tokens)
        return self.price_of(name, est.input_tokens, est.max_output_tokens, batch=_batch(spec)) or 0.0

    def reserve_now(self, spec: Any, request: Request) -> float | None:
        """Reserve without waiting (a batch is sent all at once); None: over the cap, and from then on."""
        worst = self.worst(spec, request)
        if not self.stopped and self._fits(worst):
            self.reserved += worst
            return worst
        self.stopped = True
        self.capped += 1
        return None

    async def reserve(self, spec: Any, request: Request) -> float | None:
        """Reserve a request's worst case before it is sent; while it does not fit but others are in
        flight, wait for them (they usually cost less than reserved). None: it may not be sent."""
        worst = self.worst(spec, request)
        while not self.stopped:
            if self._fits(worst):
                self.reserved += worst
                return worst
            if self.reserved <= 0:
                self.stopped = True  # nothing in flight and still over: the cap is reached
                break
            if self._wake is None:
                self._wake = asyncio.Event()
            await self._wake.wait()
        self.capped += 1
        return None

    def release(self, amount: float) -> None:
        self.reserved = max(0.0, self.reserved - amount)
        wake, self._wake = self._wake, None
        if wake is not None:
            wake.set()

    def fits(self, amount: float) -> bool:
        """Whether ``amount`` more could be reserved now (a batch's worst case, before it is sent)."""
        return not self.stopped and self._fits(amount)

    def _fits(self, worst: float) -> bool:
        return self.max_cost is None or self.spent + self.reserved + worst <= self.max_cost + 1e-12

    def record(self, spec: Any, response: Response, sent: bool) -> None:
        """Account one response of the model ``spec`` (not one that was never sent)."""
        self.record_many(spec, [response], sent)

    def record_many(self, spec: Any, responses: Iterable[Response], sent: bool) -> None:
        """Account responses of one model at once: tokens summed, priced once (the price is linear in
        each kind of token; each response's cached tokens are capped at its input tokens first)."""
        i = o = c = k = 0
        for r in responses:
            if r.attempts == 0 and r.error is not None:
                continue  # never sent
            ri = r.input_tokens or 0
            i, o, c, k = i + ri, o + (r.output_tokens or 0), c + min(r.cached_tokens or 0, ri), k + 1
        if not k:
            return
        key = spec.display()
        u = self.usage.setdefault(key, ModelUsage(key))
        name = price_name(spec, self.prices)
        dollars = None if name is None else self.price_of(name, i, o, c, batch=_batch(spec))
        u.requests += k
        u.sent += k if sent else 0
        u.input_tokens, u.output_tokens, u.cached_input_tokens = u.input_tokens + i, u.output_tokens + o, u.cached_input_tokens + c
        u.cost = None if dollars is None or u.cost is None else u.cost + dollars
        if sent:
            u.spent = None if dollars is None or u.spent is None else u.spent + dollars

    def cap_message(self) -> str:
        return (f"cost cap {format_dollars(self.max_cost)} reached: spent {format_dollars(self.spent)}; "
                f"{self.capped} request(s) not sent; rerun with a higher --max-cost to resume")


def not_sent(ledger: Ledger) -> Response:
    return Response(text=None, error=f"{CAP_REACHED} {format_dollars(ledger.max_cost)} reached", attempts=0)


def own_server(spec: Any) -> bool:
    """An OpenAI-compatible server of one's own: a base_url (or $OPENAI_BASE_URL) not at api.openai.com."""
    if getattr(spec, "provider", None) != "openai":
        return False
    import os
    from urllib.parse import urlsplit

    url = getattr(getattr(spec, "params", None), "base_url", None) or os.environ.get("OPENAI_BASE_URL")
    return bool(url) and (urlsplit(url).hostname or "").lower() != "api.openai.com"


def price_name(spec: Any, prices: PriceTable | None = None) -> str | None:
    """The price-table name of a model's requests, or None when they are not priced. A server of one's
    own is not charged OpenAI's list price whatever it calls its model (a vLLM serving `gpt-4o-mini`):
    only a price the user gave (their --prices / $HARNESS_PRICES file) or ``price_as=MODEL`` prices it."""
    asked = getattr(getattr(spec, "params", None), "price_as", None)
    if asked:
        return asked
    name = spec.name or spec.display()
    if own_server(spec) and not (prices is not None and prices.price_added(name)):
        return None
    return name


def _batch(spec: Any) -> bool:
    return bool(getattr(getattr(spec, "params", None), "batch", False))  # openai params only


def cost_block(ledger: Ledger, batch: bool = False) -> dict[str, Any]:
    """The summary's ``cost`` (harness.records.run.CostInfo)."""
    models = {k: u.as_dict() for k, u in ledger.usage.items()}
    costs = [u.cost for u in ledger.usage.values()]
    spends = [u.spent for u in ledger.usage.values()]
    return {"currency": ledger.prices.currency, "prices_as_of": ledger.prices.as_of, "batch": batch,
            "max_cost_usd": ledger.max_cost, "cap_reached": ledger.cap_message() if ledger.capped else None,
            "total_usd": None if any(c is None for c in costs) else sum(costs),  # type: ignore[arg-type]
            "spent_usd": None if any(c is None for c in spends) else sum(spends),  # type: ignore[arg-type]
            "models": models}
