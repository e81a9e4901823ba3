#!/usr/bin/env bash
# The one command for a lent GPU machine (the `device` tool's `run`, with
# carry [".gpu-carry"] after tools/gpu-carry.sh here): gpu-check on the
# carried binaries with time limits that fit a 15-minute lease, its full
# output kept in a folder and packed into $OUT as gpu-check.tgz (the tool
# returns at most 8 files), plus the summary and the tables as plain files.
#
#   tools/gpu-lease-run.sh [SECONDS]    whole-check limit, default 520
#
# Extra environment (e.g. GPU_CHECK_SANITIZERS=0 for a rerun that changed
# no kernel) passes through to tools/gpu-check.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
limit="${1:-520}"
out_dir="${OUT:-gpu-lease-out}"
work=/tmp/gpu-check-run
rm -rf "$work" && mkdir -p "$work" "$out_dir"
export PATH="$PATH:/usr/local/cuda/bin" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,compute_cap,clocks.sm,clocks.max.sm --format=csv 2>/dev/null | tee "$work/nvidia-smi.csv"
OUT="$work" GPU_CHECK_TEST_TIMEOUT="${GPU_CHECK_TEST_TIMEOUT:-150}" \
  GPU_CHECK_BENCH_TIMEOUT="${GPU_CHECK_BENCH_TIMEOUT:-120}" \
  GPU_CHECK_SANITIZER_TIMEOUT="${GPU_CHECK_SANITIZER_TIMEOUT:-60}" \
  GPU_CHECK_SELFTEST_TIMEOUT="${GPU_CHECK_SELFTEST_TIMEOUT:-90}" \
  GPU_CHECK_PEER_TIMEOUT="${GPU_CHECK_PEER_TIMEOUT:-120}" \
  GPU_CHECK_PEER_ITERATIONS="${GPU_CHECK_PEER_ITERATIONS:-100}" \
  timeout "$limit" tools/gpu-check.sh --prebuilt .gpu-carry 2>&1 |
  while IFS= read -r line; do printf '[%4ds] %s\n' "$SECONDS" "$line"; done >"$work/gpu-check.log"
rc=${PIPESTATUS[0]}
echo "gpu-check exit status $rc$([ $rc -eq 124 ] && echo ' (stopped at the time limit; the rows above it finished)')"
tar -czf "$out_dir/gpu-check.tgz" -C "$work" .
for f in summary.txt e2e-matrix.md kernel-table.md ncu-summary.md tx2-proxy.md; do
  [ -f "$work/$f" ] && cp "$work/$f" "$out_dir/"
done
cat "$work/summary.txt" 2>/dev/null
grep -h -A14 "^size" "$work"/peers-*.log 2>/dev/null | cut -c1-220
exit $rc
