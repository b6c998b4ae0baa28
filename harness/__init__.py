"""harness: evaluate base and fine-tuned language models on declarative suites.

From Python: ``harness.run_suite(RunConfig(...))``, or ``await harness.run_suite_async(cfg)`` inside a
running event loop (a notebook, a server). Imported on first use, so ``import harness`` stays light.
"""

from typing import Any

from harness.core.version import version as _version

__version__ = _version()

__all__ = ["RunConfig", "RunOutcome", "__version__", "run_suite", "run_suite_async"]


def __getattr__(name: str) -> Any:
    if name in ("RunConfig", "RunOutcome", "run_suite", "run_suite_async"):
        from harness.evaluate import run as runner

        return getattr(runner, name)
    raise AttributeError(f"module 'harness' has no attribute {name!r}")
