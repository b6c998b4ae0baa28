"""`make try` installs the core dependencies only (scripts/setup.sh --core): `harness quickstart` must
run with them alone. The closure of pyproject's [project] dependencies (their own requirements,
without extras) is computed from what is installed here, every other installed module is made
unimportable, and the tour must still reach its verdict. pyarrow, read for every run record, was
missing from them (a fresh clone's `make try` stopped with ModuleNotFoundError)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from tests.deps import requires_module

ROOT = Path(__file__).resolve().parents[1]


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure(roots: list[str]) -> set[str]:
    requires_module("packaging", "pip install packaging")
    from packaging.requirements import Requirement

    seen: set[str] = set()
    todo = [Requirement(r) for r in roots]
    while todo:
        req = todo.pop()
        name = _norm(req.name)
        if name in seen or (req.marker is not None and not req.marker.evaluate({"extra": ""})):
            continue
        seen.add(name)
        try:
            todo += [Requirement(r) for r in metadata.requires(req.name) or []]
        except metadata.PackageNotFoundError:
            pass  # not installed here: nothing imported can come from it
    return seen


BLOCKER = """
import importlib.abc, json, sys
blocked = set(json.loads(sys.argv[2]))
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r} (not a core dependency)", name=name)
        return None
sys.meta_path.insert(0, Blocker())
from harness.cli.main import main
rc = main(["quickstart", sys.argv[1]])
print(json.dumps(rc))
"""


def test_quickstart_runs_with_the_core_dependencies_only(tmp_path: Path) -> None:
    """Every installed module outside that closure made unimportable (as in a core-only venv), the
    tour still runs to its verdict."""
    core = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    allowed = _closure(core)
    blocked = sorted(m for m, ds in metadata.packages_distributions().items()
                     if m not in sys.stdlib_module_names and m != "harness" and not {_norm(d) for d in ds} & allowed)
    assert "torch" in blocked or "torch" not in metadata.packages_distributions()
    out = subprocess.run([sys.executable, "-c", BLOCKER, str(tmp_path / "qs"), json.dumps(blocked)], capture_output=True,
                         text=True, timeout=300, cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)})
    assert out.returncode == 0 and out.stdout.strip().splitlines()[-1] == "0", out.stdout[-2000:] + out.stderr[-3000:]
    assert "verdict: PROMOTE" in out.stdout and (tmp_path / "qs" / "reports" / "gate" / "report.html").is_file()
