"""bench/gate_power.py: its fast path agrees with the real gate, and A/A rarely claims an improvement."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np

from tests.conftest import ROOT


def _bench():
    spec = importlib.util.spec_from_file_location("gate_power", ROOT / "bench" / "gate_power.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["gate_power"] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def test_simulation_matches_the_gate_and_has_power() -> None:
    gp = _bench()
    setting = gp.synthetic_setting(ROOT / "suites" / "support_intent_migrate.yaml", 0.8, np.random.default_rng(3))
    assert len(setting.ids) == 120 and list(setting.scores) == ["accuracy"]
    rows = gp.simulate(setting, sims=60, stickiness=0.8, check=3, seed=5)  # raises if the fast path != evaluate_gate
    aa, *_, plus10 = rows
    assert aa["scenario"] == "A/A" and aa["better"]["accuracy"] <= 0.1
    assert plus10["better"]["accuracy"] >= 0.6 and plus10["blocked"] < aa["blocked"]


def test_draws_are_the_smoothed_bernoulli() -> None:
    gp = _bench()
    x = np.array([1.0] * 8 + [0.0] * 2)
    d = gp.draw(x, 20000, 0.8, np.random.default_rng(0))
    # p_i = 0.8 * x_i + 0.2 * 0.8: 0.96 for a passed example, 0.16 for a failed one
    assert abs(d[:, 0].mean() - 0.96) < 0.01 and abs(d[:, 9].mean() - 0.16) < 0.01
