"""The loop's records: lineage.json validates as a LineageRecord, and the final gate's comparison
(2,000-resample paired bootstraps) is computed once, even when the report is redrawn for the promotion."""

from __future__ import annotations

from pathlib import Path

import harness.compare.comparison as comparison_mod
from harness.loop.iterate import iterate
from harness.records import FORMAT_VERSION, GateDecision, LineageRecord, read_record
from tests.loop.test_iterate import base, config, pool, suite  # noqa: F401 - fixtures


def test_lineage_is_a_versioned_record_and_the_final_comparison_is_made_once(tmp_path, suite, pool, base, monkeypatch):  # noqa: F811
    made: list[list[str]] = []
    real = comparison_mod.compare_aligned

    def counting(aligned, *a, **kw):  # the real comparison, counted
        made.append([str(r.directory) for r in aligned.runs])
        return real(aligned, *a, **kw)

    monkeypatch.setattr(comparison_mod, "compare_aligned", counting)
    out = iterate(config(tmp_path, suite, pool, base, max_iterations=3), log=lambda m: None)
    assert out.promoted is not None  # the promotion path: the report is rendered with the promoted lineage
    rec = read_record(LineageRecord, out.lineage_path)
    assert rec.format_version == FORMAT_VERSION and rec.promoted == out.promoted
    assert [e.promoted for e in rec.iterations] == [False, False, True]
    final = [m for m in made if m[1].endswith("candidate-test")]
    assert len(final) == 1, made  # one comparison of base-test vs candidate-test
    gate = read_record(GateDecision, Path(rec.final["report"]).parent / "gate.json")
    assert gate.passed and [e["promoted"] for e in gate.lineage or []] == [False, False, True]
