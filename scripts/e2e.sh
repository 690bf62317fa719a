#!/usr/bin/env bash
# End-to-end tests: the real gatehouse binary driven over HTTP by the official better-auth client,
# against SQLite and a throwaway PostgreSQL cluster the harness starts itself, plus two-way
# compatibility with the real better-auth server library. `make test` calls this.
#
#   scripts/e2e.sh                 all suites, backends sqlite and postgres
#   scripts/e2e.sh core origin     only tests/e2e/core.test.mjs and origin.test.mjs
#
# Environment:
#   GATEHOUSE_BIN     binary under test (default <repo>/build/gatehouse)
#   GATEHOUSE_TASKS_BIN  the reference resource server for tasks.test.mjs
#                     (default <repo>/build/gatehouse-tasks)
#   GH_E2E_BACKENDS   comma list (default "sqlite,postgres")
#   GH_E2E_TARGET     "gatehouse" (default) or "better-auth": run the suites against the real
#                     better-auth (tests/e2e/lib/reference-server.mjs) to check the expectations
#   GH_E2E_KEEP=1     keep the temporary directory (server logs, databases) for inspection
#   GH_E2E_VERBOSE=1  echo server stderr while the tests run
#
# Needs: node >= 20 and npm (npm ci runs once, from the committed lockfile), the postgresql server
# package (binaries under /usr/lib/postgresql/*/bin; as root the clusters run as the postgres user),
# and the sqlite3 shell for SQL assertions on SQLite (installed with apt-get when missing and root).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
E2E="$ROOT/tests/e2e"
export GH_E2E_TARGET="${GH_E2E_TARGET:-gatehouse}"
export GH_E2E_BACKENDS="${GH_E2E_BACKENDS:-sqlite,postgres}"
export GATEHOUSE_BIN="${GATEHOUSE_BIN:-$ROOT/build/gatehouse}"
export GATEHOUSE_TASKS_BIN="${GATEHOUSE_TASKS_BIN:-$ROOT/build/gatehouse-tasks}"

die() { echo "e2e: $*" >&2; exit 1; }

command -v node >/dev/null || die "node not found (node >= 20 is required)"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[[ "$node_major" -ge 20 ]] || die "node >= 20 required, found $(node --version)"

if [[ "$GH_E2E_TARGET" == "gatehouse" && ! -x "$GATEHOUSE_BIN" ]]; then
  die "gatehouse binary not found at $GATEHOUSE_BIN (build it first, or set GATEHOUSE_BIN)"
fi

if [[ ",$GH_E2E_BACKENDS," == *",postgres,"* ]] && ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 && [[ -z "${GH_PG_BIN:-}" ]]; then
  die "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (apt-get install -y postgresql)"
fi

if [[ ",$GH_E2E_BACKENDS," == *",sqlite,"* ]] && ! command -v sqlite3 >/dev/null; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    echo "e2e: installing the sqlite3 shell (used for SQL assertions on SQLite databases)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sqlite3 >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sqlite3 >/dev/null; } ||
      die "could not install sqlite3"
  else
    die "the sqlite3 shell is required for the SQLite backend (apt-get install -y sqlite3)"
  fi
fi

if [[ ! -d "$E2E/node_modules" ]]; then
  echo "e2e: npm ci in tests/e2e"
  (cd "$E2E" && npm ci --no-audit --no-fund --loglevel=error)
fi

# One temporary root for everything the run creates (sqlite files, PG clusters, server logs).
GH_E2E_TMP="$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-e2e.XXXXXX")"
chmod 755 "$GH_E2E_TMP" # the postgres user must reach its cluster directories inside
export GH_E2E_TMP

cleanup() {
  # Stop any cluster a crashed test process left running, then delete the files.
  local pidfile datadir
  for pidfile in "$GH_E2E_TMP"/*/data/postmaster.pid; do
    [[ -e "$pidfile" ]] || continue
    datadir="$(dirname "$pidfile")"
    local pgctl
    pgctl="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)/pg_ctl"
    if [[ "$(id -u)" == 0 ]]; then
      runuser -u postgres -- "$pgctl" -D "$datadir" -m immediate stop >/dev/null 2>&1 || true
    else
      "$pgctl" -D "$datadir" -m immediate stop >/dev/null 2>&1 || true
    fi
  done
  if [[ "${GH_E2E_KEEP:-}" == 1 ]]; then
    echo "e2e: kept $GH_E2E_TMP"
  else
    rm -rf "$GH_E2E_TMP"
  fi
}
trap cleanup EXIT

files=()
if [[ $# -gt 0 ]]; then
  for name in "$@"; do
    f="$E2E/${name%.test.mjs}.test.mjs"
    [[ -f "$f" ]] || die "no such suite: $name"
    files+=("$f")
  done
else
  files=("$E2E"/*.test.mjs)
fi

echo "e2e: target=$GH_E2E_TARGET backends=$GH_E2E_BACKENDS binary=$GATEHOUSE_BIN"
cd "$ROOT"
node --test --test-concurrency=1 --test-timeout=180000 --test-reporter=spec "${files[@]}"
