"""gate and compare name their default output folders the same way: the suite's name (slugged), then the time."""

from __future__ import annotations

import re
from pathlib import Path

from harness.cli.main import main
from tests.compare.gate_fixtures import SUITE, make_run, right


def test_gate_and_compare_default_folders_are_named_alike(tmp_path: Path) -> None:
    base, cand = make_run(tmp_path, "base", right), make_run(tmp_path, "cand", right)
    reports = tmp_path / "reports"
    assert main(["gate", str(SUITE), "--baseline", str(base), "--candidate", str(cand), "--reports", str(reports)]) == 0
    assert main(["compare", str(base), str(cand), "--reports", str(reports)]) == 0
    (gate,) = (reports / "gates").iterdir()
    (comp,) = (reports / "comparisons").iterdir()
    pattern = r"support-intent-\d{8}T\d{6}"
    assert re.fullmatch(pattern, gate.name) and re.fullmatch(pattern, comp.name), (gate.name, comp.name)
