#!/usr/bin/env bash
# The whole test suite (what `make test` and CI run):
#   1. release build with -Werror, clang-format check, cmocka unit tests (ctest -L unit)
#   2. e2e suites (node + official better-auth client) on SQLite and PostgreSQL
#   3. a short libFuzzer run of every parser harness (tests/fuzz)
#   4. the same build, unit tests and e2e under AddressSanitizer + UndefinedBehaviorSanitizer
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS="$(nproc)"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

step() { printf '\n==== %s\n' "$*"; }

# A throwaway PostgreSQL for the store unit tests (the e2e harness starts its own).
PG_DIR="$(mktemp -d /tmp/gatehouse-unit-pg.XXXXXX)"
trap 'scripts/pg-temp.sh stop "$PG_DIR"' EXIT
GH_TEST_PG_URL="$(scripts/pg-temp.sh start "$PG_DIR")"
export GH_TEST_PG_URL

step "format and style check"
clang-format --dry-run -Werror $(git ls-files '*.c' '*.h')
scripts/check-banned.sh

step "release build"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$JOBS"

step "docs check: the README configuration table is the one the binary prints"
diff <(build/gatehouse config-table) <(sed -n '/^<!-- config-table/,/^<!-- \/config-table/p' README.md | sed '1d;$d')

step "unit tests"
ctest --test-dir build -L unit --output-on-failure -j "$JOBS"

step "e2e (release build)"
GATEHOUSE_BIN="$PWD/build/gatehouse" GATEHOUSE_TASKS_BIN="$PWD/build/gatehouse-tasks" scripts/e2e.sh

step "fuzz (libFuzzer, ${FUZZ_SECONDS:-10} s per harness)"
FUZZ_SECONDS="${FUZZ_SECONDS:-10}" scripts/fuzz.sh

step "ASan+UBSan build"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DGH_SANITIZE=ON >/dev/null
cmake --build build-asan -j "$JOBS"

step "unit tests (ASan+UBSan)"
ctest --test-dir build-asan -L unit --output-on-failure -j "$JOBS"

step "e2e (ASan+UBSan build)"
GATEHOUSE_BIN="$PWD/build-asan/gatehouse" GATEHOUSE_TASKS_BIN="$PWD/build-asan/gatehouse-tasks" scripts/e2e.sh
