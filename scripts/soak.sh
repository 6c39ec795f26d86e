#!/usr/bin/env bash
# The soak of tests/tests/soak.rs, longer than CI's 10 s, with its figures printed:
#   scripts/soak.sh [--minutes M] [--clients N]     (defaults: 5 minutes, 32 clients)
# Starts the backing servers like scripts/test.sh, builds every service, then runs the
# one test with --no-capture (throughput, answers per endpoint and status, RSS).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# Rust first: a missing or too old toolchain says how to install it, before anything starts.
. scripts/lib/toolchain.sh
need_toolchain scripts/soak.sh
minutes=5 clients=32
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    *) echo "usage: scripts/soak.sh [--minutes M] [--clients N]" >&2; exit 2 ;;
  esac
done
bash scripts/backing.sh install
bash scripts/backing.sh up
eval "$(bash scripts/backing.sh env)"
export SOAK_SECS=$((minutes * 60)) SOAK_CLIENTS=$clients
cargo nextest run --workspace --no-tests=fail -E 'binary(soak)' --no-capture \
  --config 'profile.default.slow-timeout = { period = "60s", terminate-after = 1000 }' 2>&1
