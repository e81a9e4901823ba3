#!/usr/bin/env bash
# gpu-check: everything that needs a GPU, in one go, with a summary table.
# The first command to run on any machine with an NVIDIA GPU.
#
#   tools/gpu-check.sh                 build into build-gpu (deps installed by
#                                      tools/install-deps.sh), then check
#   tools/gpu-check.sh --prebuilt DIR  use binaries already built in DIR (a
#                                      machine without package access: pack
#                                      them with tools/gpu-carry.sh)
#   tools/gpu-check.sh --build-only    build build-gpu and stop
#
# Steps, in this order: the device; the GPU test suite (label gpu), where a
# skipped test is a FAILURE because a GPU is present; the CPU test suite when
# its binary runs on this machine; the verified defaults (GpuVerifiedDefaults,
# with TX2YOLO_UNVERIFIED_KERNELS unset); the CUDA kernel microbenchmarks with the
# card's measured copy and SGEMM ceilings (table in kernel-table.md);
# `selftest` at FP32 and FP16 on the full-width architectures; `bench`
# end to end on the demo model with and without the CUDA graph, then on the
# three full-width architectures (random-model) at 320/416/608 and batch 1/8
# (e2e-matrix.md); the PyTorch peer beside them where torch has CUDA; Nsight
# Compute on one frame of the standard model (ncu-summary.md); last, the GPU
# suite under compute-sanitizer memcheck, initcheck and racecheck.
# Each summary row is printed as soon as it is known. Logs go to $OUT (or
# ./gpu-check-out). Environment: GPU_CHECK_{TEST,BENCH,SANITIZER,PEER,NCU}_TIMEOUT
# and GPU_CHECK_SELFTEST_TIMEOUT (seconds), GPU_CHECK_PEER_ITERATIONS, GPU_CHECK_SPEED=0 (no
# timings: a verification run), GPU_CHECK_KERNEL_BENCH=0, GPU_CHECK_PEERS=0,
# GPU_CHECK_MATRIX_SIZES and GPU_CHECK_MATRIX_BATCHES (lists; default "320 416 608"
# and "1 8"), GPU_CHECK_SANITIZERS=0 and
# GPU_CHECK_NCU=0 to skip those steps.
set -uo pipefail
cd "$(dirname "$0")/.."
# The GPU tests read tests/data/paddle from this checkout, not the build machine's.
export TX2YOLO_SOURCE_DIR="$PWD"

build_dir=build-gpu
build=1
build_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prebuilt) build_dir="$2"; build=0; shift 2 ;;
    --build-only) build_only=1; shift ;;
    *) echo "gpu-check: unknown argument $1" >&2; exit 2 ;;
  esac
done
out="${OUT:-gpu-check-out}"
mkdir -p "$out"
: >"$out/summary.txt"
# Time limits in seconds, for runs that must fit a lease: the GPU test suite,
# the kernel microbenchmarks, and each compute-sanitizer run (the slowest
# steps; they run last).
sanitizer_timeout="${GPU_CHECK_SANITIZER_TIMEOUT:-300}"
# GPU_CHECK_SPEED=0: a verification run, without the timings (the kernel
# benchmarks, the end-to-end matrix, the PyTorch peers and Nsight Compute).
speed="${GPU_CHECK_SPEED:-1}"
# A prebuilt folder from tools/gpu-carry.sh holds one archive (the binaries
# and the shared libraries they need); unpack it once.
if [ -f "$build_dir/carry.tar.xz" ] && [ ! -d "$build_dir/tests" ]; then tar -C "$build_dir" -xJf "$build_dir/carry.tar.xz"; fi
if [ -d "$build_dir/lib" ]; then export LD_LIBRARY_PATH="$PWD/$build_dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; fi
# cuDNN / cuBLAS for the benchmarks: the toolkit's, or those of pip's nvidia-* wheels.
pip_nvidia_libs=$(python3 -c 'import glob, site; print(" ".join(d for p in site.getsitepackages() for d in glob.glob(p + "/nvidia/*/lib")))' 2>/dev/null)
for d in /usr/local/cuda/lib64 $pip_nvidia_libs; do
  [ -d "$d" ] && LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d"
done
export LD_LIBRARY_PATH
# The cudnn conv tactic opens libcudnn.so.<the major of the cudnn.h it was
# built with> at run time; the majors found on the path are passed on, and the
# GPU tests require the tactic where its own is among them.
cudnn_majors=""
for d in ${LD_LIBRARY_PATH//:/ }; do
  for f in "$d"/libcudnn.so.[0-9]*; do
    [ -e "$f" ] || continue
    m="${f##*/libcudnn.so.}"; m="${m%%.*}"
    case " $cudnn_majors " in *" $m "*) ;; *) cudnn_majors="$cudnn_majors $m" ;; esac
  done
done
if [ -n "$cudnn_majors" ]; then export TX2YOLO_EXPECT_CUDNN="${cudnn_majors# }"; fi

declare -a rows
status=0
# Each row is printed and appended to $out/summary.txt as soon as it is known,
# so a run stopped at its time limit still reports the steps it finished.
row() {
  local line; line="$(printf '%-34s %-6s %s' "$1" "$2" "$3")"
  rows+=("$line"); echo "gpu-check: $line"; echo "$line" >>"$out/summary.txt"
  [ "$2" = FAIL ] && status=1; return 0
}

if [ $build -eq 1 ]; then
  tools/install-deps.sh || { echo "gpu-check: could not install dependencies" >&2; exit 1; }
  # The card's own architecture (e.g. 9.0 -> 90); Jetsons have no nvidia-smi,
  # so there the toolkit's default list (which includes sm_62) is used.
  archs="${CUDA_ARCHS:-$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d '.[:space:]')}"
  arch_flag=()
  if [ -n "$archs" ]; then arch_flag=(-DCMAKE_CUDA_ARCHITECTURES="$archs"); fi
  if cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DTX2YOLO_CUDA=ON "${arch_flag[@]}" \
       >"$out/configure.log" 2>&1 &&
     cmake --build "$build_dir" -j"$(nproc)" >"$out/build.log" 2>&1; then
    row build PASS "$build_dir (CUDA archs ${archs:-toolkit default})"
  else
    row build FAIL "see $out/build.log"; tail -30 "$out/build.log"
  fi
  [ $build_only -eq 1 ] && { printf '%s\n' "${rows[@]}"; exit $status; }
fi

# Tactics timed by the tests and benches go to a cache inside $out (kept as
# a record of what was chosen), not to the machine's home folder.
export TX2YOLO_TACTICS_CACHE="$out/tactics.json"
# Features written but not yet verified on a GPU are allowed here, so that
# the GPU tests check them at every shape and the benches time them
# (engine/verification.h says which; a user's run leaves them out). Only
# GpuVerifiedDefaults runs without it (the verified-defaults row below).
export TX2YOLO_UNVERIFIED_KERNELS=1
gpu_tests="$build_dir/tests/tx2yolo_gpu_tests"
# The device as the CUDA runtime sees it (works on Jetsons, which have no nvidia-smi).
card=$("$gpu_tests" --gtest_filter='CudaDevice.QueryReportsARealDevice' 2>/dev/null | sed -n 's/^device: //p' | head -1)
if [ -n "$card" ]; then row device PASS "$card"; else row device FAIL "no CUDA device found by $gpu_tests"; fi
# Runs a gtest binary; records passed/skipped/failed counts from its JSON report.
run_gtest() {  # name binary json [wrapper...]
  local name="$1" bin="$2" json="$3"; shift 3
  if [ ! -x "$bin" ]; then row "$name" FAIL "$bin not built"; return; fi
  "$@" "$bin" --gtest_output="json:$json" >"$out/$name.log" 2>&1
  local rc=$?
  local counts
  counts=$(python3 - "$json" <<'PY' 2>/dev/null
import json, sys
r = json.load(open(sys.argv[1]))
tests = [t for s in r["testsuites"] for t in s["testsuite"]]
skipped = sum(1 for t in tests if t.get("result") == "SKIPPED")
failed = sum(1 for t in tests if t.get("failures"))
print(len(tests) - skipped - failed, skipped, failed)
PY
)
  if [ -z "$counts" ]; then row "$name" FAIL "rc $rc, no report; see $out/$name.log"; tail -5 "$out/$name.log"; return; fi
  set -- $counts
  local verdict=PASS
  if [ $rc -ne 0 ] || [ "$3" -ne 0 ]; then verdict=FAIL; fi
  row "$name" "$verdict" "$1 passed, $2 skipped, $3 failed (rc $rc)"
}

if [ "${GPU_CHECK_TESTS:-1}" = 0 ]; then
  row gpu-tests SKIP "GPU_CHECK_TESTS=0 (a speed run on binaries whose suite passed before)"
else
  run_gtest gpu-tests "$gpu_tests" "$out/gpu-tests.json" env GTEST_FILTER='-GpuVerifiedDefaults.*' \
    timeout "${GPU_CHECK_TEST_TIMEOUT:-600}"
  # The defaults as a user gets them: unverified features not allowed.
  run_gtest verified-defaults "$gpu_tests" "$out/verified-defaults.json" env -u TX2YOLO_UNVERIFIED_KERNELS \
    GTEST_FILTER='GpuVerifiedDefaults.*' timeout 300
  if grep -q '"result": "SKIPPED"' "$out/gpu-tests.json" 2>/dev/null; then
    row gpu-tests-no-skips FAIL "tests skipped although a GPU is present (see $out/gpu-tests.log)"
  fi
fi
cpu_tests="$build_dir/tests/tx2yolo_tests"
if [ ! -x "$cpu_tests" ]; then
  row cpu-tests SKIP "not in $build_dir (it needs OpenCV at run time)"
elif ldd "$cpu_tests" 2>/dev/null | grep -q "not found"; then
  row cpu-tests SKIP "binary needs libraries missing here (OpenCV); run it on the build machine"
else
  run_gtest cpu-tests "$cpu_tests" "$out/cpu-tests.json"
fi

bench="$build_dir/bench/tx2yolo_bench_cuda"
bench_table=""
if [ "$speed" = 0 ] || [ "${GPU_CHECK_KERNEL_BENCH:-1}" = 0 ]; then
  row bench SKIP "GPU_CHECK_SPEED=0 or GPU_CHECK_KERNEL_BENCH=0"
elif [ -x "$bench" ]; then
  if timeout "${GPU_CHECK_BENCH_TIMEOUT:-240}" "$bench" --benchmark_min_time=0.02 --benchmark_out="$out/bench.json" --benchmark_out_format=json \
       >"$out/bench.log" 2>&1; then
    # One row per layer shape: ours beside cuDNN (and cuBLAS for pointwise), in microseconds.
    bench_table=$(python3 - "$out/bench.json" "$out/kernel-table.md" <<'PY' 2>/dev/null
import json, sys, collections
rows, peak = collections.OrderedDict(), {}
for b in json.load(open(sys.argv[1]))["benchmarks"]:
    if b.get("error_occurred"): continue
    impl, name = b["name"].split("/")[0], b["name"].split("/")[1]
    if impl == "peak":
        peak[name] = b.get("GB/s", 0) if name == "copy" else b.get("GFLOP/s", 0)
        continue
    rows.setdefault(name, {})[impl] = b
bw, fl, hfl = peak.get("copy", 0), peak.get("sgemm", 0), peak.get("hgemm", 0)
# A kernel's fraction of the card: the larger of its bandwidth over the
# measured copy bandwidth and its FP32 rate over the measured SGEMM rate.
frac = lambda b: max(b.get("GB/s", 0) / bw if bw else 0, b.get("GFLOP/s", 0) / fl if fl else 0)
lines = ["measured ceilings: copy %.0f GB/s (read + write), SGEMM %.0f GFLOP/s (FP32, no TF32), HGEMM %.0f GFLOP/s "
         "(FP16 operands, FP32 accumulation, tensor cores)" % (bw, fl, hfl),
         "%-58s %10s %-13s %10s %10s %10s %10s %10s %10s %10s %10s %10s %9s %8s %6s" % ("layer@input", "ours us",
         "tactic", "gemm64", "gemm32", "gemm128", "splitk", "depthwise", "wmma fp16", "half2", "cudnn us", "cublas us",
         "GFLOP/s", "GB/s", "peak%")]
md = ["| layer @ input | ours FP32 (us) | tactic | ours FP16 tensor cores (us) | ours FP16 half2 (us) | cuDNN FP16 tactic (us) | best FP16: % of HGEMM, % of copy | cuDNN FP32 (us) | cuBLAS FP32 (us) | GFLOP/s | GB/s | % of measured peak |",
      "|---|---:|---|---:|---:|---:|---|---:|---:|---:|---:|---:|"]
fp16_kernels = ("ours-wmma-fp16", "ours-gemm64-half2", "ours-cudnn-fp16")
for name, r in rows.items():
    t = lambda k: "%10.1f" % r[k]["real_time"] if k in r else "%10s" % "-"
    ours = [k for k in r if k.startswith("ours-") and k not in fp16_kernels]  # FP32
    # The fastest FP16 kernel: its rate against the measured HGEMM ceiling and its bytes against the copy's.
    f16 = [k for k in r if k in fp16_kernels]
    b16 = r[min(f16, key=lambda k: r[k]["real_time"])] if f16 else None
    frac16 = "-" if not b16 else "%.0f%%, %.0f%%" % (100 * b16.get("GFLOP/s", 0) / hfl if hfl else 0,
                                                     100 * b16.get("GB/s", 0) / bw if bw else 0)
    best = min(ours, key=lambda k: r[k]["real_time"]) if ours else None
    o = r.get(best, {})
    lines.append("%-58s %s %-13s %s %s %s %s %s %s %s %s %s %9.0f %8.0f %5.0f%%" % (name, t(best) if best else "%10s" % "-",
          best[5:] if best else "-", t("ours-gemm64"), t("ours-gemm32"), t("ours-gemm128"), t("ours-gemm64-splitk"),
          t("ours-depthwise"), t("ours-wmma-fp16"), t("ours-gemm64-half2"), t("cudnn"),
          t("cublas"), o.get("GFLOP/s", 0), o.get("GB/s", 0), 100 * frac(o)))
    md.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %.0f | %.0f | %.0f%% |" % (name, t(best).strip() if best else "-",
          best[5:] if best else "-", t("ours-wmma-fp16").strip(), t("ours-gemm64-half2").strip(),
          t("ours-cudnn-fp16").strip(), frac16, t("cudnn").strip(),
          t("cublas").strip(), o.get("GFLOP/s", 0),
          o.get("GB/s", 0), 100 * frac(o)))
open(sys.argv[2], "w").write("\n".join([lines[0], ""] + md) + "\n")
print("\n".join(lines))
sys.exit(0 if rows else 3)
PY
)
    if [ $? -eq 0 ]; then row bench PASS "$out/bench.json"; else row bench FAIL "no benchmark ran; see $out/bench.log"; bench_table=""; fi
  else
    row bench FAIL "see $out/bench.log"
  fi
else
  row bench SKIP "$bench not built (needs cuDNN at build time)"
fi

# End to end on the GPU: `bench` of the tx2yolo CLI, or of tx2yolo-bench (the
# same subcommand built without image codecs, which a prebuilt folder from
# tools/gpu-carry.sh holds), on a drawn scene (--synthetic) so that no image
# decoder is needed.
cli=""
for c in "$build_dir/tx2yolo" "$build_dir/tx2yolo-bench"; do
  if [ -x "$c" ] && ! ldd "$c" 2>/dev/null | grep -q "not found"; then cli="$c"; break; fi
done
if [ -n "$cli" ]; then
  # selftest on the full-width architectures at 608 (every kernel the card
  # offers against the CPU reference, and the graphs), FP32 and FP16, as a
  # user would run it on their board.
  for precision in ${GPU_CHECK_SELFTEST_PRECISIONS-fp32 fp16}; do
    if timeout "${GPU_CHECK_SELFTEST_TIMEOUT:-240}" "$cli" selftest --backend cuda --precision "$precision" \
         --json "$out/selftest-$precision.json" >"$out/selftest-$precision.log" 2>&1; then
      row "selftest-$precision" PASS "$(tail -1 "$out/selftest-$precision.log")"
    else
      row "selftest-$precision" FAIL "$(grep -m3 '^FAILED' "$out/selftest-$precision.log" | tr '\n' ' ') see $out/selftest-$precision.log"
    fi
  done
  # The bundled demo model at 608, with and without the CUDA graph.
  if timeout 120 "$cli" bench --backend cuda --synthetic --model models/demo.safetensors --input-size 608 --iterations 200 --warmup 20 \
       --json "$out/e2e-bench.json" >"$out/e2e-bench.log" 2>&1; then
    row e2e-bench PASS "$(grep -E '^end to end' "$out/e2e-bench.log" | head -1); $(grep -E '^device memory' "$out/e2e-bench.log" | cut -d'(' -f1)"
  else
    row e2e-bench FAIL "see $out/e2e-bench.log"
  fi
  if timeout 120 "$cli" bench --backend cuda --synthetic --model models/demo.safetensors --input-size 608 --iterations 200 --warmup 20 --no-cuda-graph \
       --json "$out/e2e-bench-nograph.json" >"$out/e2e-bench-nograph.log" 2>&1; then
    row e2e-bench-nograph PASS "$(grep -E '^network' "$out/e2e-bench-nograph.log" | head -1) vs graph: $(grep -E '^network' "$out/e2e-bench.log" | head -1)"
  else
    row e2e-bench-nograph FAIL "see $out/e2e-bench-nograph.log"
  fi
  # The three full-width architectures (random weights, 80 classes) at every
  # size and batch: the speed issue's matrix. Results in $out/e2e/, one JSON
  # each, and one table in $out/e2e-matrix.md.
  mkdir -p "$out/e2e" /tmp/gpu-check-models
  matrix_ok=1
  cc=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d '.[:space:]')
  precisions="fp32"
  if [ -n "$cc" ] && [ "$cc" -ge 70 ]; then precisions="fp32 fp16"; fi
  if [ "$speed" = 1 ]; then
  # FP16 (tensor-core convs) where the card has tensor cores (compute capability 7.0 and up).
  for arch in standard separable separable-pruned; do
    model=/tmp/gpu-check-models/$arch.safetensors
    "$cli" random-model --arch "$arch" -o "$model" >>"$out/e2e/matrix.log" 2>&1 || matrix_ok=0
    for precision in $precisions; do
      suffix=""; [ "$precision" = fp16 ] && suffix="-fp16"
      for size in ${GPU_CHECK_MATRIX_SIZES:-320 416 608}; do
        for batch in ${GPU_CHECK_MATRIX_BATCHES:-1 8}; do
          timeout 120 "$cli" bench --backend cuda --synthetic --model "$model" --input-size "$size" --batch "$batch" \
            --precision "$precision" --iterations "${GPU_CHECK_MATRIX_ITERATIONS:-200}" --warmup 20 --json "$out/e2e/$arch-$size-b$batch$suffix.json" \
            >>"$out/e2e/matrix.log" 2>&1 || matrix_ok=0
        done
      done
    done
  done
  python3 - "$out/e2e" "$out/e2e-matrix.md" <<'PY' >/dev/null 2>&1
import json, os, sys
rows = ["| model | precision | input | batch | preprocess | network | decode + NMS | end to end | FPS (images) | device memory (MiB) |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
for arch in ("standard", "separable", "separable-pruned"):
  for suffix, precision in (("", "fp32"), ("-fp16", "fp16")):
    for size in (320, 416, 608):
        for batch in (1, 8):
            f = os.path.join(sys.argv[1], "%s-%d-b%d%s.json" % (arch, size, batch, suffix))
            if not os.path.exists(f): continue
            j = json.load(open(f)); ms = j["ms"]
            rows.append("| %s | %s | %d | %d | %.3f | %.3f | %.3f | %.3f | %.0f | %.0f |" % (arch, precision, size, batch,
                ms["preprocess"]["median"], ms["network"]["median"], ms["decode + NMS"]["median"],
                ms["end to end"]["median"], j["fps_median"], j.get("device_memory_peak_mib", 0)))
open(sys.argv[2], "w").write("medians in ms per batch; %s\n\n" % j["device"] + "\n".join(rows) + "\n")
PY
  if [ $matrix_ok -eq 1 ]; then row e2e-matrix PASS "$out/e2e-matrix.md"; else row e2e-matrix FAIL "see $out/e2e/matrix.log"; fi
  else
    row e2e-matrix SKIP "GPU_CHECK_SPEED=0 (a verification run)"
  fi
  # Did the demo bench replay whole frames as one graph (its backend line
  # counts captures and replays)?
  frame=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["backend"])' "$out/e2e-bench.json" 2>/dev/null)
  case "$frame" in
    *"whole frame replayed"*) row frame-graph PASS "$(echo "$frame" | grep -o 'whole frame replayed[^;]*')" ;;
    *"no whole-frame CUDA graph"*) row frame-graph FAIL "$(echo "$frame" | grep -o 'no whole-frame CUDA graph[^;]*')" ;;
    *) row frame-graph FAIL "no frame graph in: ${frame:-no e2e-bench.json}" ;;
  esac
  # What the timed tactics chose over every bench and test above
  # (tactics.json): layers per tactic, and for the cudnn and dwpw-fused
  # choices the time against the best hand-written kernel.
  if python3 - "$TX2YOLO_TACTICS_CACHE" "$out/tactics-summary.md" >"$out/tactics-summary.log" 2>&1 <<'PY'
import json, sys
entries = json.load(open(sys.argv[1]))["entries"]
lines = ["| cache entry | layers | chosen tactics | cudnn: its time / best hand-written | dwpw-fused: pointwise share (pair less depthwise best) / best hand-written |",
         "|---|---:|---|---|---|"]
total = {}
for key, e in sorted(entries.items()):
    layers = e["layers"]; count = {}; cudnn = []; fused = []
    for name, l in layers.items():
        count[l["tactic"]] = count.get(l["tactic"], 0) + 1
        total[l["tactic"]] = total.get(l["tactic"], 0) + 1
        own = [v for k, v in l.get("ms", {}).items() if k not in ("cudnn", "dwpw-fused")]
        ms = l.get("ms", {})
        if "cudnn" in ms and own: cudnn.append(ms["cudnn"] / min(own))
        if "dwpw-fused" in ms and own: fused.append(ms["dwpw-fused"] / min(own))
    key = key.replace("|", "\\|")  # the key's own separators would split the table's columns
    ratio = lambda r: "-" if not r else "median %.2fx over %d layers (%d faster)" % (sorted(r)[len(r) // 2], len(r), sum(x < 1 for x in r))
    lines.append("| %s | %d | %s | %s | %s |" % (key, len(layers), ", ".join("%s %d" % kv for kv in sorted(count.items())), ratio(cudnn), ratio(fused)))
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
print(", ".join("%s %d" % kv for kv in sorted(total.items())))
PY
  then row tactics PASS "$(tail -1 "$out/tactics-summary.log") (layers over all entries; $out/tactics-summary.md)"
  else row tactics FAIL "see $out/tactics-summary.log"; fi
else
  row e2e-bench SKIP "neither tx2yolo nor tx2yolo-bench runs here"
fi

# The PyTorch peer beside tx2yolo (bench/peers/torch_peer.py), where torch is
# present: for each architecture it first checks its outputs against
# tx2yolo's (`compare`, every layer), then times PyTorch beside the matrix above.
if [ "$speed" = 1 ] && [ "${GPU_CHECK_PEERS:-1}" != 0 ] && [ -n "$cli" ] && python3 -c "import torch; assert torch.cuda.is_available()" >/dev/null 2>&1; then
  for arch in standard separable separable-pruned; do
    if timeout "${GPU_CHECK_PEER_TIMEOUT:-300}" python3 bench/peers/torch_peer.py --model /tmp/gpu-check-models/$arch.safetensors \
         --iterations "${GPU_CHECK_PEER_ITERATIONS:-200}" --tx2yolo "$cli" --tx2yolo-results "$out/e2e" --results-prefix "$arch" --device cuda \
         --compile-configs "${GPU_CHECK_PEER_COMPILE_CONFIGS:-608x1}" \
         --json "$out/peers-$arch.json" >"$out/peers-$arch.log" 2>&1; then
      row "peers-$arch" PASS "$(grep -E '^608 +1 ' "$out/peers-$arch.log" | head -1 | tr -s ' ')"
    else
      row "peers-$arch" FAIL "see $out/peers-$arch.log"
    fi
  done
else
  if [ "$speed" = 0 ] || [ "${GPU_CHECK_PEERS:-1}" = 0 ]; then
    row peers SKIP "GPU_CHECK_SPEED=0 or GPU_CHECK_PEERS=0"
  else
    row peers SKIP "needs python3 with CUDA torch (bench/peers/requirements.txt) and a runnable tx2yolo or tx2yolo-bench"
  fi
fi

# Nsight Compute on one frame of the standard model at 608 (batch 1; FP32,
# and FP16 where the card has tensor cores), the tactics from the cache the
# matrix filled: per kernel, its time and how close it came to the memory and
# compute ceilings, to say why a kernel misses its target. GPU_CHECK_NCU=0
# skips it.
if [ "$speed" = 1 ] && [ "${GPU_CHECK_NCU:-1}" != 0 ] && [ -n "$cli" ] && command -v ncu >/dev/null 2>&1 &&
   [ -f /tmp/gpu-check-models/standard.safetensors ]; then
  ncu_ok=1
  ncu_precisions="${GPU_CHECK_NCU_PRECISIONS:-$precisions}"
  base_metrics=gpu__time_duration.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed,sm__throughput.avg.pct_of_peak_sustained_elapsed,sm__warps_active.avg.pct_of_peak_sustained_active,launch__grid_size,launch__registers_per_thread
  for precision in $ncu_precisions; do
    # With the tensor pipe's share of its peak (HMMA: what wmma compiles to);
    # without it where this ncu does not know the metric.
    ok_p=0
    for metrics in "$base_metrics,sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active" "$base_metrics"; do
      timeout "${GPU_CHECK_NCU_TIMEOUT:-120}" ncu --csv --page raw --clock-control none --launch-count 400 --metrics "$metrics" \
        "$cli" bench --backend cuda --synthetic --model /tmp/gpu-check-models/standard.safetensors --input-size 608 \
        --precision "$precision" --iterations 1 --warmup 0 --no-cuda-graph >"$out/ncu-standard-608-$precision.csv" 2>"$out/ncu-$precision.log"
      rc=$?
      if [ $rc -eq 0 ]; then ok_p=1; break; fi
      [ $rc -eq 124 ] && break  # out of time: no second try
    done
    [ $ok_p -eq 1 ] || ncu_ok=0
  done
  python3 tools/ncu_summary.py "$out" $ncu_precisions >"$out/ncu-summary.log" 2>&1
  if [ $ncu_ok -eq 1 ] && [ -s "$out/ncu-summary.md" ]; then row ncu PASS "$out/ncu-summary.md"; else row ncu FAIL "see $out/ncu-*.log"; fi
fi

# TX2 proxy (GPU_CHECK_PROXY_PERCENTS, e.g. "2 5 10 25 100"): the network
# on a slice of the card's SMs through MPS (CUDA_MPS_ACTIVE_THREAD_PERCENTAGE),
# FP32 (timed tactics, tuned for that slice) and FP16 with the half2 kernel
# forced (no tensor cores: the TX2's FP16 path). A proxy, never a TX2 figure:
# the card's SMs, clocks, caches and memory are not the TX2's.
if [ -n "${GPU_CHECK_PROXY_PERCENTS:-}" ] && [ -n "$cli" ] && [ -f /tmp/gpu-check-models/standard.safetensors ]; then
  if ! command -v nvidia-cuda-mps-control >/dev/null 2>&1; then
    row tx2-proxy SKIP "no nvidia-cuda-mps-control on this machine"
  else
    mkdir -p "$out/proxy" /tmp/tx2yolo-mps/pipe /tmp/tx2yolo-mps/log
    export CUDA_MPS_PIPE_DIRECTORY=/tmp/tx2yolo-mps/pipe CUDA_MPS_LOG_DIRECTORY=/tmp/tx2yolo-mps/log
    nvidia-cuda-mps-control -d >"$out/proxy/mps-start.log" 2>&1
    proxy_ok=1
    proxy_run() {  # arch percent mode
      local extra=(--precision fp32 --tactics-cache none)
      [ "$3" = half2 ] && extra=(--precision fp16 --tactics heuristic --force-tactic gemm64-half2)
      CUDA_MPS_ACTIVE_THREAD_PERCENTAGE="$2" timeout "${GPU_CHECK_PROXY_TIMEOUT:-40}" "$cli" bench --backend cuda --synthetic \
        --model "/tmp/gpu-check-models/$1.safetensors" --input-size 608 --iterations 10 --warmup 2 "${extra[@]}" \
        --json "$out/proxy/$1-p$2-$3.json" >"$out/proxy/$1-p$2-$3.log" 2>&1 || proxy_ok=0
    }
    set -- ${GPU_CHECK_PROXY_PERCENTS}
    smallest="$1"
    for p in "$@"; do for mode in fp32 half2; do proxy_run standard "$p" "$mode"; done; done
    for arch in separable separable-pruned; do for mode in fp32 half2; do proxy_run "$arch" "$smallest" "$mode"; done; done
    echo quit | nvidia-cuda-mps-control >/dev/null 2>&1
    unset CUDA_MPS_PIPE_DIRECTORY CUDA_MPS_LOG_DIRECTORY
    python3 - "$out/proxy" <<'PY' >"$out/proxy/summary.log" 2>&1
import glob, json, os, re, sys
rows = ["| model | MPS active threads % | SMs the process saw | mode | network ms (median) | end to end ms |", "|---|---:|---:|---|---:|---:|"]
for f in sorted(glob.glob(os.path.join(sys.argv[1], "*.json")), key=lambda f: (f.split("/")[-1].split("-p")[0], int(re.search(r"-p(\d+)-", f).group(1)))):
    j = json.load(open(f)); name = os.path.basename(f)[:-5]
    arch, rest = name.rsplit("-p", 1); pct, mode = rest.split("-", 1)
    sms = re.search(r"(\d+) SMs", j.get("device", ""))
    rows.append("| %s | %s | %s | %s | %.3f | %.3f |" % (arch, pct, sms.group(1) if sms else "?", mode,
                j["ms"]["network"]["median"], j["ms"]["end to end"]["median"]))
open(os.path.join(sys.argv[1], "..", "tx2-proxy.md"), "w").write("\n".join(rows) + "\n")
print("\n".join(rows))
PY
    if [ $proxy_ok -eq 1 ] && [ -s "$out/tx2-proxy.md" ]; then row tx2-proxy PASS "$out/tx2-proxy.md"
    else row tx2-proxy FAIL "see $out/proxy/*.log"; fi
  fi
fi

# The sanitizers run last: they are the slowest steps, and the timings above
# should not wait for them.
if [ "${GPU_CHECK_SANITIZERS:-1}" = 0 ]; then
  row sanitizer SKIP "GPU_CHECK_SANITIZERS=0 (a rerun that changed no kernel)"
elif command -v compute-sanitizer >/dev/null 2>&1; then
  # memcheck and initcheck over the suite, less the full-width tests that
  # compare with the CPU (minutes under the sanitizer) and *Deliberate* tests
  # (CUDA calls that fail on purpose); the full-width models still run under
  # them in GpuSanitized.* (standard and separable at 320, FP32 and FP16, the
  # fused kernel or half2 forced, the whole-frame graph captured and replayed).
  # racecheck is slow on the NMS sorts' shared memory (5 minutes for the
  # suite on an H200), so it runs on GpuSanitized.* and the conv kernels'
  # odd-shape tests (every GEMM-shaped tactic, the fused kernel). The tactics
  # timing test (thousands of launches) is left out too; every tactic's
  # kernel still runs under the sanitizers in GpuConv2d's odd-shape tests, and
  # the detectors' tactics come from the cache the plain run above filled.
  # racecheck runs in parts, each with its own time limit, the kernels
  # first: in both runs of 2026-12-04 one racecheck over all of these ran
  # past 75-110 s (its progress unknown: --gtest_brief printed nothing
  # before the end), so a part that finishes is recorded even when a later
  # one is cut.
  declare -A filters=(
    [memcheck]='-*Deliberate*:*FullWidth*:*EveryModelLayerShape*:*TimedTactics*:*Cudnn*'
    [initcheck]='-*Deliberate*:*FullWidth*:*EveryModelLayerShape*:*TimedTactics*:*Cudnn*'
    [racecheck-fused]='GpuConv2d.FusedDepthwisePointwiseMatchesCpu'
    [racecheck-gemm]='GpuConv2d.GemmMatchesCpuOnOddShapes'
    [racecheck-models]='GpuSanitized.*')
  # The tests aimed at cuDNN (*Cudnn*) are left out: the sanitizers check our
  # kernels, not a vendor library's. cuDNN is not turned off, though: that
  # would change the tactics cache key, and every detector would time its
  # layers again under the sanitizer instead of hitting the cache.
  for step in memcheck initcheck racecheck-fused racecheck-gemm racecheck-models; do
    tool="${step%%-*}"
    # Not brief: each test's start and end are flushed as they happen, so a
    # run cut at its time limit still shows which tests finished.
    timeout "$sanitizer_timeout" compute-sanitizer --tool "$tool" --error-exitcode 99 "$gpu_tests" \
      --gtest_filter="${filters[$step]}" \
      >"$out/sanitizer-$step.log" 2>&1
    rc=$?
    summary=$(grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$out/sanitizer-$step.log" | tail -1)
    if [ $rc -eq 0 ]; then row "sanitizer-$step" PASS "${summary:-no errors}"; else row "sanitizer-$step" FAIL "rc $rc: ${summary:-see log}"; fi
  done
else
  row sanitizer SKIP "compute-sanitizer not on PATH"
fi

echo
echo "gpu-check summary ($(date -u +%Y-%m-%dT%H:%MZ))"
printf '%-34s %-6s %s\n' step result detail
printf '%s\n' "${rows[@]}"
echo "overall: $([ $status -eq 0 ] && echo PASS || echo FAIL)"
if [ -n "$bench_table" ]; then echo; echo "kernel timings (batch 1, fp32, CUDA events):"; echo "$bench_table"; fi
exit $status
