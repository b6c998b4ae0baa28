"""The pytest plugin, run in a subprocess through pytester with a scripted provider."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

pytest_plugins = ["pytester"]


def _plugin_args() -> list[str]:
    """``-p harness.integrations.pytest.plugin`` unless the installed package's pytest11 entry point loads it
    already (pytest refuses to register one module under two names)."""
    from importlib.metadata import entry_points

    installed = any(e.value == "harness.integrations.pytest.plugin" for e in entry_points(group="pytest11"))
    return [] if installed else ["-p", "harness.integrations.pytest.plugin"]


LABELS = ["refund", "shipping"]
SUITE = """
name: tiny-intent
version: 1
dataset:
  path: data
  splits: {test: test.jsonl}
  fields: {id: id, input: text, reference: label}
prompt:
  messages:
    - {role: user, content: "{{ text }}"}
metrics:
  - name: classification
    labels: [refund, shipping]
gates:
  - metric: accuracy
    min: 0.7
  - metric: accuracy
    max_regressions: 1
"""


def _setup(pytester) -> Path:
    d = pytester.path
    (d / "data").mkdir()
    # 20 examples, "bad" wrong on the first 12: its accuracy's 95% CI lies wholly below the 0.7 floor and its
    # 12 regressions against no improvements are more than churn (a sign test), so both rules block
    rows = [{"id": f"ex{i}", "text": f"message {i}", "label": LABELS[i % 2]} for i in range(20)]
    (d / "data" / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (d / "suite.yaml").write_text(SUITE)
    right = {r["id"]: r["label"] for r in rows}
    wrong = {k: ("shipping" if v == "refund" else "refund") if i < 12 else v for i, (k, v) in enumerate(right.items())}
    for name, script in (("good", right), ("bad", wrong)):
        (d / f"{name}.jsonl").write_text("".join(json.dumps({"id": k, "output": v}) + "\n" for k, v in script.items()))
    return d


def _run(pytester, *args: str):
    return pytester.runpytest_subprocess(*_plugin_args(), "-p", "no:cacheprovider", "--harness-suite", "suite.yaml",
                                         "--harness-reports", "reports", *args)


def test_candidate_meeting_the_gates_passes(pytester):
    _setup(pytester)
    res = _run(pytester, "--harness-model", "scripted:good.jsonl", "--harness-baseline", "scripted:good.jsonl", "-v")
    res.assert_outcomes(passed=3)
    res.stdout.fnmatch_lines(["*suite.yaml::accuracy-candidate-mean-ge-0.7 PASSED*"])


def test_candidate_missing_a_gate_fails_naming_the_rule(pytester):
    _setup(pytester)
    res = _run(pytester, "--harness-model", "scripted:bad.jsonl", "--harness-baseline", "scripted:good.jsonl",
               "--junitxml", "junit.xml")
    res.assert_outcomes(passed=1, failed=2)
    out = res.stdout.str()
    assert "FAIL accuracy candidate mean >= 0.7: figure 0.400, threshold 0.700" in out
    assert "candidate accuracy = 0.400 [0.219, 0.613]: CI < 0.700" in out
    assert "FAIL accuracy at most 1 regressions" in out and "12 regressions" in out
    assert "ex0: accuracy 1 -> 0; output 'shipping'; reference 'refund'" in out  # a worst example
    cases = ET.parse(pytester.path / "junit.xml").getroot().iter("testcase")
    failed = {c.get("name") for c in cases if c.find("failure") is not None}
    assert failed == {"accuracy-candidate-mean-ge-0.7", "accuracy-at-most-1-regressions"}


def test_relative_rules_skip_without_a_baseline(pytester):
    _setup(pytester)
    res = _run(pytester, "--harness-model", "scripted:good.jsonl", "-rs")
    res.assert_outcomes(passed=2, skipped=1)
    res.stdout.fnmatch_lines(["*give --harness-baseline*"])


def test_fixture_runs_scores_and_gates_with_one_cache(pytester):
    _setup(pytester)
    pytester.makepyfile(test_mine="""
        import harness  # the package, not shadowed by the fixture

        def test_good(harness_run):
            run = harness_run.run("suite.yaml", model="scripted:good.jsonl")
            assert run.score("accuracy").mean == 1.0
            assert harness_run.run("suite.yaml", model="scripted:good.jsonl") is run
            assert hasattr(harness, "run_suite")

        def test_gate(harness_run):
            good = harness_run.run("suite.yaml", model="scripted:good.jsonl")
            bad = harness_run.run("suite.yaml", model="scripted:bad.jsonl")
            ok = harness_run.gate(good, bad)
            assert ok and ok.passed and ok.rules and all(not r.blocks for r in ok.rules)
            result = harness_run.gate(bad, good)
            assert not result and not result.passed and "BLOCKED" in result.text
            assert [r.verdict for r in result.rules if r.blocks] and result.comparison.scores["accuracy"].runs[1].mean < 1
            assert result.out_dir is None and not result.files  # the fixture writes no report
    """)
    res = pytester.runpytest_subprocess(*_plugin_args(), "-p", "no:cacheprovider", "--harness-reports", "reports")
    res.assert_outcomes(passed=2)
    assert (pytester.path / "reports" / "cache.sqlite").is_file()


def test_old_fixture_name_still_works_and_warns(pytester):
    _setup(pytester)
    pytester.makepyfile(test_old="""
        def test_old(harness):
            assert harness.run("suite.yaml", model="scripted:good.jsonl").score("accuracy").mean == 1.0
    """)
    res = pytester.runpytest_subprocess(*_plugin_args(), "-p", "no:cacheprovider", "--harness-reports", "reports")
    res.assert_outcomes(passed=1)
    res.stdout.fnmatch_lines(["*DeprecationWarning: the pytest fixture `harness` is renamed `harness_run`*"])


GATES = """
  - metric: accuracy
    min: 0.7
  - metric: accuracy
    min: 0.7
  - metric: accuracy
    max_regressions: 1
  - metric: accuracy
    min: 0.5
    category: refund
"""


def test_ids_are_slugs_stable_and_unique(pytester):
    """No spaces or comparison signs in an id; the same rule twice gets -2; an id does not move when a
    rule is added before it."""
    _setup(pytester)
    suite = pytester.path / "suite.yaml"
    head = SUITE.split("gates:")[0].replace("reference: label}", "reference: label, category: label}")
    suite.write_text(head + "gates:" + GATES)

    def ids() -> list[str]:
        res = pytester.runpytest_subprocess(*_plugin_args(), "-p", "no:cacheprovider", "--harness-suite", "suite.yaml",
                                            "--harness-model", "scripted:good.jsonl", "--collect-only", "-q")
        return [line.split("::", 1)[1] for line in res.outlines if line.startswith("suite.yaml::")]

    first = ids()
    assert first == ["run-no-failed-examples", "accuracy-candidate-mean-ge-0.7", "accuracy-candidate-mean-ge-0.7-2",
                     "accuracy-at-most-1-regressions", "accuracy-candidate-mean-ge-0.5-refund"], first
    assert not [i for i in first if " " in i or ">" in i or "=" in i or "[" in i]
    suite.write_text(head + "gates:\n  - metric: accuracy\n    min: 0.1" + GATES)
    second = ids()
    assert second[0] == "run-no-failed-examples" and set(first) <= set(second) and len(second) == len(set(second))
    # and -k with one id runs that rule alone
    res = pytester.runpytest_subprocess(*_plugin_args(), "-p", "no:cacheprovider", "--harness-suite", "suite.yaml",
                                        "--harness-model", "scripted:good.jsonl", "--harness-reports", "reports",
                                        "-k", "accuracy-candidate-mean-ge-0.5-refund", "-v")
    res.assert_outcomes(passed=1)


def test_item_id_words_the_signs():
    from harness.integrations.pytest.plugin import item_id

    assert item_id("accuracy candidate mean >= 0.8") == "accuracy-candidate-mean-ge-0.8"
    assert item_id("f1 <= 0.2 [cancel_order]") == "f1-le-0.2-cancel_order"
    assert item_id("latency p95 < 2 s") == "latency-p95-lt-2-s"
    assert item_id("  >=  ") == "ge"


def test_plugin_import_is_cheap():
    import subprocess
    import sys

    code = "import sys, harness.integrations.pytest.plugin; print(sorted(m for m in ('harness.evaluate.run', 'pydantic', 'numpy', 'openai') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
