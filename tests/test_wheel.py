"""The wheel built from this tree holds the package and its data, and no test code (the fakes live in
tests/fakes/, outside the package); it installs into a fresh virtual environment under its PyPI name
and runs `harness quickstart` to a verdict there."""

from __future__ import annotations

import os
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.deps import requires_module

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    requires_module("setuptools", "pip install setuptools")
    out_dir = tmp_path_factory.mktemp("wheel")
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                          "-w", str(out_dir), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    (whl,) = out_dir.glob("*.whl")
    return whl


def test_the_wheel_holds_no_test_fakes(wheel: Path):
    names = zipfile.ZipFile(wheel).namelist()
    files = [n for n in names if ".dist-info/" not in n]
    assert "harness/evaluate/run.py" in files and "harness/schemas/suite.schema.json" in files
    assert "harness/pricing/openai.yaml" in files
    test_code = [n for n in files if not n.startswith("harness/") or "fake" in n or "/testing/" in n]
    assert not test_code, f"test code in the wheel: {test_code}"
    roots = sorted({n.split("/")[1] for n in files if n.count("/") == 1 and n.endswith(".py")})
    assert roots == ["__init__.py"], f"modules at the package root of the wheel: {roots}"


def test_the_wheel_is_named_for_pypi_and_installs_and_runs_quickstart(wheel: Path, tmp_path: Path):
    # `harness` on PyPI is another project: the distribution is finetune-harness, the import and command harness
    assert wheel.name.startswith("finetune_harness-"), wheel.name
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    purelib = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}  # the tree is not on the path
    env["PATH"] = f"{venv / 'bin'}:/usr/bin:/bin"
    inst = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index", "-q",
                           str(wheel)], capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert inst.returncode == 0, inst.stderr[-2000:]
    assert (purelib / "harness" / "__init__.py").is_file(), inst.stdout + inst.stderr
    # the light dependencies from this interpreter's site-packages (a path line: its .pth files, such as an
    # editable install of this tree, are not run), so nothing is downloaded; added after the install
    (purelib / "deps-from-test-env.pth").write_text("\n".join([*site.getsitepackages(), sysconfig.get_paths()["purelib"]]) + "\n")
    where = subprocess.run([str(py), "-c", "import harness, importlib.metadata as m; print(harness.__file__); "
                            "print(m.version('finetune-harness'))"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert where.returncode == 0, where.stderr[-2000:]
    file, version = where.stdout.split()
    assert Path(file).is_relative_to(venv) and version == "0.1.0"
    res = subprocess.run([str(venv / "bin" / "harness"), "quickstart", str(tmp_path / "qs")], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert "verdict: PROMOTE (exit 0)" in res.stdout
    assert (tmp_path / "qs" / "reports" / "gate" / "report.html").is_file()
