"""Which API key goes to which host: the one rule every provider that sends a key follows.

Why: a pull request can change a suite, and CI runs suites with ``OPENAI_API_KEY`` set. So the
key goes only where the person running the command said it may: to the OpenAI API host, or to a
host they listed with ``--allow-key-host HOST`` or ``HARNESS_KEY_HOSTS=host1,host2``, as the run's
:class:`~harness.core.trust.TrustPolicy` carries them (a caller that passes none gets
``TrustPolicy.from_env()``; nothing here writes the environment). Any other
endpoint (loopback servers included) gets a placeholder, and a plain ``http://`` endpoint off
this machine that would have been sent a key is refused rather than silently sent a placeholder.
The variable read is the spec's ``api_key_env`` (default ``OPENAI_API_KEY``) with no fallback:
naming an unset variable never sends ``OPENAI_API_KEY`` instead. A suite cannot name that
variable at all (see :func:`harness.judge.params.suite_model_spec`).
"""

from __future__ import annotations

import ipaddress
import os
from urllib.parse import urlsplit

from harness.core.errors import HarnessError
from harness.core.trust import HOSTS_ENV, TrustPolicy

OPENAI_HOST = "api.openai.com"
DEFAULT_KEY_ENV = "OPENAI_API_KEY"
PLACEHOLDER_KEY = "unused"  # what a server that may not see the key gets (most self-hosted ones check none)
__all__ = ["DEFAULT_KEY_ENV", "HOSTS_ENV", "OPENAI_HOST", "PLACEHOLDER_KEY", "api_key", "is_loopback", "may_receive_key"]


def is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def may_receive_key(url: str, trust: TrustPolicy | None = None) -> bool:
    """Whether ``url`` may receive a key under ``trust`` (None: :meth:`TrustPolicy.from_env`)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme == "https" and host == OPENAI_HOST:
        return True
    return (trust if trust is not None else TrustPolicy.from_env()).allows_key_host(host, parts.port)


def api_key(url: str, key_env: str = DEFAULT_KEY_ENV, *, official: bool, who: str = "openai provider",
            trust: TrustPolicy | None = None) -> str:
    """The key to send to ``url``: the value of ``key_env`` when the host may receive it under
    ``trust`` (None: :meth:`TrustPolicy.from_env`), else the placeholder.

    ``official``: ``url`` is the OpenAI API itself (no base_url given), where a missing key is an
    error rather than a placeholder. Never returns another variable's value; never prints a key."""
    host = (urlsplit(url).hostname or "").lower()
    value = os.environ.get(key_env)
    if not may_receive_key(url, trust):
        if value and urlsplit(url).scheme == "http" and not is_loopback(host):
            raise HarnessError(f"{who}: refusing to send ${key_env} over plain http to {host}: "
                               f"allow it with --allow-key-host {host} (or {HOSTS_ENV}={host}), or use https")
        return PLACEHOLDER_KEY
    if value:
        return value
    if key_env != DEFAULT_KEY_ENV:
        raise HarnessError(f"{who}: ${key_env} (named by api_key_env) is not set")
    if official:
        raise HarnessError(f"{who}: no API key: set {key_env}, or give base_url for an OpenAI-compatible "
                           "server, e.g. 'openai:NAME?base_url=http://127.0.0.1:8080/v1'")
    return PLACEHOLDER_KEY
