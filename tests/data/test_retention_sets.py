"""datasets/retention/ (data files: built there, or in ../shared/retention/): every set names its source (repository, path, commit, licence), its files
match the sha256 pins SOURCE.md gives, parse with the expected fields and types, demo is a subset
of test, and the drawing script's sampler is seeded and proportional. With the source snapshots at
hand (RETENTION_MIRROR, default /work/.mirror) the script rebuilds every file byte for byte."""

from __future__ import annotations

import importlib.util
import json
import os
import random
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.deps import missing

ROOT = Path(__file__).resolve().parents[2]
RETENTION = ROOT / "datasets" / "retention"
BUILD_CMD = "python datasets/retention/build.py --mirror DIR (DIR: git snapshots, see SOURCE.md)"

_spec = importlib.util.spec_from_file_location("retention_build", RETENTION / "build.py")
assert _spec and _spec.loader
build = importlib.util.module_from_spec(_spec)
sys.modules["retention_build"] = build  # dataclasses look their module up while it loads
_spec.loader.exec_module(build)

NAMES = sorted(build.SETS)

# field -> type(s), per set; every record has exactly these keys.
SCHEMAS: dict[str, dict[str, Any]] = {
    "arc_easy": {"id": str, "question": str, "choices": list, "label": int, "category": type(None)},
    "hellaswag": {"id": str, "query": str, "choices": list, "label": int, "category": str},
    "gsm8k": {"id": str, "question": str, "answer": str, "target": str},
    "ifeval": {"id": str, "key": int, "prompt": str, "instruction_id_list": list, "kwargs": list},
    "wikitext": {"id": str, "title": str, "text": str},
}
SPLITS = {"gsm8k": ("test", "demo", "fewshot")}


def source_md(name: str) -> str:
    path = RETENTION / name / "SOURCE.md"
    assert path.is_file(), f"{path} is missing: every retention set names its source"
    return path.read_text(encoding="utf-8")


def pinned_files(name: str) -> dict[str, tuple[str, str]]:
    """SOURCE.md's Files table: file -> (items, sha256)."""
    rows = re.findall(r"^\| (\S+) \| (\S+) \| ([0-9a-f]{64}) \|$", source_md(name), re.M)
    return {f: (n, h) for f, n, h in rows}


def data_dir(name: str) -> Path:
    """Where a set's data files are: built here, else the shared/ folder beside the checkout."""
    for base in (RETENTION, ROOT.parent / "shared" / "retention"):
        if (base / name / "test.jsonl").is_file():
            return base / name
    return RETENTION / name


def built(name: str, file: str) -> Path:
    path = data_dir(name) / file
    if not path.is_file():
        # Not tests.deps.missing (which fails under CI): this data may not be committed (third-party data from
        # fetched snapshots), so a machine without the snapshots or ../shared/retention cannot have it.
        # scripts/retention_data.sh (run by `make test`) builds it wherever the snapshots are.
        pytest.skip(f"{name}/{file}: retention data not built (neither datasets/retention/ nor ../shared/retention/ "
                    f"has it; {BUILD_CMD})")
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(ln) for ln in path.read_text(encoding="utf-8").splitlines()]


def test_every_folder_is_a_known_set() -> None:
    folders = sorted(p.name for p in RETENTION.iterdir() if p.is_dir() and p.name != "__pycache__")
    assert folders == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_source_names_repository_path_commit_and_licence(name: str) -> None:
    text = source_md(name)
    spec = build.SETS[name]
    for blob in spec.data:
        assert re.fullmatch(r"[0-9a-f]{40}", blob.commit) and re.fullmatch(r"[0-9a-f]{64}", blob.sha256)
        assert f"| {blob.repo} | {blob.path} | {blob.commit} | {blob.sha256} |" in text
    assert f"- Licence: {spec.licence}." in text
    assert re.search(r"(MIT|Apache-2\.0|CC BY-SA \d\.\d)", spec.licence)
    assert f"- Seed {build.SEED}" in text and "- Command: `python datasets/retention/build.py " in text
    assert set(pinned_files(name)) == {f"{s}.jsonl" for s in SPLITS.get(name, ("test", "demo"))} | {"LICENSE"}


@pytest.mark.parametrize("name", NAMES)
def test_files_match_their_pins(name: str) -> None:
    import hashlib

    for file, (items, sha) in pinned_files(name).items():
        data = built(name, file).read_bytes()
        assert hashlib.sha256(data).hexdigest() == sha, f"{name}/{file} differs from SOURCE.md's pin"
        if file.endswith(".jsonl"):
            assert str(data.count(b"\n")) == items


@pytest.mark.parametrize("name", NAMES)
def test_licence_holds_the_upstream_text(name: str) -> None:
    text = built(name, "LICENSE").read_text(encoding="utf-8")
    spec = build.SETS[name]
    for blob in spec.licence_files:
        assert f"---- {blob.path} of {blob.repo} at {blob.commit}, verbatim ----" in text
    assert {"arc_easy": "Apache License", "hellaswag": "MIT License", "gsm8k": "MIT License",
            "ifeval": "Apache License", "wikitext": "CC BY-SA 3.0"}[name] in text


@pytest.mark.parametrize("name", NAMES)
def test_records_have_the_expected_fields_and_types(name: str) -> None:
    schema = SCHEMAS[name]
    for split in SPLITS.get(name, ("test", "demo")):
        rows = read_jsonl(built(name, f"{split}.jsonl"))
        assert rows, f"{name}/{split}.jsonl is empty"
        for i, r in enumerate(rows):
            where = f"{name}/{split}.jsonl line {i + 1}"
            assert set(r) == set(schema), where
            for k, t in schema.items():
                assert isinstance(r[k], t) and not (t is int and isinstance(r[k], bool)), f"{where}: {k}"
            if "choices" in r:
                assert len(r["choices"]) >= 2 and all(isinstance(c, str) and c for c in r["choices"])
                assert 0 <= r["label"] < len(r["choices"]), where
            if name == "gsm8k":
                assert r["answer"].rstrip().endswith("#### " + r["answer"].rsplit("#### ", 1)[1].strip())
                assert re.fullmatch(r"-?\d+(\.\d+)?", r["target"]), where
            if name == "ifeval":
                assert len(r["instruction_id_list"]) == len(r["kwargs"]) >= 1, where
                assert r["id"] == f"ifeval-{r['key']}"
            if name == "wikitext":
                assert 250 <= len(r["text"].split()) <= 600, where


@pytest.mark.parametrize("name", NAMES)
def test_demo_is_a_subset_of_test_and_ids_are_unique(name: str) -> None:
    test = [r["id"] for r in read_jsonl(built(name, "test.jsonl"))]
    demo = [r["id"] for r in read_jsonl(built(name, "demo.jsonl"))]
    assert len(set(test)) == len(test) and len(set(demo)) == len(demo)
    assert set(demo) <= set(test) and len(demo) < len(test)
    if name == "gsm8k":
        shots = [r["id"] for r in read_jsonl(built(name, "fewshot.jsonl"))]
        assert shots == [f"gsm8k-train-{i:04d}" for i in range(5)]  # first_n: the first 5 train items


def test_sampler_is_proportional_seeded_and_in_source_order() -> None:
    items = [{"i": i, "g": g} for i, g in enumerate("a" * 50 + "b" * 30 + "c" * 20)]
    rng = lambda: random.Random("7:x:test")  # noqa: E731
    first = build.stratified(items, lambda d: d["g"], 10, rng())
    assert Counter(d["g"] for d in first) == {"a": 5, "b": 3, "c": 2}
    assert [d["i"] for d in first] == sorted(d["i"] for d in first)
    assert build.stratified(items, lambda d: d["g"], 10, rng()) == first
    assert build.stratified(items, lambda d: d["g"], 10, random.Random("8:x:test")) != first
    # largest remainder: 7 of (50, 30, 20) is 3.5, 2.1, 1.4 -> 3 + 2 + 1 and the one left to 'a'
    assert Counter(d["g"] for d in build.stratified(items, lambda d: d["g"], 7, rng())) == {"a": 4, "b": 2, "c": 1}
    with pytest.raises(SystemExit, match="only 100"):
        build.stratified(items, lambda d: d["g"], 101, rng())


def test_hellaswag_preprocess_is_lm_evals() -> None:
    try:
        from lm_eval.tasks.hellaswag.utils import preprocess
    except ImportError as e:
        missing(f"lm_eval.tasks.hellaswag ({e})", "pip install lm-eval==0.4.13")
    for text in ["  Hair: [header] How to braid [title] Part one.  [step] Cross  the strands. ",
                 "Roof shingle removal: A man is sitting on a roof. he", "[substeps] x [title] y"]:
        assert build.hellaswag_preprocess(text) == preprocess(text)


def test_size_overrides_are_checked() -> None:
    assert build.parse_sizes(["gsm8k.test=120"])["gsm8k"]["test"] == 120
    with pytest.raises(SystemExit, match="gsm8k.test"):
        build.parse_sizes(["gsm8k.tset=120"])


def test_rebuild_reproduces_every_file(tmp_path: Path) -> None:
    mirror = Path(os.environ.get("RETENTION_MIRROR", "/work/.mirror"))
    repos = {b.repo for s in build.SETS.values() for b in (*s.data, *s.licence_files)}
    absent = [r for r in sorted(repos) if not (mirror / r.replace("/", "+")).is_dir()]
    if absent:
        pytest.skip(f"source snapshots not under {mirror} (RETENTION_MIRROR): {', '.join(absent)}")
    assert build.main(["--mirror", str(mirror), "--out", str(tmp_path)]) == 0
    for name in NAMES:
        for f in sorted((tmp_path / name).iterdir()):
            ours = RETENTION / name / f.name  # the committed SOURCE.md
            if f.name == "SOURCE.md":  # the command line differs (--out); the rest is the same
                strip = lambda t: re.sub(r"- Command: `.*`", "", t)  # noqa: E731
                assert strip(f.read_text()) == strip(ours.read_text()), f"{name}/SOURCE.md"
            else:
                assert f.read_bytes() == built(name, f.name).read_bytes(), f"{name}/{f.name}"
