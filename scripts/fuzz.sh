#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz/fuzz_*.c) with clang into build-fuzz/ and runs each
# one for FUZZ_SECONDS (default 15) on a copy of its seed corpus (tests/fuzz/corpus/<harness>/),
# one after another under `nice`. Fails when any harness finds a crash, leak, timeout or OOM.
#   scripts/fuzz.sh                     every harness
#   scripts/fuzz.sh fuzz_origin ...     only these
#   FUZZ_SECONDS=300 scripts/fuzz.sh    longer runs
# Findings are kept in build-fuzz/fuzz-run/<harness>/ (crash-*, leak-*, timeout-*, oom-* and the
# log); reproduce one with: build-fuzz/<harness> <file>.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS="${FUZZ_SECONDS:-15}"
BUILD="${FUZZ_BUILD:-build-fuzz}"
CC_FUZZ="${FUZZ_CC:-clang}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

if ! command -v "$CC_FUZZ" >/dev/null; then
  echo "fuzz: $CC_FUZZ not found (apt-get install clang libclang-rt-dev)" >&2
  exit 1
fi

cmake -S . -B "$BUILD" -G Ninja -DGH_FUZZ=ON -DCMAKE_C_COMPILER="$CC_FUZZ" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
nice -n 10 cmake --build "$BUILD" --target gh_fuzz -j "$(nproc)"

if (($#)); then
  harnesses=("$@")
else
  harnesses=()
  for src in tests/fuzz/fuzz_*.c; do harnesses+=("$(basename "$src" .c)"); done
fi

failed=0
summary=()
for h in "${harnesses[@]}"; do
  bin="$BUILD/$h"
  [[ -x "$bin" ]] || { echo "fuzz: no harness $h" >&2; exit 1; }
  run="$BUILD/fuzz-run/$h"
  rm -rf "$run"
  mkdir -p "$run/corpus"
  [[ -d "tests/fuzz/corpus/$h" ]] && cp -r "tests/fuzz/corpus/$h/." "$run/corpus/"
  echo "==== $h (${FUZZ_SECONDS}s)"
  rc=0
  nice -n 10 "$bin" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$run/" "$run/corpus" >"$run/log" 2>&1 || rc=$?
  # last status line: "#1234  REDUCE cov: 456 ft: 789 corp: 12/345b lim: ... exec/s: 999 rss: 40Mb"
  status_line="$(grep -E '^#[0-9]+' "$run/log" | tail -n 1 || true)"
  cov="$(sed -nE 's/.* cov: ([0-9]+) ft: ([0-9]+) corp: ([0-9]+)\/.*/cov: \1 ft: \2 corpus: \3/p' \
    <<<"$status_line")"
  execs="$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$run/log")"
  secs="$(sed -nE 's/^Done [0-9]+ runs in ([0-9]+) second.*/\1/p' "$run/log")"
  rate="$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+)/\1/p' "$run/log")"
  rss="$(sed -nE 's/^stat::peak_rss_mb: *([0-9]+)/\1/p' "$run/log")"
  findings="$(find "$run" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' \
    -o -name 'timeout-*' -o -name 'oom-*' -o -name 'slow-unit-*' \) | sort | tr '\n' ' ')"
  if ((rc != 0)) || [[ -n "$findings" ]]; then
    failed=1
    tail -n 60 "$run/log"
    line="FAIL $h: exit $rc ${findings:-(no artifact)} log: $run/log"
  else
    line="ok   $h: ${secs:-$FUZZ_SECONDS}s, ${execs:-?} execs (${rate:-?}/s), ${cov:-cov: ?}, rss ${rss:-?} MB"
  fi
  echo "$line"
  summary+=("$line")
done

echo
echo "==== fuzz summary (${FUZZ_SECONDS}s per harness)"
printf '%s\n' "${summary[@]}"
exit "$failed"
