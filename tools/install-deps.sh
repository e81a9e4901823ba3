#!/usr/bin/env bash
# Installs what tx2yolo needs to build and test, from Debian/Ubuntu packages,
# and only what is missing. Safe to run again (idempotent). Uses sudo when not
# run as root. CUDA is not installed here: the build uses nvcc when it finds
# one (JetPack ships it on the TX2) and builds the CPU backend alone otherwise.
set -euo pipefail

# --dry-run: say what would be installed, and change nothing.
# TX2YOLO_OS_RELEASE: another os-release file (the InstallDeps test).
dry_run=0
if [ "${1:-}" = --dry-run ]; then dry_run=1; fi
. "${TX2YOLO_OS_RELEASE:-/etc/os-release}" 2>/dev/null || true
bionic=0
if [ "${ID:-}" = ubuntu ] && [ "${VERSION_ID:-}" = 18.04 ]; then bionic=1; fi

if [ $bionic = 1 ]; then
  # Ubuntu 18.04: JetPack 4.6 (L4T R32.6/R32.7) on a Jetson. JetPack brings
  # CUDA 10.2, cuDNN 8.2 and OpenCV 4.1.1 (its libopencv-dev); bionic's own
  # OpenCV is 3.2, which tx2yolo does not support. What bionic lacks or has
  # too old (docs/jetson.md): cmake 3.10 (3.18 is taken from PyPI below),
  # CLI11 and nlohmann-json 3 (none: cmake/deps.cmake fetches them at pinned
  # tags), GoogleTest (source only: built from /usr/src/googletest).
  packages=(build-essential pkg-config git libopencv-dev libyaml-cpp-dev libssl-dev libopenblas-dev
            libpugixml-dev libgtest-dev python3-venv python3-pip)
  if [ ! -f /etc/nv_tegra_release ]; then
    echo "install-deps: Ubuntu 18.04 without L4T: OpenCV 4 must come from elsewhere (bionic's libopencv-dev is 3.2)" >&2
  fi
else
  packages=(
    build-essential      # g++ and make
    cmake                # >= 3.18
    pkg-config
    libopencv-dev        # image/video I/O, drawing, the INTER_CUBIC resize Paddle uses
    nlohmann-json3-dev   # JSON: model-file header, results
    libyaml-cpp-dev      # PaddleDetection configs (converter)
    libssl-dev           # SHA-256 of converted checkpoints (model provenance)
    libopenblas-dev      # the fast CPU convs (--cpu-convs gemm): single-threaded GEMMs on tx2yolo's thread pool
    libdnnl-dev          # oneDNN 2.x: the CPU backend's default on x86-64 (--cpu-convs onednn); its header at build time, libdnnl2 loaded at run time
    libpugixml-dev       # VOC annotations (tx2yolo eval)
    libcli11-dev         # the tx2yolo command line
    libgtest-dev         # tests
    libgmock-dev
    libbenchmark-dev     # kernel microbenchmarks
    clang                # libFuzzer with ASan and UBSan, for the fuzz targets (fuzz/)
    g++-aarch64-linux-gnu  # the aarch64 cross-build of the host code (tools/aarch64-check.sh)
    qemu-user            # ... and its CPU tests, run under emulation
    ffmpeg               # serves a clip over HTTP on 127.0.0.1 for the network-stream tests (CliStreams.*)
    libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev   # the GStreamer element (gst/)
    gstreamer1.0-plugins-base gstreamer1.0-tools           # ... and its tests (videotestsrc, appsrc, gst-inspect-1.0)
    xvfb xauth           # a virtual display for the detect --show test
  )
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

# cmake >= 3.18 where the system's is older (bionic: 3.10): the pinned
# release from PyPI in a venv, linked into /usr/local/bin, which comes
# before /usr/bin on PATH, so that `cmake` and `ctest` are that one.
cmake_ok() {
  local v
  v=$(cmake --version 2>/dev/null | sed -n 's/^cmake version \([0-9]*\.[0-9]*\).*/\1/p')
  [ -n "$v" ] && [ "$(printf '%s\n3.18\n' "$v" | sort -V | head -1)" = 3.18 ]
}
install_cmake_from_pypi() {
  local venv=/opt/tx2yolo-cmake-venv
  echo "install-deps: cmake $(cmake --version 2>/dev/null | head -1 | cut -d' ' -f3) is older than 3.18; installing cmake==3.18.4.post1 from PyPI into $venv"
  $sudo python3 -m venv "$venv"
  # bionic's pip 9 cannot install manylinux2014 wheels: upgrade it first.
  $sudo "$venv/bin/pip" install -q --upgrade "pip<22"
  $sudo "$venv/bin/pip" install -q "cmake==3.18.4.post1"
  for t in cmake ctest cpack; do $sudo ln -sfn "$venv/bin/$t" "/usr/local/bin/$t"; done
  hash -r
}
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ $dry_run = 1 ]; then
  echo "install-deps: ${PRETTY_NAME:-unknown system}: packages: ${packages[*]}"
  echo "install-deps: would install: ${missing[*]:-nothing}"
  if cmake_ok; then echo "install-deps: cmake $(cmake --version | head -1 | cut -d' ' -f3) is new enough"
  else echo "install-deps: would install cmake==3.18.4.post1 from PyPI (the system's is older than 3.18)"; fi
  exit 0
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! cmake_ok; then install_cmake_from_pypi; fi
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
else
  echo "install-deps: done"
fi
