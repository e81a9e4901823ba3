#!/usr/bin/env bash
# The Triton backend against a real server: PyPI's nvidia-pytriton 0.7.0
# bundles tritonserver 2.51 (CPU here); tritonclient 2.73 talks to it. Both
# go into a cached venv. The server runs on 127.0.0.1 only, with the
# repository `tx2yolo triton-repo` writes and libtriton_tx2yolo.so as the
# tx2yolo backend; tests/triton/triton_client.py then sends the demo image
# and two photographs over HTTP and gRPC (detections equal to detect --json)
# and bad requests (INVALID_ARGUMENT, the server still serving).
#   tests/triton/triton_check.sh BUILD_DIR
# Exits 77 (a skip) where the packages cannot be installed from PyPI.
set -uo pipefail
cd "$(dirname "$0")/../.."
build="$1"
. tools/triton-lib.sh
triton_venv || exit $?
tmp=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
triton_prepare "$build" "$tmp" --threads 1 --max-batch 4 || exit 1
# A second model whose config overrides the NMS score threshold.
"$build/tx2yolo" triton-repo models/demo.safetensors -o "$tmp/repo" --name tx2yolo_strict --kind cpu --threads 1 \
  --param score_threshold=0.5 >/dev/null || exit 1
mkdir -p "$tmp/cli" "$tmp/cli-strict"
images=(assets/demo.jpg tests/data/shapes_voc/JPEGImages/test_00017.jpg tests/data/shapes_voc/JPEGImages/test_00052.jpg)
for im in "${images[@]}"; do
  "$build/tx2yolo" detect "$im" --backend cpu --threads 1 --json "$tmp/cli/$(basename "$im").json" >/dev/null || exit 1
  "$build/tx2yolo" detect "$im" --backend cpu --threads 1 --score-threshold 0.5 \
    --json "$tmp/cli-strict/$(basename "$im").json" >/dev/null || exit 1
done
triton_start "$tmp"
if ! triton_wait_ready; then
  echo "error: tritonserver did not become ready; its log:"; tail -30 "$tmp/server.log"; exit 1
fi
echo "ok: tritonserver loaded the tx2yolo backend and the model"
"$venv/bin/python" tests/triton/triton_client.py "127.0.0.1:$http" "127.0.0.1:$grpc" tx2yolo "$tmp/cli" "${images[@]}" &&
  "$venv/bin/python" tests/triton/triton_client.py --only-compare "127.0.0.1:$http" "127.0.0.1:$grpc" tx2yolo_strict \
    "$tmp/cli-strict" "${images[@]}"
rc=$?
if ! kill -0 "$server_pid" 2>/dev/null; then echo "FAIL: the server died"; tail -30 "$tmp/server.log"; rc=1; fi
[ $rc = 0 ] || { echo "server log:"; tail -30 "$tmp/server.log"; }
exit $rc
