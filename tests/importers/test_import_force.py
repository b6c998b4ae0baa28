"""An import refuses to replace a suite or dataset it did not create, unless --force."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from tests.importers.hardening_helpers import registry, _cli, _one_located_line, _registry_cmd, _eval_cmd  # noqa: F401 (registry: a fixture)


@pytest.mark.parametrize("which", ["suite", "dataset"])
@pytest.mark.parametrize("importer", ["registry", "openai-eval"])
def test_an_existing_suite_or_dataset_is_not_replaced_without_force(tmp_path, registry, capsys, monkeypatch, which, importer):
    monkeypatch.chdir(tmp_path)
    cmd = _registry_cmd(registry) if importer == "registry" else _eval_cmd(tmp_path)
    target = Path("suites/capitals.yaml") if which == "suite" else Path("datasets/capitals/test.jsonl")
    target.parent.mkdir(parents=True)
    held_out = "".join(json.dumps({"id": f"h{i}", "messages": []}) + "\n" for i in range(120))
    target.write_text(held_out)
    rc, err = _cli(cmd, capsys)
    assert rc == 2
    _one_located_line(err, str(target), "already exists", "--force")
    assert target.read_text() == held_out
    assert not Path("suites/capitals.yaml" if which == "dataset" else "datasets/capitals/test.jsonl").exists()
    rc, _ = _cli([*cmd, "--force"], capsys)
    assert rc == 0 and target.read_text() != held_out
    assert main(["validate", "suites/capitals.yaml"]) == 0


def test_a_rerun_into_the_files_it_wrote_still_needs_force(tmp_path, registry, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert _cli(_registry_cmd(registry), capsys)[0] == 0
    assert _cli(_registry_cmd(registry), capsys)[0] == 2  # an earlier import's files may have been edited since
