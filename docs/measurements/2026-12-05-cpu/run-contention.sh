#!/usr/bin/env bash
# The demo model at 320 on the CPU backend's default path (--cpu-convs auto = onednn here), at 1
# and 2 threads and the default thread count, without and then with a busy neighbour (a shell
# busy loop on one core). Network median of 1000 runs after 5 warm-up. From the repository root.
# MODEL=file.safetensors and ITERATIONS=n time another model (contention-standard.txt: the
# full-width standard architecture from `tx2yolo random-model --arch standard --seed 1`, 100 runs).
set -euo pipefail
cli=build/tx2yolo
model=${MODEL:+--model $MODEL}
iterations=${ITERATIONS:-1000}
run() {
  for t in 1 2 0; do
    printf '%s threads=%s: ' "$1" "$t"
    $cli bench --backend cpu --synthetic $model --iterations $iterations --warmup 5 --threads $t 2>&1 | grep -E "^network"
  done
}
$cli bench --backend cpu --synthetic $model --iterations 1 --warmup 0 2>&1 | grep "^backend"
echo "columns: median p90 p99 mean (ms)"
run quiet
timeout 300 sh -c 'while :; do :; done' &
busy=$!
sleep 1
run busy
kill $busy
run quiet-again
