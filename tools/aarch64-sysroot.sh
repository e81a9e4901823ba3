#!/usr/bin/env bash
# An arm64 (aarch64) sysroot made of Debian's own arm64 packages, for the
# cross-build (tools/aarch64-check.sh): the libraries tx2yolo links (OpenCV,
# yaml-cpp, OpenSSL, OpenBLAS, pugixml), the header-only ones (CLI11,
# nlohmann-json), GoogleTest, and libc/libstdc++ for the same GCC 12 as
# Debian's cross compiler (g++-aarch64-linux-gnu).
#
# Nothing is installed into the system: apt runs with its own lists and an
# empty package status under the cache folder, works out what a bare arm64
# system needs for these packages, downloads them there, and unpacks them
# with dpkg-deb -x. (Installing them as multiarch packages instead would
# remove the host's amd64 OpenCV, whose -dev packages cannot be co-installed.)
# Absolute symbolic links are made relative, so that the sysroot is
# self-contained for the linker and for qemu-aarch64 -L.
#
#   tools/aarch64-sysroot.sh [DIR]    (default: $cache/aarch64-sysroot)
# Prints the sysroot's path on its last line. Exits 77 (a skip) when the
# arm64 package lists cannot be had (no network to the package archive).
set -euo pipefail
cache="${TX2YOLO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tx2yolo}"
root="${1:-$cache/aarch64-sysroot}"
apt_dir="$cache/aarch64-apt"
packages=(
  libc6-dev libstdc++-12-dev         # the C and C++ runtimes of g++-aarch64-linux-gnu (GCC 12)
  libopencv-dev                      # OpenCV's CMake package needs every module it lists
  libyaml-cpp-dev libssl-dev libopenblas-dev libpugixml-dev
  libcli11-dev nlohmann-json3-dev    # header-only
  libgtest-dev libgmock-dev          # the CPU tests
  libdnnl-dev                        # the oneDNN CPU path (--cpu-convs onednn), opt-in on aarch64
)
stamp="$root/.tx2yolo-sysroot"
want="$(printf '%s\n' "${packages[@]}")"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "$root"
  exit 0
fi

mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$apt_dir/etc"
: >"$apt_dir/status"
# The host's sources, read for arm64 into private lists.
apt_opts=(
  -o APT::Architecture=arm64 -o APT::Architectures::=arm64
  -o Dir::State::Lists="$apt_dir/lists" -o Dir::State::status="$apt_dir/status"
  -o Dir::Cache="$apt_dir" -o Dir::Cache::archives="$apt_dir/archives"
  -o APT::Install-Recommends=0 -o Debug::NoLocking=1 -o APT::Sandbox::User=root
)
if ! apt-get "${apt_opts[@]}" update -qq >"$apt_dir/update.log" 2>&1; then
  tail -5 "$apt_dir/update.log" >&2
  echo "aarch64-sysroot: cannot read the arm64 package lists here; skipped" >&2
  exit 77
fi
# What a bare arm64 system needs for these packages, as name=version.
apt-get "${apt_opts[@]}" install -s "${packages[@]}" 2>/dev/null |
  sed -n 's/^Inst \([^ ]*\) (\([^ ]*\) .*/\1=\2/p' >"$apt_dir/wanted.txt"
if [ ! -s "$apt_dir/wanted.txt" ]; then
  echo "error: apt found no arm64 packages for: ${packages[*]}" >&2
  exit 1
fi
(cd "$apt_dir/archives" && xargs apt-get "${apt_opts[@]}" download -qq <"$apt_dir/wanted.txt" 2>"$apt_dir/download.log") || {
  tail -5 "$apt_dir/download.log" >&2
  echo "error: could not download the arm64 packages (log: $apt_dir/download.log)" >&2
  exit 1
}

part="$root.partial"
rm -rf "$part"
mkdir -p "$part"
while IFS='=' read -r name version; do
  deb=$(ls "$apt_dir/archives/${name}_"*.deb 2>/dev/null | head -1)
  [ -n "$deb" ] || { echo "error: $name=$version was not downloaded" >&2; exit 1; }
  dpkg-deb -x "$deb" "$part"
done <"$apt_dir/wanted.txt"
# Debian's merged /usr (what usrmerge does on a real system): /lib is a link
# to usr/lib, so that the loader's path /lib/ld-linux-aarch64.so.1 resolves
# inside the sysroot for qemu-aarch64 -L.
for d in lib lib64; do
  if [ -d "$part/$d" ] && [ ! -L "$part/$d" ]; then
    mkdir -p "$part/usr/$d"
    cp -a "$part/$d/." "$part/usr/$d/"
    rm -rf "${part:?}/$d"
  fi
  if [ -e "$part/usr/$d" ]; then ln -sfn "usr/$d" "$part/$d"; fi
done
# Absolute links (/usr/lib/aarch64-linux-gnu/libfoo.so -> /lib/...) point
# into the host; make each relative to its own folder inside the sysroot.
find "$part" -type l | while read -r link; do
  target=$(readlink "$link")
  case "$target" in
    /*) ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" "$part$target")" "$link" ;;
  esac
done
# update-alternatives does not run under dpkg-deb -x: point the BLAS and
# LAPACK names at OpenBLAS, as an installed system's alternatives would.
multi="$part/usr/lib/aarch64-linux-gnu"
for f in libblas.so.3 liblapack.so.3 libblas.so liblapack.so libopenblas.so.0 libopenblas.so; do
  if [ -e "$multi/openblas-pthread/$f" ] && [ ! -e "$multi/$f" ]; then ln -sfn "openblas-pthread/$f" "$multi/$f"; fi
done
printf '%s\n' "$want" >"$part/.tx2yolo-sysroot"
rm -rf "$root"
mv "$part" "$root"
echo "aarch64-sysroot: $(wc -l <"$apt_dir/wanted.txt") arm64 packages unpacked" >&2
echo "$root"
