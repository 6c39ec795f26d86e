#!/usr/bin/env bash
# The .sqlx/ query cache, which lets `cargo build` check SQL without a database
# (SQLX_OFFLINE=true in .cargo/config.toml):
#
#   scripts/sqlx-prepare.sh           regenerate .sqlx/: run it after changing a query or a
#                                     migration, and commit .sqlx/
#   scripts/sqlx-prepare.sh --check   fail (exit 1) when .sqlx/ is not what the queries of
#                                     this checkout need; scripts/test.sh runs it (CI)
#
# Both make a scratch database, migrate it with the services' own migrator (hub-db's
# `migrate` binary: hub_db::migrator(), what every service runs at start-up), then run
# `cargo sqlx prepare --workspace [--check] -- --all-targets` against it (queries in tests
# count too). sqlx-cli is installed into ~/.cargo/bin on first use, at the version of
# Cargo.lock's sqlx and with PostgreSQL only (a few minutes on 2 cores, once); later runs
# find it and skip the install. A check costs a `cargo check` of the workspace's crates
# that hold queries (sqlx-cli touches their sources, so the next build compiles them again;
# their dependencies' check builds are reused, e.g. from `cargo clippy`). A check that
# passed is remembered (a digest of the tracked sources, .sqlx/ and migrations in
# <target>/sqlx-prepare-check.ok): run again on the same files, it says so and stops.
#
# Needs the backing PostgreSQL (scripts/backing.sh up); PREPARE_ADMIN_URL (default: the
# backing server's app_test role, which may create databases) is where the scratch database
# is made.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
check=()
case "${1:-}" in
  "") ;;
  --check) check=(--check) ;;
  *) echo "usage: scripts/sqlx-prepare.sh [--check]" >&2; exit 2 ;;
esac

# sqlx-cli at Cargo.lock's sqlx version (`cargo pkgid`: ...crates.io-index#sqlx@0.9.0).
want=$(cargo pkgid --locked sqlx)
want=${want##*[@#]}
# --check on files already checked: nothing to do (CI starts from an empty target/).
stamp=${CARGO_TARGET_DIR:-$root/target}/sqlx-prepare-check.ok
digest() { git ls-files -z -- crates services tests bench migrations .sqlx Cargo.lock | xargs -0 sha1sum | sha1sum; }
if [ ${#check[@]} -gt 0 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(digest)" ]; then
  echo "sqlx-prepare: .sqlx/ already checked against these sources"
  exit 0
fi

have=$(cargo sqlx --version 2>/dev/null || true)   # `sqlx-cli-sqlx 0.9.0`
if [ "${have##* }" != "$want" ]; then
  echo "sqlx-prepare: installing sqlx-cli $want (PostgreSQL only) into ~/.cargo/bin${have:+, replacing $have}"
  cargo install sqlx-cli --version "=$want" --locked --no-default-features --features postgres
fi

db="sqlx_prepare_$$"
export PGOPTIONS="-c client_min_messages=warning"
admin=${PREPARE_ADMIN_URL:-postgres://app_test:app_test@127.0.0.1:5432/app_test}
url="${admin%/*}/$db"
cleanup() { psql -q "$admin" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true; }
trap cleanup EXIT
psql -q "$admin" -c "CREATE DATABASE $db" >/dev/null
# HUB_MIGRATE_BIN: a migrate binary already built (scripts/test.sh passes the one its test
# build made; `cargo run -p hub-db` alone resolves features apart from the workspace, so
# it would build sqlx and tokio once more).
if [ -n "${HUB_MIGRATE_BIN:-}" ]; then
  DATABASE_URL=$url "$HUB_MIGRATE_BIN"
else
  DATABASE_URL=$url cargo run --quiet --locked -p hub-db --bin migrate
fi

DATABASE_URL=$url cargo sqlx prepare --workspace "${check[@]}" -- --all-targets --locked --quiet
if [ ${#check[@]} -eq 0 ]; then
  echo "sqlx-prepare: wrote $(find .sqlx -name 'query-*.json' | wc -l) queries to .sqlx/"
else
  mkdir -p "$(dirname "$stamp")"
  digest >"$stamp"
  echo "sqlx-prepare: .sqlx/ holds every query of the workspace, as it is now"
fi
