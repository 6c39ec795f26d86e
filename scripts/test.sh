#!/usr/bin/env bash
# Runs every test of the workspace against real servers.
#
#   scripts/test.sh            install + start the backing servers, then run all tests
#
# 0. the Rust toolchain (scripts/lib/toolchain.sh): missing or older than Cargo.toml's
#    rust-version stops here with the rustup commands that install or update it
# 1. scripts/backing.sh install && up   (PostgreSQL, RabbitMQ, MongoDB, S3; idempotent)
# 2. the scripts' own tests (tests/scripts/*.sh: the toolchain check, shellcheck over every
#    script, ruff over every Python file; no build, no network; ~3 s), then the
#    Kubernetes manifests: tests/kubernetes/check.py renders deploy/kubernetes, validates
#    it strictly and checks its policy (no cluster, no network; ~3 s)
# 3. cargo nextest, all tests but the fault tests, in parallel (each test owns its
#    database and queue names)
# 4. the fault tests (binaries named `faults`), the soak (`soak`) and the chaos run on the
#    cluster stack (`chaos`: it installs and starts scripts/cluster.sh itself, ~2.5 min), the
#    restore drill (`restore`: stores of its own from scripts/backup.sh, ~3.5 min) and the
#    rolling upgrade from the previous release and back on that cluster (`upgrade`; it builds
#    the previous release once into ~/.cache/hub-ci/releases), one at a time: they stop and
#    restart shared servers, bind the historical ports or load the machine, so nothing else
#    may run beside them
# 5. the committed .sqlx/ query cache against the queries (scripts/sqlx-prepare.sh --check:
#    `cargo sqlx prepare --workspace --check`; see there for its cost)
# Extra arguments go to both nextest runs (e.g. `scripts/test.sh --no-fail-fast`).
# The closing line, `tests: N passed, M failed`, adds up nextest's JUnit reports (profile
# `ci` of .config/nextest.toml, read by scripts/py/nextest_junit.py, which also names each
# failed test) and the `<name>: N passed` lines of the scripts' tests and the Kubernetes
# check; it is printed when a nextest run fails too, and the exit status is then 1.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# Rust first: a missing or too old toolchain says how to install it, before anything starts.
. scripts/lib/toolchain.sh
need_toolchain scripts/test.sh

bash scripts/backing.sh install
bash scripts/backing.sh up
eval "$(bash scripts/backing.sh env)"

log=$(mktemp)
trap 'rm -f "$log"' EXIT

for t in tests/scripts/*.sh; do bash "$t" | tee -a "$log"; done
"$HUB_PYTHON" tests/kubernetes/check.py | tee -a "$log"

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "test.sh: installing cargo-nextest"
  cargo install cargo-nextest --locked
fi

# Databases left by earlier runs (tests create test_<prefix>_<uuid>).
psql -qAt "$DATABASE_URL" -c "SELECT datname FROM pg_database WHERE datname LIKE 'test\_%'" |
  while read -r db; do psql -q "$DATABASE_URL" -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null || true; done

# Build first, outside the lock, so a long compile does not hold up other checkouts.
cargo nextest run --workspace --no-run

# Each run writes its JUnit report to the same file: keep a copy per run.
export NEXTEST_PROFILE=ci
junit=$(cargo metadata --format-version 1 --no-deps | "$HUB_PYTHON" scripts/py/nextest_junit.py path)
reports=$(mktemp -d)
trap 'rm -rf "$log" "$reports"' EXIT
# A run that passed wrote a report: one that did not would make the closing line undercount
# (CI once said "84 passed" after 568 tests, reading the report from the wrong folder).
keep_report() {
  if [ -f "$junit" ]; then
    mv "$junit" "$reports/$1.xml"
  elif [ "$status" -eq 0 ]; then
    echo "test.sh: nextest wrote no JUnit report at $junit after the $1 run" >&2
    status=1
  fi
}
rm -f "$junit"
status=0

# Several checkouts on one machine share the backing servers: ordinary tests hold a shared
# lock, fault tests (which stop a server) an exclusive one, so neither breaks the other.
# `-o` closes the lock's descriptor in the command: without it every process the tests
# start inherits the lock, and a server restarted by a fault test (RabbitMQ, PostgreSQL)
# would hold it for ever, so the next run's `flock` waited without end (a CI run hung on
# exactly that). `-w` turns any other stuck holder into an error instead of a hang.
lock=${HUB_TEST_LOCK:-/tmp/hub-tests.lock}
wait_lock=${HUB_TEST_LOCK_WAIT_SECS:-900}
# `upgrade` builds the previous release the first time a machine runs it (about 20 minutes
# on two busy cores; ~/.cache/hub-ci/releases keeps it), then takes about 2 minutes.
serial='binary(faults) | binary(soak) | binary(chaos) | binary(restore) | binary(upgrade)'
flock -o -w "$wait_lock" -s "$lock" cargo nextest run --workspace --no-tests=warn -E "not ($serial)" "$@" 2>&1 | tee -a "$log" || status=$?
keep_report parallel
# The serial tests only after a green parallel run, as before.
if [ "$status" -eq 0 ]; then
  flock -o -w "$wait_lock" -x "$lock" cargo nextest run --workspace --no-tests=warn -E "$serial" --test-threads 1 "$@" 2>&1 | tee -a "$log" || status=$?
  keep_report serial
fi

# The .sqlx/ check after the tests: sqlx-cli touches the sources of the crates that hold
# queries (so the next build compiles them again, not this run's), and the migrate binary
# is the one this test build made (hub-db has integration tests, so it is built). Under
# the shared lock, as the tests (a fault test of another checkout stops PostgreSQL). A
# failure counts in the closing line's failures.
flock -o -w "$wait_lock" -s "$lock" env HUB_MIGRATE_BIN="${CARGO_TARGET_DIR:-$root/target}/debug/migrate" \
  bash scripts/sqlx-prepare.sh --check || status=$?

# One closing line for the whole run: nextest's reports (the last line of the summary is
# `passed failed skipped`, the lines before it name the failed tests), plus the scripts'
# tests and the Kubernetes check (their own `<name>: N passed` lines).
summary=$("$HUB_PYTHON" scripts/py/nextest_junit.py summary "$reports"/*.xml)
counts=$(tail -n1 <<<"$summary")
read -r passed failed _ <<<"$counts"
grep '^FAILED ' <<<"$summary" || true
passed=$((passed + $(grep -Eo '^[a-z-]+: [0-9]+ passed' "$log" | awk '{s+=$2} END {print s+0}')))
# A run that failed without a failed test in its report (it did not build, or the lock
# timed out) still counts one failure, so the closing line never says 0 failed on a red run.
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "tests: $passed passed, $failed failed"
[ "$status" -eq 0 ]
