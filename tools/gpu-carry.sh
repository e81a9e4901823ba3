#!/usr/bin/env bash
# Packs the GPU test binary, the CUDA kernel benchmarks and tx2yolo-bench
# (the CLI's bench without image codecs) built in build/, and the shared
# libraries they need
# (all but glibc's own) into .gpu-carry/, for tools/gpu-check.sh --prebuilt
# .gpu-carry on a GPU machine that has the CUDA driver but no packages.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .gpu-carry
mkdir -p .gpu-carry/tests .gpu-carry/lib
cp build/tests/tx2yolo_gpu_tests .gpu-carry/tests/
binaries=(build/tests/tx2yolo_gpu_tests)
if [ -x build/bench/tx2yolo_bench_cuda ]; then
  mkdir -p .gpu-carry/bench
  cp build/bench/tx2yolo_bench_cuda .gpu-carry/bench/
  binaries+=(build/bench/tx2yolo_bench_cuda)
fi
cp build/tx2yolo-bench .gpu-carry/
binaries+=(build/tx2yolo-bench)
# cuDNN and cuBLAS are too large to carry; gpu-check finds the GPU machine's own.
for b in "${binaries[@]}"; do ldd "$b"; done | awk '$3 ~ /^\// {print $3}' | sort -u |
  grep -v -E '/(libc|libm|libpthread|libdl|librt|ld-linux[^/]*)\.so|libcudnn|libcublas' |
  while read -r lib; do cp -L "$lib" .gpu-carry/lib/; done
# Everything in one xz archive, so that the tree a GPU lease carries (64 MiB
# with the repository) stays small; gpu-check unpacks it.
tar -C .gpu-carry -cJf carry.tar.xz.partial . && rm -rf .gpu-carry/* && mv carry.tar.xz.partial .gpu-carry/carry.tar.xz
du -sh .gpu-carry
