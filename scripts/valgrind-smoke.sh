#!/usr/bin/env bash
# A smoke scenario under valgrind's memcheck (part of `make test`): gatehouse on a fresh SQLite
# database serves sign-up, sign-in, get-session, token, jwks, list-sessions, sign-out, metrics and
# health, then stops on SIGTERM. Fails on any memcheck error or definitely/indirectly lost block.
#   scripts/valgrind-smoke.sh [BINARY]   (default build/gatehouse)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-build/gatehouse}"
command -v valgrind >/dev/null || { echo "valgrind-smoke: valgrind not found (apt-get install valgrind)" >&2; exit 1; }
DIR="$(mktemp -d /tmp/gatehouse-vg.XXXXXX)"
trap 'rm -rf "$DIR"' EXIT
PORT="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
URL="http://127.0.0.1:$PORT"
export PORT DATABASE_URL="sqlite:$DIR/gh.db" GATEHOUSE_SECRET="valgrind-smoke-secret-0123456789abcdef0123" \
  GATEHOUSE_BASE_URL="$URL" GATEHOUSE_HASH_WORKERS=1 GATEHOUSE_HTTP_THREADS=2 GATEHOUSE_LOG_LEVEL=warn
valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
  --show-leak-kinds=definite,indirect --log-file="$DIR/vg.log" "$BIN" serve --migrate >"$DIR/out.log" 2>&1 &
pid=$!
for _ in $(seq 300); do curl -sf "$URL/health/live" >/dev/null 2>&1 && break; sleep 0.2; done
j=(-s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -H "Origin: $URL")
expect() { [[ "$1" == "$2" ]] || { echo "valgrind-smoke: $3 answered $1, expected $2" >&2; kill "$pid"; wait "$pid" || true; cat "$DIR/vg.log" >&2; exit 1; }; }
expect "$(curl "${j[@]}" -c "$DIR/jar" -d '{"name":"V","email":"v@example.com","password":"correct-horse"}' "$URL/api/auth/sign-up/email")" 200 sign-up
expect "$(curl "${j[@]}" -c "$DIR/jar" -d '{"email":"v@example.com","password":"correct-horse"}' "$URL/api/auth/sign-in/email")" 200 sign-in
expect "$(curl "${j[@]}" -d '{"email":"v@example.com","password":"wrong-horse"}' "$URL/api/auth/sign-in/email")" 401 "wrong sign-in"
expect "$(curl "${j[@]}" -b "$DIR/jar" "$URL/api/auth/get-session")" 200 get-session
expect "$(curl "${j[@]}" -b "$DIR/jar" "$URL/api/auth/token")" 200 token
expect "$(curl "${j[@]}" "$URL/api/auth/jwks")" 200 jwks
expect "$(curl "${j[@]}" -b "$DIR/jar" "$URL/api/auth/list-sessions")" 200 list-sessions
expect "$(curl "${j[@]}" -X OPTIONS -H 'Access-Control-Request-Method: POST' "$URL/api/auth/sign-out")" 204 preflight
expect "$(curl "${j[@]}" -b "$DIR/jar" -d '{}' "$URL/api/auth/sign-out")" 200 sign-out
expect "$(curl "${j[@]}" "$URL/metrics")" 200 metrics
expect "$(curl "${j[@]}" "$URL/health/ready")" 200 health
expect "$(curl "${j[@]}" "$URL/api/auth/nope")" 404 "unknown route"
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
if [[ "$status" != 0 ]] || [[ -s "$DIR/vg.log" ]]; then
  echo "valgrind-smoke: FAILED (exit $status)" >&2
  cat "$DIR/vg.log" >&2
  exit 1
fi
echo "valgrind-smoke: no memcheck errors, no leaks"
