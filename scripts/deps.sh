#!/usr/bin/env bash
# Installs the Debian packages gatehouse needs to build, run and test (when root and missing).
#   scripts/deps.sh          build + run dependencies
#   scripts/deps.sh --test   also test dependencies (cmocka, postgresql, node/npm, nginx, caddy, the
#                            FastAPI integration's Debian Python packages, psycopg for its example
#                            on PostgreSQL)
#   scripts/deps.sh --bench  also benchmark dependencies (wrk, postgresql, node/npm)
set -euo pipefail
PKGS=(cmake ninja-build pkg-config gcc make libmicrohttpd-dev libjansson-dev libssl-dev
      libsodium-dev libunistring-dev libsqlite3-dev libpq-dev liburiparser-dev
      libcurl4-openssl-dev libqrencode-dev)
for arg in "$@"; do
  case "$arg" in
    --test) PKGS+=(libcmocka-dev postgresql clang-format sqlite3 clang libclang-rt-14-dev valgrind curl systemd
                   python3-aiosmtpd nginx caddy python3-fastapi python3-uvicorn python3-jwt python3-httpx
                   python3-cryptography python3-pytest python3-psycopg) ;;
    --bench) PKGS+=(wrk postgresql bc) ;;
  esac
done
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  for arg in "$@"; do case "$arg" in --test|--bench) PKGS+=(nodejs npm) ;; esac; done
fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ "$(id -u)" != 0 ]]; then
    echo "deps: missing Debian packages: ${missing[*]}" >&2
    echo "deps: run as root, or: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
