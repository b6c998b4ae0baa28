"""Short model labels: ``--label NAME`` on a run (and ``label:`` in a model file) names the model in
every report; without one a path-like spec is shortened to its last meaningful part; a run without
a label writes the same summary as before (no new field)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.compare import compare_runs
from harness.records.run import short_label


@pytest.mark.parametrize(("display", "short"), [
    ("scripted:/tmp/x/good.jsonl", "scripted:good"),
    ("local:/ckpt/run3/adapter", "local:run3/adapter"),
    ("local:/ckpt/run3/checkpoint-500", "local:run3/checkpoint-500"),
    ("local:smollm2?adapter=out/it-2", "local:smollm2+it-2"),
    ("local:smollm2+adapter", "local:smollm2+adapter"),
    ("openai:ft:gpt-4o-mini:org::abc", "openai:ft:gpt-4o-mini:org::abc"),
    ("local", "local"),
])
def test_short_label(display: str, short: str) -> None:
    assert short_label(display) == short


def test_label_flag_and_model_file_label_name_the_run(tiny_suite: Path, tmp_path: Path) -> None:
    out = tmp_path / "deep" / "folder" / "answers.jsonl"
    out.parent.mkdir(parents=True)
    out.write_text("".join(json.dumps({"id": f"e{i}", "output": "order_status"}) + "\n" for i in range(1, 5)))
    reports = tmp_path / "reports"
    common = [str(tiny_suite), "--reports", str(reports), "--no-progress"]
    assert main(["run", *common, "--model", f"scripted:{out}", "--out", str(tmp_path / "plain")]) == 0
    assert main(["run", *common, "--model", f"scripted:{out}", "--label", "my-base", "--out", str(tmp_path / "labelled")]) == 0
    model_file = tmp_path / "cand.yaml"
    model_file.write_text(f"provider: scripted\nname: {out}\nlabel: cand-from-file\n")
    assert main(["run", *common, "--model", str(model_file), "--out", str(tmp_path / "filed")]) == 0
    plain = json.loads((tmp_path / "plain" / "summary.json").read_text())
    assert plain["model"]["display"] == f"scripted:{out}" and plain["model"]["spec"]["label"] is None
    assert set(plain["model"]) == {"display", "spec", "fingerprint"}  # nothing new without a label
    labelled = json.loads((tmp_path / "labelled" / "summary.json").read_text())
    assert labelled["model"]["spec"]["label"] == "my-base" and labelled["model"]["spec"]["name"] == str(out)
    assert labelled["counts"]["cached"] == 4  # a label is not part of the cache key
    comp = compare_runs([tmp_path / "plain", tmp_path / "labelled", tmp_path / "filed"])
    assert [r.label for r in comp.runs] == ["scripted:answers", "my-base", "cand-from-file"]
    assert main(["run", *common, "--model", f"scripted:{out}", "--label", " "]) == 2
