"""The one retry policy (harness.providers.retry) against the openai SDK's own rules, the SDK being
the oracle: which replies are retried, how Retry-After is read, the backoff and its caps."""

from __future__ import annotations

import email.utils
import time

import pytest

from tests.deps import requires_module

from harness.providers.retry import (
    MAX_DELAY_S,
    Fault,
    RetryPolicy,
    http_fault,
    retry_after,
)

openai = requires_module("openai", "a core dependency: pip install -e .")
httpx2 = requires_module("httpx2", "the openai SDK's HTTP client: pip install -e .")

SDK = openai.OpenAI(api_key="sk-none", base_url="http://127.0.0.1:9/v1")  # makes no request


def _date(seconds_from_now: float) -> str:
    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)


CASES = [
    (400, {}), (401, {}), (404, {}), (408, {}), (409, {}), (422, {}), (429, {}), (500, {}), (502, {}), (503, {}),
    (400, {"x-should-retry": "true"}), (503, {"x-should-retry": "false"}), (429, {"x-should-retry": "maybe"}),
    (429, {"retry-after": "3"}), (429, {"retry-after-ms": "250"}), (429, {"retry-after": "300"}),
    (503, {"retry-after-ms": "200000"}), (429, {"retry-after": "soon"}), (429, {"retry-after": "1e999"}),
    (503, {"retry-after": "inf"}), (429, {"retry-after": "0"}), (429, {"retry-after": "-4"}),
]


@pytest.mark.parametrize(("status", "headers"), CASES, ids=[f"{s}-{h}" for s, h in CASES])
def test_retried_exactly_when_the_sdk_retries(status: int, headers: dict[str, str]) -> None:
    reply = httpx2.Response(status, headers=headers)
    policy = RetryPolicy(max_retries=5)
    fault = http_fault(status, reply.headers, "r")
    assert policy.retryable(fault) == SDK._should_retry(reply)
    assert (policy.delay(1, fault) is not None) == SDK._should_retry(reply)


@pytest.mark.parametrize("headers", [{"retry-after": "3"}, {"retry-after-ms": "250"}, {"retry-after": "2.5"},
                                     {"retry-after-ms": "40", "retry-after": "9"}, {"retry-after": "soon"}, {},
                                     {"retry-after": _date(30)}, {"retry-after": _date(-30)}])
def test_retry_after_is_read_as_the_sdk_reads_it(headers: dict[str, str]) -> None:
    h = httpx2.Headers(headers)
    ours, sdk = retry_after(h), SDK._parse_retry_after_header(h)
    assert (ours is None) == (sdk is None)
    if sdk is not None:
        assert ours == pytest.approx(sdk, abs=1.5)  # an HTTP date is read at two slightly different moments


def test_server_wait_is_honoured_up_to_two_minutes_then_not_retried() -> None:
    policy = RetryPolicy(max_retries=3, initial_s=0.01)
    assert policy.delay(1, Fault("r", True, after_s=7.0)) == 7.0
    assert policy.delay(1, Fault("r", True, after_s=120.0)) == 120.0
    assert policy.delay(1, Fault("r", True, after_s=121.0)) is None
    assert policy.delay(1, Fault("r", True, after_s=0.0)) <= 0.01  # no usable wait: back off instead
    assert policy.delay(4, Fault("r", True)) is None  # 3 retries spent
    assert policy.delay(1, Fault("r", False)) is None


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    policy = RetryPolicy(max_retries=20, initial_s=0.5)
    for retries_taken, ceiling in ((0, 0.5), (1, 1.0), (3, 4.0), (4, MAX_DELAY_S), (9, MAX_DELAY_S)):
        waits = [policy.delay(retries_taken + 1, Fault("r", True)) for _ in range(200)]
        assert all(0.75 * ceiling <= w <= ceiling for w in waits), (retries_taken, min(waits), max(waits))
        assert max(waits) - min(waits) > 0.05 * ceiling  # jittered, not fixed
        # the SDK's own formula for the same retry (its initial delay is 0.5 s too)
        sdk = [SDK._calculate_retry_timeout(20 - retries_taken, openai._models.FinalRequestOptions(method="post", url="/x",
                                                                                                     max_retries=20))
               for _ in range(50)]
        assert all(0.75 * ceiling <= w <= ceiling for w in sdk)


def test_sdk_client_makes_the_policys_decisions() -> None:
    """The trainer's SDK client: the SDK's loop, this policy's numbers and rules."""
    client = RetryPolicy(max_retries=4, initial_s=2.0).sdk_client(openai.OpenAI, api_key="sk-none",
                                                                   base_url="http://127.0.0.1:9/v1")
    assert client.max_retries == 4 and isinstance(client, openai.OpenAI)
    assert client._should_retry(httpx2.Response(503, headers={"x-should-retry": "false"})) is False
    assert client._should_retry(httpx2.Response(400, headers={"x-should-retry": "true"})) is True
    assert client._should_retry(httpx2.Response(429, headers={"retry-after": "300"})) is False
    opts = openai._models.FinalRequestOptions(method="post", url="/x")
    first = client._calculate_retry_timeout(4, opts, None)
    assert 1.5 <= first <= 2.0  # initial_s 2 s, not the SDK's 0.5 s
    assert client._calculate_retry_timeout(3, opts, httpx2.Headers({"retry-after-ms": "1500"})) == 1.5
