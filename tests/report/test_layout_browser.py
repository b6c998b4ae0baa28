"""The gate report and the index in a 1400 px window (headless Chromium): nothing overflows
horizontally, however long the model paths, inputs and outputs; models are named by their short
labels; regressed examples are listed only for rules that did not pass; every link of the index
resolves to a file that exists."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from harness.cli import main
from tests.compare.gate_fixtures import BROKEN, ROOT, ROWS, SUITE
from tests.conftest import write_jsonl
from tests.deps import requires
from tests.report.cdp import Browser, chromium

CHROMIUM = chromium()
requires(CHROMIUM, "headless Chromium", "apt-get install chromium")
pytestmark = pytest.mark.timeout(180)

WIDTH = 1400
LONG_WORD = "https://northwind.example/orders/" + "NW-61188-" * 40  # one token, no space to break at
PARAGRAPH = ("My order arrived late and the box was open; I would like to know what happened to it and whether "
             "the second parcel is still on its way. ") * 6
CANDIDATE_DIR = "experiment-2026-11-30-lr2e-4-r16-alpha32-cancel-order-augmented-with-paraphrases"


def _suite(tmp: Path) -> Path:
    """support_intent with long inputs on a few examples, its data copied into ``tmp``."""
    rows = [dict(r) for r in ROWS]
    for r in rows[:6]:
        r["text"] = f"{r['text']} {PARAGRAPH}{LONG_WORD}"
    data = tmp / "data"
    data.mkdir()
    write_jsonl(data / "test.jsonl", rows)
    for split in ("train", "validation"):
        (data / f"{split}.jsonl").write_text((ROOT / "datasets" / "support_intent" / f"{split}.jsonl").read_text())
    suite = tmp / "suite.yaml"
    suite.write_text(SUITE.read_text().replace("path: ../datasets/support_intent", f"path: {data}"))
    return suite


def _script(path: Path, answer) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_jsonl(path, [{"id": r["id"], "output": answer(r)} for r in ROWS])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("layout")
    suite = _suite(tmp)
    reports = tmp / "reports"
    base = _script(tmp / "scripts" / "base.jsonl", lambda r: r["intent"] + (" " + PARAGRAPH if r in ROWS[:6] else ""))
    cand = _script(tmp / "checkpoints" / CANDIDATE_DIR / "adapter.jsonl",
                   lambda r: ("refund_request" if r["intent"] == BROKEN else r["intent"]) + (" " + LONG_WORD if r in ROWS[:6] else ""))
    common = ["--reports", str(reports), "--no-progress"]
    assert main(["run", str(suite), "--model", f"scripted:{base}", "--label", "base-v1", "--out", str(reports / "runs" / "base"), *common]) in (0, 3)
    assert main(["run", str(suite), "--model", f"scripted:{cand}", "--out", str(reports / "runs" / "cand"), *common]) in (0, 3)
    assert main(["gate", str(suite), "--baseline", str(reports / "runs" / "base"), "--candidate", str(reports / "runs" / "cand"),
                 "--out", str(reports / "gates" / "g1"), *common]) == 1
    assert main(["compare", str(reports / "runs" / "base"), str(reports / "runs" / "cand"), "--out", str(reports / "comparisons" / "c1"),
                 "--reports", str(reports)]) == 0
    index = tmp / "site" / "index.html"  # elsewhere than the folder scanned: links are relative to the page
    assert main(["report", "--index", str(reports), "--out", str(index)]) == 0
    return {"gate": reports / "gates" / "g1" / "report.html", "index": index, "reports": reports}


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM is not None
    b = Browser(CHROMIUM)
    try:
        b.call("Page.enable")
        b.call("Emulation.setDeviceMetricsOverride", width=WIDTH, height=900, deviceScaleFactor=1, mobile=False)
        yield b
    finally:
        b.close()


def _load(b: Browser, path: Path) -> None:
    b.events.clear()
    b.open(path)
    assert b.js("window.innerWidth") == WIDTH


OVERFLOW = """(() => {
  const vw = window.innerWidth, bad = [];
  for (const c of document.querySelectorAll('td, th')) {
    const r = c.getBoundingClientRect();
    if (r.width > vw || r.right > vw + 0.5) bad.push((c.closest('table') || {}).id + ': ' + c.textContent.slice(0, 60) + ' ' + Math.round(r.right));
  }
  return {scroll: document.documentElement.scrollWidth, body: document.body.scrollWidth, bad: bad.slice(0, 5)};
})()"""


def test_gate_report_fits_1400px_and_input_column_stays_readable(site, browser) -> None:
    _load(browser, site["gate"])
    got = browser.js(OVERFLOW)
    assert got["scroll"] <= WIDTH and got["body"] <= WIDTH, got
    assert got["bad"] == []
    # The input column is wide enough for words, not a word a line: at least 300 px, and a long input
    # is clamped (click to expand) rather than making its row a page tall.
    assert browser.js("Math.min(...Array.from(document.querySelectorAll('tr.example td.input')).map(td => td.getBoundingClientRect().width))") >= 300
    long_id = ROWS[0]["id"]
    clip = f"document.querySelector('tr.example[data-id=\"{long_id}\"] td.input .clip')"
    assert browser.js(f"{clip}.classList.contains('long')")
    closed = browser.js(f"{clip}.getBoundingClientRect().height")
    browser.js(f"{clip}.click()")
    assert browser.js(f"{clip}.classList.contains('open')") and browser.js(f"{clip}.getBoundingClientRect().height") > closed
    assert browser.js(OVERFLOW)["scroll"] <= WIDTH


def test_gate_report_names_models_by_label_and_lists_regressions_only_for_rules_not_passed(site, browser) -> None:
    _load(browser, site["gate"])
    names = browser.js("Array.from(document.querySelectorAll('.meta span.model')).map(s => s.textContent)")
    assert names == ["base-v1", f"scripted:{CANDIDATE_DIR}/adapter"]
    rows = browser.js("Array.from(document.querySelectorAll('#rules tr')).slice(1).map(tr => [tr.cells[0].textContent, tr.cells[8].textContent.trim()])")
    assert {v for v, _ in rows} >= {"pass", "fail"}
    assert all(ids == "" for v, ids in rows if v in ("pass", "advisory-pass")), rows
    assert any(ids for v, ids in rows if v == "fail"), rows
    # gate.json still records every rule's regressed examples (the page only hides them where a rule passed)
    g = json.loads((site["gate"].parent / "gate.json").read_text())
    assert any(r["examples"] for r in g["rules"] if r["verdict"] == "pass")


def test_index_fits_1400px_and_every_link_resolves(site, browser) -> None:
    _load(browser, site["index"])
    got = browser.js(OVERFLOW)
    assert got["scroll"] <= WIDTH and got["body"] <= WIDTH, got
    assert got["bad"] == []
    links = browser.js("Array.from(document.querySelectorAll('a[href]')).map(a => [a.className, a.textContent, a.getAttribute('href'), a.href])")
    assert links
    for _, _, raw, url in links:
        assert not raw.startswith(("/", "file:")), raw  # relative links: the folder can be moved or served
        assert Path(unquote(urlsplit(url).path)).is_file(), url
    reports = site["reports"].resolve()
    targets = {Path(unquote(urlsplit(url).path)).resolve() for *_, url in links}
    for run in ("base", "cand"):
        assert reports / "runs" / run / "summary.json" in targets
    assert reports / "gates" / "g1" / "report.html" in targets and reports / "comparisons" / "c1" / "report.html" in targets
    # each run links the gate and comparison reports it is part of
    per_run = browser.js("Array.from(document.querySelectorAll('tr.run')).map(tr => [tr.dataset.label, Array.from(tr.querySelectorAll('a.report')).map(a => a.textContent)])")
    assert sorted(per_run) == [["base-v1", ["gate report", "comparison report"]],
                               [f"scripted:{CANDIDATE_DIR}/adapter", ["gate report", "comparison report"]]]
    assert browser.js("Array.from(document.querySelectorAll('tr.gate td.model')).map(td => td.textContent)") == \
        ["base-v1", f"scripted:{CANDIDATE_DIR}/adapter"]
