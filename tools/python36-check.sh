#!/usr/bin/env bash
# JetPack 4.6's Python route, checked here: the module built by plain CMake
# (-DTX2YOLO_PYTHON=ON, no pip) against Python 3.6 and pybind11 2.12.0 (the
# last release for 3.6), with numpy 1.19.5 (the last for 3.6), then the same
# pytest suite (pytest 7.0.1, pillow 8.4.0) against the CLI in BUILD_DIR.
# Python 3.6 is looked for as $TX2YOLO_PYTHON36, python3.6 on PATH or
# pyenv's; without one, or where PyPI cannot be reached, it skips (77).
# CPU only (no CUDA), x86: the board itself is not checked.
#   tools/python36-check.sh BUILD_DIR [CMAKE]
set -euo pipefail
cd "$(dirname "$0")/.."
build="$(cd "$1" && pwd)"
cmake_bin="${2:-cmake}"
# The first candidate that runs and is 3.6 (a pyenv shim may exist but not run).
py36=""
for c in "${TX2YOLO_PYTHON36:-}" "$(command -v python3.6 || true)" "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.6*/bin/python3.6; do
  if [ -n "$c" ] && [ -x "$c" ] && "$c" -c 'import sys; assert sys.version_info[:2] == (3, 6)' >/dev/null 2>&1; then
    py36="$c"; break
  fi
done
if [ -z "$py36" ]; then echo "python36-check: no Python 3.6 here; skipped"; exit 77; fi
pins=(pybind11==2.12.0 numpy==1.19.5 pytest==7.0.1 pillow==8.4.0)
venv="${TX2YOLO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tx2yolo}/python36-venv"
if [ ! -x "$venv/bin/pytest" ]; then
  if ! { "$py36" -m venv "$venv" && "$venv/bin/pip" install -q "pip<22" && "$venv/bin/pip" install -q "${pins[@]}"; } \
       >/dev/null 2>&1; then
    rm -rf "$venv"
    echo "python36-check: cannot install ${pins[*]} for Python 3.6 from PyPI here; skipped"
    exit 77
  fi
fi
out="$build/python36"
"$cmake_bin" -S . -B "$out" -DCMAKE_BUILD_TYPE=Release -DTX2YOLO_PYTHON=ON -DTX2YOLO_CUDA=OFF -DTX2YOLO_BUILD_TESTS=OFF \
  -DTX2YOLO_BUILD_BENCH=OFF -DTX2YOLO_BUILD_CLI=OFF -DPython_EXECUTABLE="$venv/bin/python" >"$build/python36-configure.log" 2>&1 ||
  { echo "error: configuring the Python 3.6 module failed:"; tail -20 "$build/python36-configure.log"; exit 1; }
"$cmake_bin" --build "$out" -j"$(nproc 2>/dev/null || echo 2)" >"$build/python36-build.log" 2>&1 ||
  { echo "error: building the Python 3.6 module failed:"; tail -30 "$build/python36-build.log"; exit 1; }
"$venv/bin/python" --version
cd python/tests
PYTHONPATH="$out/python" TX2YOLO_CLI="$build/tx2yolo" "$venv/bin/python" -m pytest -q -p no:cacheprovider .
