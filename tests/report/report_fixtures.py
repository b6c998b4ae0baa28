"""A baseline/candidate pair whose candidate output carries markup, for the report tests."""

from __future__ import annotations

from pathlib import Path

from tests.compare.gate_fixtures import BROKEN, ROWS, breaks, make_run, right

XSS = "<script>alert(1)</script><img src=x onerror=alert(2)>"
XSS_ID = next(r["id"] for r in ROWS if r["intent"] == "order_status")
LINEAGE = [
    {"iteration": 1, "dataset_sha256": "a" * 64, "changes": "first fine-tune", "hyperparameters": {"lr": 2e-4, "epochs": 2},
     "model": "local?adapter=out/it1", "scores": {"accuracy": 0.81}, "reason_next": "cancel_order confused with refunds",
     "promoted": True},
    {"iteration": 2, "dataset_sha256": "b" * 64, "changes": "+40 cancel_order examples <b>bold?</b>",
     "hyperparameters": {"lr": 1e-4}, "model": "local?adapter=out/it2", "scores": {"accuracy": 0.9, "macro_f1": 0.88},
     "reason_next": "", "promoted": False},
]


def make_pair(tmp: Path) -> tuple[Path, Path]:
    """Baseline right everywhere; candidate wrong on every cancel_order example and markup on one."""
    broken = breaks(BROKEN)
    base = make_run(tmp, "base", right)
    cand = make_run(tmp, "cand", lambda r: XSS if r["id"] == XSS_ID else broken(r))
    return base, cand
