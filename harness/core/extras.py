"""The optional packages (pyproject's extras) and the one-line message that names the pip command.

A command checks what it will need before any work starts (``harness.cli.main``): a missing mlflow
for ``--track mlflow``, torch or transformers for a ``local`` model, so nothing is run, written or
paid for and then lost to an ImportError. ``find_spec`` looks without importing (cheap; and a test
can hide a package with ``sys.modules[name] = None``).
"""

from __future__ import annotations

import importlib.util

from harness.core.errors import HarnessError

DISTRIBUTION = "finetune-harness"  # the name on PyPI: `harness` there is an unrelated project (2020)

# extra -> the import names it provides that the harness checks for
EXTRAS: dict[str, tuple[str, ...]] = {
    "local": ("torch", "transformers"),
    "tracking": ("mlflow",),
    "pytest": ("pytest",),
    "vllm": ("vllm",),  # a CUDA build; the vllm provider says so in its own line (harness.providers.vllm)
    "ray": ("ray",),
}


def pip_command(extra: str) -> str:
    return f"pip install '{DISTRIBUTION}[{extra}]' (in a clone: pip install -e '.[{extra}]')"


def missing(extra: str) -> list[str]:
    """The extra's packages that cannot be imported here."""
    out = []
    for name in EXTRAS[extra]:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            out.append(name)
    return out


def require(extra: str, what: str) -> None:
    """Raise one line naming ``what`` needs, what is missing and the pip command, when the extra is not installed."""
    gone = missing(extra)
    if gone:
        raise HarnessError(f"{what} needs {' and '.join(gone)}, which {'is' if len(gone) == 1 else 'are'} not installed: "
                           f"{pip_command(extra)}")
