#!/usr/bin/env bash
# Checks the shipped systemd unit (deploy/gatehouse.service) with systemd's own tools, against the
# binary just built: `systemd-analyze verify` (syntax, every directive known, the commands exist and
# are executable) and `systemd-analyze security --offline` (the hardening: exposure at most 2.0 of
# 10, systemd's "OK" band). `make test` runs it.
#   scripts/check-deploy.sh [BINARY]   (default build/gatehouse)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(realpath "${1:-build/gatehouse}")"
command -v systemd-analyze >/dev/null || { echo "check-deploy: systemd-analyze not found (apt-get install systemd)" >&2; exit 1; }
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
sed "s|/usr/local/bin/gatehouse|$bin|g" deploy/gatehouse.service >"$dir/gatehouse.service"
out="$(systemd-analyze verify "$dir/gatehouse.service" 2>&1)" || { echo "$out" >&2; exit 1; }
if [[ -n "$out" ]]; then
  echo "check-deploy: systemd-analyze verify complains:" >&2
  echo "$out" >&2
  exit 1
fi
score="$(systemd-analyze security --offline=true "$dir/gatehouse.service" 2>&1 | sed -n 's/.*Overall exposure level for gatehouse.service: \([0-9.]*\).*/\1/p')"
[[ -n "$score" ]] || { echo "check-deploy: no exposure score from systemd-analyze security" >&2; exit 1; }
if awk -v s="$score" 'BEGIN { exit !(s > 2.0) }'; then
  echo "check-deploy: exposure level $score is above 2.0: the unit lost hardening" >&2
  exit 1
fi
echo "deploy/gatehouse.service: verified; exposure level $score"
