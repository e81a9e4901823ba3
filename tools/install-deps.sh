#!/usr/bin/env bash
# Installs what tx2yolo needs to build and test, from Debian/Ubuntu packages,
# and only what is missing. Safe to run again (idempotent). Uses sudo when not
# run as root. CUDA is not installed here: the build uses nvcc when it finds
# one (JetPack ships it on the TX2) and builds the CPU backend alone otherwise.
set -euo pipefail

packages=(
  build-essential      # g++ and make
  cmake                # >= 3.18
  pkg-config
  libopencv-dev        # image/video I/O, drawing, the INTER_CUBIC resize Paddle uses
  nlohmann-json3-dev   # JSON: model-file header, results
  libyaml-cpp-dev      # PaddleDetection configs (converter)
  libssl-dev           # SHA-256 of converted checkpoints (model provenance)
  libopenblas-dev      # the fast CPU convs (--cpu-convs gemm): single-threaded GEMMs on tx2yolo's thread pool
  libpugixml-dev       # VOC annotations (tx2yolo eval)
  libcli11-dev         # the tx2yolo command line
  libgtest-dev         # tests
  libgmock-dev
  libbenchmark-dev     # kernel microbenchmarks
  clang                # libFuzzer with ASan and UBSan, for the fuzz targets (fuzz/)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
echo "install-deps: done"
