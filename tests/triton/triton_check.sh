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
venv="${TX2YOLO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tx2yolo}/triton-venv"
pins=("nvidia-pytriton==0.7.0" "tritonclient[http,grpc]==2.73.0" "numpy==1.26.4" "opencv-python-headless==4.10.0.84")
if ! "$venv/bin/python" -c "import pytriton, tritonclient.grpc, tritonclient.http, cv2" 2>/dev/null; then
  if ! { python3 -m venv "$venv" && "$venv/bin/pip" install -q "${pins[@]}"; } >/dev/null 2>&1; then
    echo "triton-check: cannot install ${pins[*]} from PyPI here; skipped"
    exit 77
  fi
fi
site=$("$venv/bin/python" -c "import pytriton, os; print(os.path.dirname(os.path.dirname(pytriton.__file__)))")
server="$site/pytriton/tritonserver/bin/tritonserver"
[ -x "$server" ] || { echo "error: no tritonserver in $site/pytriton"; exit 1; }
[ -f "$build/triton/libtriton_tx2yolo.so" ] || { echo "error: $build/triton/libtriton_tx2yolo.so not built"; exit 1; }

tmp=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/backends/tx2yolo" "$tmp/cli"
cp "$build/triton/libtriton_tx2yolo.so" "$tmp/backends/tx2yolo/"
"$build/tx2yolo" triton-repo models/demo.safetensors -o "$tmp/repo" --kind cpu --threads 1 --max-batch 4 || exit 1
images=(assets/demo.jpg tests/data/shapes_voc/JPEGImages/test_00017.jpg tests/data/shapes_voc/JPEGImages/test_00052.jpg)
for im in "${images[@]}"; do
  "$build/tx2yolo" detect "$im" --backend cpu --threads 1 --json "$tmp/cli/$(basename "$im").json" >/dev/null || exit 1
done
read -r http grpc metrics < <("$venv/bin/python" -c "
import socket
s = [socket.socket() for _ in range(3)]
for x in s: x.bind(('127.0.0.1', 0))
print(*[x.getsockname()[1] for x in s])")
LD_LIBRARY_PATH="$site/nvidia_pytriton.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$server" \
  --model-repository "$tmp/repo" --backend-directory "$tmp/backends" \
  --http-address 127.0.0.1 --http-port "$http" --grpc-address 127.0.0.1 --grpc-port "$grpc" \
  --metrics-port "$metrics" --allow-metrics false --exit-timeout-secs 2 >"$tmp/server.log" 2>&1 &
server_pid=$!
ready=0
for _ in $(seq 120); do
  if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
  if "$venv/bin/python" -c "
import sys, tritonclient.http as h
c = h.InferenceServerClient('127.0.0.1:$http')
sys.exit(0 if c.is_server_ready() and c.is_model_ready('tx2yolo') else 1)" 2>/dev/null; then ready=1; break; fi
  sleep 0.5
done
if [ $ready != 1 ]; then
  echo "error: tritonserver did not become ready; its log:"; tail -30 "$tmp/server.log"; exit 1
fi
echo "ok: tritonserver loaded the tx2yolo backend and the model"
"$venv/bin/python" tests/triton/triton_client.py "127.0.0.1:$http" "127.0.0.1:$grpc" tx2yolo "$tmp/cli" "${images[@]}"
rc=$?
if ! kill -0 "$server_pid" 2>/dev/null; then echo "FAIL: the server died"; tail -30 "$tmp/server.log"; rc=1; fi
[ $rc = 0 ] || { echo "server log:"; tail -30 "$tmp/server.log"; }
exit $rc
