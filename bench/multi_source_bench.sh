#!/usr/bin/env bash
# Frames per second of `tx2yolo detect` with 1, 2 and 4 sources at once (a
# batch of one frame per source each round), on a clip made from the demo
# image (ffmpeg: 10 s at 10 frames/s, read as a file, so decoding never
# waits for the network). Prints one Markdown row per source count.
#   bench/multi_source_bench.sh [BUILD_DIR] [DETECT OPTIONS...]
# e.g. bench/multi_source_bench.sh build --backend cpu --cpu-convs gemm
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"; shift || true
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
ffmpeg -nostdin -loglevel error -y -loop 1 -i assets/demo.jpg -t 10 -r 10 -c:v mpeg2video -q:v 3 -pix_fmt yuv420p "$tmp/clip.ts"
echo "| sources | rounds | ms per round (detector, mean) | wall s | frames/s per source | frames/s in all |"
echo "|---|---|---|---|---|---|"
for n in 1 2 4; do
  srcs=(); for i in $(seq "$n"); do cp "$tmp/clip.ts" "$tmp/c$i.ts"; srcs+=("$tmp/c$i.ts"); done
  out=$("$build/tx2yolo" detect "${srcs[@]}" -q "$@" --max-frames 60)
  if [ "$n" = 1 ]; then
    ms=$(printf '%s\n' "$out" | sed -n 's/^frames: .*mean \([0-9.]*\) ms\/frame.*/\1/p')
  else
    ms=$(printf '%s\n' "$out" | sed -n 's/^rounds: .*mean \([0-9.]*\) ms per batch.*/\1/p')
  fi
  wall=$(printf '%s\n' "$out" | sed -n 's/^wall: \([0-9.]*\) s for \([0-9]*\) frame.*/\1 \2/p')
  awk -v n="$n" -v ms="$ms" -v w="$wall" 'BEGIN { split(w, a, " "); printf "| %d | %d | %.1f | %.2f | %.2f | %.2f |\n", n, a[2] / n, ms, a[1], a[2] / n / a[1], a[2] / a[1] }'
done
