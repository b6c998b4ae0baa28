"""A model spec with an empty query field or a malformed URL is one located line, exit 2 (not a
traceback, exit 1); HARNESS_KEY_HOSTS / --allow-key-host entries for IPv6 hosts written as URLs
write them (``[::1]``, ``[::1]:PORT``) match. Nothing here opens a connection."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from harness.core.errors import HarnessError
from harness.core.trust import TrustPolicy
from harness.providers.base import ModelSpec
from harness.providers.keys import PLACEHOLDER_KEY, api_key, may_receive_key

REAL = "sk-real-DO-NOT-LEAK"


@pytest.mark.parametrize("spec, says", [
    ("openai:x?timeout_s=5&", "query: bad query field: ''"),
    ("openai:x?&", "query: bad query field: ''"),
    ("openai:x?base_url=http://[::1/v1", "base_url: not a valid URL (Invalid IPv6 URL)"),
    ("openai:x?base_url=http://[::1]:99999/v1", "base_url: not a valid URL (Port out of range 0-65535)"),
])
def test_a_malformed_spec_is_one_located_line_exit_2(spec: str, says: str, tiny_suite: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(HarnessError, match="model "):
        ModelSpec.parse(spec)
    assert main(["run", str(tiny_suite), "--model", spec, "--dry-run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: model {spec!r}: {says}"), err


@pytest.mark.parametrize("entries, url, allowed", [
    ("[::1]", "http://[::1]:8080/v1", True),
    ("[::1]:8080", "http://[::1]:8080/v1", True),
    ("::1", "http://[::1]:8080/v1", True),
    ("[0:0::1]:8080", "http://[::1]:8080/v1", True),
    ("[::1]:9090", "http://[::1]:8080/v1", False),
    ("[::2]", "http://[::1]:8080/v1", False),
    ("127.0.0.1:8080, Example.COM", "https://example.com/v1", True),
    ("127.0.0.1:8080", "http://127.0.0.1:8080/v1", True),
    ("127.0.0.1:8081", "http://127.0.0.1:8080/v1", False),
])
def test_ipv6_key_hosts_written_as_in_a_url_match(entries: str, url: str, allowed: bool,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", REAL)
    monkeypatch.setenv("HARNESS_KEY_HOSTS", entries)
    assert may_receive_key(url) is allowed
    assert api_key(url, official=False) == (REAL if allowed else PLACEHOLDER_KEY)
    flag = TrustPolicy().widened(entries.split(","))  # --allow-key-host, the same entries
    assert may_receive_key(url, flag) is allowed
