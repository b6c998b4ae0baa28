"""`harness report --index`: 200 runs, a gate decision and a loop on one page, checked in headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from harness.cli import main
from harness.promote.gate import gate_runs
from harness.report.index import scan
from tests.compare.gate_fixtures import SUITE
from tests.report.cdp import Browser, chromium
from tests.deps import requires
from tests.report.report_fixtures import make_pair

CHROMIUM = chromium()
N_RUNS = 200
MODELS = ["local", "local:smollm2?adapter=out/it-1", "local:smollm2?adapter=out/it-2", "openai:gpt-4o-mini"]
XSS_MODEL = "<img src=x onerror=alert(1)>"


def _folder(tmp: Path) -> Path:
    """Two real runs and their real gate, 198 more runs derived from the real summary (model, date,
    split and scores varied), an iterate loop's lineage.json and one corrupt summary."""
    base, cand = make_pair(tmp)
    root = tmp / "reports"
    gate_runs(SUITE, base, cand, root / "gate")
    shutil.move(str(base), root / "runs" / "base")
    shutil.move(str(cand), root / "runs" / "cand")
    # gate.json names the runs by their old folders: point them at the moved ones.
    g = json.loads((root / "gate" / "gate.json").read_text())
    for r, name in zip(g["comparison"]["runs"], ("base", "cand"), strict=True):
        r["directory"] = str(root / "runs" / name)
    (root / "gate" / "gate.json").write_text(json.dumps(g))
    real = json.loads((root / "runs" / "base" / "summary.json").read_text())
    for i in range(N_RUNS - 2):
        s = json.loads(json.dumps(real))
        s["created"] = f"2026-11-{1 + i % 28:02d}T{i % 24:02d}:00:00+0000"
        s["model"]["display"] = XSS_MODEL if i == 7 else MODELS[i % len(MODELS)]
        s["dataset"]["split"] = "validation" if i % 3 == 0 else "test"
        for e in s["metrics"].values():
            if isinstance(e.get("mean"), float):
                e["mean"] = e["ci_low"] = e["ci_high"] = round((i % 50) / 50, 3)
        if i % 10 == 0:
            s["cost"] = {"usd": 0.0125}
        d = root / "runs" / f"gen-{i:03d}"
        d.mkdir(parents=True)
        (d / "summary.json").write_text(json.dumps(s))
        (d / "results.jsonl").write_text("")
    loop = root / "iterate" / "loop-1"
    loop.mkdir(parents=True)
    (loop / "lineage.json").write_text(json.dumps({
        "kind": "iterate", "created_at": "2026-11-30T10:00:00+0000", "config": {"base": "local"},
        "suite": {"name": real["suite"]["name"]}, "score": {"name": "accuracy", "direction": "higher"},
        "stop_reason": "iteration 2 passes the suite's gates on validation", "promoted": "local:smollm2?adapter=it-2",
        "final": {"evaluated": True, "gate_passed": True},
        "iterations": [{"iteration": 0, "model": "local", "score": {"value": 0.41}},
                       {"iteration": 1, "model": "it-1", "score": {"value": 0.66}},
                       {"iteration": 2, "model": "it-2", "score": {"value": 0.78}, "best": True, "promoted": True}]}))
    copy = root / "mlartifacts" / "1" / "abc" / "artifacts" / "gate"  # what --track mlflow leaves: not counted again
    shutil.copytree(root / "gate", copy)
    bad = root / "runs" / "broken"
    bad.mkdir()
    (bad / "summary.json").write_text("{not json")
    (bad / "results.jsonl").write_text("")
    return root


def test_scan_reads_runs_gates_loops_and_names_what_it_cannot_read(tmp_path):
    root = _folder(tmp_path)
    idx = scan(root)
    assert len(idx.runs) == N_RUNS and len(idx.gates) == 1 and len(idx.loops) == 1
    assert [u for u in idx.unreadable if "broken" in u and "JSONDecodeError" in u]
    cand = next(r for r in idx.runs if r["rel"] == os.path.join("runs", "cand"))
    assert cand["decision"] == "blocked"  # the real gate blocked the broken candidate
    assert idx.runs[0]["created"] >= idx.runs[-1]["created"]




@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory):
    requires(CHROMIUM, "headless Chromium", "apt-get install chromium")
    root = _folder(tmp_path_factory.mktemp("index"))
    assert main(["report", "--index", str(root)]) == 0
    browser = Browser(CHROMIUM)
    try:
        browser.call("Page.enable")
        browser.call("Page.addScriptToEvaluateOnNewDocument",
                     source="window.__alerts = []; window.alert = function (m) { window.__alerts.push(String(m)); };")
        browser.open(root / "index.html")
        yield browser
    finally:
        browser.close()


@pytest.mark.timeout(180)
def test_index_lists_200_runs_and_filters(page: Browser) -> None:
    assert page.js("document.querySelectorAll('tr.run').length") == N_RUNS
    assert page.js("document.getElementById('shown').textContent") == f"showing {N_RUNS} of {N_RUNS}"
    assert page.js("document.querySelectorAll('tr.loop').length") == 1
    assert page.js("document.querySelector('tr.gate .d-blocked').textContent") == "blocked"
    assert page.js("document.querySelectorAll('section.suite svg circle').length") > 0
    errors = [e for e in page.events if e["method"] == "Runtime.exceptionThrown"
              or (e["method"] == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "assert"))]
    assert errors == []
    choose = "((id, v) => { const s = document.getElementById(id); s.value = v; s.dispatchEvent(new Event('change')); })"
    page.js(choose + "('filter-split', 'validation')")
    n_val = page.js("document.querySelectorAll('tr.run:not([hidden])').length")
    assert 0 < n_val < N_RUNS
    assert page.js("Array.from(document.querySelectorAll('tr.run:not([hidden])')).every(r => r.dataset.split === 'validation')")
    page.js(choose + "('filter-split', '')")
    page.js("(e => { e.value = 'gpt-4o'; e.dispatchEvent(new Event('input')); })(document.getElementById('filter-model'))")
    assert page.js("document.querySelectorAll('tr.run:not([hidden])').length") == sum(
        1 for i in range(N_RUNS - 2) if i != 7 and MODELS[i % len(MODELS)] == "openai:gpt-4o-mini")
    page.js("(e => { e.value = ''; e.dispatchEvent(new Event('input')); })(document.getElementById('filter-model'))")
    page.js(choose + "('filter-decision', 'blocked')")
    assert page.js("document.querySelectorAll('tr.run:not([hidden])').length") == 1  # the gated candidate


def test_markup_in_a_model_name_is_text(page: Browser) -> None:
    assert page.js("window.__alerts") == []
    assert page.js("document.querySelectorAll('img').length") == 0
    assert page.js(f"Array.from(document.querySelectorAll('tr.run')).some(r => r.dataset.model === {json.dumps(XSS_MODEL)})")
