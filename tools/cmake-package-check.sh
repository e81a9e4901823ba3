#!/usr/bin/env bash
# The installable CMake package, checked as a user would use it: installs
# the build folder into a fresh prefix, configures and builds examples/cpp
# against it with find_package(tx2yolo), runs it on the bundled demo model
# and image on the CPU, and compares its detections with `tx2yolo detect
# --json` (same class names, scores within 1e-5, corners within 1e-3 px).
#   tools/cmake-package-check.sh BUILD_DIR [CMAKE]
set -euo pipefail
cd "$(dirname "$0")/.."
build="$1"
cmake_bin="${2:-cmake}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$cmake_bin" --install "$build" --prefix "$work/prefix" >"$work/install.log" 2>&1 ||
  { echo "error: cmake --install failed:"; tail -20 "$work/install.log"; exit 1; }
test -f "$work/prefix/lib/cmake/tx2yolo/tx2yoloConfig.cmake" || { echo "error: no tx2yoloConfig.cmake installed"; exit 1; }
test -f "$work/prefix/include/tx2yolo/engine/detector.h" || { echo "error: engine/detector.h not installed"; exit 1; }
"$cmake_bin" -S examples/cpp -B "$work/example" -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release \
  >"$work/configure.log" 2>&1 || { echo "error: the example did not configure:"; tail -30 "$work/configure.log"; exit 1; }
"$cmake_bin" --build "$work/example" -j2 >"$work/build.log" 2>&1 ||
  { echo "error: the example did not build:"; tail -30 "$work/build.log"; exit 1; }
"$work/example/detect_image" models/demo.safetensors assets/demo.jpg cpu >"$work/example.txt"
"$build/tx2yolo" detect assets/demo.jpg --model models/demo.safetensors --backend cpu --json "$work/cli.json" >/dev/null
python3 - "$work/example.txt" "$work/cli.json" <<'PY'
import json, sys
lines = [l.split() for l in open(sys.argv[1]) if l.strip()]
cli = json.load(open(sys.argv[2]))
assert len(lines) == len(cli) > 0, "%d example detections, %d from the CLI" % (len(lines), len(cli))
for got, want in zip(lines, cli):
    x, y, w, h = want["bbox"]
    name, score, box = got[0], float(got[1]), [float(v) for v in got[2:6]]
    assert name == want["category_name"], (name, want["category_name"])
    assert abs(score - want["score"]) <= 1e-5, (score, want["score"])
    for a, b in zip(box, (x, y, x + w, y + h)):
        assert abs(a - b) <= 1e-3, (box, want["bbox"])
print("the installed package's example gave the CLI's %d detections" % len(cli))
PY
