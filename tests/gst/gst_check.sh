#!/usr/bin/env bash
# The GStreamer element, headless: frames pass through it in BGR, BGRx and
# RGB; a missing model is a clean pipeline ERROR; on the demo image its
# region-of-interest metas equal `tx2yolo detect --json` (label and score
# exactly, boxes within the rounding to whole pixels). The CTest
# GStreamer.ElementPassesFramesAndItsMetasMatchTheCli.
#   tests/gst/gst_check.sh BUILD_DIR
set -uo pipefail
cd "$(dirname "$0")/../.."
build="$1"
export GST_PLUGIN_PATH="$build/gst"
export GST_REGISTRY="$(mktemp -d)/registry.bin"  # a private registry: no stale plugin cache
probe="$build/gst/gst_roi_probe"
model=models/demo.safetensors
fail=0
check() {  # check NAME EXPECTED_TEXT OUTPUT
  if printf '%s\n' "$3" | grep -qF -- "$2"; then echo "ok: $1"; else echo "FAIL: $1: expected '$2' in:"; printf '%s\n' "$3"; fail=1; fi
}

for fmt in BGR BGRx RGB; do
  out=$("$probe" "videotestsrc num-buffers=4 ! video/x-raw,format=$fmt,width=160,height=120 ! tx2yolo model=$model backend=cpu draw=true ! fakesink name=sink" 2>&1)
  check "videotestsrc $fmt frames pass" "buffers 4 rois" "$out"
done
out=$("$probe" "videotestsrc num-buffers=2 ! video/x-raw,format=BGR ! tx2yolo model=/nonexistent/m.safetensors ! fakesink name=sink" 2>&1)
check "a missing model is a pipeline ERROR naming it" "error: tx2yolo: /nonexistent/m.safetensors: cannot open" "$out"
out=$("$probe" "videotestsrc num-buffers=2 ! video/x-raw,format=BGR ! tx2yolo ! fakesink name=sink" 2>&1)
check "no model set is a pipeline ERROR" "error: tx2yolo: no model set" "$out"
out=$("$probe" "videotestsrc num-buffers=2 ! video/x-raw,format=BGR ! tx2yolo model=$model backend=tpu ! fakesink name=sink" 2>&1)
check "a bad backend is a pipeline ERROR" "error: tx2yolo: " "$out"

# The demo image through appsrc against the CLI.
tmp=$(mktemp -d); trap 'rm -rf "$tmp" "$(dirname "$GST_REGISTRY")"' EXIT
"$probe" "appsrc name=src ! tx2yolo model=$model backend=cpu ! fakesink name=sink" --push assets/demo.jpg >"$tmp/gst.txt" 2>&1
"$build/tx2yolo" detect assets/demo.jpg --model "$model" --backend cpu --json "$tmp/cli.json" >/dev/null
if python3 - "$tmp/gst.txt" "$tmp/cli.json" <<'PY'
import json, sys
rois = [l.split() for l in open(sys.argv[1]) if l.startswith("roi ")]
cli = [d for d in json.load(open(sys.argv[2])) if d["score"] >= 0.5]   # the model's draw_threshold
assert len(rois) == len(cli) == 5, (len(rois), len(cli), open(sys.argv[1]).read())
for r, d in zip(sorted(rois, key=lambda r: -float(r[2])), sorted(cli, key=lambda d: -d["score"])):
    label, score, x, y, w, h = r[1], float(r[2]), *map(int, r[3:])
    assert label == d["category_name"], (label, d)
    assert abs(score - d["score"]) < 1e-6, (score, d)
    bx, by, bw, bh = d["bbox"]                                          # COCO x, y, w, h
    for got, want in ((x, bx), (y, by), (x + w, bx + bw), (y + h, by + bh)):
        assert abs(got - want) <= 1.0, (r, d["bbox"])
print("ok: the demo image's 5 metas equal detect --json")
PY
then :; else fail=1; cat "$tmp/gst.txt"; fi
exit $fail
