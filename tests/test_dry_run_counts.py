"""--dry-run sends nothing, so it needs no API key; it counts every repeat (--repeats N is N requests
an example, N times the cost). `harness models` on an endpoint that cannot be reached exits 4 (the
documented code for the environment failing), not 3 (examples failed)."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from harness.cli import main


def _field(out: str, name: str) -> str:
    m = re.search(rf"^{name}:\s+(.*)$", out, re.M)
    assert m, out
    return m.group(1)


def test_dry_run_needs_no_key_and_counts_repeats(tiny_suite: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    base = ["run", str(tiny_suite), "--model", "openai:gpt-4o-mini", "--reports", str(tmp_path / "r"), "--dry-run"]
    assert main(base) == 0
    one = capsys.readouterr().out
    assert _field(one, "requests").startswith("4 (0 cached, 4 to send)") and "nothing was sent" in one
    assert "OPENAI_API_KEY" in one  # said once: a real run needs the key
    assert main([*base, "--repeats", "5"]) == 0
    five = capsys.readouterr().out
    assert _field(five, "requests").startswith("20 (0 cached, 20 to send)")
    tokens = lambda out, name: int(_field(out, name).split()[0])  # noqa: E731
    assert tokens(five, "input tokens") == 5 * tokens(one, "input tokens")  # and so 5x the cost
    assert tokens(five, "max output tokens") == 5 * tokens(one, "max output tokens")
    assert "4 x 5 repeats" in _field(five, "examples")
    assert not (tmp_path / "r").exists()
    # a real run still refuses at once without a key
    assert main(base[:-1]) == 2
    assert "no API key" in capsys.readouterr().err


def test_models_on_an_unreachable_endpoint_exits_4(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["models", "--base-url", f"http://127.0.0.1:{port}/v1"]) == 4
    err = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert len(err) == 1 and "cannot reach" in err[0], err
