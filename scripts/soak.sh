#!/usr/bin/env bash
# The soak of tests/tests/soak.rs, longer than CI's 10 s, with its figures printed:
#   scripts/soak.sh [--minutes M] [--clients N] [--release]
#                                        (defaults: 5 minutes, 32 clients, debug build)
# Starts the backing servers like scripts/test.sh, builds every service (debug, as the tests
# do; --release: also the release build of scripts/run.sh, which the soak then runs), then
# runs the one test with --no-capture (throughput, answers per endpoint and status, mails,
# RSS sampled every tenth of the run, at most every 30 s), with a time bound of M + 5
# minutes instead of the tests' 4. The RSS samples are kept in bench/results/
# soak-<time>.csv (SOAK_RESULTS_DIR: another folder), with their plot beside them (.png). The hour of docs/RELIABILITY.md:
#   scripts/soak.sh --minutes 60 --release
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# Rust first: a missing or too old toolchain says how to install it, before anything starts.
. scripts/lib/toolchain.sh
need_toolchain scripts/soak.sh
minutes=5 clients=32 release=false
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --release) release=true; shift ;;
    *) echo "usage: scripts/soak.sh [--minutes M] [--clients N] [--release]" >&2; exit 2 ;;
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
if $release; then
  . scripts/lib/build.sh
  . scripts/lib/registry.sh
  pkgs=()
  while read -r name _; do pkgs+=(-p "$name"); done < <(registry_services "$root/services.toml")
  # In a subshell: build_release exports the commit stamp, which the test's debug build
  # must not see (hub-runtime reads it at compile time: it would rebuild).
  (build_release soak.sh "${pkgs[@]}")
  export HUB_SERVICE_BIN_DIR=${CARGO_TARGET_DIR:-$root/target}/release
fi
results_dir=${SOAK_RESULTS_DIR:-bench/results}
mkdir -p "$results_dir"
results_dir=$(cd "$results_dir" && pwd)   # absolute: the test runs in its crate's folder
results=$results_dir/soak-$(date -u +%Y-%m-%dT%H%MZ)
export SOAK_RSS_CSV=$results.csv
lock=${HUB_TEST_LOCK:-/tmp/hub-tests.lock}
status=0
flock -o -w "${HUB_TEST_LOCK_WAIT_SECS:-900}" -x "$lock" \
  cargo nextest run --workspace --no-tests=fail -E 'binary(soak)' --no-capture \
  --tool-config-file "soak-sh:$nextest_config" --profile soak-sh 2>&1 || status=$?
if [ -s "$SOAK_RSS_CSV" ]; then
  chart_venv=${BACKING_STATE_DIR:-$root/.backing}/bench-venv
  [ -x "$chart_venv/bin/python" ] || python3 -m venv "$chart_venv"
  "$chart_venv/bin/python" -c 'import matplotlib' 2>/dev/null || "$chart_venv/bin/pip" install -q 'matplotlib==3.10.7'
  "$chart_venv/bin/python" scripts/py/soak_plot.py "$SOAK_RSS_CSV" "$results.png"
  echo "soak.sh: RSS samples in $results.csv, plotted in $results.png"
fi
exit "$status"
