"""Test dependencies that may be missing: skip on a developer's machine, FAIL under CI.

Why: when Chromium, llama.cpp or a model package fails to install on the CI runner, a skip
would leave the build green with the tests that needed them never run. With ``CI=true`` (set by
GitHub Actions and most CI services) a missing dependency is a failure naming what is missing
and how to install it; without it the test skips, as a developer without a GPU-less llama.cpp
build or Chromium expects. Every test that needs an optional piece goes through here.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from types import ModuleType
from typing import NoReturn

import pytest

CI_VALUES = ("true", "1", "yes")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in CI_VALUES


def missing(what: str, install: str) -> NoReturn:
    """Skip (or, under CI, fail) the current test or module: ``what`` is missing; ``install`` says how to get it."""
    message = f"{what} is not available ({install})"
    if in_ci():
        pytest.fail(f"CI=true: a test dependency is missing: {message}", pytrace=False)
    pytest.skip(message, allow_module_level=True)


def requires(available: object, what: str, install: str) -> None:
    """Go on when ``available`` is truthy; else :func:`missing`."""
    if not available:
        missing(what, install)


def requires_module(name: str, install: str) -> ModuleType:
    """Import and return module ``name``; :func:`missing` when it cannot be imported."""
    try:
        return importlib.import_module(name)
    except ImportError as e:
        missing(f"Python module {name!r} ({type(e).__name__}: {e})", install)


def requires_package(name: str, install: str) -> None:
    """``name`` is installed (found, not imported: some packages' __init__ pulls in heavy extras)."""
    requires(importlib.util.find_spec(name) is not None, f"Python package {name!r}", install)
