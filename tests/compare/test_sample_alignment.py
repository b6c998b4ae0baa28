"""Issue 21 item 6: compare and the reports on runs of different sizes compute every figure on the
aligned ids and say "N of M examples aligned"; the newcomer's pair on --sample 20 does not end BLOCK
and each per-category rule says its category has too few examples to decide."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from harness.cli.main import main
from harness.compare import compare_runs
from harness.compare.table import format_comparison
from harness.evaluate.run import RunConfig, run_suite
from harness.gating.kinds import MIN_EXAMPLES
from harness.promote.gate import gate_runs
from harness.providers.base import ModelSpec
from tests.compare.gate_fixtures import BROKEN, INTENTS, ROOT, SUITE, breaks, right, write_script
from tests.compare.test_gate_outcomes import newcomer_scripts, wilson


@pytest.fixture(autouse=True)
def _data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_DATA_ROOT", os.path.commonpath([tmp_path, ROOT]))


def _run(tmp: Path, name: str, script: Path, **selection: int) -> Path:
    cfg = RunConfig(suite=SUITE, model=ModelSpec.parse(f"scripted:{script}"), reports_dir=tmp / "reports",
                    out=tmp / "runs" / name, progress=False, **selection)
    return run_suite(cfg).directory


@pytest.fixture(scope="module")
def sized(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The baseline on all 120 (wrong on every BROKEN example: 105/120 = 0.875), the candidate right on
    a --sample 20 (3 of them BROKEN's: it comes third of the 8 intents, and the first 4 get 3 each)."""
    tmp = tmp_path_factory.mktemp("sizes")
    os.environ.setdefault("HARNESS_DATA_ROOT", os.path.commonpath([tmp, ROOT]))
    base = _run(tmp, "base", write_script(tmp / "s", "broken", breaks(BROKEN)))
    cand = _run(tmp, "cand", write_script(tmp / "s", "right", right), sample=20)
    assert INTENTS.index(BROKEN) < 4
    return base, cand


def test_compare_of_120_against_20_is_over_the_20_aligned(sized: tuple[Path, Path]) -> None:
    base, cand = sized
    assert json.loads((base / "summary.json").read_text())["metrics"]["accuracy"]["mean"] == 0.875  # over all 120
    comp = compare_runs([base, cand])
    acc = comp.scores["accuracy"]
    b, c = acc.runs
    # on the 20 aligned: the baseline misses the 3 BROKEN examples, 17/20; the candidate 20/20
    assert (b.mean, b.n, c.mean, c.n) == (0.85, 20, 1.0, 20)
    assert (b.ci_low, b.ci_high) == pytest.approx(wilson(17, 20)) and (c.ci_low, c.ci_high) == pytest.approx(wilson(20, 20))
    assert acc.vs_baseline[0].delta.delta == pytest.approx(0.15) and acc.vs_baseline[0].delta.n == 20
    assert len(acc.vs_baseline[0].improvements) == 3
    cats = {k.category: k for k in acc.categories}
    assert sum(k.n for k in cats.values()) == 20 and cats[BROKEN].values == [0.0, 1.0] and cats[BROKEN].n == 3
    text = format_comparison(comp)
    head = text.splitlines()
    assert head[1].startswith("20 of 120 examples aligned (") and "every figure is over the 20 examples" in head[1]
    assert re.search(r"accuracy\s+\S+\s+0\.850\s+\[", text) and "0.875" not in text
    record = comp.to_dict()
    assert record["scores"]["accuracy"]["runs"][0]["mean"] == 0.85 and record["n_examples"] == 20


def test_the_html_and_markdown_reports_say_how_many_aligned(sized: tuple[Path, Path], tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    base, cand = sized
    out = tmp_path / "cmp"
    assert main(["compare", str(base), str(cand), "--out", str(out), "--format", "html", "--format", "markdown"]) == 0
    printed = capsys.readouterr().out
    assert "20 of 120 examples aligned" in printed
    html = (out / "report.html").read_text()
    assert re.search(r'<b id="coverage">20 of 120 examples aligned \(', html)
    assert "<td class=\"num\">0.850</td>" in html and "0.875" not in html
    md = (out / "comparison_summary.md").read_text()
    assert "**20 of 120 examples aligned (" in md
    assert re.search(r"\| accuracy \| 0\.850 \| 1\.000 \| \+0\.150 ", md)


def test_runs_of_the_same_ids_keep_their_headers(sized: tuple[Path, Path]) -> None:
    base, _ = sized
    comp = compare_runs([base, base])
    assert comp.aligned.coverage() is None and "examples aligned" not in format_comparison(comp)
    assert comp.scores["accuracy"].runs[0].mean == 0.875


def test_the_newcomers_case_on_a_sample_of_20_does_not_block(tmp_path: Path) -> None:
    """Issue 21, done-when: on --sample 20 (2 or 3 per intent, under MIN_EXAMPLES) no per-category rule
    passes or blocks: each says its category has too few examples; the gate is not BLOCK."""
    b, c = newcomer_scripts(tmp_path / "scripts")
    base, cand = _run(tmp_path, "base", b, sample=20), _run(tmp_path, "cand", c, sample=20)
    out = gate_runs(SUITE, base, cand, tmp_path / "gate")
    assert out.comparison.aligned.coverage() is None and len(out.comparison.ids) == 20
    cats = [r for r in out.rules if r.category is not None]
    assert len(cats) >= 5, out.text
    assert {r.category for r in cats} <= set(INTENTS)
    for r in cats:
        assert r.outcome == "inconclusive", r
        n = int(re.search(r"too few examples to test \(n=(\d+)\)", r.explanation).group(1))
        assert n in (2, 3) and n < MIN_EXAMPLES
    assert out.outcome != "block" and out.exit_code != 1, out.text
