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
# JetPack 4.6 (Ubuntu 18.04) as well: no CLI11 or nlohmann-json 3 package and
# GoogleTest as source only, so cmake/deps.cmake's fallbacks are taken. The
# packages are hidden from find_package; the fallbacks read local copies laid
# out as the pinned upstream trees are (include/CLI, include/nlohmann), where
# a board would download them, and GoogleTest from /usr/src/googletest.
fallbacks=()
if [ -d /usr/include/CLI ] && [ -d /usr/include/nlohmann ] && [ -f /usr/src/googletest/CMakeLists.txt ]; then
  trees="$build/fallback-sources"
  mkdir -p "$trees/cli11/include" "$trees/nlohmann_json/include"
  ln -sfn /usr/include/CLI "$trees/cli11/include/CLI"
  ln -sfn /usr/include/nlohmann "$trees/nlohmann_json/include/nlohmann"
  fallbacks=(-DCMAKE_DISABLE_FIND_PACKAGE_CLI11=ON -DCMAKE_DISABLE_FIND_PACKAGE_nlohmann_json=ON
             -DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON
             -DFETCHCONTENT_SOURCE_DIR_CLI11="$trees/cli11" -DFETCHCONTENT_SOURCE_DIR_NLOHMANN_JSON="$trees/nlohmann_json")
fi
"$venv/bin/cmake" -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DTX2YOLO_CUDA=OFF -DTX2YOLO_BUILD_BENCH=OFF \
  "${fallbacks[@]}" >"$build.configure.log" 2>&1 || { tail -20 "$build.configure.log"; exit 1; }
if [ ${#fallbacks[@]} -gt 0 ]; then
  for what in "CLI11 not found as a package" "nlohmann_json not found as a package" "GoogleTest built from the source"; do
    grep -q "$what" "$build.configure.log" || { echo "error: the fallback was not taken: $what" >&2; exit 1; }
  done
fi
"$venv/bin/cmake" --build "$build" -j"$(nproc 2>/dev/null || echo 2)" -- --no-print-directory >"$build.build.log" 2>&1 ||
  { grep -E "error|Error" "$build.build.log" | head -20; exit 1; }
# What was built runs: the demo, and the CLI and end-to-end tests.
"$build/tx2yolo" detect assets/demo.jpg --backend cpu --json "$build/demo.json" >/dev/null
"$build/tests/tx2yolo_tests" --gtest_filter='EndToEnd.*:Cli.*' --gtest_brief=1 | tail -3
echo "min-cmake-check: cmake $version configured and built tx2yolo, its libraries and the CPU tests (no CUDA) in $build${fallbacks:+, with the JetPack fallbacks (CLI11 and nlohmann-json headers from pinned-tag trees, GoogleTest from source)}"
