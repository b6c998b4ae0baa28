"""The circuit breaker: an endpoint that refuses every connection is down; stop sending to it.

Without it, a dead endpoint costs every remaining request its full retry schedule (6 attempts with
backoff: minutes for a few hundred examples). The breaker counts consecutive attempts that failed
with a connection error (refused, reset, unreachable), across all requests to one endpoint; any
reply at all (a success, an HTTP error, a malformed body) resets the count. When the count reaches
the threshold the breaker opens for good: requests not yet sent are not sent, retries waiting for
their turn stop waiting, and the engine records both as failed responses, which are never cached,
so a rerun resumes exactly them.
"""

from __future__ import annotations

import asyncio
import contextlib


class CircuitBreaker:
    def __init__(self, endpoint: str, threshold: int):
        self.endpoint = endpoint
        self.threshold = threshold  # 0: never opens
        self.consecutive = 0
        self.open = False
        self._opened = asyncio.Event()

    def reply(self) -> None:
        """The endpoint answered (anything): it is up."""
        self.consecutive = 0

    def connection_error(self) -> None:
        self.consecutive += 1
        if self.threshold and self.consecutive >= self.threshold and not self.open:
            self.open = True
            self._opened.set()

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or less if the breaker opens meanwhile."""
        if self.open:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._opened.wait(), seconds)

    def message(self) -> str:
        return f"endpoint down: {self.endpoint} ({self.threshold} consecutive connection errors)"
