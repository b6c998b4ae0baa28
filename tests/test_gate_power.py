"""bench/gate_power.py is a thin script over harness.gating.power: it prints one row per suite and rule, and the
package's draws are the smoothed Bernoulli its docstring describes."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from harness.gating.power import draw
from tests.conftest import ROOT


def test_the_bench_prints_the_outcome_table() -> None:
    suite = ROOT / "suites" / "support_intent_migrate.yaml"
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "gate_power.py"), "--suite", str(suite), "--sims", "20",
                          "--check", "2"], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert "| suite file | n | rule | identical: better | BLOCKED | INCONCLUSIVE | PROMOTE | PROMOTE +5 | PROMOTE +10 |" in out
    rows = [line for line in out.splitlines() if line.startswith("| support_intent_migrate ")]
    assert len(rows) == 4 and "the gate" in rows[0]  # the gate, then its three rules


def test_draws_are_the_smoothed_bernoulli() -> None:
    x = np.array([1.0] * 8 + [0.0] * 2)
    d = draw(x, 20000, 0.8, np.random.default_rng(0))
    # p_i = 0.8 * x_i + 0.2 * 0.8: 0.96 for a passed example, 0.16 for a failed one
    assert abs(d[:, 0].mean() - 0.96) < 0.01 and abs(d[:, 9].mean() - 0.16) < 0.01
