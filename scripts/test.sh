#!/usr/bin/env bash
# The whole test suite (what `make test` and CI run), or one part of it:
#   scripts/test.sh            everything, in this order:
#     1. format/style checks, release build with -Werror, the README configuration table check,
#        cmocka unit tests (ctest -L unit)
#     2. e2e suites (node + official better-auth client) on SQLite and PostgreSQL, then the FastAPI
#        integration's pytest suite (Debian's /usr/bin/python3, against a real gatehouse)
#     3. a short libFuzzer run of every parser harness (tests/fuzz), and a smoke scenario under
#        valgrind's memcheck (scripts/valgrind-smoke.sh)
#     4. the same build, unit tests and e2e under AddressSanitizer + UndefinedBehaviorSanitizer
#   scripts/test.sh unit       1. only (make test-unit)
#   scripts/test.sh e2e [S..]  release build + 2. (make test-e2e; S = suite names, default all)
#   scripts/test.sh asan [S..] 4. only (make test-asan)
#   scripts/test.sh fastapi    release build + the FastAPI integration's pytest suite
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS="$(nproc)"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
PART="${1:-all}"
[[ $# -gt 0 ]] && shift
case "$PART" in all | unit | e2e | asan | fastapi) ;; *) echo "usage: scripts/test.sh [unit|e2e|asan|fastapi] [suites...]" >&2; exit 2 ;; esac

step() { printf '\n==== %s\n' "$*"; }

# A throwaway PostgreSQL for the store unit tests (the e2e harness starts its own).
if [[ "$PART" != e2e && "$PART" != fastapi ]]; then
  PG_DIR="$(mktemp -d /tmp/gatehouse-unit-pg.XXXXXX)"
  trap 'scripts/pg-temp.sh stop "$PG_DIR"' EXIT
  GH_TEST_PG_URL="$(scripts/pg-temp.sh start "$PG_DIR")"
  export GH_TEST_PG_URL
fi

release_build() {
  step "release build"
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build -j "$JOBS"
}

if [[ "$PART" == all || "$PART" == unit ]]; then
  step "format and style check"
  clang-format --dry-run -Werror $(git ls-files '*.c' '*.h')
  scripts/check-banned.sh
  release_build
  step "docs check: the README configuration table is the one the binary prints"
  diff <(build/gatehouse config-table) <(sed -n '/^<!-- config-table/,/^<!-- \/config-table/p' README.md | sed '1d;$d')
  step "deploy check: the systemd unit (systemd-analyze verify, hardening exposure)"
  scripts/check-deploy.sh build/gatehouse
  step "unit tests"
  ctest --test-dir build -L unit --output-on-failure -j "$JOBS"
fi

if [[ "$PART" == all || "$PART" == e2e ]]; then
  [[ "$PART" == e2e ]] && release_build
  step "e2e (release build)"
  GATEHOUSE_BIN="$PWD/build/gatehouse" GATEHOUSE_TASKS_BIN="$PWD/build/gatehouse-tasks" scripts/e2e.sh "$@"
fi

# The FastAPI integration under Debian's Python (not whatever python3 is first on PATH): its
# packages are Debian's (scripts/deps.sh --test). Runs with the whole e2e step, or alone.
if [[ "$PART" == fastapi || ( ( "$PART" == all || "$PART" == e2e ) && $# -eq 0 ) ]]; then
  [[ "$PART" == fastapi ]] && release_build
  step "FastAPI integration (pytest under /usr/bin/python3, a real gatehouse)"
  (cd integrations/fastapi && GATEHOUSE_BIN="$OLDPWD/build/gatehouse" PYTHONDONTWRITEBYTECODE=1 \
    /usr/bin/python3 -m pytest -p no:cacheprovider tests)
fi

if [[ "$PART" == all ]]; then
  step "fuzz (libFuzzer, ${FUZZ_SECONDS:-10} s per harness)"
  FUZZ_SECONDS="${FUZZ_SECONDS:-10}" scripts/fuzz.sh
  step "valgrind smoke run (memcheck: no errors, no leaks)"
  scripts/valgrind-smoke.sh build/gatehouse
fi

if [[ "$PART" == all || "$PART" == asan ]]; then
  step "ASan+UBSan build"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DGH_SANITIZE=ON >/dev/null
  cmake --build build-asan -j "$JOBS"
  step "unit tests (ASan+UBSan)"
  ctest --test-dir build-asan -L unit --output-on-failure -j "$JOBS"
  step "e2e (ASan+UBSan build)"
  GATEHOUSE_BIN="$PWD/build-asan/gatehouse" GATEHOUSE_TASKS_BIN="$PWD/build-asan/gatehouse-tasks" scripts/e2e.sh "$@"
fi
