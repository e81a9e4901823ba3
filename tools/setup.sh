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
