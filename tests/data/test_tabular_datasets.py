"""Datasets where users keep them: a Parquet file and a Hugging Face ``datasets`` save_to_disk folder
run end to end with the scripted provider; their problems are located (file, row, column); a hub
dataset that is not in the local cache is one clear error, offline."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from harness.cli import main
from harness.core.errors import InputProblems
from harness.data.examples import load_split
from tests.conftest import INTENT_ROWS, INTENT_SUITE
from tests.deps import requires_module

requires_module("pyarrow", "pip install -e '.[local]'")


def _suite(tmp: Path, fmt: str, test: str) -> Path:
    text = INTENT_SUITE.replace("format: jsonl", f"format: {fmt}").replace("splits: {test: test.jsonl}", f"splits: {{test: {test}}}")
    assert f"format: {fmt}" in text and test in text
    p = tmp / "suite.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def _parquet(path: Path, rows: list[dict]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def _answers(tmp: Path) -> Path:
    p = tmp / "answers.jsonl"
    p.write_text("".join(json.dumps({"id": r["id"], "output": r["intent"] if r["id"] != "e2" else "order_status"}) + "\n"
                         for r in INTENT_ROWS))
    return p


def _run(tmp: Path, suite: Path) -> dict:
    out = tmp / "run"
    assert main(["run", str(suite), "--model", f"scripted:{_answers(tmp)}", "--reports", str(tmp / "reports"),
                 "--no-progress", "--out", str(out)]) == 0
    return json.loads((out / "summary.json").read_text())


def test_a_parquet_suite_runs_end_to_end_hashed_as_its_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_DATA_ROOT", str(tmp_path))
    data = _parquet(tmp_path / "test.parquet", INTENT_ROWS)
    suite = _suite(tmp_path, "parquet", "test.parquet")
    assert main(["validate", str(suite)]) == 0
    s = _run(tmp_path, suite)
    assert s["dataset"]["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert s["counts"]["examples"] == 4 and s["metrics"]["accuracy"]["mean"] == 0.75
    rows = [json.loads(x) for x in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == ["e1", "e2", "e3", "e4"] and rows[0]["input"] == "where is my parcel"
    assert [r["line"] for r in rows] == [1, 2, 3, 4]  # the row, counted from 1


def test_parquet_problems_name_the_file_row_and_column(tmp_path: Path) -> None:
    from harness.suite.schema import DatasetSpec, PromptSpec

    spec = DatasetSpec.model_validate({"format": "parquet", "splits": {"test": "test.parquet"},
                                       "fields": {"id": "id", "input": "text", "reference": "intent", "category": "intent"}})
    prompt = PromptSpec.model_validate({"messages": [{"role": "user", "content": "Classify: {{ text }}"}]})
    # a column missing from every row
    p = _parquet(tmp_path / "test.parquet", [{"id": r["id"], "body": r["text"], "intent": r["intent"]} for r in INTENT_ROWS])
    with pytest.raises(InputProblems) as e:
        load_split(spec, tmp_path, "test", prompt)
    [msg] = str(e.value).splitlines()
    assert msg.startswith(f"{p}: row 1: missing column 'text' (used in dataset.fields.input, prompt.messages[0].content) in 4 of 4")
    assert "that record has: id, body, intent" in msg
    # a wrong type: binary text on row 3, a null id on row 2
    rows = [dict(r) for r in INTENT_ROWS]
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"id": pa.array(["e1", None, "e3", "e4"]), "text": pa.array([r["text"].encode() for r in rows], pa.binary()),
                      "intent": [r["intent"] for r in rows]})
    pq.write_table(table, p)
    with pytest.raises(InputProblems) as e:
        load_split(spec, tmp_path, "test", prompt)
    lines = str(e.value).splitlines()
    assert f"{p}: row 2: column 'id' (id) is null; give every row a value, or drop the row" in lines
    assert f"{p}: row 1: column 'text' (input) holds binary values (binary); expected text: store it as a string column" in lines
    assert len(lines) == 5  # one per bad cell, in row order
    assert lines == sorted(lines, key=lambda x: int(x.split(": row ")[1].split(":")[0]))
    # not Parquet at all
    p.write_text("id,text\n1,hello\n")
    with pytest.raises(InputProblems) as e:
        load_split(spec, tmp_path, "test", prompt)
    assert str(e.value).startswith(f"{p}: not a readable Parquet file: ")


def test_a_save_to_disk_folder_runs_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    requires_module("datasets", "pip install -e '.[local]'")
    import datasets

    monkeypatch.setenv("HARNESS_DATA_ROOT", str(tmp_path))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # nothing read from, or written to, the user's cache
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # a local model loaded earlier in this process sets it
    folder = tmp_path / "intent_ds"
    datasets.DatasetDict({"test": datasets.Dataset.from_list(INTENT_ROWS),
                          "train": datasets.Dataset.from_list(INTENT_ROWS[:2])}).save_to_disk(str(folder))
    text = INTENT_SUITE.replace("format: jsonl", "format: hf\n  path: intent_ds").replace("splits: {test: test.jsonl}", "splits: {test: test, train: train}")
    suite = tmp_path / "suite.yaml"
    suite.write_text(text)
    assert main(["validate", str(suite)]) == 0
    s = _run(tmp_path, suite)
    assert s["counts"]["examples"] == 4 and s["metrics"]["accuracy"]["mean"] == 0.75
    [arrow] = sorted((folder / "test").glob("*.arrow"))
    assert s["dataset"]["sha256"] == hashlib.sha256(arrow.read_bytes()).hexdigest()
    assert "HF_HUB_OFFLINE" not in os.environ  # set for the call only
    # a split folder that is not there: located at dataset.splits
    suite.write_text(text.replace("train: train", "train: training"))
    assert main(["validate", str(suite)]) == 2
    # the DatasetDict's root named as a split: the error lists its splits
    from harness.suite.schema import DatasetSpec

    spec = DatasetSpec.model_validate({"format": "hf", "path": "intent_ds", "splits": {"test": "."}, "fields": {"id": "id"}})
    with pytest.raises(InputProblems) as e:
        load_split(spec, folder, "test")
    assert "a DatasetDict with splits test, train: name one of them in dataset.splits" in str(e.value)


def test_a_hub_dataset_not_in_the_cache_is_one_clear_error_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    requires_module("datasets", "pip install -e '.[local]'")
    monkeypatch.setenv("HARNESS_DATA_ROOT", str(tmp_path))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-home"))
    monkeypatch.delenv("HF_DATASETS_CACHE", raising=False)
    text = INTENT_SUITE.replace("format: jsonl", "format: hf\n  path: \"hub:northwind/never-downloaded\"").replace(
        "splits: {test: test.jsonl}", "splits: {test: test}")
    suite = tmp_path / "suite.yaml"
    suite.write_text(text)
    assert main(["validate", str(suite)]) == 2
    err = capsys.readouterr().err
    assert "hub:northwind/never-downloaded: split 'test' is not in the local cache" in err
    assert str(tmp_path / "empty-hf-home") in err and "HF_DATASETS_OFFLINE=1" in err
    assert "datasets.load_dataset('northwind/never-downloaded')" in err


def test_a_hub_dataset_in_the_local_cache_runs_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`hub:ORG/NAME` read from the cache a download leaves: datasets' own cache (HF_DATASETS_CACHE,
    ORG___NAME/CONFIG/VERSION/REVISION/NAME-SPLIT.arrow with its dataset_info.json; datasets reads a hub
    dataset offline only from there), its Arrow file made by datasets' json builder as a download of
    a JSONL hub dataset makes it. The run reads it offline and hashes it as its Arrow file."""
    requires_module("datasets", "pip install -e '.[local]'")
    import shutil

    import datasets.config as dcfg
    from datasets.packaged_modules.json.json import Json

    monkeypatch.setenv("HARNESS_DATA_ROOT", str(tmp_path))
    for k in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):  # a local model loaded earlier in this process sets them
        monkeypatch.delenv(k, raising=False)
    cache = tmp_path / "hf-datasets"
    monkeypatch.setenv("HF_DATASETS_CACHE", str(cache))
    monkeypatch.setattr(dcfg, "HF_DATASETS_CACHE", cache)  # read once, when datasets is imported
    src = tmp_path / "hub-files" / "test.jsonl"
    src.parent.mkdir()
    src.write_text("".join(json.dumps(r) + "\n" for r in INTENT_ROWS))
    builder = Json(cache_dir=str(tmp_path / "build"), dataset_name="tiny-intent", config_name="default",
                   data_files={"test": str(src)})
    builder.download_and_prepare()
    revision = cache / "northwind___tiny-intent" / "default" / "0.0.0" / ("3" * 40)
    revision.mkdir(parents=True)
    for f in Path(builder.cache_dir).iterdir():
        shutil.copy(f, revision / f.name)
    shutil.rmtree(tmp_path / "build")
    text = INTENT_SUITE.replace("format: jsonl", "format: hf\n  path: \"hub:northwind/tiny-intent\"").replace(
        "splits: {test: test.jsonl}", "splits: {test: test}")
    suite = tmp_path / "suite.yaml"
    suite.write_text(text)
    assert main(["validate", str(suite)]) == 0
    s = _run(tmp_path, suite)
    assert s["counts"]["examples"] == 4 and s["metrics"]["accuracy"]["mean"] == 0.75
    rows = [json.loads(x) for x in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == ["e1", "e2", "e3", "e4"] and rows[1]["input"] == "stop my order"
    arrow = revision / "tiny-intent-test.arrow"
    assert s["dataset"]["sha256"] == hashlib.sha256(arrow.read_bytes()).hexdigest()
    assert "HF_HUB_OFFLINE" not in os.environ and "HF_DATASETS_OFFLINE" not in os.environ  # set for the call only
