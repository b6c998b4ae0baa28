"""The retry policy, once for every API the harness calls: which failures are retried and after how long.

It follows the openai SDK's rules (``openai/_base_client.py``: ``_should_retry``,
``_parse_retry_after_header``, ``_calculate_retry_timeout``):

- an HTTP status is retried when the server sends ``x-should-retry: true``, never when it sends
  ``x-should-retry: false``, else when it is 408, 409, 429 or 5xx;
- the server's wait is ``retry-after-ms``, else ``Retry-After`` in seconds or as an HTTP date; a
  wait in (0, 120] s is honoured as it is, a longer one means "do not retry";
- otherwise the n-th retry waits ``min(initial * 2^n, 8 s)`` less a random 0-25% (jitter).

A provider turns an exception into a :class:`Fault` (its ``classify``); the engine's loop asks
:meth:`RetryPolicy.delay` whether and when to try again. The OpenAI trainer gives the SDK the same
decisions through :meth:`RetryPolicy.sdk_client`. Nothing here imports the SDK until that is called.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

RETRYABLE_STATUS = frozenset({408, 409, 429})
INITIAL_DELAY_S = 0.5  # the SDK's INITIAL_RETRY_DELAY
MAX_DELAY_S = 8.0  # the SDK's MAX_RETRY_DELAY: the backoff's cap
MAX_RETRY_AFTER_S = 120.0  # the SDK's MAX_RETRY_AFTER_DELAY: a server asking for longer is not retried


@dataclass(frozen=True)
class Fault:
    """What went wrong with one attempt, as the provider classified it."""

    reason: str  # one line; becomes the Response's error after the last attempt
    retry: bool  # may another attempt succeed?
    after_s: float | None = None  # the server's requested wait (Retry-After), uncapped; None: back off
    connection: bool = False  # no connection to the endpoint at all: counts toward the circuit breaker


def retry_after(headers: Mapping[str, str] | Any) -> float | None:
    """Seconds from ``retry-after-ms``, else ``retry-after`` (seconds, or an HTTP date); None if absent or unreadable."""
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value)
        except ValueError:
            continue
        if math.isinf(seconds) and value.strip().lower().lstrip("+") not in ("inf", "infinity"):
            return MAX_RETRY_AFTER_S + 1  # a numeric overflow is a huge wait, not a malformed one
        return seconds / divisor
    date = headers.get("retry-after")
    try:
        parsed = email.utils.parsedate_tz(date) if date is not None else None
        return None if parsed is None else float(email.utils.mktime_tz(parsed) - time.time())
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def http_fault(status: int, headers: Mapping[str, str] | Any, reason: str) -> Fault:
    """An HTTP error reply classified by the SDK's rules (``x-should-retry``, then the status)."""
    says = headers.get("x-should-retry")
    retry = says == "true" or (says != "false" and (status in RETRYABLE_STATUS or status >= 500))
    return Fault(reason, retry, retry_after(headers) if retry else None)


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 5
    initial_s: float = INITIAL_DELAY_S
    cap_s: float = MAX_DELAY_S
    retry_after_cap_s: float = MAX_RETRY_AFTER_S

    @classmethod
    def from_spec(cls, spec: Any) -> RetryPolicy:
        """From a ModelSpec's ``max_retries`` and ``retry_base_s``."""
        return cls(max_retries=spec.max_retries, initial_s=spec.retry_base_s)

    def backoff(self, retries_taken: int) -> float:
        """The SDK's exponential backoff: ``min(initial * 2^n, cap)``, less a random 0-25%."""
        return min(self.initial_s * 2.0 ** min(retries_taken, 1000), self.cap_s) * (1 - 0.25 * random.random())

    def honours(self, after_s: float | None) -> bool:
        """A server wait we take as it is (the SDK's test: finite and in (0, cap])."""
        return after_s is not None and math.isfinite(after_s) and 0 < after_s <= self.retry_after_cap_s

    def retryable(self, fault: Fault) -> bool:
        """Retryable, and the server did not ask for a wait over the cap (the SDK then gives up)."""
        too_long = fault.after_s is not None and math.isfinite(fault.after_s) and fault.after_s > self.retry_after_cap_s
        return fault.retry and not too_long

    def delay(self, attempts: int, fault: Fault) -> float | None:
        """Seconds to wait before attempt ``attempts + 1``, or None: give up (not retryable, or retries spent)."""
        if attempts > self.max_retries or not self.retryable(fault):
            return None
        return fault.after_s if self.honours(fault.after_s) else self.backoff(attempts - 1)

    def sdk_client(self, client_class: type, **kwargs: Any) -> Any:
        """An instance of an openai SDK client class (``openai.OpenAI``, ``AsyncOpenAI``) whose own
        retry loop makes this policy's decisions: which replies are retried and how long to wait.
        For callers that use the SDK's typed methods (the trainer); the engine retries itself."""
        policy = self

        class PolicyClient(client_class):  # type: ignore[misc, valid-type]
            def _should_retry(self, response: Any) -> bool:
                return policy.retryable(http_fault(response.status_code, response.headers, ""))

            def _calculate_retry_timeout(self, remaining_retries: int, options: Any, response_headers: Any = None) -> float:
                taken = options.get_max_retries(self.max_retries) - remaining_retries
                after = retry_after(response_headers) if response_headers is not None else None
                return after if policy.honours(after) else policy.backoff(taken)  # type: ignore[return-value]

        PolicyClient.__name__ = PolicyClient.__qualname__ = f"Policy{client_class.__name__}"
        return PolicyClient(max_retries=self.max_retries, **kwargs)
