#!/usr/bin/env bash
# Fails when C sources use functions banned by the style guide (design.md §4).
set -euo pipefail
cd "$(dirname "$0")/.."
pattern='\b(sprintf|vsprintf|strcpy|strcat|atoi|atol|atoll|strtok|gmtime|localtime|gets)[[:space:]]*\('
if hits="$(git ls-files '*.c' '*.h' | xargs grep -nE "$pattern" | grep -vE '\b(snprintf|vsnprintf)\b' || true)" && [[ -n "$hits" ]]; then
  echo "banned functions used:" >&2
  echo "$hits" >&2
  exit 1
fi
echo "no banned functions"
