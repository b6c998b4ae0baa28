"""tests/deps.py: a missing test dependency skips on a developer's machine and fails under CI=true."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.timeout(120)

NEEDS_MISSING = '''
from tests.deps import requires, requires_module, requires_package

def test_module():
    requires_module("no_such_module_xyz", "pip install no-such-module-xyz")

def test_package():
    requires_package("no_such_package_xyz", "pip install no-such-package-xyz")

def test_condition():
    requires(None, "headless Chromium", "apt-get install chromium")

def test_present():
    assert requires_module("json", "stdlib").dumps([]) == "[]"
'''

MODULE_LEVEL = '''
from tests.deps import requires_package

requires_package("no_such_package_xyz", "pip install no-such-package-xyz")

def test_never_runs():
    raise AssertionError("the module should have stopped at its requirement")
'''


def pytest_in(folder: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"} | {"PYTHONPATH": str(ROOT)}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", str(folder)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=100, check=False)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "test_needs_missing.py").write_text(NEEDS_MISSING)
    return tmp_path


def test_without_ci_missing_dependencies_skip(folder: Path) -> None:
    out = pytest_in(folder, None)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 passed, 3 skipped" in out.stdout
    assert "no_such_module_xyz" in out.stdout and "apt-get install chromium" in out.stdout


@pytest.mark.parametrize("ci", ["true", "1"])
def test_under_ci_missing_dependencies_fail_naming_them(folder: Path, ci: str) -> None:
    out = pytest_in(folder, ci)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "3 failed, 1 passed" in out.stdout
    for name in ("Python module 'no_such_module_xyz'", "Python package 'no_such_package_xyz'", "headless Chromium"):
        assert f"CI=true: a test dependency is missing: {name}" in out.stdout


def test_ci_false_still_skips(folder: Path) -> None:
    assert pytest_in(folder, "false").returncode == 0


def test_module_level_requirement_skips_or_errors(tmp_path: Path) -> None:
    (tmp_path / "test_module_level.py").write_text(MODULE_LEVEL)
    dev = pytest_in(tmp_path, None)
    assert dev.returncode in (0, 5) and "1 skipped" in dev.stdout, dev.stdout  # 5: no test ran
    ci = pytest_in(tmp_path, "true")
    assert ci.returncode != 0 and "1 error" in ci.stdout and "no_such_package_xyz" in ci.stdout, ci.stdout
    assert "should have stopped" not in ci.stdout


def test_every_optional_dependency_goes_through_deps():
    """One rule for a missing test dependency (skip here, fail under CI): no test module reads CI
    itself or skips with importorskip, which would stay green in CI with the dependency missing."""
    here = Path(__file__).resolve().parent
    offenders = []
    for path in sorted(here.rglob("*.py")):
        if path.name in ("deps.py", "test_deps.py"):
            continue
        text = path.read_text(encoding="utf-8")
        for needle in ('environ.get("CI"', "environ['CI']", 'environ["CI"]', "importorskip("):
            if needle in text:
                offenders.append(f"{path.relative_to(here)}: {needle}")
    assert not offenders, "use tests/deps.py (requires, requires_module, requires_package, missing): " + "; ".join(offenders)
