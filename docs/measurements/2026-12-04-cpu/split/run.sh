#!/usr/bin/env bash
# The GEMM split and depthwise measurements of 2026-12-04 (docs/performance.md,
# "The CPU backend"). Nothing else may run on the machine.
set -u
cd "$(dirname "$0")/../../../.."
out=docs/measurements/2026-12-04-cpu/split
b=build/bench/tx2yolo_cpu_conv_choice
{ uptime; lscpu | grep -E 'Model name|^CPU\(s\)' ; git rev-parse --short HEAD; } > $out/machine.txt
# 1. Rows against the automatic split (which may take channel slices), the
#    openblas column alone, every architecture, 320 and 608, 1 and 2 threads.
for arch in standard separable separable-pruned; do
  for size in 320 608; do
    for t in 1 2; do
      for split in rows auto; do
        $b --arch $arch --size $size --threads $t --runs 7 --split $split --openblas-only \
          > $out/choice-$arch-$size-t$t-$split.txt 2>&1
      done
    done
  done
done
# 2. Depthwise by rows at every width (the reference column beside it).
for size in 320 608; do
  for t in 1 2; do
    $b --arch separable --size $size --threads $t --runs 7 --depthwise-rows-min-width 1 \
      > $out/depthwise-separable-$size-t$t.txt 2>&1
  done
done
# 3. The machine's ceiling, and oneDNN in its own blocked layouts.
$b --arch standard --size 320 --threads 2 --runs 5 --peak --onednn-layout blocked > $out/choice-standard-320-t2-onednn-blocked.txt 2>&1
$b --arch separable --size 320 --threads 2 --runs 5 --onednn-layout blocked > $out/choice-separable-320-t2-onednn-blocked.txt 2>&1
echo done
