#!/usr/bin/env bash
# One step from a fresh clone to a built tx2yolo: installs missing packages
# (tools/install-deps.sh), configures and builds into build/. Idempotent; a
# second run only rebuilds what changed. Extra arguments go to CMake, e.g.
#   tools/setup.sh -DTX2YOLO_CUDA=OFF
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build build -j"$jobs"
# The fuzz targets (fuzz/, libFuzzer with ASan and UBSan): a second build,
# CPU-only and compiled by clang, which the Fuzz.* tests run. Skipped where
# clang cannot link libFuzzer (then those tests skip too), or with
# TX2YOLO_FUZZ=0.
if [ "${TX2YOLO_FUZZ:-1}" != 0 ] && command -v clang++ >/dev/null &&
   printf 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n' |
     clang++ -fsanitize=fuzzer -x c++ - -o /dev/null 2>/dev/null; then
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTX2YOLO_FUZZ=ON \
    -DTX2YOLO_CUDA=OFF -DTX2YOLO_BUILD_TESTS=OFF -DTX2YOLO_BUILD_BENCH=OFF -DTX2YOLO_WERROR=OFF >/dev/null
  cmake --build build-fuzz --target fuzz_targets -j"$jobs"
else
  echo "setup: no fuzz targets (clang with libFuzzer not found, or TX2YOLO_FUZZ=0)"
fi
