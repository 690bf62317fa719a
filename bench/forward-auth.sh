#!/usr/bin/env bash
# Forward auth (`make bench` runs it after bench/resource.sh): req/s and latency of
#   1. GET /api/auth/get-session, direct (the reference: the same session lookup)
#   2. GET /api/auth/forward-auth, direct (what Traefik / Caddy call)
#   3. a protected location through a real nginx (auth_request → forward-auth, then a small static
#      file from nginx itself as the "backend", so that the auth hop is what is measured)
#   4. the same location through nginx without auth_request (nginx's own cost)
# gatehouse on SQLite, one signed-up user and its session cookie, wrk on the same machine.
# Writes the section between the "forward-auth" markers of docs/benchmarks.md (appended when
# absent) and bench/results/forward-auth-<UTC stamp>.md.
#
# Env knobs: DURATION [10] s per wrk run   CONNS [32]   WRK_THREADS [2]   BUILD [build]
#            GH_PORT [3311]   NGINX_PORT [3312]   NGINX_BIN [/usr/sbin/nginx]   DOC [docs/benchmarks.md]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DURATION="${DURATION:-10}"
CONNS="${CONNS:-32}"
WRK_THREADS="${WRK_THREADS:-2}"
BUILD="${BUILD:-build}"
GH_PORT="${GH_PORT:-3311}"
NGINX_PORT="${NGINX_PORT:-3312}"
NGINX_BIN="${NGINX_BIN:-/usr/sbin/nginx}"
DOC="${DOC:-docs/benchmarks.md}"
RESULTS_DIR="${RESULTS_DIR:-bench/results}"

log() { echo "forward-auth.sh [$(date +%H:%M:%S)]: $*" >&2; }
die() { log "error: $*"; exit 1; }
for tool in wrk curl; do command -v "$tool" >/dev/null || die "$tool is required (scripts/deps.sh --bench)"; done
[[ -x "$NGINX_BIN" ]] || die "nginx not found at $NGINX_BIN (scripts/deps.sh --test installs it)"
[[ -x "$BUILD/gatehouse" ]] || die "build $BUILD/gatehouse first"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-fwd.XXXXXX")"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

wait_http() { # URL
  for _ in $(seq 1 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done
  die "no answer from $1"
}

SECRET="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
GH_URL="http://127.0.0.1:$GH_PORT"
PORT="$GH_PORT" GATEHOUSE_HOST=127.0.0.1 GATEHOUSE_BASE_URL="$GH_URL" GATEHOUSE_SECRET="$SECRET" \
  GATEHOUSE_ENV=production GATEHOUSE_RATE_LIMIT=off GATEHOUSE_MAX_CONNECTIONS_PER_IP=0 \
  GATEHOUSE_HASH_PER_CLIENT=-1 GATEHOUSE_LOG_LEVEL=warn DATABASE_URL="sqlite:$WORK/gatehouse.db" \
  "$BUILD/gatehouse" serve --migrate 2>"$WORK/gatehouse.log" &
PIDS+=($!)
wait_http "$GH_URL/api/auth/ok"

mkdir -p "$WORK/nginx/tmp" "$WORK/nginx/www"
echo ok >"$WORK/nginx/www/page"
chmod 755 "$WORK" "$WORK/nginx" "$WORK/nginx/www" # nginx workers run as another user when started as root
chmod 644 "$WORK/nginx/www/page"
cat >"$WORK/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/tmp/body;
  proxy_temp_path $WORK/nginx/tmp/proxy;
  fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
  uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
  scgi_temp_path $WORK/nginx/tmp/scgi;
  upstream gatehouse { server 127.0.0.1:$GH_PORT; keepalive 32; }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location = /_gatehouse/forward-auth {
      internal;
      proxy_pass http://gatehouse/api/auth/forward-auth;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Forwarded-Method \$request_method;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_set_header X-Forwarded-Host \$http_host;
      proxy_set_header X-Forwarded-Uri \$request_uri;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
    location @gatehouse_unavailable { add_header Retry-After 5 always; return 503; }
    location /protected/ {
      auth_request /_gatehouse/forward-auth;
      auth_request_set \$auth_user_id \$upstream_http_x_auth_user_id;
      add_header X-Seen-User \$auth_user_id;
      error_page 500 = @gatehouse_unavailable;
      # a static file (content phase, after auth_request; a "return 200" would answer before it)
      alias $WORK/nginx/www/;
    }
    location /open/ { alias $WORK/nginx/www/; }
  }
}
EOF
"$NGINX_BIN" -p "$WORK/nginx" -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf" &
PIDS+=($!)
wait_http "http://127.0.0.1:$NGINX_PORT/open/page"
[[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$NGINX_PORT/protected/page")" == 401 ]] ||
  die "nginx serves /protected/ without a session"

curl -fs -c "$WORK/jar" -H "Origin: $GH_URL" -H 'Content-Type: application/json' \
  -d '{"name":"Bench","email":"bench@example.com","password":"bench-password-123"}' \
  "$GH_URL/api/auth/sign-up/email" >/dev/null
COOKIE="$(awk '$6 == "better-auth.session_token" {print $6 "=" $7}' "$WORK/jar")"
[[ -n "$COOKIE" ]] || die "sign-up gave no session cookie"

declare -A RPS P50 P99 CODES
run_wrk() { # NAME URL
  local out="$WORK/wrk-$1.txt"
  local code
  code="$(curl -s -o /dev/null -w "%{http_code}" -H "Cookie: $COOKIE" "$2")"
  [[ "$code" == 200 ]] || { cat "$WORK/nginx/error.log" >&2; die "$1: $2 answers $code, not 200"; }
  wrk -t"$WRK_THREADS" -c"$CONNS" -d"${DURATION}s" --latency -H "Cookie: $COOKIE" "$2" >"$out"
  RPS[$1]="$(awk '/^Requests\/sec/ {printf "%.0f", $2}' "$out")"
  P50[$1]="$(awk '$1 == "50%" {print $2}' "$out")"
  P99[$1]="$(awk '$1 == "99%" {print $2}' "$out")"
  CODES[$1]="$(awk '/Non-2xx/ {print $NF}' "$out")"
  log "$1: ${RPS[$1]} req/s, p50 ${P50[$1]}, p99 ${P99[$1]}, non-2xx ${CODES[$1]:-0}"
}
log "wrk -t$WRK_THREADS -c$CONNS -d${DURATION}s"
run_wrk get-session "$GH_URL/api/auth/get-session"
run_wrk forward-auth "$GH_URL/api/auth/forward-auth"
# gatehouse's own count of forward-auth answers (GET /metrics): one per request through nginx
fa_count() {
  curl -fs "$GH_URL/metrics" | awk '/^gatehouse_http_requests_total\{.*route="\/api\/auth\/forward-auth",status="200"/ {print $2}'
}
FA_BEFORE="$(fa_count)"
run_wrk nginx-auth "http://127.0.0.1:$NGINX_PORT/protected/page"
FA_CALLS="$(( $(fa_count) - FA_BEFORE ))"
NGINX_REQS="$(awk '/requests in/ {print $1}' "$WORK/wrk-nginx-auth.txt")"
log "forward-auth answered $FA_CALLS times during the $NGINX_REQS requests through nginx"
run_wrk nginx-open "http://127.0.0.1:$NGINX_PORT/open/page"

STAMP="$(date -u +%Y%m%dT%H%MZ)"
mkdir -p "$RESULTS_DIR"
RAW="$RESULTS_DIR/forward-auth-$STAMP.md"
{
  echo "# bench/forward-auth.sh raw output ($STAMP)"
  for f in "$WORK"/wrk-*.txt; do printf '\n## %s\n\n```\n%s\n```\n' "$(basename "$f" .txt)" "$(cat "$f")"; done
} >"$RAW"

SECTION="$WORK/section.md"
{
  echo "<!-- forward-auth:begin (bench/forward-auth.sh) -->"
  echo "## Forward auth (bench/forward-auth.sh)"
  echo
  echo "Command: \`bench/forward-auth.sh\` (run by \`make bench\`; \`DURATION=$DURATION\`), $(date -u +%Y-%m-%d) $(date -u +%H:%M) UTC,"
  echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "Raw output: [bench/results/$(basename "$RAW")](../bench/results/$(basename "$RAW"))."
  echo "gatehouse on SQLite, one session cookie; wrk \`-t$WRK_THREADS -c$CONNS -d${DURATION}s\`; gatehouse, nginx (one worker) and wrk share the cores."
  echo
  echo "| request | req/s | p50 | p99 | non-2xx |"
  echo "|---|---|---|---|---|"
  echo "| \`GET /api/auth/get-session\`, direct | ${RPS[get-session]} | ${P50[get-session]} | ${P99[get-session]} | ${CODES[get-session]:-0} |"
  echo "| \`GET /api/auth/forward-auth\`, direct (Traefik/Caddy) | ${RPS[forward-auth]} | ${P50[forward-auth]} | ${P99[forward-auth]} | ${CODES[forward-auth]:-0} |"
  echo "| through nginx: \`auth_request\` → forward-auth, then a static file | ${RPS[nginx-auth]} | ${P50[nginx-auth]} | ${P99[nginx-auth]} | ${CODES[nginx-auth]:-0} |"
  echo "| through nginx without \`auth_request\` (nginx alone) | ${RPS[nginx-open]} | ${P50[nginx-open]} | ${P99[nginx-open]} | ${CODES[nginx-open]:-0} |"
  echo
  echo "During the nginx run gatehouse answered forward-auth $FA_CALLS times for $NGINX_REQS requests (its /metrics):"
  echo "one auth subrequest per request, nothing cached."
  echo "<!-- forward-auth:end -->"
} >"$SECTION"

touch "$DOC"
if grep -q '^<!-- forward-auth:begin' "$DOC"; then
  awk -v sec="$SECTION" '
    /^<!-- forward-auth:begin/ { while ((getline l < sec) > 0) print l; skip = 1; next }
    /^<!-- forward-auth:end/ { skip = 0; next }
    !skip { print }' "$DOC" >"$WORK/doc.md"
  cp "$WORK/doc.md" "$DOC"
else
  { echo; cat "$SECTION"; } >>"$DOC"
fi
log "wrote ${DOC} (forward-auth section) and $RAW"
