"""The registry importer reads only files inside the registry folder (the one confinement check)."""

from __future__ import annotations

import json

import pytest

from tests.importers.hardening_helpers import registry, _spec, _cli, _one_located_line, MODELGRADED  # noqa: F401 (registry: a fixture)


@pytest.mark.parametrize("where", ["relative", "absolute"])
def test_samples_outside_the_registry_are_refused(tmp_path, registry, capsys, monkeypatch, where):
    monkeypatch.chdir(tmp_path)
    secret = tmp_path / "secret.jsonl"
    secret.write_text(json.dumps({"input": "the password is hunter2", "ideal": "x"}) + "\n")
    spec = _spec(registry, samples="../../secret.jsonl" if where == "relative" else str(secret))
    rc, err = _cli(["import", "openai-evals-registry", str(spec)], capsys)
    assert rc == 2
    _one_located_line(err, str(spec), "capitals.dev.v0.args.samples_jsonl", "outside the registry folder")
    assert not (tmp_path / "datasets").exists() and not (tmp_path / "suites").exists()


@pytest.mark.parametrize("where", ["relative", "absolute"])
def test_modelgraded_spec_outside_the_registry_is_refused(tmp_path, registry, capsys, monkeypatch, where):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "evil.yaml").write_text(MODELGRADED.replace("fact:", "evil:").replace("Question", "SECRET hunter2"))
    name = "../../evil" if where == "relative" else str(tmp_path / "evil")
    spec = _spec(registry, cls="modelgraded.classify:ModelBasedClassify", extra=f"modelgraded_spec: {json.dumps(name)}")
    rc, err = _cli(["import", "openai-evals-registry", str(spec)], capsys)
    assert rc == 2
    _one_located_line(err, "capitals.dev.v0.args.modelgraded_spec", "outside the registry folder")
    assert not (tmp_path / "suites").exists()
