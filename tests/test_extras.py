"""A command whose optional package is missing says so, with the pip command, before any work starts.
Each case runs in a subprocess that hides the package (``sys.modules[name] = None``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

HIDE = "import sys\nfor n in {hidden!r}: sys.modules[n] = None\nfrom harness.cli.main import main\nsys.exit(main({argv!r}))\n"


def run_hidden(hidden: list[str], argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", HIDE.format(hidden=hidden, argv=argv)], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(cwd)})


@pytest.fixture
def project(tmp_path: Path) -> Path:
    from harness.cli import main

    assert main(["init", str(tmp_path), "--name", "x"]) == 0
    return tmp_path


@pytest.mark.parametrize("hidden, argv, says", [
    (["mlflow"], ["run", "suite.yaml", "--model", "scripted:outputs.json", "--track", "mlflow"],
     "error: --track mlflow needs mlflow, which is not installed: pip install 'finetune-harness[tracking]'"),
    (["torch"], ["run", "suite.yaml", "--model", "local"],
     "error: --model local (a model run in-process) needs torch, which is not installed: pip install 'finetune-harness[local]'"),
    (["torch", "transformers"], ["gate", "suite.yaml", "--baseline", "local:smollm2?adapter=a", "--candidate", "local"],
     "needs torch and transformers, which are not installed: pip install 'finetune-harness[local]'"),
    (["ray"], ["run", "suite.yaml", "--model", "scripted:outputs.json", "--executor", "ray"],
     "error: --executor ray needs ray, which is not installed: pip install 'finetune-harness[ray]'"),
    (["ray"], ["run", "suite.yaml", "--model", "scripted:outputs.json?executor=ray"],
     "(executor: ray) needs ray, which is not installed: pip install 'finetune-harness[ray]'"),
])
def test_a_missing_extra_stops_the_command_before_it_runs(project: Path, hidden, argv, says) -> None:
    res = run_hidden(hidden, argv, project)
    assert res.returncode == 2, res.stderr
    assert says in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert not (project / "reports").exists()  # nothing was run or written


def test_init_says_pytest_is_missing(tmp_path: Path) -> None:
    res = run_hidden(["pytest"], ["init", str(tmp_path / "p")], tmp_path)
    assert res.returncode == 0, res.stderr
    first = res.stdout.splitlines()[0]
    assert first == ("note: test_suite.py needs pytest, which is not installed: pip install 'finetune-harness[pytest]' "
                     "(in a clone: pip install -e '.[pytest]')")


def test_with_everything_installed_the_run_goes_ahead(project: Path) -> None:
    res = run_hidden([], ["run", "suite.yaml", "--model", "scripted:outputs.json", "--no-progress"], project)
    assert res.returncode == 0, res.stderr
