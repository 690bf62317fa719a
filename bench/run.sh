#!/usr/bin/env bash
# gatehouse vs the real better-auth, side by side, in one run (`make bench`).
#
#   bench/run.sh            (after building build/gatehouse; `make bench` does both)
#
# 1. the anchor's bench.sh against the real better-auth (it starts and stops its own server)
# 2. the same bench.sh against gatehouse on the same PostgreSQL (fresh database gatehouse_bench)
# 3. gatehouse on SQLite (fresh temp file): get-session and invalid-cookie
# 4. gatehouse-only: single-hash time, sign-in overload (503 shedding), get-session during a
#    sign-in flood, idle RSS
# 5. writes docs/benchmarks.md (summary + targets) and bench/results/<UTC stamp>.md (raw output)
#
# The anchor is ../shared/anchors/better-auth relative to the repo root; its PostgreSQL
# (pg.sh, 127.0.0.1:55432, fsync off) is started if needed and stopped again at the end
# if this script started it.
#
# Env knobs (defaults in brackets):
#   DURATION [15] s per wrk run   WARMUP [3] s   SEED_USERS [200]   CONNS [64]   WRK_THREADS [2]
#   HASH_DURATION [5] s for the single-hash (c1 sign-in) run
#   OVERLOAD_CONNS ["64 256"]     sign-in concurrencies for the shedding runs
#   FLOOD_CONNS [64]  PROBE_CONNS [8]   sign-in flood / get-session probe connections
#   GATEHOUSE_BIN [build/gatehouse]  ANCHOR_DIR [../shared/anchors/better-auth]
#   GH_PG_PORT [3201]  GH_SQLITE_PORT [3202]   ports for the two gatehouse servers
#   SKIP_ANCHOR [0]   1 = skip the better-auth run (quick iteration; the report then has no ratios)
#   DOC [docs/benchmarks.md]  RESULTS_DIR [bench/results]
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DURATION="${DURATION:-15}"
WARMUP="${WARMUP:-3}"
SEED_USERS="${SEED_USERS:-200}"
CONNS="${CONNS:-64}"
WRK_THREADS="${WRK_THREADS:-2}"
HASH_DURATION="${HASH_DURATION:-5}"
OVERLOAD_CONNS="${OVERLOAD_CONNS:-64 256}"
FLOOD_CONNS="${FLOOD_CONNS:-64}"
PROBE_CONNS="${PROBE_CONNS:-8}"
GH_PG_PORT="${GH_PG_PORT:-3201}"
GH_SQLITE_PORT="${GH_SQLITE_PORT:-3202}"
SKIP_ANCHOR="${SKIP_ANCHOR:-0}"
BIN="${GATEHOUSE_BIN:-$ROOT/build/gatehouse}"
ANCHOR_REL="../shared/anchors/better-auth"
ANCHOR="${ANCHOR_DIR:-$ROOT/$ANCHOR_REL}"
DOC="${DOC:-$ROOT/docs/benchmarks.md}"
RESULTS_DIR="${RESULTS_DIR:-$ROOT/bench/results}"

SCENARIOS="get-session get-session@16 sign-in sign-in@4 jwks token invalid-cookie stale-cookie"
SQLITE_SCENARIOS="get-session invalid-cookie"
GH_DB="gatehouse_bench"
STAMP="$(date -u +%Y%m%dT%H%MZ)"
RAW_FILE="$RESULTS_DIR/$STAMP.md"

log() { echo "run.sh [$(date +%H:%M:%S)]: $*" >&2; }
die() { log "error: $*"; exit 1; }

[[ -x "$BIN" ]] || die "$BIN not found; build first (make bench builds it)"
[[ -x "$ANCHOR/bench.sh" ]] || die "anchor not found at $ANCHOR ($ANCHOR_REL from the repo root)"
ANCHOR="$(cd "$ANCHOR" && pwd)"
for tool in wrk node curl psql bc awk; do
  command -v "$tool" >/dev/null || die "$tool not found (scripts/deps.sh --bench installs it)"
done

LOAD_AT_START="$(awk '{print $1, $2, $3}' /proc/loadavg)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-bench.XXXXXX")"
STARTED_PG=0
SERVER_PIDS=()
BG_PIDS=()
OK=0
cleanup() {
  local rc=$?
  local p
  for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${SERVER_PIDS[@]}"; do
    if kill -0 "$p" 2>/dev/null; then
      stop_pid "$p"
    else
      local prc=0
      wait "$p" 2>/dev/null || prc=$?
      log "gatehouse pid $p had exited on its own, status $prc (server logs: $WORK/gatehouse-*.log)"
    fi
  done
  if [[ "$STARTED_PG" == 1 ]]; then "$ANCHOR/pg.sh" stop >&2 || true; fi
  if [[ "$OK" == 1 ]]; then
    rm -rf "$WORK"
  else
    log "failed (exit $rc); logs kept in $WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'log "command failed (line $LINENO): $BASH_COMMAND"' ERR
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- helpers
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
calc() { awk "BEGIN {print $*}"; }
fmt() { awk -v x="$1" -v d="${2:-0}" 'BEGIN {printf "%.*f", d, x}'; }
# "PASS" if the awk condition holds
verdict() { if awk "BEGIN {exit !($*)}"; then echo PASS; else echo FAIL; fi; }
CLK_TCK="$(getconf CLK_TCK)"
ticks_pid() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12 + $13}' || echo 0; }

# Wait until the process uses <= 5% of a core for 1 s (as the anchor's bench.sh does).
wait_idle() {
  local pid="$1" quiet=0 a b i
  for ((i = 0; i < 600; i++)); do
    a="$(ticks_pid "$pid")"; sleep 0.5; b="$(ticks_pid "$pid")"
    if (((b - a) * 200 / CLK_TCK <= 5)); then quiet=$((quiet + 1)); else quiet=0; fi
    ((quiet >= 2)) && return 0
  done
  log "warning: pid $pid did not become idle"
}

port_free() { ! curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/"; }

# start_gatehouse NAME PORT DATABASE_URL -> sets GH_PID; log in $WORK/gatehouse-NAME.log
start_gatehouse() {
  local name="$1" port="$2" db="$3" i
  local logf="$WORK/gatehouse-$name.log"
  port_free "$port" || die "port $port is already in use (set GH_PG_PORT / GH_SQLITE_PORT)"
  DATABASE_URL="$db" GATEHOUSE_SECRET="$SECRET" GATEHOUSE_BASE_URL="http://127.0.0.1:$port" \
    PORT="$port" GATEHOUSE_ENV=production GATEHOUSE_RATE_LIMIT=off GATEHOUSE_MAX_CONNECTIONS_PER_IP=0 GATEHOUSE_HASH_PER_CLIENT=-1 "$BIN" serve --migrate >"$logf" 2>&1 </dev/null &
  GH_PID=$!
  SERVER_PIDS+=("$GH_PID")
  for ((i = 0; i < 300; i++)); do
    if grep -q "gatehouse listening on" "$logf" &&
      curl -fsS "http://127.0.0.1:$port/api/auth/ok" 2>/dev/null | grep -q '"ok":true'; then
      log "gatehouse ($name) up on :$port, pid $GH_PID"
      return 0
    fi
    kill -0 "$GH_PID" 2>/dev/null || break
    sleep 0.1
  done
  tail -n 30 "$logf" >&2
  die "gatehouse ($name) did not start"
}

# stop_pid PID: SIGTERM, wait up to 10 s, then SIGKILL. Records a crash (exit != 0) in CRASHES.
CRASHES=""
stop_pid() {
  local pid="$1" i rc=0
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    CRASHES+="pid $pid did not exit within 10 s of SIGTERM (killed); "
  fi
  wait "$pid" 2>/dev/null || rc=$?
  ((rc == 0)) || CRASHES+="pid $pid exited with status $rc after SIGTERM; "
}

# stop_gatehouse NAME PID: stops it; a server that died on its own is reported as a crash.
stop_gatehouse() {
  local name="$1" pid="$2" rc=0
  if ! kill -0 "$pid" 2>/dev/null; then
    wait "$pid" 2>/dev/null || rc=$?
    CRASHES+="gatehouse ($name) died during the run (exit status $rc); "
  else
    stop_pid "$pid"
  fi
  local p rest=()
  for p in "${SERVER_PIDS[@]}"; do [[ "$p" == "$pid" ]] || rest+=("$p"); done
  SERVER_PIDS=("${rest[@]}")
}

# warn/error lines of a gatehouse log, as "event ×count" (empty if none)
log_problems() {
  grep -E '"level": ?"(warn|error)"' "$1" 2>/dev/null |
    awk '{
      l = $0; sub(/.*"level": ?"/, "", l); sub(/".*/, "", l)
      e = $0; sub(/.*"event": ?"/, "", e); sub(/".*/, "", e)
      print l, e
    }' | sort | uniq -c |
    awk '{printf "%s%s `%s` ×%d", (NR > 1 ? ", " : ""), $2, $3, $1}' || true
}

# field of a row of a bench.sh results table: row_field FILE TAG COLUMN
# columns: rps p50 p99 requests errors srvcpu pgcpu machcpu rss
row_field() {
  local col
  case "$3" in
    rps) col=5 ;; p50) col=6 ;; p99) col=7 ;; requests) col=8 ;; errors) col=9 ;;
    srvcpu) col=10 ;; pgcpu) col=11 ;; machcpu) col=12 ;; rss) col=13 ;;
  esac
  awk -F' *[|] *' -v t="$2" -v c="$col" '$2 == t {print $c; exit}' "$1"
}
# value of key=... in a STATUS line of bench/status.lua
sfield() { tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1 == k {print $2; exit}'; }

# wrk_exec NAME SCENARIO THREADS CONNS SECONDS URL: replaces the current (sub)shell with wrk
# running bench/status.lua; output in $WORK/wrk-NAME.txt. Call it in ( ) or with &.
wrk_exec() {
  local name="$1" sc="$2" t="$3" c="$4" d="$5" url="$6"
  ((t > c)) && t="$c"
  echo "wrk -t$t -c$c -d${d}s --timeout 30s, scenario $sc" >"$WORK/wrk-$name.cmd"
  SCENARIO="$sc" BENCH_DIR="$SEED_DIR" ORIGIN="$url" ANCHOR_WRK="$ANCHOR/bench/wrk.lua" \
    exec wrk -t"$t" -c"$c" -d"${d}s" --timeout 30s --latency -s "$ROOT/bench/status.lua" "$url" \
    >"$WORK/wrk-$name.txt" 2>&1
}
# the STATUS line of a finished wrk_exec run
status_of() {
  grep '^STATUS ' "$WORK/wrk-$1.txt" 2>/dev/null || die "wrk run $1 produced no STATUS line (see $WORK/wrk-$1.txt)"
}
# run_status NAME SCENARIO THREADS CONNS SECONDS URL: wrk_exec in the foreground, STATUS line to stdout
run_status() {
  (wrk_exec "$@") || true
  status_of "$1"
}
# curl_probe NAME URL SECONDS: one extra, polite client during an overload run: sign-in, one request
# at a time, 50 ms apart; "status seconds" per line in $WORK/probe-NAME.txt. wrk's latency
# histogram is not always consistent under shedding (see little()), this is the cross-check.
curl_probe() {
  local name="$1" url="$2" secs="$3" user end
  user="$(head -n1 "$SEED_DIR/users.txt")"
  local body="{\"email\":\"${user%%$'\t'*}\",\"password\":\"${user#*$'\t'}\"}"
  : >"$WORK/probe-$name.txt"
  end=$((SECONDS + secs))
  while ((SECONDS < end)); do
    curl -s -o /dev/null --max-time 60 -w '%{http_code} %{time_total}\n' -H 'Content-Type: application/json' \
      -H "Origin: $url" -d "$body" "$url/api/auth/sign-in/email" >>"$WORK/probe-$name.txt" || true
    sleep 0.05
  done
}
# probe_stats NAME CODE -> "count p50_ms max_ms" of the probe's responses with that status
probe_stats() {
  awk -v c="$2" '$1 == c {print $2 * 1000}' "$WORK/probe-$1.txt" | sort -n |
    awk '{v[NR] = $1} END {if (NR == 0) print "0 - -"; else printf "%d %.1f %.1f\n", NR, v[int((NR + 1) / 2)], v[NR]}'
}
probe_other() { awk '$1 != 200 && $1 != 503' "$WORK/probe-$1.txt" | wc -l; }
# Little's law: mean latency × response rate = average requests in flight, at most the number of
# connections for real samples. wrk 4 adds synthetic samples after the run (stats_correct: for each
# sample above 2× the average per-connection interval it adds one every interval down to it), so
# with fast 503s and slow 200s on the same connections its percentiles describe mostly synthetic
# samples; this number (far above the connection count) shows when that happened.
little() {
  awk -v m="$(sfield "$1" mean_ms)" -v n="$(sfield "$1" requests)" -v d="$(sfield "$1" duration_s)" \
    'BEGIN {printf "%.0f", m / 1000 * n / d}'
}
little_ok() { awk -v l="$(little "$1")" -v c="$2" 'BEGIN {exit !(l <= 1.5 * c)}'; }
# raw output of a wrk_exec run, as a markdown section
raw_section() {
  printf '\n#### %s: %s\n\n```\n%s\n```\n' "$1" "$(cat "$WORK/wrk-$1.cmd")" "$(cat "$WORK/wrk-$1.txt")"
}

# ---------------------------------------------------------------- setup
SECRET="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"

# The anchor's bench.sh sanity-checks /jwks and /token even when those scenarios are not run.
# Run a copy that checks only the scenarios it runs (so SCENARIOS can be narrowed for quick
# iterations) and keeps using the anchor's directory (bench/wrk.lua, bench/seed.mjs, var/bench,
# var/pgdata).
GH_BENCH="$WORK/bench-gatehouse.sh"
sed -e "s|^HERE=.*|HERE=\"$ANCHOR\"|" \
  -e 's/^check \(jwks\|token\) /wanted \1 \&\& check \1 /' \
  -e 's/^first_cookie=/wanted() { [[ " $SCENARIOS " == *" $1 "* ]]; }\nfirst_cookie=/' \
  "$ANCHOR/bench.sh" >"$GH_BENCH"
chmod +x "$GH_BENCH"
[[ "$(grep -c '^wanted \(jwks\|token\) && check' "$GH_BENCH")" == 2 &&
  "$(grep -c '^wanted() ' "$GH_BENCH")" == 1 && "$(grep -c "^HERE=\"$ANCHOR\"$" "$GH_BENCH")" == 1 ]] ||
  die "the anchor's bench.sh changed; update the patch in bench/run.sh"

# PostgreSQL: the anchor's cluster, plus a fresh database for gatehouse.
if ! "$ANCHOR/pg.sh" status >/dev/null 2>&1; then STARTED_PG=1; fi
"$ANCHOR/pg.sh" start >&2
PG_URL="$("$ANCHOR/pg.sh" url)"
PG_ADMIN="${PG_URL%/*}/postgres"
psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $GH_DB WITH (FORCE)" >/dev/null
psql -q "$PG_ADMIN" -c "CREATE DATABASE $GH_DB" >/dev/null
GH_PG_URL="${PG_URL%/*}/$GH_DB"

# ---------------------------------------------------------------- 1. better-auth
BA_RESULTS="$WORK/better-auth.md"
if [[ "$SKIP_ANCHOR" != 1 ]]; then
  log "1/4 better-auth: anchor bench.sh ($SCENARIOS)"
  if [[ ! -d "$ANCHOR/node_modules/better-auth" ]]; then (cd "$ANCHOR" && npm ci --no-audit --no-fund >&2); fi
  (cd "$ANCHOR" && env -u BASE_URL -u PORT -u SERVER_PID -u LABEL \
    SCENARIOS="$SCENARIOS" DURATION="$DURATION" WARMUP="$WARMUP" SEED_USERS="$SEED_USERS" \
    CONNS="$CONNS" WRK_THREADS="$WRK_THREADS" RESULTS="$BA_RESULTS" ./bench.sh) >&2
fi

# ---------------------------------------------------------------- 2. gatehouse on PostgreSQL
GH_VERSION="$("$BIN" version 2>/dev/null || echo "gatehouse ?")"
log "2/4 gatehouse on PostgreSQL: bench.sh ($SCENARIOS)"
start_gatehouse pg "$GH_PG_PORT" "$GH_PG_URL"
PG_PID="$GH_PID"
GH_URL="http://127.0.0.1:$GH_PG_PORT"
sleep 1
RSS_PG_START="$(rss_kb "$PG_PID")"
GH_PG_RESULTS="$WORK/gatehouse-pg.md"
(env BASE_URL="$GH_URL" SERVER_PID="$PG_PID" LABEL="$GH_VERSION on PostgreSQL" \
  SCENARIOS="$SCENARIOS" DURATION="$DURATION" WARMUP="$WARMUP" SEED_USERS="$SEED_USERS" \
  CONNS="$CONNS" WRK_THREADS="$WRK_THREADS" RESULTS="$GH_PG_RESULTS" "$GH_BENCH") >&2
SEED_DIR="$WORK/seed-pg"
mkdir -p "$SEED_DIR"
cp "$ANCHOR/var/bench/"{users,cookies,stale-cookie,invalid-cookie}.txt "$SEED_DIR/"

# ---------------------------------------------------------------- 3. gatehouse-only extras (same server)
log "3/4 gatehouse extras: single hash, overload, flood"
wait_idle "$PG_PID"
HASH_LINE="$(run_status hash-c1 sign-in 1 1 "$HASH_DURATION" "$GH_URL")"
wait_idle "$PG_PID"
declare -A OVL
PROBE_SECS=$((DURATION > 4 ? DURATION - 2 : 2))
for c in $OVERLOAD_CONNS; do
  (sleep 1 && curl_probe "overload-c$c" "$GH_URL" "$PROBE_SECS") &
  BG_PIDS+=($!)
  OVL[$c]="$(run_status "overload-c$c" sign-in "$WRK_THREADS" "$c" "$DURATION" "$GH_URL")"
  wait "${BG_PIDS[-1]}" || true
  BG_PIDS=()
  wait_idle "$PG_PID"
done
# flood: sign-in at FLOOD_CONNS for DURATION+2 s; get-session probe starts 1 s in, runs DURATION s
wrk_exec flood-signin sign-in 1 "$FLOOD_CONNS" "$((DURATION + 2))" "$GH_URL" &
BG_PIDS+=($!)
sleep 1
PROBE_LINE="$(run_status flood-probe get-session 1 "$PROBE_CONNS" "$DURATION" "$GH_URL")"
wait "${BG_PIDS[-1]}" || true
BG_PIDS=()
FLOOD_LINE="$(status_of flood-signin)"
wait_idle "$PG_PID"
sleep 6 # the hash workers give their 32 MiB work areas back after 5 s without work
RSS_PG_END="$(rss_kb "$PG_PID")"
stop_gatehouse pg "$PG_PID"

# ---------------------------------------------------------------- 4. gatehouse on SQLite
log "4/4 gatehouse on SQLite: bench.sh ($SQLITE_SCENARIOS)"
start_gatehouse sqlite "$GH_SQLITE_PORT" "sqlite:$WORK/gatehouse-bench.db"
SQ_PID="$GH_PID"
sleep 1
RSS_SQ_START="$(rss_kb "$SQ_PID")"
GH_SQ_RESULTS="$WORK/gatehouse-sqlite.md"
(env BASE_URL="http://127.0.0.1:$GH_SQLITE_PORT" SERVER_PID="$SQ_PID" LABEL="$GH_VERSION on SQLite" \
  SCENARIOS="$SQLITE_SCENARIOS" DURATION="$DURATION" WARMUP="$WARMUP" SEED_USERS="$SEED_USERS" \
  CONNS="$CONNS" WRK_THREADS="$WRK_THREADS" RESULTS="$GH_SQ_RESULTS" "$GH_BENCH") >&2
wait_idle "$SQ_PID"
RSS_SQ_END="$(rss_kb "$SQ_PID")"
stop_gatehouse sqlite "$SQ_PID"

# ---------------------------------------------------------------- figures and targets
CORES="$(nproc)"
ba() { if [[ -s "$BA_RESULTS" ]]; then row_field "$BA_RESULTS" "$1" "$2"; else echo "-"; fi; }
gp() { row_field "$GH_PG_RESULTS" "$1" "$2"; }
gs() { row_field "$GH_SQ_RESULTS" "$1" "$2"; }
ratio() {
  if [[ "$1" == "-" || -z "$1" || -z "$2" ]] || ! awk -v a="$1" 'BEGIN {exit !(a > 0)}'; then echo "-"; return; fi
  awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f×", b / a}'
}
# 2xx req/s of a bench.sh row: req/s × (requests − errors) / requests; "-" without a row
ok_rate() { # results-fn tag
  local r n e
  r="$("$1" "$2" rps)"; n="$("$1" "$2" requests)"; e="$("$1" "$2" errors)"
  if [[ "$r" == "-" || -z "$r" ]]; then echo "-"; return; fi
  awk -v r="$r" -v n="$n" -v e="$e" 'BEGIN {x = (n > 0 ? r * (n - e) / n : 0); printf (x < 100 ? "%.1f" : "%.0f"), x}'
}
tag_of() { if [[ "$1" == *@* ]]; then echo "${1%@*}-c${1#*@}"; else echo "$1"; fi; }

# overload rows
srate() { awk -v n="$(sfield "$1" s2xx)" -v d="$(sfield "$1" duration_s)" 'BEGIN {printf "%.1f", n / d}'; }
sockerr() { echo $(($(sfield "$1" err_connect) + $(sfield "$1" err_read) + $(sfield "$1" err_write) + $(sfield "$1" err_timeout))); }

HASH_MS="$(sfield "$HASH_LINE" p50_ms)"
HASH_EXPECT="$(calc "0.9 * $CORES / ($HASH_MS / 1000)")"
# capacity: sign-in@4 from bench.sh (below the hash queue, so no shedding), 2xx only
CAP_RATE="$(ok_rate gp sign-in-c4)"
# goodput under overload: 2xx/s at CONNS (or the first OVERLOAD_CONNS) from bench/status.lua
SIGNIN_CONN="${OVERLOAD_CONNS%% *}"
for c in $OVERLOAD_CONNS; do
  if [[ "$c" == "$CONNS" ]]; then SIGNIN_CONN="$c"; fi
done
SIGNIN_RATE="$(srate "${OVL[$SIGNIN_CONN]}")"

GS16_PG_RPS="$(gp get-session-c16 rps)"
GS16_PG_P99="$(gp get-session-c16 p99)"
GS16_BA_RPS="$(ba get-session-c16 rps)"
GS_PG_RPS="$(gp get-session rps)"
GS_PG_P99="$(gp get-session p99)"
GS_BA_RPS="$(ba get-session rps)"
GS_SQ_RPS="$(gs get-session rps)"
PROBE_P99="$(sfield "$PROBE_LINE" p99_ms)"

if [[ "$GS_BA_RPS" == "-" ]]; then
  T1="n/a (better-auth not run)"
else
  T1="$(verdict "$GS_PG_RPS >= 30 * $GS_BA_RPS && $GS_PG_P99 <= 5")"
fi
if [[ "$GS16_BA_RPS" == "-" ]]; then
  T1B="n/a (better-auth not run)"
else
  T1B="$(verdict "$GS16_PG_RPS >= 30 * $GS16_BA_RPS && $GS16_PG_P99 <= 5")"
fi
T2="$(verdict "$GS_SQ_RPS >= 25000")"
T3="$(verdict "$CAP_RATE >= $HASH_EXPECT")"
T3B="$(verdict "$SIGNIN_RATE >= $HASH_EXPECT")"
T4="$(verdict "$PROBE_P99 <= 10 && $(sfield "$PROBE_LINE" s2xx) > 0")"
T5="$(verdict "$RSS_PG_START <= 10240")"

# ---------------------------------------------------------------- versions and machine
cpu_model="$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
mem="$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
pg_server="$(psql -tA "$PG_ADMIN" -c 'SHOW server_version' 2>/dev/null || echo '?')"
ba_version="$(node -p 'require(process.argv[1] + "/node_modules/better-auth/package.json").version' "$ANCHOR" 2>/dev/null || echo '?')"
wrk_version="$({ wrk -v 2>&1 || true; } | awk 'NR == 1 {print $2}')"
sqlite_version="$(dpkg-query -W -f='${Version}' libsqlite3-0 2>/dev/null || echo '?')"
git_rev="$(git rev-parse --short HEAD 2>/dev/null || echo '?')"
[[ -z "$(git status --porcelain -- src include CMakeLists.txt 2>/dev/null)" ]] || git_rev+=" + uncommitted changes"
build_type="$(awk -F= '/^CMAKE_BUILD_TYPE:/ {print $2}' "$(dirname "$BIN")/CMakeCache.txt" 2>/dev/null || true)"
cc_version="$(cc --version 2>/dev/null | head -n1 || echo '?')"

PROBLEMS_PG="$(log_problems "$WORK/gatehouse-pg.log")"
PROBLEMS_SQ="$(log_problems "$WORK/gatehouse-sqlite.log")"

# ---------------------------------------------------------------- raw results file
mkdir -p "$RESULTS_DIR"
{
  echo "# gatehouse benchmark raw output — $STAMP"
  echo
  echo "Produced by \`bench/run.sh\` (DURATION=$DURATION). Summary: [docs/benchmarks.md](../../docs/benchmarks.md)."
  echo
  if [[ -s "$BA_RESULTS" ]]; then
    echo "## better-auth (anchor bench.sh)"
    echo
    sed '1d' "$BA_RESULTS" | sed 's/^## /### /; s/^### \([a-z]\)/#### \1/'
    echo
  fi
  echo "## gatehouse on PostgreSQL (anchor bench.sh)"
  echo
  sed '1d' "$GH_PG_RESULTS" | sed 's/^## /### /; s/^### \([a-z]\)/#### \1/'
  echo
  echo "## gatehouse on SQLite (anchor bench.sh)"
  echo
  sed '1d' "$GH_SQ_RESULTS" | sed 's/^## /### /; s/^### \([a-z]\)/#### \1/'
  echo
  echo "## gatehouse extras (bench/status.lua)"
  for name in hash-c1 $(for c in $OVERLOAD_CONNS; do echo "overload-c$c"; done) flood-signin flood-probe; do
    raw_section "$name"
  done
  for c in $OVERLOAD_CONNS; do
    printf '\n#### curl probe during overload-c%s (status, seconds)\n\n```\n%s\n```\n' "$c" "$(cat "$WORK/probe-overload-c$c.txt")"
  done
  echo
  echo "## gatehouse server logs (warn/error lines)"
  echo
  echo '```'
  grep -hE '"level": ?"(warn|error)"' "$WORK/gatehouse-pg.log" "$WORK/gatehouse-sqlite.log" 2>/dev/null | head -n 200 || true
  echo '```'
} >"$RAW_FILE"

# ---------------------------------------------------------------- docs/benchmarks.md
RAW_REL="../bench/results/$(basename "$RAW_FILE")"
mkdir -p "$(dirname "$DOC")"
{
  echo "# Benchmarks: gatehouse vs better-auth"
  echo
  echo "Generated by \`make bench\` (\`bench/run.sh\`, DURATION=$DURATION) on $(date -u +%Y-%m-%d) at $(date -u +%H:%M) UTC."
  echo "Raw wrk output of this run: [bench/results/$(basename "$RAW_FILE")]($RAW_REL)."
  echo
  echo "## Setup"
  echo
  echo "- Command: \`make bench\` (builds into build/, then \`bench/run.sh\`); quick run: \`DURATION=5 make bench\`."
  echo "- Machine: $CORES cores ($cpu_model), $mem RAM, $(uname -sr). wrk, PostgreSQL and the server"
  echo "  share the same cores; the machine is shared, so compare the columns of one run, not runs."
  echo "  Load average (1/5/15 min) when the run started: $LOAD_AT_START."
  echo "- gatehouse: $GH_VERSION, commit $git_rev, build type ${build_type:-?}, $cc_version;"
  echo "  \`GATEHOUSE_ENV=production\`, \`GATEHOUSE_RATE_LIMIT=off\` (as the anchor), \`GATEHOUSE_MAX_CONNECTIONS_PER_IP=0 GATEHOUSE_HASH_PER_CLIENT=-1\` (wrk is one client with up to 256 connections), default workers (HTTP threads and hash workers = cores)."
  echo "- better-auth: $ba_version on node $(node -v), \`NODE_ENV=production\`, the anchor in \`$ANCHOR_REL\`"
  echo "  (jwt + bearer + apiKey + admin plugins, rate limiting off)."
  echo "- PostgreSQL $pg_server: the anchor's \`pg.sh\` cluster on 127.0.0.1:55432 (fsync, synchronous_commit,"
  echo "  full_page_writes off); better-auth uses database \`betterauth\`, gatehouse a fresh \`$GH_DB\`."
  echo "  SQLite $sqlite_version (system library), fresh file per run."
  echo "- Load: wrk $wrk_version, the anchor's \`bench.sh\` + \`bench/wrk.lua\` for both servers: $SEED_USERS users seeded"
  echo "  over HTTP, \`-t$WRK_THREADS -c$CONNS -d${DURATION}s --timeout 30s\` unless noted, ${WARMUP}s discarded warm-up,"
  echo "  wait for the server to go idle between runs. token and jwks use the jwt plugin's default key (EdDSA)."
  echo
  echo "## Side by side on PostgreSQL"
  echo
  echo "req/s, p50 and p99 count every response; \`err\` is wrk's error count (non-2xx statuses + socket"
  echo "errors); gatehouse's 2xx/s leaves the errors out (at sign-in c$CONNS they are 503s from load shedding)."
  echo "ratio = gatehouse 2xx/s ÷ better-auth 2xx/s."
  echo
  echo "| scenario | conns | better-auth req/s | p50 ms | p99 ms | err | gatehouse-PG req/s | 2xx/s | p50 ms | p99 ms | err | ratio |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for spec in $SCENARIOS; do
    t="$(tag_of "$spec")"
    c="$CONNS"; [[ "$spec" == *@* ]] && c="${spec#*@}"
    echo "| $t | $c | $(ba "$t" rps) | $(ba "$t" p50) | $(ba "$t" p99) | $(ba "$t" errors) | $(gp "$t" rps) | $(ok_rate gp "$t") | $(gp "$t" p50) | $(gp "$t" p99) | $(gp "$t" errors) | $(ratio "$(ok_rate ba "$t")" "$(ok_rate gp "$t")") |"
  done
  echo
  echo "Server CPU (cores) and max RSS during each run:"
  echo
  echo "| scenario | better-auth CPU | better-auth RSS MiB | gatehouse CPU | postgres CPU (gatehouse run) | gatehouse RSS MiB |"
  echo "|---|---:|---:|---:|---:|---:|"
  for spec in $SCENARIOS; do
    t="$(tag_of "$spec")"
    echo "| $t | $(ba "$t" srvcpu) | $(ba "$t" rss) | $(gp "$t" srvcpu) | $(gp "$t" pgcpu) | $(gp "$t" rss) |"
  done
  echo
  echo "## gatehouse on SQLite"
  echo
  echo "| scenario | conns | req/s | p50 ms | p99 ms | err | server CPU | max RSS MiB |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  for t in $SQLITE_SCENARIOS; do
    echo "| $t | $CONNS | $(gs "$t" rps) | $(gs "$t" p50) | $(gs "$t" p99) | $(gs "$t" errors) | $(gs "$t" srvcpu) | $(gs "$t" rss) |"
  done
  echo
  echo "## Sign-in under overload (gatehouse, PostgreSQL)"
  echo
  echo "POST /sign-in/email with correct passwords; statuses counted by \`bench/status.lua\`. Past the hash"
  echo "queue (GATEHOUSE_HASH_QUEUE, default 16) the server should answer 503 + Retry-After at once instead of"
  echo "queueing; wrk retries immediately, so the 503 count is a rate, not a number of clients. wrk's latency"
  echo "percentiles are over all responses (200s and 503s), see footnote ¹."
  echo
  echo "| conns | duration s | 200 req/s | 2xx | 503 | 503 without Retry-After | other statuses | socket errors | wrk p50 ms | wrk p99 ms | wrk max ms | mean × rate¹ |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for c in $OVERLOAD_CONNS; do
    s="${OVL[$c]}"
    flag=""; little_ok "$s" "$c" || flag=" ⚠"
    echo "| $c | $(fmt "$(sfield "$s" duration_s)" 1) | $(srate "$s") | $(sfield "$s" s2xx) | $(sfield "$s" s503) | $(sfield "$s" no_retry_after) | $(sfield "$s" sother) | $(sockerr "$s") | $(sfield "$s" p50_ms) | $(sfield "$s" p99_ms) | $(sfield "$s" max_ms) | $(little "$s")$flag |"
  done
  echo
  echo "¹ wrk's mean latency × response rate. For real samples this is the average number of requests in"
  echo "flight (Little's law), at most the connection count. wrk 4 corrects its histogram after the run for"
  echo "coordinated omission: for every response slower than twice the average interval per connection it"
  echo "adds synthetic samples, one per interval. With thousands of instant 503s and a few slow 200s on the"
  echo "same connections the interval is tiny, so every slow 200 adds thousands of synthetic samples. ⚠ marks"
  echo "runs where the product exceeds 1.5 × connections: there wrk's percentiles mostly describe those"
  echo "synthetic samples, not responses any client saw; the curl cross-check below is the client's view."
  echo
  echo "Cross-check from the client side: during each overload run (from 1 s in, for ${PROBE_SECS}s) one extra"
  echo "client signs in with curl, one request at a time, 50 ms apart:"
  echo
  echo "| during | requests | 200 | 200 p50 ms | 200 max ms | 503 | 503 p50 ms | 503 max ms | other |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  for c in $OVERLOAD_CONNS; do
    read -r n2 p2 m2 < <(probe_stats "overload-c$c" 200)
    read -r n5 p5 m5 < <(probe_stats "overload-c$c" 503)
    echo "| c$c | $(wc -l <"$WORK/probe-overload-c$c.txt") | $n2 | $p2 | $m2 | $n5 | $p5 | $m5 | $(probe_other "overload-c$c") |"
  done
  echo
  echo "Single-hash time: one connection signing in back to back for ${HASH_DURATION}s: p50 $HASH_MS ms,"
  echo "p99 $(sfield "$HASH_LINE" p99_ms) ms, $(srate "$HASH_LINE") sign-ins/s, statuses $(sfield "$HASH_LINE" codes)."
  echo "It includes the HTTP round trip and the database queries, so it slightly overstates the hash alone."
  echo
  echo "## get-session during a sign-in flood (gatehouse, PostgreSQL)"
  echo
  echo "Two wrk processes at once: a sign-in flood (\`-t1 -c$FLOOD_CONNS\`, $((DURATION + 2)) s) and, starting 1 s"
  echo "later, a get-session probe (\`-t1 -c$PROBE_CONNS\`, ${DURATION}s) with the seeded session cookies."
  echo
  echo "| load | req/s (all) | 2xx/s | 503 | other statuses | socket errors | p50 ms | p99 ms | max ms | mean × rate¹ |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for pair in "sign-in flood, c$FLOOD_CONNS|$FLOOD_CONNS|$FLOOD_LINE" "get-session probe, c$PROBE_CONNS|$PROBE_CONNS|$PROBE_LINE"; do
    name="${pair%%|*}"; info="${pair#*|}"; conns="${info%%|*}"; s="${info#*|}"
    flag=""; little_ok "$s" "$conns" || flag=" ⚠"
    all="$(awk -v n="$(sfield "$s" requests)" -v d="$(sfield "$s" duration_s)" 'BEGIN {printf "%.0f", n / d}')"
    echo "| $name | $all | $(srate "$s") | $(sfield "$s" s503) | $(sfield "$s" sother) | $(sockerr "$s") | $(sfield "$s" p50_ms) | $(sfield "$s" p99_ms) | $(sfield "$s" max_ms) | $(little "$s")$flag |"
  done
  echo
  echo "## Memory (gatehouse VmRSS)"
  echo
  echo "| database | right after start | idle after all runs (6 s) |"
  echo "|---|---:|---:|"
  echo "| PostgreSQL | $(mib "$RSS_PG_START") MiB | $(mib "$RSS_PG_END") MiB |"
  echo "| SQLite | $(mib "$RSS_SQ_START") MiB | $(mib "$RSS_SQ_END") MiB |"
  echo
  echo "## Targets"
  echo
  echo "| target | measured | verdict |"
  echo "|---|---|---|"
  if [[ "$GS_BA_RPS" == "-" ]]; then
    echo "| get-session on PostgreSQL ≥ 30× better-auth req/s, p99 ≤ 5 ms | gatehouse $GS_PG_RPS req/s, p99 $GS_PG_P99 ms (better-auth not run) | $T1 |"
  else
    echo "| get-session on PostgreSQL ≥ 30× better-auth req/s, p99 ≤ 5 ms | $GS_PG_RPS vs $GS_BA_RPS req/s = $(ratio "$GS_BA_RPS" "$GS_PG_RPS") (needs ≥ $(fmt "$(calc "30 * $GS_BA_RPS")") req/s); p99 $GS_PG_P99 ms | $T1 |"
  fi
  echo "| the same at 16 connections | $GS16_PG_RPS vs $GS16_BA_RPS req/s = $(ratio "$GS16_BA_RPS" "$GS16_PG_RPS"); p99 $GS16_PG_P99 ms | $T1B |"
  echo "| get-session on SQLite ≥ 25k req/s | $GS_SQ_RPS req/s (p99 $(gs get-session p99) ms) | $T2 |"
  echo "| sign-in ≥ 0.9 × (cores ÷ single-hash time) | $CAP_RATE sign-ins/s (2xx, c4) vs 0.9 × $CORES ÷ $HASH_MS ms = $(fmt "$HASH_EXPECT" 1)/s | $T3 |"
  echo "| same bound, under overload (c$SIGNIN_CONN, 2xx only) | $SIGNIN_RATE sign-ins/s vs $(fmt "$HASH_EXPECT" 1)/s | $T3B |"
  echo "| get-session p99 ≤ 10 ms during a sign-in flood | p99 $PROBE_P99 ms (p50 $(sfield "$PROBE_LINE" p50_ms) ms) | $T4 |"
  echo "| idle RSS ≤ 10 MiB | $(mib "$RSS_PG_START") MiB after start ($(mib "$RSS_PG_END") MiB idle after the runs) | $T5 |"
  echo
  [[ -f "$ROOT/bench/analysis.md" ]] && { cat "$ROOT/bench/analysis.md"; echo; }
  echo "## Anomalies"
  echo
  any=0
  if [[ -n "$CRASHES" ]]; then echo "- Server exits: ${CRASHES%; }."; any=1; fi
  if [[ -n "$PROBLEMS_PG" ]]; then echo "- gatehouse (PostgreSQL) log: $PROBLEMS_PG."; any=1; fi
  if [[ -n "$PROBLEMS_SQ" ]]; then echo "- gatehouse (SQLite) log: $PROBLEMS_SQ."; any=1; fi
  for spec in $SCENARIOS; do
    t="$(tag_of "$spec")"
    e="$(gp "$t" errors)"
    if [[ -n "$e" && "$e" != 0 ]]; then
      if [[ "$t" == sign-in ]]; then
        echo "- gatehouse-PG $t (c$CONNS): $e wrk errors: 503 load shedding is expected here; the statuses are counted in the overload section, and its p50/p99 mix instant 503s with wrk's synthetic samples (footnote ¹ there)."
      else
        echo "- gatehouse-PG $t: $e wrk errors (non-2xx statuses or socket errors)."
      fi
      any=1
    fi
    e="$(ba "$t" errors)"
    if [[ "$e" != "-" && -n "$e" && "$e" != 0 ]]; then echo "- better-auth $t: $e wrk errors."; any=1; fi
  done
  for t in $SQLITE_SCENARIOS; do
    e="$(gs "$t" errors)"
    if [[ -n "$e" && "$e" != 0 ]]; then echo "- gatehouse-SQLite $t: $e wrk errors."; any=1; fi
  done
  # single hash and probe: everything but a 2xx is odd; overload and flood: everything but 2xx/503
  for pair in "single-hash run|0|$HASH_LINE" "get-session probe during the flood|0|$PROBE_LINE" \
    "sign-in flood|1|$FLOOD_LINE" $(for c in $OVERLOAD_CONNS; do echo "overload-c$c|1|"; done); do
    name="${pair%%|*}"; info="${pair#*|}"; shed="${info%%|*}"; s="${info#*|}"
    [[ "$name" == overload-c* ]] && s="${OVL[${name#overload-c}]}"
    odd="$(sfield "$s" sother)"; ((shed)) || odd=$((odd + $(sfield "$s" s503)))
    if ((odd + $(sockerr "$s") + $(sfield "$s" no_retry_after) > 0)); then
      echo "- $name: statuses $(sfield "$s" codes), socket errors $(sockerr "$s"), 503 without Retry-After $(sfield "$s" no_retry_after)."
      any=1
    fi
  done
  for pair in "sign-in flood|$FLOOD_CONNS|$FLOOD_LINE" "get-session probe during the flood|$PROBE_CONNS|$PROBE_LINE" \
    $(for c in $OVERLOAD_CONNS; do echo "overload-c$c|$c|"; done); do
    name="${pair%%|*}"; info="${pair#*|}"; conns="${info%%|*}"; s="${info#*|}"
    [[ "$name" == overload-c* ]] && s="${OVL[${name#overload-c}]}"
    if ! little_ok "$s" "$conns"; then
      echo "- $name: wrk's latency percentiles are dominated by its coordinated-omission correction (mean × rate = $(little "$s") with $conns connections, see the footnote); not a server error, but those percentiles do not describe real responses."
      any=1
    fi
  done
  ((any)) || echo "None: no server crash, no warn/error log line, every status was 200 (or 503 under overload)."
} >"$DOC"

log "wrote ${DOC#"$ROOT"/} and ${RAW_FILE#"$ROOT"/}"
sed -n '/^## Targets/,$p' "$DOC" >&2
OK=1
