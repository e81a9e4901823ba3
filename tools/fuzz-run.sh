#!/usr/bin/env bash
# Runs one fuzz target (fuzz/fuzz_<name>.cpp) from its seeds and committed
# corpus, with the limits every run keeps: 1 s per input, 2 GB of memory.
#   tools/fuzz-run.sh NAME SECONDS [BUILD_DIR]
# BUILD_DIR (default build-fuzz) is a clang build with -DTX2YOLO_FUZZ=ON
# (tools/setup.sh makes it where clang and libFuzzer are installed). Exits 77
# (a skip, for CTest) when the target is not built. New inputs that add
# coverage are kept in fuzz/corpus/NAME only with FUZZ_KEEP=1 (a campaign:
# then minimise with -merge=1 and commit); otherwise they stay in a
# temporary folder. A crash, a sanitizer report, an exception other than
# tx2yolo::Error or a timeout fails the run, and the input is saved in
# $FUZZ_ARTIFACTS (default: a temporary folder) and named on stderr.
# FUZZ_EXTRA_ARGS adds libFuzzer flags, e.g. FUZZ_EXTRA_ARGS=-malloc_limit_mb=256
# so that one large allocation is reported with its stack.
set -uo pipefail
cd "$(dirname "$0")/.."
name="$1"; seconds="$2"; build="${3:-build-fuzz}"
bin="$build/fuzz/fuzz_$name"
if [ ! -x "$bin" ]; then echo "fuzz-run: $bin not built (clang with libFuzzer, tools/setup.sh)"; exit 77; fi
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mkdir -p "$work/new" "$work/seeds" "fuzz/corpus/$name"
artifacts="${FUZZ_ARTIFACTS:-$work/artifacts}"; mkdir -p "$artifacts"
if [ -f "fuzz/seeds/$name.txt" ]; then
  while read -r f; do [ -n "$f" ] && cp "$f" "$work/seeds/"; done <"fuzz/seeds/$name.txt"
fi
[ "$name" = image ] && "$build/fuzz/fuzz_make_image_seeds" "$work/seeds"
case "$name" in
  model_file|json_header|pir_json) dict=fuzz/dict/json.dict ;;
  pickle|convert) dict=fuzz/dict/pickle.dict ;;
  *) dict="fuzz/dict/$name.dict" ;;
esac
dict_arg=(); [ -f "$dict" ] && dict_arg=(-dict="$dict")
read -r -a extra_args <<<"${FUZZ_EXTRA_ARGS:-}"
# fuzz_image decodes at most 4 megapixels (fuzz/fuzz_image.cpp), so no
# allocation needs 256 MB: a larger one is a pixel-limit bypass, reported
# with its stack (as the PBM comment finding was, docs/testing.md).
[ "$name" = image ] && extra_args+=(-malloc_limit_mb=256)
out="$work/new"; [ "${FUZZ_KEEP:-0}" = 1 ] && out="fuzz/corpus/$name"
"$bin" -max_total_time="$seconds" -timeout=1 -error_exitcode=99 -timeout_exitcode=98 -rss_limit_mb=2048 -max_len=1048576 -print_final_stats=1 \
  -artifact_prefix="$artifacts/" "${dict_arg[@]}" ${extra_args[@]+"${extra_args[@]}"} "$out" "fuzz/corpus/$name" "$work/seeds" >"$work/log" 2>&1
rc=$?
grep -E "^stat::|#[0-9]+.*DONE" "$work/log" | tail -8
if [ $rc -ne 0 ]; then
  tail -40 "$work/log"
  echo "fuzz-run: fuzz_$name FAILED (rc $rc); reproducer(s) in $artifacts: $(ls "$artifacts" 2>/dev/null | tr '\n' ' ')"
  [ -z "${FUZZ_ARTIFACTS:-}" ] && { mkdir -p /tmp/tx2yolo-fuzz-artifacts; cp "$artifacts"/* /tmp/tx2yolo-fuzz-artifacts/ 2>/dev/null; echo "copied to /tmp/tx2yolo-fuzz-artifacts"; }
  exit 1
fi
echo "fuzz-run: fuzz_$name ran ${seconds}s with no finding"
