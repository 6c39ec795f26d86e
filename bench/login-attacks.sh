#!/usr/bin/env bash
# The login attacks of docs/RELIABILITY.md ("Login throttling"), against one or more auth
# builds in one run, each on a fresh database:
#
#   bench/login-attacks.sh BIN_DIR [BIN_DIR ...]   e.g. the base commit's target/debug
#                                                 (git worktree + cargo build -p auth)
#                                                 and this checkout's target/debug
#
# The script plays the proxy: it connects from 127.0.0.1 and writes X-Forwarded-For.
# Both the old setting (TRUST_FORWARDED_FOR=true) and the new one (TRUSTED_PROXIES) are
# set, so each build reads the header its own way. Limits: 5 per account, 50 per
# address. Prints, per build:
#   ok the right password of a fresh user (200: the run is sane)
#   A  40 simultaneous wrong passwords for one user, each from its own address:
#      how many reached the password check (401), and the right password after
#   B  80 simultaneous failures from one address on 80 unknown names: 401s, 429s
#   C  55 failures from one client rotating the left-most X-Forwarded-For entry
#      (what a client writes): 429s
#   D  3 wrong passwords by username, then 3 by email (one account): the 6th status,
#      and the right password by email after
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
[ $# -ge 1 ] || { sed -n '2,20p' "$0" >&2; exit 2; }
bash scripts/backing.sh install >/dev/null
bash scripts/backing.sh up >/dev/null
eval "$(bash scripts/backing.sh env)"
command -v curl >/dev/null || { echo "login-attacks: curl is required" >&2; exit 2; }

export port=27001
legacy_hash() { python3 -c 'import hashlib,sys; print(hashlib.pbkdf2_hmac("sha256", sys.argv[1].encode(), b"salt", 1000, 64).hex())' "$1"; }
login() { # address user password -> status
  curl -s -o /dev/null -w '%{http_code}\n' -H 'content-type: application/json' \
    -H "x-forwarded-for: $1" -d "{\"username\":\"$2\",\"password\":\"$3\"}" "http://127.0.0.1:$port/login"
}
export -f login
count() { grep -c "^$1\$" || true; }

printf '%-24s %-6s %-14s %-14s %-14s %-14s\n' build ok "A 401s/then" "B 401s/429s" "C 429s" "D 6th/then"
for dir in "$@"; do
  bin=$(cd "$dir" && pwd)/auth
  [ -x "$bin" ] || { echo "login-attacks: $bin is missing" >&2; exit 2; }
  db="login_attacks_$(date +%s)_$$"
  db_url="${DATABASE_URL%/*}/$db"
  psql -q "$DATABASE_URL" -c "CREATE DATABASE $db" >/dev/null
  log=$(mktemp)
  env DATABASE_URL="$db_url" SECRET_KEY="login-attacks-$RANDOM$RANDOM-0123456789abcdef" \
    AMQP_URL="$AMQP_URL" RABBITMQ_QUEUE="login-attacks-$$" HOST=127.0.0.1 PORT=$port \
    PASSWORD_PBKDF2_ITERATIONS=20000 TRUST_FORWARDED_FOR=true TRUSTED_PROXIES=127.0.0.1 \
    LOGIN_MAX_FAILURES_PER_USER=5 LOGIN_MAX_FAILURES_PER_ADDRESS=50 "$bin" >"$log" 2>&1 &
  pid=$!
  trap 'kill -TERM $pid 2>/dev/null || true' EXIT
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
  for u in ann fay kim; do
    psql -q "$db_url" -c "INSERT INTO \"user\" (id, username, password, first_name, last_name, dni, email, city)
      VALUES (gen_random_uuid(), '$u', '$(legacy_hash right)', 'A', 'B', '$u-dni', '$u@example.com', 'C')" >/dev/null
  done

  ok=$(login 198.51.100.9 kim right)
  a=$(seq 40 | xargs -P 40 -I{} bash -c 'login 203.0.113.{} ann wrong')
  a_then=$(login 198.51.100.1 ann right)
  b=$(seq 80 | xargs -P 80 -I{} bash -c 'login 198.51.100.50 nobody{} x')
  c=$(for i in $(seq 55); do login "10.$((i / 250)).$((i % 250)).1, 198.51.100.60" "r$i" x; done)
  d=$(for l in fay fay fay fay@example.com fay@example.com fay@example.com; do login 198.51.100.70 "$l" wrong; done | tail -1)
  d_then=$(login 198.51.100.71 fay@example.com right)

  printf '%-24s %-6s %-14s %-14s %-14s %-14s\n' "$dir" "$ok" \
    "$(count 401 <<<"$a")/$a_then" "$(count 401 <<<"$b")/$(count 429 <<<"$b")" \
    "$(count 429 <<<"$c")" "$d/$d_then"
  kill -TERM "$pid"; wait "$pid" || true
  psql -q "$DATABASE_URL" -c "DROP DATABASE $db WITH (FORCE)" >/dev/null
  rm -f "$log"
done
echo "reproduce: bench/login-attacks.sh $*"
