"""Every spelling of the plugin loads it once: `-p harness` (documented), the module's own name and
the old `-p harness.pytest_plugin`, with the installed pytest11 entry point and with autoloading off."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("autoload_off", [False, True])
@pytest.mark.parametrize("spelling", ["harness", "harness.pytest_plugin", "harness.integrations.pytest.plugin"])
def test_each_spelling_loads_the_plugin_once(tmp_path: Path, spelling: str, autoload_off: bool) -> None:
    (tmp_path / "test_uses_fixture.py").write_text("def test_fixture(harness):\n    assert hasattr(harness, 'run')\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
    if autoload_off:
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", spelling,
                          "test_uses_fixture.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-3000:]
    assert "already registered" not in text and "1 passed" in text
    help_out = subprocess.run([sys.executable, "-m", "pytest", "-p", spelling, "--help"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)
    assert help_out.stdout.count("--harness-suite=SUITE") == 1, help_out.stderr[-2000:]
