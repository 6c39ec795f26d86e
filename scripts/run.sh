#!/usr/bin/env bash
# Runs the whole system on this machine (no Docker needed):
#   installs and starts the backing servers (scripts/backing.sh), builds every service
#   of the registry (services.toml) in release mode, starts each on its historical port, waits until each is healthy,
#   then keeps running until Ctrl-C (which stops the services; the backing servers
#   stay up: `scripts/backing.sh down` stops them).
#
# Production-like alternative with containers: `docker compose up` (see README).
#
# Configuration: any variable a service reads may be exported before running this.
# JWTs are EdDSA: auth signs with an Ed25519 key generated once into
# .backing/jwt_signing_key, the others verify through auth's JWKS. JWT_ALGORITHM=HS256 opts
# in to the shared SECRET_KEY (legacy verifiers), which defaults to a random value generated
# once into .backing/secret_key. Both keys are conveniences of this script only: the services
# have no default key (and auth given neither JWT_ALGORITHM nor a signing key signs HS256).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# Rust first: a missing or too old toolchain says how to install it, before anything starts.
. scripts/lib/toolchain.sh
need_toolchain scripts/run.sh

# "name port health protocol", one line per service, from the registry (services.toml).
. scripts/lib/registry.sh
registry=$(registry_services "$root/services.toml")
mapfile -t SERVICES <<<"$registry"

bash scripts/backing.sh install
bash scripts/backing.sh up
eval "$(bash scripts/backing.sh env)"

state=${BACKING_STATE_DIR:-$root/.backing}
mkdir -p "$state/logs"

# The system's own database (tests use throwaway ones).
psql -qAt "$DATABASE_URL" -c "SELECT 1 FROM pg_database WHERE datname = 'hub'" | grep -q 1 ||
  psql -q "$DATABASE_URL" -c "CREATE DATABASE hub" >/dev/null
export DATABASE_URL="${DATABASE_URL%/*}/hub"

# JWTs: EdDSA by default. auth signs with an Ed25519 key generated once into
# .backing/jwt_signing_key (given to auth only); session, images and user-lookup verify
# through auth's JWKS (JWKS_URL) and hold no key that signs. JWT_ALGORITHM=HS256 opts in to
# the shared SECRET_KEY instead, for legacy verifiers (the originals only know HS256).
auth_env=()
case "${JWT_ALGORITHM:-EdDSA}" in
  [Ee][Dd][Dd][Ss][Aa])
    export JWT_ALGORITHM=EdDSA
    if [ -z "${JWT_SIGNING_KEY:-}${JWT_SIGNING_KEY_FILE:-}" ]; then
      if [ ! -s "$state/jwt_signing_key" ]; then
        (umask 077; openssl genpkey -algorithm ed25519 -out "$state/jwt_signing_key.tmp" &&
          mv "$state/jwt_signing_key.tmp" "$state/jwt_signing_key")
      fi
      auth_env+=("JWT_SIGNING_KEY_FILE=$state/jwt_signing_key")
    fi
    # auth's port from the registry; auth starts first, and the others fetch on first use.
    auth_port=$(printf '%s\n' "${SERVICES[@]}" | awk '$1 == "auth" { print $2 }')
    export JWKS_URL="${JWKS_URL:-http://127.0.0.1:$auth_port/.well-known/jwks.json}"
    ;;
  [Hh][Ss]256)
    export JWT_ALGORITHM=HS256
    if [ -z "${SECRET_KEY:-}${JWT_SECRET:-}" ]; then
      if [ ! -s "$state/secret_key" ]; then
        (umask 077; head -c 48 /dev/urandom | base64 | tr -d '\n=+/' >"$state/secret_key")
      fi
      SECRET_KEY=$(cat "$state/secret_key")
      export SECRET_KEY
    fi
    ;;
  *) echo "run.sh: JWT_ALGORITHM must be EdDSA (the default) or HS256" >&2; exit 2 ;;
esac
# The account export: auth reads session and images as the user, at their registry ports.
port_of() { printf '%s\n' "${SERVICES[@]}" | awk -v n="$1" '$1 == n { print $2 }'; }
auth_env+=("SESSION_URL=http://127.0.0.1:$(port_of session)" "IMAGES_URL=http://127.0.0.1:$(port_of images)")

names=()
for s in "${SERVICES[@]}"; do names+=("-p" "${s%% *}"); done
# The same build as bench/run.sh's (scripts/lib/build.sh): one reuses the other's.
. scripts/lib/build.sh
build_release run.sh "${names[@]}"
bin=${CARGO_TARGET_DIR:-$root/target}/release

pids=()
stop() {
  trap - INT TERM EXIT
  echo "run.sh: stopping services"
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

for s in "${SERVICES[@]}"; do
  read -r name port health _ <<<"$s"
  service_env=("PORT=$port")
  [ "$name" != auth ] || service_env+=("${auth_env[@]}")
  env "${service_env[@]}" "$bin/$name" >>"$state/logs/$name.log" 2>&1 &
  pids+=($!)
  deadline=$((SECONDS + 60))
  until curl -fsS "http://127.0.0.1:$port$health" >/dev/null 2>&1; do
    if ! kill -0 "${pids[-1]}" 2>/dev/null; then
      echo "run.sh: $name exited; last log lines:" >&2; tail -n 20 "$state/logs/$name.log" >&2; exit 1
    fi
    [ $SECONDS -lt $deadline ] || { echo "run.sh: $name not healthy after 60 s" >&2; exit 1; }
    sleep 0.2
  done
  echo "run.sh: $name healthy on http://127.0.0.1:$port (log: $state/logs/$name.log)"
done
echo "run.sh: all services up; Ctrl-C to stop"
wait
