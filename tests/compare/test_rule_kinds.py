"""A gate rule's properties live in one table (harness.gating.kinds); the suite schema, a lower layer,
spells the same names and must agree with it."""

from __future__ import annotations

import math
from typing import get_args

import pytest

from harness.gating import RULE_KINDS
from harness.gating.rules import format_figure, rule_name
from harness.suite.schema import RULES, Gate, RuleName


def test_schema_rule_names_are_the_registry_names() -> None:
    assert tuple(RULE_KINDS) == RULES == get_args(RuleName)
    for name in RULES:  # every rule key is a Gate field, and a Gate with only it reads back as that rule
        assert name in Gate.model_fields
        assert Gate(metric="accuracy", **{name: 0}).rule == name


@pytest.mark.parametrize(("rule", "x", "shown"), [
    ("min", 0.5, "0.500"), ("max_flaky_share", 0.25, "0.250"), ("non_inferiority_margin", -0.05, "-0.050"),
    ("min_improvement", 0.1, "+0.100"), ("max_regressions", 3.0, "3"), ("min", math.nan, "n/a"), ("max_regressions", None, "n/a"),
])
def test_figures_print_by_kind(rule: str, x: float | None, shown: str) -> None:
    assert format_figure(rule, x) == shown


def test_which_rules_need_a_baseline() -> None:
    assert {k.name for k in RULE_KINDS.values() if k.needs_baseline} == {"non_inferiority_margin", "min_improvement", "max_regressions"}


def test_default_rule_name_reads_the_kind_text() -> None:
    assert rule_name(Gate(metric="accuracy", max_regressions=2), "billing") == "accuracy at most 2 regressions [billing]"
    assert rule_name(Gate(metric="f1", non_inferiority_margin=0.02), None) == "f1 non-inferior within 0.02"
