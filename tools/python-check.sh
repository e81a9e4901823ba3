#!/usr/bin/env bash
# The Python package as a user installs it: `pip install .` into a venv
# (cached), then the pytest suite in python/tests against the CLI in
# BUILD_DIR. The CTest Python.PipInstallAndPytest runs it; it skips (77)
# where PyPI cannot be reached. The module is built without CUDA here
# (TX2YOLO_PYTHON_CUDA=AUTO to build it as a user's pip install does), into
# BUILD_DIR/python-wheel so that a rerun rebuilds only what changed.
#   tools/python-check.sh BUILD_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
build="$(cd "$1" && pwd)"
pins=(numpy==2.1.3 pytest==8.3.4 pillow==11.0.0)
venv="${TX2YOLO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tx2yolo}/python-venv"
if [ ! -x "$venv/bin/pytest" ]; then
  if ! { python3 -m venv "$venv" && "$venv/bin/pip" install -q "${pins[@]}"; } >/dev/null 2>&1; then
    rm -rf "$venv"
    echo "python-check: cannot install ${pins[*]} from PyPI here; skipped"
    exit 77
  fi
fi
"$venv/bin/pip" install -q --no-deps . -Ccmake.define.TX2YOLO_CUDA="${TX2YOLO_PYTHON_CUDA:-OFF}" \
  -Cbuild-dir="$build/python-wheel" >"$build/python-pip.log" 2>&1 ||
  { echo "error: pip install . failed:"; tail -30 "$build/python-pip.log"; exit 1; }
cd python/tests  # not the source folder: the installed package is the one tested
TX2YOLO_CLI="$build/tx2yolo" "$venv/bin/python" -m pytest -q -p no:cacheprovider .
