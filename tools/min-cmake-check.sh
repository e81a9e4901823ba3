#!/usr/bin/env bash
# The oldest CMake the project declares (cmake_minimum_required) configures
# and builds it: that cmake, pinned, from PyPI in a venv (cached), then a
# CPU-only build of every library, the CLI and the CPU tests. The CTest
# MinimumCMake.ConfiguresAndBuilds runs it; it skips (77) where PyPI cannot
# be reached.
#   tools/min-cmake-check.sh [BUILD_DIR]        (default build-mincmake)
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(sed -n 's/^cmake_minimum_required(VERSION \([0-9.]*\)).*/\1/p' CMakeLists.txt)
pin="cmake==3.18.4.post1"  # the newest 3.18 release on PyPI: keep it at cmake_minimum_required
case "$pin" in
  "cmake==$version".*) ;;
  *) echo "error: $pin does not match cmake_minimum_required($version) in CMakeLists.txt" >&2; exit 1 ;;
esac
venv="${TX2YOLO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tx2yolo}/cmake-$version-venv"
if [ ! -x "$venv/bin/cmake" ]; then
  if ! { python3 -m venv "$venv" && "$venv/bin/pip" install -q "$pin"; } >/dev/null 2>&1; then
    rm -rf "$venv"
    echo "min-cmake-check: cannot install $pin from PyPI here; skipped"
    exit 77
  fi
fi
build="${1:-build-mincmake}"
"$venv/bin/cmake" --version | head -1
"$venv/bin/cmake" -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DTX2YOLO_CUDA=OFF -DTX2YOLO_BUILD_BENCH=OFF >/dev/null
"$venv/bin/cmake" --build "$build" -j"$(nproc 2>/dev/null || echo 2)" -- --no-print-directory >/dev/null
echo "min-cmake-check: cmake $version configured and built tx2yolo, its libraries and the CPU tests (no CUDA) in $build"
