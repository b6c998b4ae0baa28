"""The content_rewrite and domain_qa suites and data validate; the support_reply calibration set
loads against its rubric and names real examples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.core.text import words
from harness.data.examples import load_split
from harness.metrics.fact_coverage import fact_alternatives, stated
from harness.suite.load import load_suite

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["content_rewrite", "domain_qa", "support_reply"])
def test_suite_validates(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(ROOT / "suites" / f"{name}.yaml")]) == 0
    assert ": ok (" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["content_rewrite", "domain_qa"])
def test_splits_are_disjoint_and_references_state_their_facts(name: str) -> None:
    loaded = load_suite(ROOT / "suites" / f"{name}.yaml")
    sources: dict[str, set[str]] = {}
    ids: set[str] = set()
    total = 0
    for split in ("train", "validation", "test"):
        examples = load_split(loaded.suite.dataset, loaded.dataset_dir(), split, loaded.suite.prompt).examples
        total += len(examples)
        assert len(examples) >= 12
        for ex in examples:
            assert ex.id not in ids
            ids.add(ex.id)
            r = ex.record
            facts = fact_alternatives(r["required_facts"])
            assert not isinstance(facts, str) and all(stated(alts, ex.reference) for alts in facts), ex.id
            if name == "content_rewrite":
                assert len(words(ex.reference)) <= r["max_words"], ex.id
        sources[split] = {ex.record["source"] for ex in examples}
    assert 60 <= total <= 120
    # the test split's source texts (passages) are never seen in training
    assert not sources["test"] & sources["train"] and not sources["validation"] & sources["train"]


def test_support_reply_calibration_labels_load() -> None:
    from harness.judge.calibration import load_labels
    from harness.judge.rubric import BUILTIN

    path = ROOT / "datasets" / "support_reply" / "calibration.jsonl"
    labels = load_labels(path, BUILTIN["support_reply"])
    assert len(labels) == 30 and {lab.grade for lab in labels} == {1, 2, 3, 4, 5}
    loaded = load_suite(ROOT / "suites" / "support_reply.yaml")
    val = {ex.id for ex in load_split(loaded.suite.dataset, loaded.dataset_dir(), "validation", loaded.suite.prompt).examples}
    assert {lab.example for lab in labels} <= val  # calibrated on validation, never on test
    assert all(json.loads(line).get("note") for line in path.read_text().splitlines())
