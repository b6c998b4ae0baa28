"""A large generated run's HTML report in headless Chromium: the table is drawn from the data block a
page at a time, filters work over all examples (not only the drawn rows), and the word diffs the
page's script draws match harness.report.html.word_diff. (The 100,000-example timing is bench/scale.py's.)"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from harness.compare.align import align, load_runs
from harness.compare.comparison import compare_aligned
from harness.providers.base import ModelSpec
from harness.report.html import PAGE, render_report, word_diff
from harness.evaluate.run import RunConfig, run_suite
from tests.report.cdp import Browser, chromium
from tests.deps import requires

CHROMIUM = chromium()
requires(CHROMIUM, "headless Chromium", "apt-get install chromium")
N = 10_000
INTENTS = ["order_status", "cancel_order", "refund_request", "change_address"]
pytestmark = [
    pytest.mark.timeout(300),
]
SUITE = """\
name: big-intent
version: 1
dataset:
  splits: {test: test.jsonl}
  fields: {id: id, input: text, reference: intent, category: intent}
prompt:
  messages:
    - {role: user, content: "Classify: {{ text }}"}
generation: {max_tokens: 8}
metrics:
  - name: exact_match
"""


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("big")
    rnd = random.Random(7)
    rows = [{"id": f"x{i:05d}", "text": f"message {i}", "intent": rnd.choice(INTENTS)} for i in range(N)]
    _write(tmp / "test.jsonl", rows)
    (tmp / "suite.yaml").write_text(SUITE)
    for m, right in enumerate((0.8, 0.9)):
        outs = [{"id": r["id"], "output": r["intent"] if rnd.random() < right else f"maybe {rnd.choice(INTENTS)} then"}
                for r in rows]
        run_suite(RunConfig(suite=tmp / "suite.yaml", model=ModelSpec.parse(f"scripted:{_write(tmp / f'm{m}.jsonl', outs)}"),
                            reports_dir=tmp / "reports", out=tmp / f"run{m}", progress=False, bootstrap_resamples=10))
    comp = compare_aligned(align(load_runs([tmp / "run0", tmp / "run1"])), resamples=20)
    html = tmp / "report.html"
    html.write_text(render_report(comp), encoding="utf-8")
    assert CHROMIUM is not None
    browser = Browser(CHROMIUM)
    try:
        browser.open(html)
        browser.js("new Promise(r => { const t = () => window.__reportReady ? r(true) : setTimeout(t, 20); t(); })")
        yield browser, comp, html
    finally:
        browser.close()


def test_only_one_page_is_drawn_and_pages_move(big) -> None:
    page, comp, html = big
    assert len(comp.ids) == N
    assert page.js("document.querySelectorAll('tr.example').length") == PAGE
    pages = -(-N // PAGE)
    assert page.js("document.getElementById('shown').textContent") == f"showing {N} of {N}; page 1 of {pages} ({PAGE} a page)"
    page.js("document.getElementById('page-next').click()")
    ids = page.js("Array.from(document.querySelectorAll('tr.example')).map(r => r.dataset.id)")
    assert ids == comp.ids[PAGE : 2 * PAGE]
    assert html.stat().st_size < 200 * N  # compact columns, not a row of markup per example


def test_filters_run_over_every_example(big) -> None:
    page, comp, _ = big
    regressed = comp.scores["exact_match"].vs_baseline[0].regressions
    assert 0 < len(regressed) < N
    page.js("document.getElementById('filter-regressions').click()")
    assert page.js("document.getElementById('shown').textContent").startswith(f"showing {len(regressed)} of {N}")
    drawn = page.js("Array.from(document.querySelectorAll('tr.example')).map(r => r.dataset.id)")
    assert drawn == regressed[:PAGE]  # in example order, the first page of them
    choose = "(v => { const s = document.getElementById('filter-category'); s.value = v; s.dispatchEvent(new Event('change')); })"
    page.js(choose + "('refund_request')")
    both = [i for i, c in zip(comp.ids, comp.aligned.categories, strict=True) if c == "refund_request" and i in set(regressed)]
    assert page.js("document.getElementById('shown').textContent").startswith(f"showing {len(both)} of {N}")
    assert page.js("Array.from(document.querySelectorAll('tr.example')).every(r => r.dataset.category === 'refund_request')")
    page.js(choose + "('')")
    page.js("document.getElementById('filter-all').click()")


def test_script_drawn_diffs_match_the_python_word_diff(big) -> None:
    page, comp, _ = big
    page.js("document.getElementById('filter-improvements').click()")
    first = comp.scores["exact_match"].vs_baseline[0].improvements[0]
    k = comp.ids.index(first)
    base, cand = comp.aligned.rows[0][k]["output"], comp.aligned.rows[1][k]["output"]
    got = page.js(f"Array.from(document.querySelector('tr.example[data-id=\"{first}\"] td.output:last-child .clip').childNodes)"
                  ".map(n => [n.nodeName === '#text' ? 'eq' : n.nodeName.toLowerCase(), n.textContent])")
    assert [tuple(x) for x in got] == word_diff(base, cand)
    errors = [e for e in page.events if e["method"] == "Runtime.exceptionThrown"
              or (e["method"] == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "assert"))]
    assert errors == []
