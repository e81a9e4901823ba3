#!/usr/bin/env bash
# Paddle Inference (CPU, MKLDNN) beside tx2yolo's gemm and onednn CPU paths, in one run
# (bench/peers/paddle_cpu_peer.py). Needs the venv of scripts/paddle/requirements.txt as
# $PY, and PaddleDetection 2.6's configs/ as $PPDET_CONFIGS (with
# scripts/paddle/configs/yolov3_mobilenet_v1_sep_voc.yml copied into its yolov3/).
# Run from the repository root with nothing else on the machine (OUT: another output folder):
#   PY=/tmp/paddle-venv/bin/python PPDET_CONFIGS=/tmp/ppdet26/configs \
#     docs/measurements/2026-12-05-cpu/run-peer.sh
set -euo pipefail
out=${OUT:-docs/measurements/2026-12-05-cpu}
peer=bench/peers/paddle_cpu_peer.py
lscpu | grep -E "Model name|^CPU\(s\)|Flags" | cut -c1-200 > $out/cpu.txt
git rev-parse HEAD > $out/commit.txt
$PY $peer --config scripts/paddle/configs/shapes_demo/yolov3_mbv1_sep_shapes.yml \
  --weights tests/data/shapes_voc/paddle_demo/model_final.pdparams --model models/demo.safetensors \
  --tx2yolo build/tx2yolo --sizes 320,608 --threads 1,2 --cpu-convs gemm,onednn \
  --iterations 30 --warmup 5 --json $out/peer-demo.json > $out/peer-demo.txt 2>&1
$PY $peer --config "$PPDET_CONFIGS/yolov3/yolov3_mobilenet_v1_270e_voc.yml" --random-init \
  --tx2yolo build/tx2yolo --sizes 320,608 --threads 1,2 --cpu-convs gemm,onednn \
  --iterations 10 --warmup 2 --json $out/peer-standard.json > $out/peer-standard.txt 2>&1
$PY $peer --config "$PPDET_CONFIGS/yolov3/yolov3_mobilenet_v1_sep_voc.yml" --random-init \
  --tx2yolo build/tx2yolo --sizes 320,608 --threads 1,2 --cpu-convs gemm,onednn \
  --iterations 10 --warmup 2 --json $out/peer-separable.json > $out/peer-separable.txt 2>&1
$PY $peer --config "$PPDET_CONFIGS/yolov3/yolov3_mobilenet_v1_sep_voc.yml" --random-init --prune r578 \
  --tx2yolo build/tx2yolo --sizes 320,608 --threads 1,2 --cpu-convs gemm,onednn \
  --iterations 10 --warmup 2 --json $out/peer-separable-pruned.json > $out/peer-separable-pruned.txt 2>&1
