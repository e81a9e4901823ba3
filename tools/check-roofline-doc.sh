#!/usr/bin/env bash
# Checks that docs/performance.md's "The TX2 model (roofline)" section (to the
# end of the file) is what tx2yolo_tx2_roofline prints now, with the
# efficiencies of the H200 run it was made from. Regenerate it with:
#   build/bench/tx2yolo_tx2_roofline --efficiency docs/measurements/2026-11-28-h200/bench.json
# and replace the section.
# Usage: tools/check-roofline-doc.sh ROOFLINE_BINARY
set -euo pipefail
cd "$(dirname "$0")/.."
tool="$1"
doc=docs/performance.md
efficiency=docs/measurements/2026-11-28-h200/bench.json
expected=$(sed -n '/^## The TX2 model (roofline)$/,$p' "$doc")
if [ -z "$expected" ]; then echo "check-roofline-doc: no roofline section in $doc" >&2; exit 1; fi
if ! diff <("$tool" --efficiency "$efficiency") <(printf '%s\n' "$expected") >/tmp/roofline-doc.diff.$$; then
  echo "check-roofline-doc: $doc differs from what $tool prints (regenerate it; first differences below)" >&2
  head -20 /tmp/roofline-doc.diff.$$ >&2
  rm -f /tmp/roofline-doc.diff.$$
  exit 1
fi
rm -f /tmp/roofline-doc.diff.$$
echo "check-roofline-doc: $doc's TX2 model is current"
