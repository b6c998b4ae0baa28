"""What code produced a record: the installed package's version (from its metadata, the one place
it is written: pyproject.toml) and the source revision (``git describe``), or "unknown"."""

from __future__ import annotations

import functools
import subprocess
from importlib import metadata
from pathlib import Path

from harness.core.extras import DISTRIBUTION  # the distribution's name, written in one place


@functools.cache
def version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"


@functools.cache
def code_revision() -> str:
    """``git describe --always --dirty --tags`` of the tree this package was imported from, or "unknown"
    (an installed wheel, no git, not a repository)."""
    src = Path(__file__).resolve().parents[2]
    if not (src / ".git").exists():
        return "unknown"
    try:
        out = subprocess.run(["git", "-C", str(src), "describe", "--always", "--dirty", "--tags"],
                             capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"
