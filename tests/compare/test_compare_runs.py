"""harness compare: alignment, refusal of incomparable runs, paired deltas, categories, regressions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.cli import main
from harness.compare import compare_runs
from harness.core.errors import HarnessError
from tests.compare.gate_fixtures import BROKEN, ROWS, breaks, ids_of, make_run, right


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("runs")
    # baseline: wrong (order_status) on every 4th example; candidate: wrong on every cancel_order example
    base = make_run(tmp, "base", lambda r: "order_status" if int(r["id"][-4:]) % 4 == 0 else r["intent"])
    return {"base": base, "cand": make_run(tmp, "cand", breaks(BROKEN)), "right": make_run(tmp, "right", right)}


def _tamper(run: Path, dest: Path, edit) -> Path:
    shutil.copytree(run, dest)
    summary = json.loads((dest / "summary.json").read_text())
    edit(summary)
    (dest / "summary.json").write_text(json.dumps(summary))
    return dest


def test_paired_delta_mcnemar_regressions_and_categories(runs: dict[str, Path]) -> None:
    comp = compare_runs([runs["base"], runs["cand"]])
    acc = comp.scores["accuracy"]
    base_right = {r["id"] for r in ROWS if int(r["id"][-4:]) % 4 != 0 or r["intent"] == "order_status"}
    broken = set(ids_of(BROKEN))
    expected_reg = sorted(base_right & broken)
    expected_imp = sorted(set(r["id"] for r in ROWS) - base_right - broken)
    v = acc.vs_baseline[0]
    assert sorted(v.regressions) == expected_reg and sorted(v.improvements) == expected_imp
    assert v.discordant == (len(expected_reg), len(expected_imp))
    assert v.delta.delta == pytest.approx((len(expected_imp) - len(expected_reg)) / len(ROWS))
    assert v.delta.ci_low <= v.delta.delta <= v.delta.ci_high
    assert 0 < v.p_value <= 1
    cats = {c.category: c for c in acc.categories}
    assert set(cats) == {r["intent"] for r in ROWS}
    assert cats[BROKEN].values[1] == 0.0 and cats[BROKEN].deltas[1].delta == -cats[BROKEN].values[0]
    assert sorted(cats[BROKEN].regressions[1]) == expected_reg
    assert comp.to_dict()["scores"]["accuracy"]["vs_baseline"][0]["regressions"] == v.regressions


def test_corpus_score_is_recomputed_per_resample(runs: dict[str, Path]) -> None:
    from sklearn.metrics import f1_score

    comp = compare_runs([runs["base"], runs["cand"]])
    f1 = comp.scores["macro_f1"]
    y = [r["intent"] for r in ROWS]
    pred_base = ["order_status" if int(r["id"][-4:]) % 4 == 0 else r["intent"] for r in ROWS]
    pred_cand = [breaks(BROKEN)(r) for r in ROWS]
    labels = sorted(set(y))
    want = f1_score(y, pred_cand, labels=labels, average="macro") - f1_score(y, pred_base, labels=labels, average="macro")
    v = f1.vs_baseline[0]
    assert v.delta.delta == pytest.approx(want)
    assert v.delta.method == "paired-bootstrap-2000-recomputed"
    assert v.delta.ci_low < v.delta.delta < v.delta.ci_high


def test_three_runs_each_against_the_first(runs: dict[str, Path]) -> None:
    comp = compare_runs([runs["base"], runs["cand"], runs["right"]])
    acc = comp.scores["accuracy"]
    assert [r.mean for r in acc.runs][2] == 1.0
    assert len(acc.vs_baseline) == 2 and acc.vs_baseline[1].regressions == []


@pytest.mark.parametrize(("what", "edit"), [
    ("dataset", lambda s: s["dataset"].__setitem__("sha256", "0" * 64)),
    ("suite", lambda s: s["suite"].__setitem__("sha256", "f" * 64)),
    ("split", lambda s: s["dataset"].__setitem__("split", "validation")),
])
def test_refuses_runs_of_different_suite_dataset_or_split(runs: dict[str, Path], tmp_path: Path, what: str, edit,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    other = _tamper(runs["cand"], tmp_path / "other", edit)
    with pytest.raises(HarnessError, match=f"different {what}"):
        compare_runs([runs["base"], other])
    assert main(["compare", str(runs["base"]), str(other), "--out", str(tmp_path / "cmp")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"different {what}" in err
    assert not (tmp_path / "cmp").exists()


def test_compare_cli_prints_table_and_writes_files(runs: dict[str, Path], tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cmp"
    assert main(["compare", str(runs["base"]), str(runs["cand"]), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "accuracy" in text and "McNemar p" in text and "paired 95% CI" in text
    first_regression = next(i for i in ids_of(BROKEN) if int(i[-4:]) % 4 != 0)
    assert "regression(s)" in text and first_regression in text
    for f in ("comparison.json", "comparison_examples.csv", "comparison_summary.csv", "report.html"):
        assert (out / f).is_file(), f
    record = json.loads((out / "comparison.json").read_text())
    assert record["bootstrap"]["resamples"] == 2000 and record["n_examples"] == len(ROWS)
    assert main(["compare", str(runs["base"])]) == 2


def test_category_field_reads_the_dataset(runs: dict[str, Path]) -> None:
    comp = compare_runs([runs["base"], runs["cand"]], category_field="intent")
    assert {c.category for c in comp.scores["accuracy"].categories} == {r["intent"] for r in ROWS}
    with pytest.raises(HarnessError, match="no example has a field 'nope'"):
        compare_runs([runs["base"], runs["cand"]], category_field="nope")


@pytest.mark.parametrize("name", ["../../../escaped", "/tmp/abs", "..", "a/../../b"])
def test_default_output_folder_stays_under_reports_comparisons(runs: dict[str, Path], tmp_path: Path, name: str,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    def rename(s: dict) -> None:
        s["suite"]["name"] = name

    base = _tamper(runs["base"], tmp_path / "w" / "base", rename)
    cand = _tamper(runs["cand"], tmp_path / "w" / "cand", rename)
    reports = tmp_path / "w" / "x" / "reports"
    before = {p for p in tmp_path.rglob("*")}
    assert main(["compare", str(base), str(cand), "--reports", str(reports)]) == 0
    line = next(t for t in capsys.readouterr().out.splitlines() if t.startswith("comparison files: "))
    out = Path(line.removeprefix("comparison files: "))
    assert out.parent.resolve() == (reports / "comparisons").resolve() and (out / "comparison.json").is_file()
    new = {p for p in tmp_path.rglob("*")} - before
    inside = [p for p in new if p.resolve().is_relative_to(reports.resolve()) or reports.resolve().is_relative_to(p.resolve())]
    assert new and sorted(inside) == sorted(new), sorted(new)
