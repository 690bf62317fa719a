#!/usr/bin/env bash
# A/B: the same short wrk runs against two gatehouse binaries, alternating old/new in every round,
# so that a refactor can be compared on a noisy machine (one `make bench` run against the figures
# of an earlier day mostly measures the machine).
#
#   bench/ab.sh OLD_BINARY NEW_BINARY [ROUNDS=3] [SECONDS=8]
#
# Each run: a fresh database (SQLite file, or a fresh database on PostgreSQL), one user signed up,
# get-session with its cookie and GET /jwks at 64 connections (wrk -t2 -c64). PostgreSQL: the
# cluster at GH_AB_PG_URL (postgres://...), else a throwaway one (scripts/pg-temp.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OLD="${1:?usage: bench/ab.sh OLD_BINARY NEW_BINARY [ROUNDS] [SECONDS]}"
NEW="${2:?usage: bench/ab.sh OLD_BINARY NEW_BINARY [ROUNDS] [SECONDS]}"
ROUNDS="${3:-3}"
DUR="${4:-8}"
PORT="${GH_AB_PORT:-3311}"
command -v wrk >/dev/null || { echo "ab.sh: wrk not found (apt-get install wrk)" >&2; exit 1; }
PG_DIR=""
PGURL="${GH_AB_PG_URL:-}"
if [[ -z "$PGURL" ]]; then
  PG_DIR="$(mktemp -d /tmp/gatehouse-ab-pg.XXXXXX)"
  PGURL="$("$ROOT/scripts/pg-temp.sh" start "$PG_DIR")"
fi
cleanup() { [[ -n "$PG_DIR" ]] && "$ROOT/scripts/pg-temp.sh" stop "$PG_DIR"; }
trap cleanup EXIT

rps() { awk '/Requests\/sec/ {print $2}'; }

run_one() { # binary label backend
  local bin="$1" label="$2" backend="$3" dir db pid cookie gs js
  dir="$(mktemp -d)"
  db="sqlite:$dir/ab.db"
  if [[ "$backend" == postgres ]]; then
    local name="ab_${RANDOM}${RANDOM}"
    psql "$PGURL" -qc "create database $name" >/dev/null
    db="${PGURL%/*}/$name"
  fi
  GATEHOUSE_ENV=production GATEHOUSE_RATE_LIMIT=off GATEHOUSE_MAX_CONNECTIONS_PER_IP=0 GATEHOUSE_HASH_PER_CLIENT=-1 GATEHOUSE_SECRET=ab-secret-0123456789abcdef-0123456789abcdef \
    PORT="$PORT" GATEHOUSE_BASE_URL="http://127.0.0.1:$PORT" DATABASE_URL="$db" \
    GATEHOUSE_LOG_LEVEL=error "$bin" serve --migrate >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/api/auth/ok" >/dev/null && break; sleep 0.1; done
  cookie="$(curl -s -D - -o /dev/null -H 'content-type: application/json' \
    -d "{\"name\":\"ab\",\"email\":\"ab${RANDOM}@example.com\",\"password\":\"correct-horse\"}" \
    "http://127.0.0.1:$PORT/api/auth/sign-up/email" |
    sed -n 's/^[Ss]et-[Cc]ookie: \(better-auth\.session_token=[^;]*\).*/\1/p')"
  sleep 0.5
  wrk -t2 -c64 -d2s -H "Cookie: $cookie" "http://127.0.0.1:$PORT/api/auth/get-session" >/dev/null
  gs="$(wrk -t2 -c64 -d"${DUR}s" -H "Cookie: $cookie" "http://127.0.0.1:$PORT/api/auth/get-session" | rps)"
  js="$(wrk -t2 -c64 -d"${DUR}s" "http://127.0.0.1:$PORT/api/auth/jwks" | rps)"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
  printf '| %s | %s | %s | %s |\n' "$backend" "$label" "$gs" "$js"
}

echo "| backend | binary | get-session req/s | jwks req/s |"
echo "|---|---|---:|---:|"
for _ in $(seq "$ROUNDS"); do
  for backend in sqlite postgres; do
    run_one "$OLD" old "$backend"
    run_one "$NEW" new "$backend"
  done
done
