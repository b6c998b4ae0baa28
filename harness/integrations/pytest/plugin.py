"""pytest plugin: a suite's promotion decision as ordinary test results, and a `harness_run` fixture.

    pytest --harness-suite suites/support_intent.yaml --harness-model local [--harness-baseline RUN_DIR_OR_MODEL]

collects one test per gate rule of the suite (and one that the run had no failed examples), so a CI
that runs pytest gets the decision in its usual report, JUnit included (``--junitxml``). A failed
rule's message names the rule, its figure and threshold, and the worst examples. Rules that compare
with a baseline (non_inferiority_margin, min_improvement, max_regressions) are skipped without
``--harness-baseline``.

Each test's id is its rule as a slug (:func:`item_id`: ``accuracy-candidate-mean-ge-0.7``, no spaces
or ``>=``), the same for the same rule whatever its place in the suite.

Hand-written tests use the ``harness_run`` fixture (``harness``, its old name, still works but warns:
it shadowed the ``harness`` package in a test)::

    def test_accuracy(harness_run):
        run = harness_run.run("suites/support_intent.yaml", model="local")
        assert run.score("accuracy").mean >= 0.8
        assert harness_run.gate(run, harness_run.run("suites/support_intent.yaml", model="local:base"))

All runs share the response cache under ``--harness-reports`` (default: $HARNESS_REPORTS or
``reports``), so a rerun costs nothing. This module imports nothing heavy: it loads in every
pytest run once the package is installed (entry point ``pytest11``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest


ENTRY_POINT = "harness"  # pyproject.toml's pytest11 entry point: `pytest -p harness`, the documented form


def pytest_plugin_registered(plugin: object, plugin_name: str, manager: pytest.PytestPluginManager) -> None:
    """Loaded under its module name (``-p harness.integrations.pytest.plugin``, or the old
    ``-p harness.pytest_plugin``), this module would be registered a second time by the installed
    pytest11 entry point, and pytest would stop with "Plugin already registered under a different
    name": the entry point is blocked instead, so every spelling loads the plugin once."""
    import sys

    if plugin is sys.modules[__name__] and plugin_name != ENTRY_POINT and not manager.is_blocked(ENTRY_POINT):
        manager.set_blocked(ENTRY_POINT)


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("harness", "evaluation suites (harness)")
    g.addoption("--harness-suite", type=Path, metavar="SUITE", help="collect one test per gate rule of this suite")
    g.addoption("--harness-model", metavar="MODEL", help="the candidate model, as for `harness run --model`")
    g.addoption("--harness-baseline", metavar="RUN_DIR_OR_MODEL", help="a run directory, or a model to run, to compare with")
    g.addoption("--harness-split", metavar="SPLIT", help="dataset split (default: the suite's default_split)")
    g.addoption("--harness-limit", metavar="N", help="only the first N examples, not a sample (a whole number from 1; "
                                                      "checked as `harness run --limit`)")
    g.addoption("--harness-sample", metavar="N", help="a seeded random sample of N examples, stratified by category "
                                                       "(as `harness run --sample`); not with --harness-limit")
    g.addoption("--harness-seed", metavar="S", help="the seed of --harness-sample (default 0)")
    g.addoption("--harness-reports", type=Path, metavar="DIR", help="run directories and the response cache "
                                                                    "(default: $HARNESS_REPORTS or reports)")


def _reports(config: pytest.Config) -> Path:
    return config.getoption("harness_reports") or Path(os.environ.get("HARNESS_REPORTS", "reports"))


def _harness(config: pytest.Config) -> Any:
    """One Harness per pytest session (and so one cache), created on first use."""
    h = getattr(config, "_harness_session", None)
    if h is None:
        from harness.integrations.pytest.runs import Harness

        h = Harness(_reports(config))
        config._harness_session = h  # type: ignore[attr-defined]
    return h


@pytest.fixture(scope="session")
def harness_run(pytestconfig: pytest.Config) -> Any:
    """Run suites and gate runs from a test: ``harness_run.run(suite, model=...)``, ``harness_run.gate(cand, base)``."""
    return _harness(pytestconfig)


@pytest.fixture(scope="session")
def harness(pytestconfig: pytest.Config) -> Any:
    """Deprecated: the old name of ``harness_run`` (it shadowed the ``harness`` package in a test)."""
    import warnings

    warnings.warn("the pytest fixture `harness` is renamed `harness_run` (the old name shadows the harness package "
                  "in a test); write `def test_x(harness_run):`", DeprecationWarning, stacklevel=2)
    return _harness(pytestconfig)


def pytest_configure(config: pytest.Config) -> None:
    suite = config.getoption("harness_suite")
    if suite and not config.getoption("harness_model"):
        raise pytest.UsageError("--harness-suite needs --harness-model MODEL (the candidate)")
    from harness.core.options import LIMIT, SEED, check

    for name, parse in (("limit", LIMIT), ("sample", LIMIT), ("seed", SEED)):
        value = config.getoption(f"harness_{name}")
        if value is not None:
            try:
                setattr(config.option, f"harness_{name}", check(f"--harness-{name}", parse, value))
            except ValueError as e:
                raise pytest.UsageError(str(e)) from None
    limit, sample, seed = (config.getoption(f"harness_{k}") for k in ("limit", "sample", "seed"))
    if limit is not None and sample is not None:
        raise pytest.UsageError(f"--harness-limit {limit} and --harness-sample {sample} together: --harness-limit takes "
                                "the first N examples, --harness-sample draws a stratified random one; give one of them")
    if seed is not None and sample is None:
        raise pytest.UsageError(f"--harness-seed {seed} without --harness-sample: the seed picks a sample")
    if suite:
        if not Path(suite).is_file():
            raise pytest.UsageError(f"--harness-suite {suite}: no such file")
        # Collected as an argument of its own, so pytest counts, selects (-k) and reports its tests
        # like any others.
        config.args.append(str(Path(suite).resolve()))


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    suite = parent.config.getoption("harness_suite")
    if suite and file_path == Path(suite).resolve():
        return SuiteFile.from_parent(parent, path=file_path)
    return None


class HarnessFailure(Exception):
    """A rule failed; the message is the whole explanation (no traceback is useful)."""


def _usage_error(e: Exception) -> None:
    """A bad --harness-model or --harness-baseline (unknown provider, a truncated run, another
    suite's run) is the user's to fix: stop the session once with pytest's usage error (exit 4) and
    the harness's one-line message, instead of a traceback per gate item."""
    pytest.exit("harness: " + " ".join(str(e).split()), returncode=pytest.ExitCode.USAGE_ERROR)


class SuiteFile(pytest.File):
    def collect(self) -> list[pytest.Item]:
        from harness.core.errors import InputProblems
        from harness.gating.rules import rule_name
        from harness.integrations.pytest.runs import gates_of

        try:
            gates = gates_of(self.path)
        except InputProblems as e:
            raise pytest.UsageError("\n".join(str(p) for p in e.problems)) from None
        items: list[pytest.Item] = [RunItem.from_parent(self, name=RUN_ID)]
        seen: dict[str, int] = {RUN_ID: 1}
        for g in gates:
            name = item_id(rule_name(g, g.category))
            seen[name] = seen.get(name, 0) + 1
            if seen[name] > 1:  # the same rule twice: the second gets -2 (the first keeps its id)
                name = f"{name}-{seen[name]}"
            items.append(GateItem.from_parent(self, name=name, gate=g, rule=rule_name(g, g.category)))
        return items


RUN_ID = "run-no-failed-examples"
_OPERATORS = {">=": " ge ", "<=": " le ", "==": " eq ", "!=": " ne ", ">": " gt ", "<": " lt ", "=": " eq "}


def item_id(rule: str) -> str:
    """A rule's name as a test id: comparison signs as words, every run of other characters than
    letters, digits, ``.`` and ``_`` one ``-`` (``accuracy candidate mean >= 0.7`` ->
    ``accuracy-candidate-mean-ge-0.7``, ``... [cancel_order]`` -> ``...-cancel_order``)."""
    import re

    text = re.sub("|".join(re.escape(k) for k in _OPERATORS), lambda m: _OPERATORS[m.group(0)], rule)
    return re.sub(r"[^A-Za-z0-9._]+", "-", text).strip("-.") or "rule"


class _SuiteItem(pytest.Item):
    def _state(self) -> dict[str, Any]:
        """The candidate (and baseline) runs, made once per session for all of the suite's items."""
        config = self.config
        state = getattr(config, "_harness_suite_state", None)
        if state is None:
            from harness.core.errors import HarnessError

            h = _harness(config)
            suite, split, limit = self.path, config.getoption("harness_split"), config.getoption("harness_limit")
            drawn = {"sample": config.getoption("harness_sample"), "seed": config.getoption("harness_seed")}
            try:
                state = {"candidate": h.run(suite, config.getoption("harness_model"), split, limit, **drawn), "baseline": None}
                base = config.getoption("harness_baseline")
                if base:
                    state["baseline"] = h.baseline(suite, base, split, limit, **drawn)
            except HarnessError as e:
                _usage_error(e)
            config._harness_suite_state = state  # type: ignore[attr-defined]
        return state

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, HarnessFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        # The trailing space keeps pytest from printing the name's dots as "::" (it does so for
        # Python test names, a.b -> a::b): "accuracy >= 0.7" must stay readable.
        return self.path, None, self.name + " "


class RunItem(_SuiteItem):
    def runtest(self) -> None:
        cand = self._state()["candidate"]
        if cand.n_errors:
            errs = [f"  {r['id']}: {r.get('error')}" for r in cand.rows if r.get("error")][:5]
            raise HarnessFailure(f"{cand.n_errors} example(s) failed in {cand.directory} (rerun to retry them):\n" + "\n".join(errs))


class GateItem(_SuiteItem):
    def __init__(self, *, gate: Any, rule: str = "", **kw: Any):
        super().__init__(**kw)
        self.gate = gate
        self.rule = rule  # the rule's own words, as `harness gate` prints them

    def runtest(self) -> None:
        from harness.core.errors import HarnessError
        from harness.integrations.pytest.runs import evaluate, failure_text

        state = self._state()
        try:
            results = evaluate(self.gate, state["candidate"], state["baseline"])
        except HarnessError as e:  # the baseline cannot be compared with (another suite, dataset or split)
            _usage_error(e)
        if results is None:
            pytest.skip(f"rule {self.gate.rule} compares with a baseline: give --harness-baseline RUN_DIR_OR_MODEL")
        failed = [r for r in results if r.blocks]
        if failed:
            raise HarnessFailure("\n\n".join(failure_text(r, state["candidate"], state["baseline"]) for r in failed))
        undecided = [r for r in results if r.undecided]
        if undecided:  # the data cannot tell: neither a pass nor a failure (JUnit: skipped; `harness gate`: exit 5)
            pytest.skip("INCONCLUSIVE " + "; ".join(f"{r.name}: {r.explanation}" for r in undecided))
        adv = [r for r in results if r.verdict == "advisory-fail"]
        if adv:
            import warnings

            for r in adv:
                warnings.warn(f"advisory rule failed (not blocking): {r.name}: {r.explanation}", stacklevel=1)
