#!/usr/bin/env bash
# The soak of tests/tests/soak.rs, longer than CI's 10 s, with its figures printed:
#   scripts/soak.sh [--minutes M] [--clients N]     (defaults: 5 minutes, 32 clients)
# Starts the backing servers like scripts/test.sh, builds every service (debug, as the tests
# do), then runs the one test with --no-capture (throughput, answers per endpoint and status,
# RSS), with a time bound of M + 5 minutes instead of the tests' 4.
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
[[ $minutes =~ ^[1-9][0-9]*$ && $clients =~ ^[1-9][0-9]*$ ]] ||
  { echo "scripts/soak.sh: --minutes and --clients take whole numbers above 0" >&2; exit 2; }
bash scripts/backing.sh install
bash scripts/backing.sh up
eval "$(bash scripts/backing.sh env)"
export SOAK_SECS=$((minutes * 60)) SOAK_CLIENTS=$clients
# .config/nextest.toml kills any test after 4 minutes. A longer bound for this run only:
# profile `soak-sh`, from a tool config file (lower priority than the repository's, which
# defines no such profile): the soak's minutes plus 5 for the start, checks and teardown.
nextest_config=$(mktemp --suffix=.toml)
trap 'rm -f "$nextest_config"' EXIT
cat >"$nextest_config" <<EOF2
[profile.soak-sh]
[[profile.soak-sh.overrides]]
filter = 'binary(soak)'
slow-timeout = { period = "60s", terminate-after = $((minutes + 5)) }
EOF2
# Build first, then run alone under the exclusive lock scripts/test.sh's serial tests take:
# the soak loads the machine, so other checkouts' tests wait for it (and it for them).
cargo nextest run --workspace --no-run
lock=${HUB_TEST_LOCK:-/tmp/hub-tests.lock}
flock -o -w "${HUB_TEST_LOCK_WAIT_SECS:-900}" -x "$lock" \
  cargo nextest run --workspace --no-tests=fail -E 'binary(soak)' --no-capture \
  --tool-config-file "soak-sh:$nextest_config" --profile soak-sh 2>&1
