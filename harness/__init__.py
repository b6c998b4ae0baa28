"""harness: evaluate base and fine-tuned language models on declarative suites.

From Python: ``harness.run_suite(RunConfig(...))``, or ``await harness.run_suite_async(cfg)`` inside a
running event loop (a notebook, a server). Imported on first use, so ``import harness`` stays light.
"""

from typing import Any

from harness.core.version import version as _version

__version__ = _version()

# `pytest -p harness` without the installed pytest11 entry point (a source tree on PYTHONPATH) registers
# this package as the plugin: pytest then loads the real one from here. Installed, the entry point
# named `harness` answers `-p harness` and this package is never registered with pytest.
pytest_plugins = ["harness.integrations.pytest.plugin"]

__all__ = ["RunConfig", "RunOutcome", "__version__", "run_suite", "run_suite_async"]


def __getattr__(name: str) -> Any:
    if name in ("RunConfig", "RunOutcome", "run_suite", "run_suite_async"):
        from harness.evaluate import run as runner

        return getattr(runner, name)
    raise AttributeError(f"module 'harness' has no attribute {name!r}")
