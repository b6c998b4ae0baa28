"""The tracking tests' suites live in tmp_path and read the repository's datasets: the project
root they may read is the folder both lie in (as a --data-root would name it)."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _project_root(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_DATA_ROOT", os.path.commonpath([tmp_path, REPO]))
