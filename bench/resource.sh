#!/usr/bin/env bash
# Resource-server side benchmarks (`make bench` runs it after bench/run.sh):
#   1. libgatehouse-verify: ghv_verify_jwt verifications per second on one thread, per algorithm
#      (build/ghv-bench, static JWKS, no network);
#   2. gatehouse-tasks: GET /api/tasks?limit=20 with a bearer JWT (verified locally) versus session
#      delegation (every request asks gatehouse's get-session) versus delegation with the 5 s
#      micro-cache; gatehouse and the tasks API on SQLite, both on this machine.
# Writes the section between the "resource-servers" markers of docs/benchmarks.md (appended when
# absent) and bench/results/resource-<UTC stamp>.md.
#
# Env knobs: DURATION [10] s per wrk run   CONNS [32]   WRK_THREADS [2]   VERIFY_SECONDS [3]
#            BUILD [build]   GH_PORT [3301]   TASKS_PORT_BASE [3302]   DOC [docs/benchmarks.md]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DURATION="${DURATION:-10}"
CONNS="${CONNS:-32}"
WRK_THREADS="${WRK_THREADS:-2}"
VERIFY_SECONDS="${VERIFY_SECONDS:-3}"
BUILD="${BUILD:-build}"
GH_PORT="${GH_PORT:-3301}"
TASKS_PORT_BASE="${TASKS_PORT_BASE:-3302}"
DOC="${DOC:-docs/benchmarks.md}"
RESULTS_DIR="${RESULTS_DIR:-bench/results}"

log() { echo "resource.sh [$(date +%H:%M:%S)]: $*" >&2; }
die() { log "error: $*"; exit 1; }
for tool in wrk curl node; do command -v "$tool" >/dev/null || die "$tool is required (scripts/deps.sh --bench)"; done
[[ -x "$BUILD/gatehouse" && -x "$BUILD/gatehouse-tasks" ]] || die "build $BUILD/gatehouse and $BUILD/gatehouse-tasks first"
cmake --build "$BUILD" --target ghv-bench >/dev/null || die "cannot build ghv-bench"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-resource.XXXXXX")"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

wait_http() { # URL
  for _ in $(seq 1 100); do curl -fs -o /dev/null "$1" && return 0; sleep 0.1; done
  die "no answer from $1"
}

# ---------------------------------------------------------------- 1. the C library
log "1/2 ghv-bench (${VERIFY_SECONDS}s per algorithm)"
"$BUILD/ghv-bench" "$VERIFY_SECONDS" >"$WORK/ghv-bench.txt"
cat "$WORK/ghv-bench.txt" >&2
# The same library built with -DGHV_ED25519=openssl (Ed25519 through OpenSSL), EdDSA only.
OSSL_BUILD="${OSSL_BUILD:-build-bench-openssl}"
cmake -S . -B "$OSSL_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGHV_ED25519=openssl >/dev/null &&
  cmake --build "$OSSL_BUILD" --target ghv-bench >/dev/null || die "cannot build ghv-bench with GHV_ED25519=openssl"
"$OSSL_BUILD/ghv-bench" "$VERIFY_SECONDS" EdDSA | tail -n 1 >"$WORK/ghv-bench-openssl.txt"
cat "$WORK/ghv-bench-openssl.txt" >&2

# ---------------------------------------------------------------- 2. the tasks API
SECRET="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
GH_URL="http://127.0.0.1:$GH_PORT"
PORT="$GH_PORT" GATEHOUSE_HOST=127.0.0.1 GATEHOUSE_BASE_URL="$GH_URL" GATEHOUSE_SECRET="$SECRET" \
  GATEHOUSE_ENV=production GATEHOUSE_RATE_LIMIT=off GATEHOUSE_MAX_CONNECTIONS_PER_IP=0 GATEHOUSE_HASH_PER_CLIENT=-1 GATEHOUSE_JWT_EXPIRES_IN=3600 DATABASE_URL="sqlite:$WORK/gatehouse.db" \
  "$BUILD/gatehouse" serve --migrate 2>"$WORK/gatehouse.log" &
PIDS+=($!)
wait_http "$GH_URL/api/auth/ok"

start_tasks() { # NAME PORT AUTH CACHE_TTL
  TASKS_PORT="$2" TASKS_HOST=127.0.0.1 GATEHOUSE_URL="$GH_URL" TASKS_AUTH="$3" TASKS_SESSION_CACHE_TTL="$4" \
    TASKS_DATABASE_URL="sqlite:$WORK/tasks.db" TASKS_LOG_LEVEL=warn \
    "$BUILD/gatehouse-tasks" serve 2>"$WORK/tasks-$1.log" &
  PIDS+=($!)
  wait_http "http://127.0.0.1:$2/health"
}
start_tasks jwt "$TASKS_PORT_BASE" jwt 0
start_tasks session "$((TASKS_PORT_BASE + 1))" session 0
start_tasks cached "$((TASKS_PORT_BASE + 2))" session 5

# One user, a session cookie, a JWT, 20 tasks.
curl -fs -c "$WORK/jar" -H "Origin: $GH_URL" -H 'Content-Type: application/json' \
  -d '{"name":"Bench","email":"bench@example.com","password":"bench-password-123"}' \
  "$GH_URL/api/auth/sign-up/email" >/dev/null
COOKIE="$(awk '$6 == "better-auth.session_token" {print $6 "=" $7}' "$WORK/jar")"
[[ -n "$COOKIE" ]] || die "sign-up gave no session cookie"
JWT="$(curl -fs -H "Cookie: $COOKIE" "$GH_URL/api/auth/token" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).token))')"
for i in $(seq 1 20); do
  curl -fs -o /dev/null -H "Authorization: Bearer $JWT" -H 'Content-Type: application/json' \
    -d "{\"title\":\"task $i\"}" "http://127.0.0.1:$TASKS_PORT_BASE/api/tasks"
done

declare -A RPS P50 P99 CODES
run_wrk() { # NAME PORT HEADER
  local out="$WORK/wrk-$1.txt"
  curl -fs -o /dev/null -H "$3" "http://127.0.0.1:$2/api/tasks?limit=20" || die "$1: the request is refused"
  wrk -t"$WRK_THREADS" -c"$CONNS" -d"${DURATION}s" --latency -H "$3" \
    "http://127.0.0.1:$2/api/tasks?limit=20" >"$out"
  RPS[$1]="$(awk '/^Requests\/sec/ {printf "%.0f", $2}' "$out")"
  P50[$1]="$(awk '$1 == "50%" {print $2}' "$out")"
  P99[$1]="$(awk '$1 == "99%" {print $2}' "$out")"
  CODES[$1]="$(awk '/Non-2xx/ {print $NF}' "$out")"
  log "$1: ${RPS[$1]} req/s, p50 ${P50[$1]}, p99 ${P99[$1]}, non-2xx ${CODES[$1]:-0}"
}
log "2/2 gatehouse-tasks GET /api/tasks?limit=20 (-t$WRK_THREADS -c$CONNS -d${DURATION}s)"
run_wrk jwt "$TASKS_PORT_BASE" "Authorization: Bearer $JWT"
run_wrk session "$((TASKS_PORT_BASE + 1))" "Cookie: $COOKIE"
run_wrk cached "$((TASKS_PORT_BASE + 2))" "Cookie: $COOKIE"

# ---------------------------------------------------------------- report
STAMP="$(date -u +%Y%m%dT%H%MZ)"
mkdir -p "$RESULTS_DIR"
RAW="$RESULTS_DIR/resource-$STAMP.md"
{
  echo "# bench/resource.sh raw output ($STAMP)"
  for f in "$WORK"/ghv-bench.txt "$WORK"/wrk-*.txt; do
    printf '\n## %s\n\n```\n%s\n```\n' "$(basename "$f" .txt)" "$(cat "$f")"
  done
} >"$RAW"

SECTION="$WORK/section.md"
{
  echo "<!-- resource-servers:begin (bench/resource.sh) -->"
  echo "## Resource servers (bench/resource.sh)"
  echo
  echo "Command: \`bench/resource.sh\` (run by \`make bench\` after bench/run.sh), $(date -u +%Y-%m-%d) $(date -u +%H:%M) UTC,"
  echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "Raw output: [bench/results/$(basename "$RAW")](../bench/results/$(basename "$RAW"))."
  echo
  echo "### libgatehouse-verify: ghv_verify_jwt on one thread (static JWKS; header, claims, signature)"
  echo
  echo '```'
  cat "$WORK/ghv-bench.txt"
  echo '```'
  echo
  echo "Ed25519 is verified with libsodium by default (every other algorithm with OpenSSL). Built with"
  echo "\`-DGHV_ED25519=openssl\` (no libsodium; OpenSSL 3.0's own Ed25519 verification is then the"
  echo "limit: \`openssl speed ed25519\` gives about the same figure), first-sight EdDSA verification is:"
  echo
  echo '```'
  cat "$WORK/ghv-bench-openssl.txt"
  echo '```'
  echo
  echo "\"repeat\" is the common case for a resource server (a client sends the same JWT until it"
  echo "expires): the verified-signature cache skips the signature check, every claim is still checked."
  echo
  echo "### gatehouse-tasks: GET /api/tasks?limit=20, one user with 20 tasks, SQLite"
  echo
  echo "wrk \`-t$WRK_THREADS -c$CONNS -d${DURATION}s\`; gatehouse, gatehouse-tasks and wrk share the cores."
  echo
  echo "| auth mode | req/s | p50 | p99 | non-2xx |"
  echo "|---|---|---|---|---|"
  echo "| bearer JWT, verified locally (\`TASKS_AUTH=jwt\`) | ${RPS[jwt]} | ${P50[jwt]} | ${P99[jwt]} | ${CODES[jwt]:-0} |"
  echo "| session delegation, get-session per request (\`TASKS_AUTH=session\`) | ${RPS[session]} | ${P50[session]} | ${P99[session]} | ${CODES[session]:-0} |"
  echo "| session delegation + 5 s micro-cache (\`TASKS_SESSION_CACHE_TTL=5\`) | ${RPS[cached]} | ${P50[cached]} | ${P99[cached]} | ${CODES[cached]:-0} |"
  echo
  echo "Delegation pays a loopback HTTP round trip to gatehouse (and gatehouse's database read) per"
  echo "request but sees a revoked session at once; a JWT is checked locally and lives until \`exp\`."
  echo "<!-- resource-servers:end -->"
} >"$SECTION"

touch "$DOC"
if grep -q '^<!-- resource-servers:begin' "$DOC"; then
  awk -v sec="$SECTION" '
    /^<!-- resource-servers:begin/ { while ((getline l < sec) > 0) print l; skip = 1; next }
    /^<!-- resource-servers:end/ { skip = 0; next }
    !skip { print }' "$DOC" >"$WORK/doc.md"
  cp "$WORK/doc.md" "$DOC"
else
  { echo; cat "$SECTION"; } >>"$DOC"
fi
log "wrote ${DOC} (resource-servers section) and $RAW"
