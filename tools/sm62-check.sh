#!/usr/bin/env bash
# sm_62 (Jetson TX2) compile check of all device code.
#
# CUDA 13 cannot target sm_62, so this uses Debian bookworm's CUDA 11.8
# (non-free nvidia-cuda-toolkit), unpacked into a cache folder (the minimum
# packages: nvidia-cuda-toolkit, libnvvm4, nvidia-cuda-dev, libcudart11.0;
# see shared notes "sm62-toolchain") with GCC 11 as host compiler. It compiles
# every kernels/cuda/*.cu as C++14 for sm_62 with -Xptxas -v and fails when a
# kernel
#   - spills (spill stores or loads > 0),
#   - needs more registers than sm_62 gives a block at its launch bounds
#     (registers per thread x threads per block > 32768),
#   - needs more than 48 KiB of shared memory per block (static, plus the
#     largest dynamic amount its launcher allows),
#   - or has no __launch_bounds__ (the check needs them).
# It writes the per-kernel table (registers, shared memory, theoretical
# occupancy on sm_62) to docs/sm62-kernels.md.
#
#   tools/sm62-check.sh            # cache: $TX2YOLO_SM62_CACHE or ~/.cache/tx2yolo-sm62
#                                  # table: $TX2YOLO_SM62_DOC or docs/sm62-kernels.md
# Exit status: 0 pass, 1 a kernel fails a limit or does not compile, 77 the
# toolchain cannot be had here (no Debian archive access): skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

cache="${TX2YOLO_SM62_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tx2yolo-sm62}"
prefix="$cache/prefix"
debs="$cache/debs"
nvcc_dir="$prefix/usr/lib/nvidia-cuda-toolkit/bin"
doc="${TX2YOLO_SM62_DOC:-docs/sm62-kernels.md}"  # CTest writes it into the build folder
packages=(nvidia-cuda-toolkit libnvvm4 nvidia-cuda-dev libcudart11.0)
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

# sm_62 limits (CUDA programming guide, compute capability 6.2).
regs_per_block=32768     # 32K registers per block on the TX2
smem_per_block=49152     # 48 KiB shared memory per block
regs_per_sm=65536
smem_per_sm=65536
threads_per_sm=2048
warps_per_sm=64
blocks_per_sm=32

# The largest dynamic shared memory a kernel's launcher allows (none: 0).
declare -A dynamic_smem=(
  [conv2d_depthwise_kernel]=32768   # kernels/cuda/conv2d.cu: conv2d_cuda_supports caps depthwise_shared_bytes at 32 KiB
)

fetch_toolchain() {
  mkdir -p "$debs"
  if ! (cd "$debs" && apt-get download "${packages[@]}" >/dev/null 2>&1); then
    # Enable bookworm's contrib and non-free components beside the existing sources.
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
      sed -e 's/^Components:.*/Components: contrib non-free/' /etc/apt/sources.list.d/debian.sources |
        $sudo tee /etc/apt/sources.list.d/tx2yolo-nonfree.sources >/dev/null
    else
      # A one-line sources.list: the same archive's contrib and non-free.
      local line
      line=$(grep -h -m1 -E '^deb [^ ]+ bookworm ' /etc/apt/sources.list 2>/dev/null) || return 1
      printf '%s\n' "$line" | awk '{print $1, $2, $3, "contrib non-free"}' |
        $sudo tee /etc/apt/sources.list.d/tx2yolo-nonfree.list >/dev/null
    fi
    $sudo apt-get update -qq >/dev/null 2>&1 || return 1
    (cd "$debs" && apt-get download "${packages[@]}" >/dev/null 2>&1) || return 1
  fi
  rm -rf "$prefix"
  mkdir -p "$prefix"
  for d in "$debs"/*.deb; do dpkg -x "$d" "$prefix"; done
  # The packaged nvcc.profile links to /etc with absolute /usr paths; make the prefix self-contained.
  rm -f "$nvcc_dir/nvcc.profile"
  cat > "$nvcc_dir/nvcc.profile" <<EOF
NVVMIR_LIBRARY_DIR = \$(_HERE_)/../libdevice
PATH += \$(_HERE_):$prefix/usr/bin:
INCLUDES += "-I$prefix/usr/include" \$(_SPACE_)
LIBRARIES =+ \$(_SPACE_) "-L$prefix/usr/lib/x86_64-linux-gnu"
CUDAFE_FLAGS +=
PTXAS_FLAGS +=
EOF
}

if [ ! -x "$nvcc_dir/nvcc" ]; then
  echo "sm62-check: fetching Debian's CUDA 11.8 (${packages[*]}) into $cache"
  if ! fetch_toolchain; then
    echo "sm62-check: SKIPPED: cannot download Debian's nvidia-cuda-toolkit 11.8 here"
    exit 77
  fi
fi
if ! command -v g++-11 >/dev/null 2>&1; then
  echo "sm62-check: installing g++-11 (CUDA 11.8 accepts GCC <= 11)"
  if ! { $sudo apt-get install -y -qq g++-11 >/dev/null 2>&1 ||
         { $sudo apt-get update -qq >/dev/null 2>&1 && $sudo apt-get install -y -qq g++-11 >/dev/null 2>&1; }; }; then
    echo "sm62-check: SKIPPED: cannot install g++-11 here"
    exit 77
  fi
fi

export PATH="$nvcc_dir:$prefix/usr/bin:$PATH"
version=$(nvcc --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')
[ "$version" = "11.8" ] || { echo "sm62-check: FAIL: expected nvcc 11.8 from $nvcc_dir, got '$version'"; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
rows=()
for src in kernels/cuda/*.cu; do
  name=$(basename "$src" .cu)
  flags=(-std=c++14 -ccbin g++-11 -arch=sm_62 -I. -I"$prefix/usr/include" -DTX2YOLO_WITH_CUDA)
  if ! nvcc "${flags[@]}" -Xptxas -v -c "$src" -o "$work/$name.o" 2> "$work/$name.log"; then
    echo "sm62-check: FAIL: $src does not compile for sm_62:"
    sed -n '1,20p' "$work/$name.log"
    status=1
    continue
  fi
  nvcc "${flags[@]}" -ptx "$src" -o "$work/$name.ptx" 2>/dev/null
  # Launch bounds per entry: ".entry <name>(" ... ".maxntid x, y, z".
  awk '/\.entry /{e=$0; sub(/.*\.entry[ \t]+/,"",e); sub(/\(.*/,"",e)}
       /\.maxntid/{n=$0; sub(/.*\.maxntid[ \t]+/,"",n); gsub(/ /,"",n); split(n,d,","); print e, d[1]*d[2]*d[3]}' \
      "$work/$name.ptx" > "$work/$name.bounds"
  # ptxas -v: per entry, the stack/spill line and the registers/smem line.
  awk '/Compiling entry function/{e=$0; sub(/.*function \x27/,"",e); sub(/\x27.*/,"",e)}
       /bytes stack frame/{st=$1; ss=$5; sl=$9}
       /Used [0-9]+ registers/{r=$0; sub(/.*Used /,"",r); sub(/ registers.*/,"",r);
         sm=0; if ($0 ~ /bytes smem/) {sm=$0; sub(/ bytes smem.*/,"",sm); sub(/.*, /,"",sm)}
         if (e != "") print e, r, sm, st, ss, sl; e=""}' "$work/$name.log" > "$work/$name.usage"
  while read -r mangled regs smem stack spill_st spill_ld; do
    kernel=$(echo "$mangled" | c++filt | sed 's/(anonymous namespace):://g; s/(.*//; s/^void //; s/^tx2yolo:://; s/^cuda:://')
    base=${kernel%%<*}
    threads=$(awk -v e="$mangled" '$1==e{print $2}' "$work/$name.bounds")
    dyn=${dynamic_smem[$base]:-0}
    problems=""
    if [ -z "$threads" ]; then problems+=" no __launch_bounds__;"; threads=0; fi
    if [ "$spill_st" != "0" ] || [ "$spill_ld" != "0" ]; then problems+=" spills ($spill_st B stores, $spill_ld B loads);"; fi
    if [ $((regs * threads)) -gt $regs_per_block ]; then problems+=" $regs regs x $threads threads > $regs_per_block;"; fi
    if [ $((smem + dyn)) -gt $smem_per_block ]; then problems+=" $((smem + dyn)) B shared > $smem_per_block;"; fi
    # Theoretical occupancy on sm_62 (registers allocated per warp in units of 256).
    occ="-"
    if [ "$threads" -gt 0 ]; then
      warps=$(( (threads + 31) / 32 ))
      regs_warp=$(( ((regs * 32 + 255) / 256) * 256 ))
      [ "$regs_warp" -gt 0 ] || regs_warp=256
      by_regs=$(( (regs_per_sm / regs_warp) / warps ))
      by_threads=$(( threads_per_sm / (warps * 32) ))
      total_smem=$(( smem + dyn ))
      if [ "$total_smem" -gt 0 ]; then by_smem=$(( smem_per_sm / ( ((total_smem + 255) / 256) * 256 ) )); else by_smem=$blocks_per_sm; fi
      blocks=$by_regs
      for b in $by_threads $by_smem $blocks_per_sm; do [ "$b" -lt "$blocks" ] && blocks=$b; done
      occ="$(( 100 * blocks * warps / warps_per_sm ))%"
    fi
    result="pass"
    if [ -n "$problems" ]; then result="FAIL:$problems"; status=1; fi
    rows+=("| $name.cu | \`$kernel\` | $threads | $regs | $smem | $dyn | $stack | $spill_st / $spill_ld | $((regs * threads)) | $occ | $result |")
    printf '%-18s %-28s threads %5s regs %3s smem %6s+%-6s spills %s/%s occupancy %-5s %s\n' \
      "$name.cu" "$kernel" "$threads" "$regs" "$smem" "$dyn" "$spill_st" "$spill_ld" "$occ" "$result"
  done < "$work/$name.usage"
done

{
  echo "# Device code on sm_62 (Jetson TX2): registers, shared memory, occupancy"
  echo
  echo "Written by \`tools/sm62-check.sh\` (Debian's CUDA $version, \`nvcc -std=c++14 -arch=sm_62 -Xptxas -v\`,"
  echo "host compiler GCC 11). This is a compile-time table: nothing here ran on a TX2. Limits checked per"
  echo "kernel: no spills; registers x launch-bound threads <= 32768 (the TX2's registers per block);"
  echo "static + largest dynamic shared memory <= 48 KiB. Occupancy is theoretical (64K registers,"
  echo "64 KiB shared memory, 2048 threads, 32 blocks per SM; registers allocated per warp in units of 256)."
  echo
  echo "| file | kernel | threads (launch bounds) | registers | static smem (B) | max dynamic smem (B) | stack (B) | spill stores / loads (B) | registers x threads | occupancy | result |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} > "$doc.tmp"
mv "$doc.tmp" "$doc"
if [ "$status" -eq 0 ]; then echo "sm62-check: PASS (${#rows[@]} kernels; table in $doc)"; else echo "sm62-check: FAIL (table in $doc)"; fi
exit "$status"
