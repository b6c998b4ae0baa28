"""The built-in metric list (harness.metrics.base.BUILTIN_METRICS, name -> module) and the
``@metric("name")`` decorators in harness/metrics/*.py name exactly the same metrics.

The list cannot be derived from the decorators: it is what lets a suite that names two metrics
import two modules, not all of them (the registry imports a module on first lookup). So this test
holds the two together, both directions, by reading the source and by importing it.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import harness.metrics as metrics_pkg
from harness.metrics.base import BUILTIN_METRICS, METRICS


def _decorated() -> dict[str, str]:
    """name -> module of every ``@metric("name")`` in the package's source."""
    out: dict[str, str] = {}
    for f in sorted(Path(metrics_pkg.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ClassDef):
                continue
            for d in node.decorator_list:
                if isinstance(d, ast.Call) and isinstance(d.func, ast.Name) and d.func.id == "metric":
                    (arg,) = d.args
                    assert isinstance(arg, ast.Constant) and isinstance(arg.value, str), (f, ast.dump(d))
                    assert arg.value not in out, f"metric {arg.value!r} is decorated twice"
                    out[arg.value] = f.stem
    return out


def test_every_listed_metric_is_decorated_in_its_module_and_every_decorated_one_is_listed() -> None:
    decorated = _decorated()
    assert sorted(set(BUILTIN_METRICS) - set(decorated)) == [], "listed but no @metric for it"
    assert sorted(set(decorated) - set(BUILTIN_METRICS)) == [], "an @metric missing from BUILTIN_METRICS"
    assert decorated == BUILTIN_METRICS  # and each in the module the list names


def test_importing_each_listed_module_registers_exactly_its_listed_names() -> None:
    for module in sorted(set(BUILTIN_METRICS.values())):
        importlib.import_module(f"harness.metrics.{module}")
    registered = {name: cls.__module__.removeprefix("harness.metrics.")
                  for name, cls in METRICS.items() if cls.__module__.startswith("harness.metrics.")}
    assert registered == BUILTIN_METRICS
    for name, module in BUILTIN_METRICS.items():
        assert METRICS.get(name).name == name and METRICS.get(name).__module__ == f"harness.metrics.{module}"
