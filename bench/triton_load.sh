#!/usr/bin/env bash
# A bounded load test of the Triton backend (a bench, not a timed test): one
# CPU instance of the demo model with dynamic batching (max_batch_size 8) in
# a real tritonserver on 127.0.0.1 (tools/triton-lib.sh), then
#   1. CLIENTS clients x REQUESTS requests: throughput, p50/p99, errors (0 expected);
#   2. the same load with the server killed (SIGKILL) 2 s in: the clients
#      must end with errors, not hang (each request has a 10 s timeout);
#   3. the server restarted on the same ports: a short load, 0 errors expected.
#   bench/triton_load.sh [BUILD_DIR] [CLIENTS] [REQUESTS] [THREADS]
set -uo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"; clients="${2:-4}"; requests="${3:-25}"; threads="${4:-2}"
. tools/triton-lib.sh
triton_venv || exit $?
tmp=$(mktemp -d); server_pid=""
trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$tmp"' EXIT
triton_prepare "$build" "$tmp" --threads "$threads" --max-batch 8 || exit 1
triton_start "$tmp"
triton_wait_ready || { echo "error: the server did not start"; tail -20 "$tmp/server.log"; exit 1; }
load() { "$venv/bin/python" bench/triton_load.py --url "127.0.0.1:$http" --image assets/demo.jpg "$@"; }
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; one CPU instance, $threads threads, max_batch_size 8, input 320x320, FP32"
load --clients "$clients" --requests "$requests" --label steady
load --clients "$clients" --requests 1000 --label killed >"$tmp/killed.txt" &
load_pid=$!
sleep 2
kill -9 "$server_pid"; wait "$server_pid" 2>/dev/null
start=$(date +%s)
wait "$load_pid"
cat "$tmp/killed.txt"
echo "the clients ended $(( $(date +%s) - start )) s after the server was killed"
triton_start "$tmp"
triton_wait_ready || { echo "error: the server did not restart"; tail -20 "$tmp/server.log"; exit 1; }
load --clients "$clients" --requests 5 --label restarted
