"""The three-way migration report (base, retiring model, replacement) in a real headless Chromium:
the three runs side by side, the agreement scores beside the ground truth, no script errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.cli import main
from harness.records.rundir import load_run
from tests.conftest import write_jsonl
from tests.metrics.test_agreement import (
    CANDIDATE,
    RECORDED,
    _record,
    _suite_with_reference,
)
from tests.report.cdp import Browser, chromium
from tests.deps import requires

CHROMIUM = chromium()
requires(CHROMIUM, "headless Chromium", "apt-get install chromium")
pytestmark = [
    pytest.mark.timeout(180),
]
BASE = {"e1": "I think it is about your order", "e2": "cancel", "e3": "refund_request", "e4": "order_status"}


def test_three_way_report_renders(tiny_suite: Path) -> None:
    assert CHROMIUM is not None, "CI=true: chromium is required"
    folder = tiny_suite.parent
    _record(tiny_suite, RECORDED)
    suite = _suite_with_reference(folder)
    runs = []
    for label, outputs in (("base", BASE), ("retiring", RECORDED), ("replacement", CANDIDATE)):
        script = write_jsonl(folder / f"{label}.jsonl", [{"id": k, "output": v} for k, v in outputs.items()])
        out = folder / "runs" / label
        assert main(["run", str(suite), "--model", f"scripted:{script}?label={label}", "--out", str(out),
                     "--reports", str(folder / "reports"), "--no-progress"]) == 0
        runs.append(out)
    assert load_run(runs[1])[0].metrics["label_agreement"].mean == 1.0  # the retiring model agrees with itself
    assert main(["report", *map(str, runs), "--out", str(folder / "report.html")]) == 0
    browser = Browser(CHROMIUM)
    try:
        browser.call("Page.enable")
        browser.open(folder / "report.html")
        headers = browser.js("Array.from(document.querySelectorAll('#examples th')).map(t => t.textContent)")
        assert [h.split(" ")[0] for h in headers[4:]] == ["base", "retiring", "replacement"]
        assert browser.js("document.querySelectorAll('tr.example').length") == 4
        text = browser.js("document.body.innerText")
        for score in ("accuracy", "label_agreement", "agreement_kappa", "agreement_token_f1"):
            assert score in text
        errors = [e for e in browser.events if e["method"] == "Runtime.exceptionThrown"
                  or (e["method"] == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "assert"))]
        assert errors == []
    finally:
        browser.close()
