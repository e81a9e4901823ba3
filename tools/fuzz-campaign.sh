#!/usr/bin/env bash
# A fuzzing campaign: every target (or those named) for SECONDS each, one
# after another, keeping new coverage in fuzz/corpus/NAME, then minimising
# that corpus (libFuzzer -merge=1) so that what is committed stays small.
# Inputs of 8 KiB and more are dropped from the kept corpus (see below).
# Prints one Markdown row per target for docs/testing.md ("Fuzzing").
#   tools/fuzz-campaign.sh SECONDS [NAME ...]
# Findings (crashes, sanitizer reports, timeouts) are kept in
# fuzz/findings/ (not committed: each is fixed, and its reproducer goes to
# tests/data/fuzz/ with a regression test).
set -uo pipefail
cd "$(dirname "$0")/.."
seconds="$1"; shift
names=("$@")
[ ${#names[@]} -eq 0 ] && names=(model_file json_header pickle lod_tensor program_desc pir_json ppdet_yml voc_xml convert image)
mkdir -p fuzz/findings
echo "| target | seconds | executions | executions/s | coverage (edges) | features | corpus files | findings |"
echo "|---|---|---|---|---|---|---|---|"
for t in "${names[@]}"; do
  log=$(FUZZ_KEEP=1 FUZZ_ARTIFACTS="$PWD/fuzz/findings" tools/fuzz-run.sh "$t" "$seconds" 2>&1)
  rc=$?
  execs=$(printf '%s\n' "$log" | sed -n 's/^stat::number_of_executed_units: *//p' | tail -1)
  rate=$(printf '%s\n' "$log" | sed -n 's/^stat::average_exec_per_sec: *//p' | tail -1)
  cov=$(printf '%s\n' "$log" | grep -oE 'cov: [0-9]+' | tail -1 | cut -d' ' -f2)
  ft=$(printf '%s\n' "$log" | grep -oE 'ft: [0-9]+' | tail -1 | cut -d' ' -f2)
  bin="build-fuzz/fuzz/fuzz_$t"
  if [ -x "$bin" ]; then
    rm -rf "fuzz/corpus/$t.min" && mkdir -p "fuzz/corpus/$t.min"
    "$bin" -merge=1 -timeout=5 -rss_limit_mb=2048 "fuzz/corpus/$t.min" "fuzz/corpus/$t" >/dev/null 2>&1 &&
      rm -rf "fuzz/corpus/$t" && mv "fuzz/corpus/$t.min" "fuzz/corpus/$t" && touch "fuzz/corpus/$t/.keep"
  fi
  # Keep the committed corpus small (about 1 MB in all): inputs of 8 KiB and
  # more are mutated copies of the large seed files, which stay listed in
  # fuzz/seeds/ and are read from the fixtures on every run.
  find "fuzz/corpus/$t" -type f ! -name .keep -size +8191c -delete
  files=$(find "fuzz/corpus/$t" -type f ! -name .keep | wc -l)
  findings=$([ $rc -eq 0 ] && echo none || echo "FAILED (rc $rc), see fuzz/findings")
  echo "| fuzz_$t | $seconds | ${execs:-?} | ${rate:-?} | ${cov:-?} | ${ft:-?} | $files | $findings |"
done
echo "corpus total: $(du -sh fuzz/corpus | cut -f1)"
