"""Shared by the records tests: the checked-in run directories of harness 0.1.0, and a small tmpfs."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deps import missing

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "v0"
SUITE = FIXTURES / "suite.yaml"


def copy_runs(dest: Path) -> tuple[Path, Path]:
    """The two v0 run directories (baseline, candidate), copied so tests may damage them."""
    return shutil.copytree(FIXTURES / "base", dest / "base"), shutil.copytree(FIXTURES / "cand", dest / "cand")


def mount_tmpfs(where: Path, size: str = "64k") -> Iterator[Path]:
    """A tmpfs of ``size`` at ``where`` (we run as root in CI and the dev container); unmounted afterwards."""
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(check=False, args=["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True, text=True)
    if done.returncode != 0:
        missing(f"a tmpfs for the disk-full tests ({done.stderr.strip()})", "run as root, with mount(8)")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def remount_read_only(where: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True)


def fill(directory: Path) -> None:
    """Fill the file system under ``directory`` until the OS says ENOSPC (unbuffered: nothing left to flush)."""
    fd = os.open(directory / "filler", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for size in (4096, 512, 1):
            while True:
                try:
                    os.write(fd, b"x" * size)
                except OSError:
                    break
    finally:
        os.close(fd)
