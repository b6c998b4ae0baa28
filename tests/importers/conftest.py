"""Imported suites land in tmp_path/suites with their data beside them in tmp_path/data, as in a
user's repository; tmp_path is no git repository, so it is named the project root (--data-root)."""

import pytest


@pytest.fixture(autouse=True)
def _project_root(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_DATA_ROOT", str(tmp_path))
