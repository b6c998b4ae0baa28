"""The wheel built from this tree holds the package and its data, and no test code (the fakes live in
tests/fakes/, outside the package)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.deps import requires_module

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_holds_no_test_fakes(tmp_path: Path):
    requires_module("setuptools", "pip install setuptools")
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                          "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    (wheel,) = tmp_path.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    files = [n for n in names if ".dist-info/" not in n]
    assert "harness/evaluate/run.py" in files and "harness/schemas/suite.schema.json" in files
    assert "harness/pricing/openai.yaml" in files
    test_code = [n for n in files if not n.startswith("harness/") or "fake" in n or "/testing/" in n]
    assert not test_code, f"test code in the wheel: {test_code}"
    roots = sorted({n.split("/")[1] for n in files if n.count("/") == 1 and n.endswith(".py")})
    assert roots == ["__init__.py"], f"modules at the package root of the wheel: {roots}"
