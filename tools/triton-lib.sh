# Shared by tests/triton/triton_check.sh and bench/triton_load.sh (sourced):
# the pinned PyPI venv with a real tritonserver, a model repository for the
# tx2yolo backend, and a server on 127.0.0.1.
#   triton_venv                 sets $venv, $site, $server; returns 77 without PyPI
#   triton_prepare BUILD DIR    DIR/backends/tx2yolo/libtriton_tx2yolo.so and DIR/repo (CPU instance)
#   triton_start DIR            starts the server on free ports: $server_pid, $http, $grpc
#   triton_wait_ready           0 once the server and the model are ready (60 s at most)
triton_venv() {
  venv="${TX2YOLO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tx2yolo}/triton-venv"
  local pins=("nvidia-pytriton==0.7.0" "tritonclient[http,grpc]==2.73.0" "numpy==1.26.4" "opencv-python-headless==4.10.0.84")
  if ! "$venv/bin/python" -c "import pytriton, tritonclient.grpc, tritonclient.http, cv2" 2>/dev/null; then
    if ! { python3 -m venv "$venv" && "$venv/bin/pip" install -q "${pins[@]}"; } >/dev/null 2>&1; then
      echo "triton: cannot install ${pins[*]} from PyPI here; skipped"
      return 77
    fi
  fi
  site=$("$venv/bin/python" -c "import pytriton, os; print(os.path.dirname(os.path.dirname(pytriton.__file__)))")
  server="$site/pytriton/tritonserver/bin/tritonserver"
  [ -x "$server" ] || { echo "error: no tritonserver in $site/pytriton"; return 1; }
}

triton_prepare() {  # BUILD DIR [triton-repo options...]
  local build="$1" dir="$2"; shift 2
  [ -f "$build/triton/libtriton_tx2yolo.so" ] || { echo "error: $build/triton/libtriton_tx2yolo.so not built"; return 1; }
  mkdir -p "$dir/backends/tx2yolo"
  cp "$build/triton/libtriton_tx2yolo.so" "$dir/backends/tx2yolo/"
  "$build/tx2yolo" triton-repo models/demo.safetensors -o "$dir/repo" --kind cpu "$@" >/dev/null
}

triton_start() {  # DIR; reuses $http and $grpc when already set (a restart)
  local dir="$1"
  if [ -z "${http:-}" ]; then
    read -r http grpc < <("$venv/bin/python" -c "
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(('127.0.0.1', 0))
print(*[x.getsockname()[1] for x in s])")
  fi
  LD_LIBRARY_PATH="$site/nvidia_pytriton.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$server" \
    --model-repository "$dir/repo" --backend-directory "$dir/backends" \
    --http-address 127.0.0.1 --http-port "$http" --grpc-address 127.0.0.1 --grpc-port "$grpc" \
    --allow-metrics false --exit-timeout-secs 2 >>"$dir/server.log" 2>&1 &
  server_pid=$!
}

triton_wait_ready() {
  local _
  for _ in $(seq 120); do
    kill -0 "$server_pid" 2>/dev/null || return 1
    if "$venv/bin/python" -c "
import sys, tritonclient.http as h
c = h.InferenceServerClient('127.0.0.1:$http')
sys.exit(0 if c.is_server_ready() and c.is_model_ready('tx2yolo') else 1)" 2>/dev/null; then return 0; fi
    sleep 0.5
  done
  return 1
}
