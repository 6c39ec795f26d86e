#!/usr/bin/env bash
# Regenerates .sqlx/ (the query cache that lets `cargo build` check SQL without a
# database). Run it after changing a query or a migration, and commit .sqlx/.
# Needs the backing PostgreSQL (scripts/backing.sh up).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
db="sqlx_prepare_$$"
export PGOPTIONS="-c client_min_messages=warning"
admin=${PREPARE_ADMIN_URL:-postgres://app_test:app_test@127.0.0.1:5432/app_test}
url="${admin%/*}/$db"
cleanup() { psql -q "$admin" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true; }
trap cleanup EXIT
psql -q "$admin" -c "CREATE DATABASE $db" >/dev/null
for f in migrations/*.sql; do psql -q -v ON_ERROR_STOP=1 "$url" -f "$f" >/dev/null; done
rm -rf .sqlx && mkdir .sqlx
# Touch every source file that may hold a query so the macros expand again.
find crates services -name '*.rs' -path '*/src/*' -exec touch {} +
SQLX_OFFLINE=false DATABASE_URL="$url" SQLX_OFFLINE_DIR="$root/.sqlx" \
  cargo check --workspace --all-targets --quiet
echo "wrote $(ls .sqlx | wc -l) queries to .sqlx/"
