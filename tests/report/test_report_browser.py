"""The HTML report in a real headless Chromium, driven over the DevTools protocol.

Checks what a person would: the page renders with its verdict, logs no error, the
"regressions" filter hides every other row, and a model output of <script>/<img onerror>
shows as text without running (no dialog, no injected element).
"""

from __future__ import annotations

import pytest

from harness.promote.gate import gate_runs
from tests.compare.gate_fixtures import BROKEN, ROWS, SUITE, ids_of
from tests.deps import requires
from tests.report.cdp import Browser, chromium
from tests.report.report_fixtures import LINEAGE, XSS, XSS_ID, make_pair

CHROMIUM = chromium()
requires(CHROMIUM, "headless Chromium", "apt-get install chromium")
pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("browser")
    base, cand = make_pair(tmp)
    outcome = gate_runs(SUITE, base, cand, tmp / "gate", lineage=LINEAGE)
    assert CHROMIUM is not None
    browser = Browser(CHROMIUM)
    try:
        browser.call("Page.enable")
        # Should anything run alert(), record it instead of blocking the page on a dialog.
        browser.call("Page.addScriptToEvaluateOnNewDocument",
                     source="window.__alerts = []; window.alert = function (m) { window.__alerts.push(String(m)); };")
        browser.open(outcome.html_path)
        yield browser
    finally:
        browser.close()


def test_page_renders_with_verdict_and_no_console_errors(page: Browser) -> None:
    assert page.js("document.getElementById('verdict').textContent").startswith("BLOCKED")
    assert page.js("document.getElementById('verdict').dataset.verdict") == "blocked"
    assert page.js("document.querySelectorAll('svg').length") >= 3
    assert page.js("document.querySelectorAll('tr.example').length") == len(ROWS)
    errors = [e for e in page.events
              if e["method"] == "Runtime.exceptionThrown"
              or (e["method"] == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "assert"))
              or (e["method"] == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")]
    assert errors == []


def test_regressions_filter_hides_other_rows(page: Browser) -> None:
    page.js("document.getElementById('filter-regressions').click()")
    visible = page.js("Array.from(document.querySelectorAll('tr.example')).filter(r => !r.hidden && r.offsetParent !== null)"
                      ".map(r => r.dataset.id)")
    assert sorted(visible) == sorted(ids_of(BROKEN) + [XSS_ID])
    assert page.js("Array.from(document.querySelectorAll('tr.example:not(.regression)')).every(r => r.hidden)")
    assert page.js("document.getElementById('shown').textContent") == f"showing {len(visible)} of {len(ROWS)}"
    # category filter narrows further; "all" restores every row
    choose = "(v => { const s = document.getElementById('filter-category'); s.value = v; s.dispatchEvent(new Event('change')); })"
    page.js(choose + f"('{BROKEN}')")
    assert page.js("document.querySelectorAll('tr.example:not([hidden])').length") == len(ids_of(BROKEN))
    page.js(choose + "('')")
    page.js("document.getElementById('filter-all').click()")
    assert page.js("document.querySelectorAll('tr.example:not([hidden])').length") == len(ROWS)


def test_markup_in_a_model_output_shows_as_text_and_never_runs(page: Browser) -> None:
    assert page.js("window.__alerts") == []
    assert not [e for e in page.events if e["method"] == "Page.javascriptDialogOpening"]
    cell = f"document.querySelector('tr.example[data-id=\"{XSS_ID}\"]')"
    assert XSS in page.js(f"{cell}.textContent")
    assert page.js(f"{cell}.querySelectorAll('img, script').length") == 0
    assert page.js("document.querySelectorAll('img').length") == 0
    assert page.js("document.querySelectorAll('script').length") == 2  # the data island and the page's own script
