"""The HTML report (self-contained, escaped, lineage) and the CSV tables (read back with pandas)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness.cli import main
from harness.compare import compare_runs
from harness.promote.gate import gate_runs
from harness.report.html import json_for_script, render_report, word_diff
from tests.compare.gate_fixtures import BROKEN, ROWS, SUITE, ids_of
from tests.report.report_fixtures import LINEAGE, XSS, XSS_ID, make_pair


@pytest.fixture(scope="module")
def gated(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("report")
    base, cand = make_pair(tmp)
    return gate_runs(SUITE, base, cand, tmp / "gate", lineage=LINEAGE)


def test_html_is_one_self_contained_file(gated) -> None:
    html = gated.html_path.read_text()
    assert "http://" not in html and "https://" not in html and "//cdn" not in html
    assert not re.search(r"<(link|img|iframe|object|embed)\b", html)
    assert not re.search(r"<script[^>]*\bsrc=", html)
    assert html.count("<svg") >= 3  # bars, histograms, per-category deltas
    assert 'id="verdict"' in html and 'data-verdict="blocked"' in html
    assert 'id="filter-regressions"' in html and 'id="filter-category"' in html
    assert len(re.findall(r'<tr class="example', html)) == len(ROWS)


def test_model_output_is_escaped_everywhere(gated) -> None:
    html = gated.html_path.read_text()
    assert XSS not in html and "<img src=x" not in html and "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;" in html
    assert "<b>bold?</b>" not in html and "&lt;b&gt;bold?&lt;/b&gt;" in html  # lineage strings too
    # exactly two script elements: the JSON data and the page's own filter script
    assert html.count("<script") == 2


def test_json_for_script_cannot_close_the_element() -> None:
    text = str(json_for_script({"s": "</script><!-- x", "n": 1}))
    assert "</" not in text and "<!--" not in text
    assert json.loads(text) == {"s": "</script><!-- x", "n": 1}


def test_word_diff_marks_changed_words() -> None:
    d = word_diff("the order was cancelled", "the refund was issued")
    assert ("del", "order") in d and ("ins", "refund") in d and ("eq", " was ") in d
    assert "".join(t for op, t in d if op != "del") == "the refund was issued"
    assert "".join(t for op, t in d if op != "ins") == "the order was cancelled"


def test_lineage_table(gated) -> None:
    html = gated.html_path.read_text()
    lineage = html.split('id="lineage"')[1].split("</table>")[0]
    assert lineage.count("<tr>") == 1 + len(LINEAGE)
    assert "cancel_order confused with refunds" in lineage and "local?adapter=out/it2" in lineage
    assert "&#34;lr&#34;: 0.0002" in lineage or "&quot;lr&quot;: 0.0002" in lineage
    assert "0.880" in lineage and "aaaaaaaaaaaa" in lineage
    # what the training loop passes may carry more keys and unscored values
    extra = [{**LINEAGE[0], "scores": {"accuracy": None}, "training": {"epochs": 2}, "adapter": None}]
    table = render_report(gated.comparison, lineage=extra).split('id="lineage"')[1].split("</table>")[0]
    assert "None" not in table and "first fine-tune" in table
    no_lineage = render_report(gated.comparison)
    assert 'id="lineage"' not in no_lineage and 'data-verdict="none"' in no_lineage


def test_checkpoint_table_per_iteration(gated) -> None:
    """The loop's lineage entries carry their checkpoints (lineage.json's ``checkpoints``): the report
    shows one table per iteration that ranked them, the chosen row marked; none without them."""
    from tests.checkpoints.test_checkpoints_html import ENTRIES, cells, rows_of

    with_ckpt = [{**LINEAGE[0], "checkpoints": [e.model_dump(mode="json") for e in ENTRIES]}, {**LINEAGE[1], "checkpoints": None}]
    html = render_report(gated.comparison, lineage=with_ckpt)
    assert "<h2>Checkpoints</h2>" in html and 'id="checkpoints-1"' in html and 'id="checkpoints-2"' not in html
    rows = rows_of(html, "checkpoints-1")
    assert [cells(r)[1] for r in rows] == ["checkpoint-10", "checkpoint-20", "checkpoint-30"]
    assert [cells(r)[0] for r in rows] == ["", "", "✔ chosen"] and 'data-chosen="yes"' in rows[2]
    assert cells(rows[1])[2:7] == ["20", "2", "0.500", "0.300", "0.000"] and "<th>validation contains</th>" in html
    assert "<h2>Checkpoints</h2>" not in gated.html_path.read_text()  # LINEAGE has none


def test_report_command(gated, tmp_path: Path) -> None:
    base, cand = (r.directory for r in gated.comparison.runs)
    out = tmp_path / "r.html"
    assert main(["report", str(base), str(cand), "--out", str(out)]) == 0
    assert 'data-verdict="none"' in out.read_text()
    assert main(["report", str(base), str(cand), "--out", str(out), "--suite", str(SUITE)]) == 0
    assert 'data-verdict="blocked"' in out.read_text()


def test_csv_tables_read_back_with_pandas(gated) -> None:
    import pandas as pd

    ex = pd.read_csv(gated.csv_paths["examples"])
    assert list(ex.columns[:4]) == ["id", "category", "input", "reference"]
    assert {"baseline:output", "baseline:accuracy", "candidate:output", "candidate:accuracy", "candidate:exact_match"} <= set(ex.columns)
    assert len(ex) == len(ROWS)
    row = ex.set_index("id").loc[XSS_ID]
    assert row["candidate:output"] == XSS and row["baseline:accuracy"] == 1.0 and row["candidate:accuracy"] == 0.0
    assert ex[ex["category"] == BROKEN]["candidate:accuracy"].sum() == 0
    assert ex["input"].tolist() == [r["text"] for r in ROWS]

    summ = pd.read_csv(gated.csv_paths["summary"])
    assert list(summ.columns[:9]) == ["score", "run", "mean", "ci_low", "ci_high", "delta", "delta_ci_low", "delta_ci_high", "p_value"]
    acc = summ[summ["score"] == "accuracy"].set_index("run")
    n_wrong = len(ids_of(BROKEN)) + 1
    assert acc.loc["baseline", "mean"] == 1.0 and pd.isna(acc.loc["baseline", "delta"])
    assert acc.loc["candidate", "delta"] == pytest.approx(-n_wrong / len(ROWS))
    assert acc.loc["candidate", "delta_ci_low"] <= acc.loc["candidate", "delta"] <= acc.loc["candidate", "delta_ci_high"]
    assert acc.loc["candidate", "p_value"] == pytest.approx(2 / 2**n_wrong)  # McNemar: b = n_wrong, c = 0
    assert acc.loc["candidate", "regressions"] == n_wrong
    assert set(summ["score"]) == {"accuracy", "macro_f1", "exact_match"}


def test_compare_report_of_a_comparison_without_gate(gated, tmp_path: Path) -> None:
    comp = compare_runs([r.directory for r in gated.comparison.runs])
    html = render_report(comp)
    assert "Comparison only" in html
