"""The trust policy: what the person running the harness (never a suite) decided to trust.

Two decisions, both the user's: which hosts may receive an API key besides api.openai.com
(:mod:`harness.providers.keys` applies it), and the folder a suite's files must stay inside
(:mod:`harness.suite.confine` applies it; ``None``: the suite's git repository, or its folder).

A policy is a value carried in the run's config (``RunConfig.trust``) down to where keys are
resolved and paths confined, so two calls in one process can hold different policies; nothing
writes it into ``os.environ``. The CLI builds one from its flags and the environment variables
``HARNESS_KEY_HOSTS`` (comma-separated) and ``HARNESS_DATA_ROOT`` (:meth:`TrustPolicy.from_env`,
then :meth:`TrustPolicy.widened`); a library call that gives none gets :meth:`TrustPolicy.from_env`,
read once when its config is made.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

HOSTS_ENV = "HARNESS_KEY_HOSTS"
DATA_ROOT_ENV = "HARNESS_DATA_ROOT"


def _ip6(text: str) -> str | None:
    """``text`` as a compressed IPv6 address (``0:0::1`` -> ``::1``), or None when it is not one."""
    try:
        return ipaddress.IPv6Address(text).compressed
    except ValueError:
        return None


def host_entry(text: str) -> str:
    """One allowed key host as it is matched: lower case; ``host`` or ``host:port``; an IPv6 address
    compressed, bare (``::1``, ``[::1]``) or bracketed with its port (``[::1]:8080``), as URLs write it."""
    h = text.strip().lower()
    if h.startswith("["):
        addr, close, rest = h[1:].partition("]")
        if close and _ip6(addr) is not None:
            if not rest:
                return _ip6(addr) or h
            if rest[:1] == ":" and rest[1:].isdigit():
                return f"[{_ip6(addr)}]:{int(rest[1:])}"
        return h
    return (_ip6(h) or h) if h.count(":") >= 2 else h


def _hosts(items: Iterable[str]) -> frozenset[str]:
    return frozenset(host_entry(h) for h in items if h and h.strip())


@dataclass(frozen=True)
class TrustPolicy:
    """Hosts (``host`` or ``host:port``, lower case) that may receive an API key besides the
    OpenAI API, and the folder a suite's paths must resolve inside (None: the suite's project)."""

    allowed_key_hosts: frozenset[str] = field(default_factory=frozenset)
    data_root: Path | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "allowed_key_hosts", _hosts(self.allowed_key_hosts))
        if self.data_root is not None:
            object.__setattr__(self, "data_root", Path(self.data_root).resolve())

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> TrustPolicy:
        """The policy the environment variables state (``os.environ`` unless given)."""
        env = os.environ if environ is None else environ
        root = env.get(DATA_ROOT_ENV) or None
        return cls(_hosts(env.get(HOSTS_ENV, "").split(",")), Path(root) if root else None)

    def allows_key_host(self, host: str, port: int | None) -> bool:
        """Whether a URL's ``hostname`` (as urllib gives it: IPv6 without brackets) and ``port`` are
        listed: as ``host``, or as ``host:port`` (``[addr]:port`` for IPv6)."""
        host = host.lower()
        host = (_ip6(host) or host) if ":" in host else host
        if host in self.allowed_key_hosts:
            return True
        return port is not None and (f"[{host}]:{port}" if ":" in host else f"{host}:{port}") in self.allowed_key_hosts

    def widened(self, hosts: Iterable[str] = (), data_root: Path | None = None) -> TrustPolicy:
        """This policy with more key hosts (``--allow-key-host``) and, when given, another data root
        (``--data-root`` replaces the variable's)."""
        return TrustPolicy(self.allowed_key_hosts | _hosts(hosts), data_root if data_root is not None else self.data_root)

    def env(self) -> dict[str, str]:
        """The variables that state this policy to a child process (the others' values unset)."""
        out = {HOSTS_ENV: ",".join(sorted(self.allowed_key_hosts))}
        if self.data_root is not None:
            out[DATA_ROOT_ENV] = str(self.data_root)
        return out
