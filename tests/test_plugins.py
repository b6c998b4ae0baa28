"""The ``harness.plugins`` entry-point group, with a real installed distribution: a tiny package built
and installed by pip in the test, whose metric then validates and scores in a suite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.deps import requires_module

ROOT = Path(__file__).resolve().parent.parent

PLUGIN = '''
from harness.core.types import Item, ScoreValue
from harness.metrics.base import Metric, ScoreSpec, metric


@metric("shout")
class Shout(Metric):
    """1 when the output is all upper case."""

    def scores(self):
        return [ScoreSpec("shouted", binary=True, description="the output is in capitals")]

    def score_batch(self, items: list[Item]) -> list[dict[str, ScoreValue]]:
        return [{"shouted": float(bool(i.output) and i.output.isupper())} for i in items]
'''

SUITE = """\
name: plugin-suite
version: 1
dataset: {format: jsonl, splits: {test: test.jsonl}, fields: {id: id, input: text, reference: label}}
prompt: {messages: [{role: user, content: "{{ text }}"}]}
metrics: [{name: shout}]
"""


def _install(tmp: Path) -> Path:
    src = tmp / "src"
    (src / "harness_shout").mkdir(parents=True)
    (src / "harness_shout" / "__init__.py").write_text(PLUGIN, encoding="utf-8")
    (src / "pyproject.toml").write_text(textwrap.dedent("""\
        [build-system]
        requires = ["setuptools>=77"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "harness-shout"
        version = "0.0.1"
        [project.entry-points."harness.plugins"]
        shout = "harness_shout"
        [tool.setuptools]
        packages = ["harness_shout"]
        """), encoding="utf-8")
    site = tmp / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                           "--target", str(site), str(src)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (site / "harness_shout").is_dir() and list(site.glob("harness_shout-*.dist-info"))
    return site


def test_an_installed_plugin_registers_its_metric_through_the_entry_point(tmp_path: Path):
    requires_module("setuptools", "pip install setuptools")
    site = _install(tmp_path)
    project = tmp_path / "project"
    project.mkdir()
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    (project / "suite.yaml").write_text(SUITE, encoding="utf-8")
    (project / "test.jsonl").write_text("".join(json.dumps({"id": f"e{i}", "text": t, "label": t}) + "\n"
                                                for i, t in enumerate(["LOUD", "quiet"])), encoding="utf-8")
    (project / "outputs.jsonl").write_text("".join(json.dumps({"id": f"e{i}", "output": t}) + "\n"
                                                   for i, t in enumerate(["LOUD", "quiet"])), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI")}
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(ROOT)])

    def harness(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=project, env=env,
                              capture_output=True, text=True, timeout=300)

    listed = harness("list", "metrics")
    assert listed.returncode == 0 and "shout" in listed.stdout, listed.stdout + listed.stderr
    ran = harness("run", "suite.yaml", "--model", "scripted:outputs.jsonl", "--out", "runs")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    (summary,) = (project / "runs").rglob("summary.json")
    entry = json.loads(summary.read_text())["metrics"]["shouted"]
    assert entry["mean"] == 0.5 and entry["n"] == 2

    # without the distribution on the path the same suite names an unknown metric (exit 2)
    env["PYTHONPATH"] = str(ROOT)
    refused = harness("validate", "suite.yaml")
    assert refused.returncode == 2 and "shout" in refused.stdout + refused.stderr
