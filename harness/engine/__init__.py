"""The generation engine: response cache + provider + retries + concurrency + circuit breaker + progress.

One :class:`Engine` serves a whole run: the candidate's generation, judges, baselines and
calibration. Providers only translate requests and classify failures (:mod:`harness.providers`);
the retry policy lives in :mod:`harness.providers.retry`.
"""

from harness.engine.breaker import CircuitBreaker
from harness.engine.engine import NOT_ATTEMPTED, EndpointDown, Engine, Generation

__all__ = ["NOT_ATTEMPTED", "CircuitBreaker", "EndpointDown", "Engine", "Generation"]
