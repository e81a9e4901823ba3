#!/usr/bin/env bash
# The host code on aarch64 (the TX2's CPU), from this x86-64 machine:
# cross-compiles every library, the CLI (without CUDA) and the CPU tests with
# Debian's g++-aarch64-linux-gnu against an arm64 sysroot of Debian's own
# packages (tools/aarch64-sysroot.sh), then runs the CPU tests under
# qemu-aarch64 (user-mode emulation). The tests that run the CLI run the
# aarch64 CLI under qemu too (tests/CMakeLists.txt prefixes the emulator).
#
#   tools/aarch64-check.sh [BUILD_DIR] [GTEST_FILTER]
# BUILD_DIR defaults to build-aarch64. GTEST_FILTER (default: every CPU test)
# picks a subset, e.g. 'Conv2d*:EndToEnd*'. The CTest Aarch64.CrossBuildAndQemuTests
# runs it. Exits 77 (a skip) where the cross compiler, qemu or the arm64
# packages cannot be had.
#
# What emulation does and does not show: the code builds for aarch64 with
# GCC's aarch64 back end, runs there with aarch64's char signedness,
# alignment, FMA contraction and OpenBLAS's NEON kernels, and gives the
# reference results within the tests' tolerances. It says nothing about
# speed, and it is not a Cortex-A57 or Denver2: a board run is still needed
# for timing.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build-aarch64}"
filter="${2:-*}"
for tool in aarch64-linux-gnu-g++ qemu-aarch64; do
  if ! command -v "$tool" >/dev/null; then
    echo "aarch64-check: $tool not found (tools/install-deps.sh installs g++-aarch64-linux-gnu and qemu-user); skipped"
    exit 77
  fi
done
set +e
sysroot=$(tools/aarch64-sysroot.sh | tail -1)
rc=$?
set -e
if [ $rc -ne 0 ]; then exit $rc; fi
jobs=$(nproc 2>/dev/null || echo 2)
start=$(date +%s)
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/toolchain-aarch64.cmake" \
  -DTX2YOLO_AARCH64_SYSROOT="$sysroot" -DTX2YOLO_CUDA=OFF -DTX2YOLO_BUILD_BENCH=OFF >"$build.configure.log" 2>&1 ||
  { tail -20 "$build.configure.log"; echo "error: configuring the aarch64 build failed" >&2; exit 1; }
cmake --build "$build" -j"$jobs" -- --no-print-directory >"$build.build.log" 2>&1 ||
  { grep -E "error|Error" "$build.build.log" | head -20; echo "error: the aarch64 build failed (log: $build.build.log)" >&2; exit 1; }
built=$(date +%s)
file "$build/tx2yolo" | grep -q "ARM aarch64" || { echo "error: $build/tx2yolo is not an aarch64 executable" >&2; exit 1; }
echo "aarch64-check: cross-built in $((built - start)) s: $(file -b "$build/tx2yolo" | cut -d, -f1-2)"
# The CLI itself, under emulation: the demo detection.
qemu-aarch64 -L "$sysroot" "$build/tx2yolo" detect assets/demo.jpg --backend cpu --json "$build/demo.json" >"$build/demo.txt"
echo "aarch64-check: tx2yolo detect on the demo image under qemu-aarch64: $(grep -c '"score"' "$build/demo.json") detections"
# The CPU tests: one process under the emulator.
# Emulation is several times slower: the tests' wall-time limits are stretched.
TX2YOLO_TEST_TIME_SCALE=10 TX2YOLO_TEST_EMULATED=1 qemu-aarch64 -L "$sysroot" "$build/tests/tx2yolo_tests" --gtest_filter="$filter" --gtest_brief=1 2>&1 | tail -40
rc=${PIPESTATUS[0]}
echo "aarch64-check: tests ($filter) under qemu-aarch64 in $(( $(date +%s) - built )) s, exit $rc"
exit "$rc"
