"""Which API key goes to which host: the one rule every provider that sends a key follows.

Why: a pull request can change a suite, and CI runs suites with ``OPENAI_API_KEY`` set. So the
key goes only where the person running the command said it may: to the OpenAI API host, or to a
host they listed with ``--allow-key-host HOST`` or ``HARNESS_KEY_HOSTS=host1,host2``. Any other
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

OPENAI_HOST = "api.openai.com"
DEFAULT_KEY_ENV = "OPENAI_API_KEY"
HOSTS_ENV = "HARNESS_KEY_HOSTS"
PLACEHOLDER_KEY = "unused"  # what a server that may not see the key gets (most self-hosted ones check none)


def allowed_hosts() -> set[str]:
    """Hosts (``host`` or ``host:port``, lower case) the user allowed to receive a key."""
    return {h.strip().lower() for h in os.environ.get(HOSTS_ENV, "").split(",") if h.strip()}


def allow_hosts(hosts: list[str]) -> None:
    """Add hosts to this process's allow-list (``--allow-key-host``); children inherit it."""
    merged = sorted(allowed_hosts() | {h.strip().lower() for h in hosts if h.strip()})
    os.environ[HOSTS_ENV] = ",".join(merged)


def is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def may_receive_key(url: str) -> bool:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme == "https" and host == OPENAI_HOST:
        return True
    allowed = allowed_hosts()
    return host in allowed or (parts.port is not None and f"{host}:{parts.port}" in allowed)


def api_key(url: str, key_env: str = DEFAULT_KEY_ENV, *, official: bool, who: str = "openai provider") -> str:
    """The key to send to ``url``: the value of ``key_env`` when the host may receive it, else the placeholder.

    ``official``: ``url`` is the OpenAI API itself (no base_url given), where a missing key is an
    error rather than a placeholder. Never returns another variable's value; never prints a key."""
    host = (urlsplit(url).hostname or "").lower()
    value = os.environ.get(key_env)
    if not may_receive_key(url):
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
