#!/usr/bin/env bash
# Soak test (a bench, not a CTest): FRAMES frames (default 100000) of a
# generated video through `tx2yolo detect` on the CPU at a 32x32 input, with
# the process's resident memory and open file descriptors read from /proc at
# frame 1,000 and at the last frame. Passes when the resident memory at the
# end is within 5% of that at frame 1,000 and no descriptor was added.
#   tools/soak-detect.sh [FRAMES]        (after tools/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
frames="${1:-100000}"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
build/bench/tx2yolo_make_soak_clip "$work/clip.avi" "$frames" 96 64
echo "soak: $frames frames of 96x64 MJPG ($(du -h "$work/clip.avi" | cut -f1)); detect on the CPU at 32x32"
python3 - "$frames" "$work/clip.avi" <<'PY'
import os, subprocess, sys, time
frames, clip = int(sys.argv[1]), sys.argv[2]
cmd = ["build/tx2yolo", "detect", clip, "--backend", "cpu", "--input-size", "32", "--threads", "1", "--quiet"]
p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
def sample():
    rss = next(int(l.split()[1]) for l in open(f"/proc/{p.pid}/status") if l.startswith("VmRSS:"))
    return rss, len(os.listdir(f"/proc/{p.pid}/fd"))
marks, t0, seen = {}, time.time(), 0
for line in p.stdout:
    if not line.startswith("frame-"):
        continue
    seen += 1
    if seen in (1000, frames):
        marks[seen] = sample() + (time.time() - t0,)
        print(f"soak: frame {seen}: resident {marks[seen][0] / 1024:.1f} MiB, {marks[seen][1]} fds, {marks[seen][2]:.0f} s", flush=True)
p.wait()
if p.returncode != 0 or 1000 not in marks or frames not in marks:
    sys.exit(f"soak: detect exited {p.returncode} after {seen} frames")
(r1, f1, _), (r2, f2, t2) = marks[1000], marks[frames]
growth = (r2 - r1) / r1
print(f"soak: resident memory {r1 / 1024:.1f} -> {r2 / 1024:.1f} MiB ({100 * growth:+.2f}%), fds {f1} -> {f2}, "
      f"{seen} frames in {t2:.0f} s ({seen / t2:.0f} frames/s)")
ok = abs(growth) <= 0.05 and f2 <= f1
print("soak: PASS" if ok else "soak: FAIL")
sys.exit(0 if ok else 1)
PY
