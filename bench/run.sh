#!/usr/bin/env bash
# Load benchmark: each main endpoint next to its physical limit, measured in the same run.
#
#   bench/run.sh            full run (release build, 10 s per point, concurrency 1 8 32),
#                           then instructions per request (bench/icount.sh; BENCH_ICOUNT=0
#                           skips it), writes bench/results/<date>.md and a PNG chart
#   bench/run.sh --smoke    CI smoke mode: debug build, 2 s, concurrency 8, fails on any error
#
# Limits: POST /login and POST /register vs the raw password-hash rate at the services'
# algorithm and cost (hub-bench argon2id: Argon2id m=19456 KiB, t=2, p=1, the default;
# hub-bench pbkdf2 with BENCH_PASSWORD_HASH=pbkdf2-sha256; on as many threads as cores used); the lookups vs the same SELECT straight against
# PostgreSQL (pgbench, same concurrency); GET /last-connection vs that SELECT followed by
# its MongoDB find (hub-bench mongofind), and vs the SELECT alone; POST /api/sessions vs the same
# upsert straight against MongoDB (hub-bench mongo, same concurrency); POST /upload_image of
# a photo-like JPEG vs raw S3 PutObjects of the same file through aws-sdk-s3 (hub-bench s3put,
# same concurrency) and vs the service's decode + re-encode of that file alone (hub-bench
# reencode: same library and settings, on as many threads as the service decodes at once);
# everything vs an empty axum handler. Memory: every service's RSS idle and under load, and
# images' RSS during a loop of large (12 MP) uploads, against its stated bound (README,
# "Memory").
# The account surface (surface_* below): POST /token/refresh, POST /logout, GET /api/account,
# GET /api/account/logins, PATCH /api/account/profile and POST /api/account/password/forgot,
# each vs its own statements straight against PostgreSQL (bench/sql/, pgbench, same
# concurrency); tokens EdDSA, verified by session, images and user-lookup through auth's
# JWKS, as scripts/run.sh runs them; notifications' mails per second end to end vs the SMTP
# catcher's raw accept rate (hub-bench smtp, lettre).
# Load generator: wrk (Debian), on the same machine as the services.
set -Eeuo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# It never ends silently: any command that fails names itself, its line and the point the
# run had reached (-E: inside functions too), and a measurement that comes back empty
# stops the run with what it lacked (stop, below), instead of an arithmetic error later.
stage="preparing"
on_error() { # status line command
  echo "bench: stopped at line $2 while $stage: \`$3\` failed (exit $1); no results written" >&2
}
trap 'on_error $? $LINENO "$BASH_COMMAND"' ERR
stop() { echo "bench: stopped while $stage: $*; no results written" >&2; exit 1; }
# need VALUE WHAT: VALUE must be a number, else the run stops naming WHAT.
need() { [[ ${1:-} =~ ^[0-9]+(\.[0-9]+)?$ ]] || stop "$2 gave no figure (got '${1:-}')"; }

# Rust first: a missing or too old toolchain says how to install it, before anything starts.
. scripts/lib/toolchain.sh
need_toolchain bench/run.sh

smoke=false
[ "${1:-}" = "--smoke" ] && smoke=true
if $smoke; then
  SECONDS_PER=${BENCH_SECONDS:-2}; LEVELS=${BENCH_LEVELS:-"8"}; PROFILE=debug; ITER=${BENCH_ITERATIONS:-20000}
else
  SECONDS_PER=${BENCH_SECONDS:-10}; LEVELS=${BENCH_LEVELS:-"1 8 32"}; PROFILE=release; ITER=${BENCH_ITERATIONS:-600000}
fi
CPUS=$(nproc)
# The services' password hash (PASSWORD_HASH) and Argon2id cost; the limit follows them.
HASH=${BENCH_PASSWORD_HASH:-argon2id}
ARGON2_M=${BENCH_ARGON2_MEMORY_KIB:-19456}; ARGON2_T=${BENCH_ARGON2_ITERATIONS:-2}; ARGON2_P=${BENCH_ARGON2_PARALLELISM:-1}
case $HASH in
  argon2id|pbkdf2-sha256) ;;
  *) echo "bench: BENCH_PASSWORD_HASH must be argon2id or pbkdf2-sha256, not '$HASH'" >&2; exit 2 ;;
esac

command -v wrk >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wrk; }
bash scripts/backing.sh install >/dev/null
bash scripts/backing.sh up >/dev/null
eval "$(bash scripts/backing.sh env)"

# The services and their health paths come from the registry (services.toml); each runs
# here on its historical port + 20000, beside any scripts/run.sh.
. scripts/lib/registry.sh
registry=$(registry_services "$root/services.toml")
declare -A bport bhealth
pkgs=()
while read -r name port health _; do
  bport[$name]=$((port + 20000)); bhealth[$name]=$health; pkgs+=(-p "$name")
done <<<"$registry"
if [ "$PROFILE" = release ]; then
  # The services exactly as scripts/run.sh builds them (same command, same HUB_GIT_COMMIT:
  # scripts/lib/build.sh), so either reuses the other's build; hub-bench on its own, so its
  # dependencies cannot change the features the services are built with.
  . scripts/lib/build.sh
  build_release bench "${pkgs[@]}"
  cargo build --release --locked -p hub-bench
else
  cargo build --locked "${pkgs[@]}" -p hub-bench
fi
bin=${CARGO_TARGET_DIR:-$root/target}/$PROFILE

work=$(mktemp -d)
db="bench_$(date +%s)_$$"
db_url="${DATABASE_URL%/*}/$db"
# session and connected share one MongoDB database (dropped by cleanup).
export MONGODB_DATABASE=$db
# images' bucket (moto keeps objects in memory: cleanup deletes it).
AWS_BUCKET_NAME="bench-images-$(date +%s)-$$"
export AWS_BUCKET_NAME
pids=()
started=()   # services started by start(), in order
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql -q "$DATABASE_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  "$bin/hub-bench" s3clean >/dev/null 2>&1 || true
  "$bin/hub-bench" mongoclean >/dev/null 2>&1 || true
  for q in bench-auth-events bench-user-events bench-account-events bench-images-events \
           "${notify_queue:-}" "${notify_queue:-}.dlq" "${notify_queue:-}.deferred"; do rabbitmqctl -q delete_queue "$q" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT
psql -q "$DATABASE_URL" -c "CREATE DATABASE $db" >/dev/null

common=(DATABASE_URL="$db_url" AMQP_URL="$AMQP_URL" HOST=127.0.0.1 SECRET_KEY="bench-$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
        PASSWORD_HASH="$HASH" PASSWORD_PBKDF2_ITERATIONS="$ITER" PASSWORD_ARGON2_MEMORY_KIB="$ARGON2_M"
        PASSWORD_ARGON2_ITERATIONS="$ARGON2_T" PASSWORD_ARGON2_PARALLELISM="$ARGON2_P" LOGIN_MAX_FAILURES_PER_ADDRESS=1000000
        LOGIN_MAX_FAILURES_PER_USER=1000000 REGISTER_MAX_PER_ADDRESS=1000000000 RUST_LOG=warn)
# The account routes' surface (surface_* below): tokens as scripts/run.sh issues them by
# default, EdDSA signed by auth with a key made for the run, verified by session, images and
# user-lookup through auth's JWKS; every queue the services write to is the bench's own.
openssl genpkey -algorithm ed25519 -out "$work/jwt_signing_key" 2>/dev/null
common+=(JWKS_URL="http://127.0.0.1:${bport[auth]}/.well-known/jwks.json"
         RABBITMQ_USER_QUEUE=bench-user-events RABBITMQ_ACCOUNT_QUEUE=bench-account-events
         IMAGES_QUEUE=bench-images-events PASSWORD_RESET_MAX_PER_ADDRESS=1000000000)
start() { # name queue
  env "${common[@]}" PORT="${bport[$1]}" RABBITMQ_QUEUE="$2" "$bin/$1" >"$work/$1.log" 2>&1 &
  pids+=($!); eval "pid_${1//-/_}=$!"; started+=("$1")
}
# The order here is the order of the memory table.
JWT_ALGORITHM=EdDSA JWT_SIGNING_KEY_FILE="$work/jwt_signing_key" start auth bench-auth-events
start user-soap bench-user-events
start user-lookup none
# images with its default limits (MAX_IMAGE_BYTES, MAX_CONCURRENT_UPLOADS, MAX_IMAGE_PIXELS,
# IMAGE_DECODE_CONCURRENCY): the memory bound is stated for them. The upload runs cycle
# through a few names (upload.lua), each written many times: the original's rule (any
# upload replaces) lets an anonymous upload replace, where by default only the owner's
# token may.
IMAGE_DECODES=1        # IMAGE_DECODE_CONCURRENCY's default
IMAGES_RSS_BOUND_MIB=${IMAGES_RSS_BOUND_MIB:-240}   # services/images/README.md, "Memory"
UPLOAD_ANONYMOUS_REPLACE=true start images none
# session consumes auth's login events, as in production.
start session bench-auth-events
start connected none
# notifications consumes a queue of the run's own (surface_mails publishes to it) and mails
# the SMTP catcher of scripts/backing.sh (SMTP_* from its env).
notify_queue="bench-notify-$$"
# It handles one delivery at a time: two connections are all it uses (a shared server).
DB_MAX_CONNECTIONS=2 NOTIFICATIONS_QUEUES=$notify_queue start notifications none
for name in "${!bport[@]}"; do
  [[ " ${started[*]} " == *" $name "* ]] || echo "bench: $name (services.toml) is not benchmarked: add a start line" >&2
done
"$bin/hub-bench" empty 25099 >"$work/empty.log" 2>&1 & pids+=($!)
health_urls=()
for name in "${started[@]}"; do health_urls+=("${bport[$name]}${bhealth[$name]}"); done
for hp in "${health_urls[@]}" 25099/; do
  deadline=$((SECONDS + 60))
  until curl -fsS "http://127.0.0.1:$hp" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || { echo "bench: 127.0.0.1:$hp not up" >&2; cat "$work"/*.log >&2; exit 1; }
    sleep 0.2
  done
done

# One user with a current-format hash, registered through the service itself.
curl -fsS -o /dev/null -X POST "http://127.0.0.1:${bport[user-soap]}/register" -H 'content-type: text/xml' --data \
  '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:u="http://example.com/user"><s:Body><u:RegisterUser><u:username>bench_login</u:username><u:password>bench-password</u:password><u:first_name>B</u:first_name><u:last_name>M</u:last_name><u:dni>bench0</u:dni><u:email>bench@example.com</u:email><u:city>C</u:city></u:RegisterUser></s:Body></s:Envelope>'

# A token for that user, and its session (POST /api/sessions then updates it).
BENCH_TOKEN=$(curl -fsS -X POST "http://127.0.0.1:${bport[auth]}/login" -H 'content-type: application/json' \
  --data '{"username":"bench_login","password":"bench-password"}' | sed -E 's/.*"token":"([^"]+)".*/\1/')
export BENCH_TOKEN
curl -fsS -o /dev/null -X POST "http://127.0.0.1:${bport[session]}/api/sessions" -H "authorization: Bearer $BENCH_TOKEN" \
  -H 'content-type: application/json' --data '{"data":{}}'

# The user and the login (token family) of BENCH_TOKEN, for the account routes' limits.
surface_uid=$(psql -qAt "$db_url" -c "SELECT id FROM \"user\" WHERE username = 'bench_login'")
surface_sid=$(psql -qAt "$db_url" -c "SELECT id FROM token_family WHERE user_id = '$surface_uid' ORDER BY created_at DESC LIMIT 1")
need_uuid() { [[ ${1:-} =~ ^[0-9a-f-]{36}$ ]] || stop "$2 not found (got '${1:-}')"; }
need_uuid "$surface_uid" "the bench user's id"; need_uuid "$surface_sid" "the bench token's login"
# A second user for the logout rows, so their many logins do not lengthen bench_login's
# logins list.
curl -fsS -o /dev/null -X POST "http://127.0.0.1:${bport[user-soap]}/register" -H 'content-type: text/xml' --data \
  '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:u="http://example.com/user"><s:Body><u:RegisterUser><u:username>bench_logout</u:username><u:password>bench-password</u:password><u:first_name>B</u:first_name><u:last_name>M</u:last_name><u:dni>bench1</u:dni><u:email>bench-logout@example.com</u:email><u:city>C</u:city></u:RegisterUser></s:Body></s:Envelope>'
surface_logout_uid=$(psql -qAt "$db_url" -c "SELECT id FROM \"user\" WHERE username = 'bench_logout'")
need_uuid "$surface_logout_uid" "the logout user's id"

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
declare -A idle_rss peak_rss   # KiB
rss_services="${started[*]//-/_}"
for s in $rss_services; do p="pid_$s"; idle_rss[$s]=$(rss_kb "${!p}"); peak_rss[$s]=${idle_rss[$s]}; done

# Samples every service's RSS while a load runs (a measurement, not synchronisation).
sample_rss() {
  while :; do
    for s in $rss_services; do
      p="pid_$s"; v=$(rss_kb "${!p}" 2>/dev/null || echo 0)
      echo "$s $v"
    done
    sleep 0.2
  done
}

results=$work/results.tsv   # endpoint concurrency rps p50 p99 errors limit_name limit_rps
: >"$results"
run_wrk() { # label concurrency url script(optional)
  local label=$1 c=$2 url=$3 script=${4:-} t=$(( $2 < 2 ? $2 : 2 ))
  local s="$work/script.lua"
  { [ -n "$script" ] && cat "bench/wrk/$script"; cat bench/wrk/report.lua; } >"$s"
  sample_rss >"$work/rss.$label.$c" & local sampler=$!
  local out line
  # --timeout: wrk's 2 s default would count slow-but-correct answers (logins at c=32,
  # 9 MiB uploads) as errors.
  out=$(wrk -t"$t" -c"$c" -d"${SECONDS_PER}s" --timeout 30s --latency -s "$s" "$url" 2>&1) || true
  kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
  line=$(grep '^RESULT' <<<"$out") || { echo "bench: wrk gave no result for $label at c=$c; it printed:" >&2; tail -n 5 <<<"$out" >&2; return 0; }
  echo "$line" | sed -E 's/RESULT rps=([^ ]+) p50_ms=([^ ]+) p99_ms=([^ ]+) errors=([^ ]+).*/\1 \2 \3 \4/'
}
# wrk_row LABEL C URL [SCRIPT]: run_wrk's four figures into rps p50 p99 err, or the run stops.
wrk_row() {
  read -r rps p50 p99 err < <(run_wrk "$@") || true
  need "${err:-}" "wrk on $1 at c=$2"
}

pg_tps() { # concurrency
  local sql="$work/lookup.sql"
  echo "SELECT id, username FROM \"user\" WHERE username = 'bench_login';" >"$sql"
  local j=$(( $1 < CPUS ? $1 : CPUS ))
  pgbench -n -c "$1" -j "$j" -T "$SECONDS_PER" -f "$sql" "$db_url" 2>/dev/null | awk -F'[ =]+' '/^tps/ {print $2; exit}'
}

# One hub-bench MongoDB limit at a concurrency: its rate, with a warning if any call failed.
hub_rate() { # mode errors-key rate-key what concurrency
  local out errs
  out=$("$bin/hub-bench" "$1" "$SECONDS_PER" "$5")
  errs=$(echo "$out" | awk -F= -v k="$2" '$1 == k {print $2}')
  [ "${errs:-1}" -eq 0 ] || { echo "bench: $errs raw MongoDB $4 errors" >&2; }
  echo "$out" | awk -F= -v k="$3" '$1 == k {print $2}'
}
mongo_rate() { hub_rate mongo mongo_errors mongo_upserts_per_sec upsert "$1"; }

# GET /last-connection does the SELECT and then a MongoDB find: its limit is both reads
# back to back. Each costs the same two cores, so the pair's rate is the harmonic
# combination of the raw SELECT rate (pgbench) and the raw find rate (hub-bench mongofind).
mongo_find_rate() { hub_rate mongofind mongofind_errors mongo_finds_per_sec find "$1"; }
both_reads() { echo "1 / (1 / $1 + 1 / $2)" | bc -l; } # select_rate find_rate

# The fair limit of an endpoint: what the same two cores do when they pay the HTTP
# ceiling (the empty axum handler) and the endpoint's raw backend work in turn, each
# request both: 1 / (1/empty + 1/raw_1 + ...). The session's raw work is its upsert
# plus its PostgreSQL check (the token's user, the same indexed SELECT); the lookups'
# the SELECT; GET /last-connection's the SELECT then the find; PBKDF2 and uploads are
# bound by their own work, for which the ceiling changes nothing that matters.
# fair_row LABEL C KIND appends "label<TAB>c<TAB>fair<TAB>what" to $work/fair.tsv,
# which the results table joins (the TSV that bench/chart.py reads keeps its columns).
fair_rates() { # rates...: 1 / sum(1/rate)
  local expr="0" r
  for r in "$@"; do expr+=" + 1 / $r"; done
  echo "1 / ($expr)" | bc -l
}
fair_row() { # label concurrency kind
  local fair what
  case $3 in
    db)    fair=$(fair_rates "$e_rps" "$db_tps"); what="empty + SELECT" ;;
    reads) fair=$(fair_rates "$e_rps" "$db_tps" "$find_tps"); what="empty + SELECT + find" ;;
    mongo) fair=$(fair_rates "$e_rps" "$mongo_tps" "$db_tps"); what="empty + upsert + SELECT" ;;
    *) return 0 ;;
  esac
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$fair" "$what" >>"$work/fair.tsv"
}

# A login uses one core for its hash, so c connections can use at most min(c, CPUS)
# cores: the limit at each level is the raw rate of the services' hash on that many
# threads, measured there.
hash_rate() { # concurrency
  local t=$(( $1 < CPUS ? $1 : CPUS ))
  case $HASH in
    argon2id) "$bin/hub-bench" argon2id "$ARGON2_M" "$ARGON2_T" "$ARGON2_P" "$SECONDS_PER" "$t" | awk -F= '/argon2id_per_sec/ {print $2}' ;;
    *) "$bin/hub-bench" pbkdf2 "$ITER" "$SECONDS_PER" "$t" | awk -F= '/pbkdf2_per_sec/ {print $2}' ;;
  esac
}
case $HASH in
  argon2id) hash_name="Argon2id m=$ARGON2_M,t=$ARGON2_T,p=$ARGON2_P" ;;
  *) hash_name="PBKDF2 i=$ITER" ;;
esac

# --- The account surface: refresh and the account routes a front-end calls, each against
# its own statements straight against PostgreSQL (pgbench, same concurrency, prepared as
# sqlx prepares them: bench/sql/); the empty axum handler row is their HTTP ceiling.

# pgbench_script CONCURRENCY FILE [pgbench options...]: "tps failures" of FILE; a client
# that aborts (a statement failed) counts as one failure and its error is printed.
pgbench_script() {
  local c=$1 file=$2 out tps failed
  shift 2
  out=$(pgbench -n -M prepared -c "$c" -j "$(( c < CPUS ? c : CPUS ))" -T "$SECONDS_PER" "$@" -f "$file" "$db_url" 2>&1) || true
  tps=$(awk -F'[ =]+' '/^tps/ {print $2; exit}' <<<"$out")
  failed=$(awk -F'[: ]+' '/^number of failed transactions/ {print $5; exit}' <<<"$out")
  [ -n "${tps:-}" ] || tail -n 3 <<<"$out" >&2   # why there is no figure
  if grep -q 'aborted' <<<"$out"; then
    grep -m 3 'error' <<<"$out" >&2 || true
    failed=$(( ${failed:-0} + 1 ))
  fi
  echo "${tps:-} ${failed:-}"
}

# surface_refresh_tokens N: the refresh tokens of N new logins of the bench user, one per line.
surface_refresh_tokens() {
  local tokens
  tokens=$(seq "$1" | xargs -P "$CPUS" -I{} curl -fsS -X POST "http://127.0.0.1:${bport[auth]}/login" \
    -H 'content-type: application/json' --data '{"username":"bench_login","password":"bench-password"}' |
    grep -o '"refresh_token":"[^"]*"' | cut -d'"' -f4) || true
  [ "$(grep -c . <<<"$tokens")" -eq "$1" ] || stop "$1 logins for the refresh chains gave $(grep -c . <<<"$tokens") refresh tokens"
  echo "$tokens"
}

# surface_row LABEL C URL SCRIPT LIMIT-NAME PGBENCH-FILE [pgbench options...]: the limit,
# then the route with wrk; one row of results.
surface_row() {
  local label=$1 c=$2 url=$3 script=$4 lname=$5 file=$6 lim lerr slug
  shift 6
  stage="measuring $label at c=$c"
  read -r lim lerr < <(pgbench_script "$c" "$file" "$@") || true
  need "${lim:-}" "pgbench ($label's statements)"; need "${lerr:-}" "pgbench's failure count ($label)"
  errors_total=$((errors_total + lerr))
  slug=$(tr -c 'A-Za-z0-9\n' '_' <<<"$label")   # its own RSS sample file (rss.<slug>.<c>)
  wrk_row "$slug" "$c" "$url" "$script"
  errors_total=$((errors_total + err))
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$c" "$rps" "$p50" "$p99" "$err" "$lname" "$lim" >>"$results"
  echo "  c=$c: $label $rps req/s, p50 ${p50} ms, p99 ${p99} ms, errors $err; its statements (pgbench) $lim/s (failures $lerr)"
}

# Logout: every call revokes a live login, so each needs a login of its own. Logging in
# that often costs PBKDF2 each time; instead hub-bench signs access tokens with auth's
# key and issuer, each with a new sid, and the logins (token families) are inserted here,
# as a login inserts them. The limit revokes its own seeded logins the same way
# (sql/logout.sql). SURFACE_LOGOUTS_PER_SEC bounds the rate either can reach in a run:
# past it the run errors instead of measuring less.
SURFACE_LOGOUTS_PER_SEC=${SURFACE_LOGOUTS_PER_SEC:-6000}
surface_logout_row() { # concurrency
  local c=$1 m=$(( SURFACE_LOGOUTS_PER_SEC * SECONDS_PER )) tag="l$1-$$-$RANDOM" uid=$surface_logout_uid
  local row
  stage="preparing auth POST /logout at c=$c"
  row="\t$uid\t$(date -u -d '+1 day' '+%Y-%m-%d %H:%M:%S+00')"   # user_id, expires_at
  env JWT_ALGORITHM=EdDSA JWT_SIGNING_KEY_FILE="$work/jwt_signing_key" \
    "$bin/hub-bench" tokens "$m" "$uid" bench_logout "$work/logout.tokens" >/dev/null
  { cut -d' ' -f1 "$work/logout.tokens" | sed "s/\$/$row/"
    psql -qAt "$db_url" -c "SELECT md5(concat('$tag', ':', i % $c, ':', i / $c))::uuid FROM generate_series(0, $m - 1) i" |
      sed "s/\$/$row/"
  } | psql -q "$db_url" -c "COPY token_family (id, user_id, expires_at) FROM STDIN" >/dev/null
  export BENCH_LOGOUT_FILE="$work/logout.tokens" BENCH_WRK_THREADS=$(( c < 2 ? c : 2 ))   # run_wrk's threads
  surface_row "auth POST /logout" "$c" "http://127.0.0.1:${bport[auth]}/logout" logout.lua \
    "token check + UPDATE (pgbench)" bench/sql/logout.sql -D "uid=$uid" -D "tag=$tag" -D n=0
}

surface_secs=0   # what the surface rows and the mails add to a run, printed at its end
surface_rows() { # concurrency
  local c=$1 tag auth="http://127.0.0.1:${bport[auth]}" t0=$SECONDS
  # Refresh: every request presents a valid token. One login per connection, and each
  # connection rotates its own chain (wrk/refresh.lua); pgbench's clients walk chains of
  # digests seeded here for this level (sql/refresh.sql).
  stage="preparing auth POST /token/refresh at c=$c"
  tag="r$c-$$-$RANDOM"
  psql -q "$db_url" -c "WITH f AS (INSERT INTO token_family (id, user_id, expires_at)
      VALUES (gen_random_uuid(), '$surface_uid', now() + interval '1 day') RETURNING id)
    INSERT INTO refresh_token (digest, family_id)
      SELECT sha256(convert_to(concat('$tag', ':', i, ':', 0), 'UTF8')), f.id FROM f, generate_series(0, $c - 1) i" >/dev/null
  # One more for thread 0: wrk calls its request() once before the run, to check it.
  BENCH_REFRESH_TOKENS=$(surface_refresh_tokens "$(( c + 1 ))" | tr '\n' ' ')
  BENCH_REFRESH_PER_THREAD=$(( c / (c < 2 ? c : 2) ))   # run_wrk's threads
  BENCH_REFRESH_LOG="$work/refresh.$c.log"
  export BENCH_REFRESH_TOKENS BENCH_REFRESH_PER_THREAD BENCH_REFRESH_LOG
  surface_row "auth POST /token/refresh" "$c" "$auth/token/refresh" refresh.lua \
    "its transaction (pgbench)" bench/sql/refresh.sql -D "tag=$tag" -D n=0
  if [ -s "$BENCH_REFRESH_LOG" ]; then cat "$BENCH_REFRESH_LOG" >&2; fi
  cat bench/sql/token_check.sql bench/sql/account.sql >"$work/account.sql"
  surface_row "auth GET /api/account" "$c" "$auth/api/account" bearer_get.lua \
    "token check + SELECT (pgbench)" "$work/account.sql" -D "uid=$surface_uid" -D "sid=$surface_sid"
  cat bench/sql/token_check.sql bench/sql/logins.sql >"$work/logins.sql"
  surface_row "auth GET /api/account/logins" "$c" "$auth/api/account/logins" bearer_get.lua \
    "token check + SELECT (pgbench)" "$work/logins.sql" -D "uid=$surface_uid" -D "sid=$surface_sid"
  surface_logout_row "$c"
  surface_row "auth POST /api/account/password/forgot" "$c" "$auth/api/account/password/forgot" forgot.lua \
    "its statements (pgbench)" bench/sql/forgot.sql -D queue=bench-account-events
  surface_secs=$((surface_secs + SECONDS - t0))
  surface_row "auth PATCH /api/account/profile" "$c" "$auth/api/account/profile" profile.lua \
    "its transaction (pgbench)" bench/sql/profile.sql -D "uid=$surface_uid" -D "sid=$surface_sid" -D queue=bench-user-events
}

# The uploaded images: photo-like JPEGs (hub-bench imagegen), 2 MP for the levels and
# 12 MP (a phone photo, 4032 × 3024) for the memory loop.
"$bin/hub-bench" imagegen 1600 1200 "$work/2mp.jpg" >/dev/null
"$bin/hub-bench" imagegen 4032 3024 "$work/12mp.jpg" >/dev/null
# One upload point: raw PutObjects/s of the same file at the same concurrency (hub-bench
# s3put: images' client settings and bucket), the decode + re-encode of that file alone
# on min(c, IMAGE_DECODES) threads (hub-bench reencode), then POST /upload_image with wrk.
upload_row() { # concurrency file label-suffix what
  local c=$1 file=$2 what=$4 out raw raw_err re re_err rps p50 p99 err
  stage="measuring images POST /upload_image ($what) at c=$c"
  out=$("$bin/hub-bench" s3put "$file" "$SECONDS_PER" "$c")
  raw=$(awk -F= '/s3put_per_sec/ {print $2}' <<<"$out")
  raw_err=$(awk -F= '/s3put_errors/ {print $2}' <<<"$out")
  need "$raw" "hub-bench s3put"; need "$raw_err" "hub-bench s3put's error count"
  errors_total=$((errors_total + raw_err))
  out=$("$bin/hub-bench" reencode "$file" "$SECONDS_PER" "$(( c < IMAGE_DECODES ? c : IMAGE_DECODES ))")
  re=$(awk -F= '/reencode_per_sec/ {print $2}' <<<"$out")
  re_err=$(awk -F= '/reencode_errors/ {print $2}' <<<"$out")
  need "$re" "hub-bench reencode"; need "$re_err" "hub-bench reencode's error count"
  errors_total=$((errors_total + re_err))
  export BENCH_UPLOAD_FILE=$file BENCH_UPLOAD_KEYS=$(( 2 * c ))
  wrk_row "images$3" "$c" "http://127.0.0.1:${bport[images]}/upload_image" upload.lua
  errors_total=$((errors_total + err))
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "images POST /upload_image ($what)" "$c" "$rps" "$p50" "$p99" "$err" "raw S3 PUT of the file (aws-sdk-s3)" "$raw" >>"$results"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "images POST /upload_image ($what)" "$c" "$rps" "$p50" "$p99" "$err" "decode + re-encode alone ($(( c < IMAGE_DECODES ? c : IMAGE_DECODES )) thread)" "$re" >>"$results"
  echo "  c=$c: images POST /upload_image ($what) $rps req/s, p50 ${p50} ms, p99 ${p99} ms, errors $err; raw S3 PUT $raw/s (errors $raw_err); decode + re-encode alone $re/s (errors $re_err)"
}

errors_total=0
for c in $LEVELS; do
  stage="measuring the limits at c=$c"
  wrk_row empty "$c" http://127.0.0.1:25099/
  e_rps=$rps e_p50=$p50 e_p99=$p99 e_err=$err
  db_tps=$(pg_tps "$c"); need "$db_tps" "pgbench"
  hashes=$(hash_rate "$c"); need "$hashes" "hub-bench $HASH"
  mongo_tps=$(mongo_rate "$c"); need "$mongo_tps" "hub-bench mongo"
  find_tps=$(mongo_find_rate "$c"); need "$find_tps" "hub-bench mongofind"
  reads_tps=$(both_reads "$db_tps" "$find_tps")
  echo "  c=$c: empty axum handler $e_rps req/s; raw SELECT $db_tps/s; raw $hash_name $hashes/s; raw MongoDB upsert $mongo_tps/s; raw MongoDB find $find_tps/s; SELECT then find $reads_tps/s"
  printf 'empty axum handler (GET /)\t%s\t%s\t%s\t%s\t%s\t-\t-\n' "$c" "$e_rps" "$e_p50" "$e_p99" "$e_err" >>"$results"
  for spec in "auth POST /login|http://127.0.0.1:${bport[auth]}/login|login.lua|hash" \
              "user-soap POST /register|http://127.0.0.1:${bport[user-soap]}/register|register.lua|hash" \
              "user-lookup GET /user/soap|http://127.0.0.1:${bport[user-lookup]}/user/soap?username=bench_login||db" \
              "user-lookup POST /user/soap (SOAP)|http://127.0.0.1:${bport[user-lookup]}/user/soap|lookup_soap.lua|db" \
              "session POST /api/sessions (EdDSA token, JWKS)|http://127.0.0.1:${bport[session]}/api/sessions|session.lua|mongo" \
              "connected GET /last-connection|http://127.0.0.1:${bport[connected]}/last-connection?username=bench_login||reads"; do
    IFS='|' read -r label url script limit <<<"$spec"
    stage="measuring $label at c=$c"
    wrk_row "${label%% *}" "$c" "$url" "$script"
    errors_total=$((errors_total + err))
    case $limit in
      hash)   lname="raw $hash_name ($(( c < CPUS ? c : CPUS )) threads)"; lval=$hashes ;;
      mongo)  lname="raw MongoDB upsert (hub-bench)"; lval=$mongo_tps ;;
      reads)  lname="raw SELECT then raw find (pgbench, hub-bench)"; lval=$reads_tps ;;
      *)      lname="raw SELECT (pgbench)"; lval=$db_tps ;;
    esac
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$c" "$rps" "$p50" "$p99" "$err" "$lname" "$lval" >>"$results"
    fair_row "$label" "$c" "$limit"
    # The same figures against the SELECT alone, as the issue first stated this limit.
    [ "$limit" = reads ] && printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label (vs SELECT alone)" "$c" "$rps" "$p50" "$p99" "$err" "raw SELECT (pgbench)" "$db_tps" >>"$results"
    echo "  c=$c: $label $rps req/s, p50 ${p50} ms, p99 ${p99} ms, errors $err"
  done
  upload_row "$c" "$work/2mp.jpg" "" "2 MP JPEG, $(( $(stat -c %s "$work/2mp.jpg") / 1024 )) KiB"
  surface_rows "$c"
done

# --- notifications: mails per second delivered end to end (events published to RabbitMQ,
# claimed in PostgreSQL, sent over SMTP, received by scripts/backing.sh's catcher, which is
# Python: aiosmtpd) against the catcher's raw accept rate, measured right after by lettre
# (hub-bench smtp) with mails of the delivered size at the service's concurrency (one: its
# consumer handles one delivery at a time). Recipients are of a domain of the run's own, so
# only its mails are counted, from their files in the catcher's folder; rates come from the
# catcher's arrival times (its file names), first mail to last.
notify_files() { find "$HUB_MAIL_DIR" -mindepth 2 -maxdepth 2 -path "*@$1/*.eml" 2>/dev/null; }
notify_rate() { # domain: mails/s between the first and the last arrival
  notify_files "$1" | sed -E 's#.*/([0-9]+)-[^/]*$#\1#' | sort -n |
    awk 'NR == 1 {first = $1} {last = $1; n++} END {if (n > 1 && last > first) printf "%.2f", (n - 1) * 1e9 / (last - first)}'
}
surface_mails() {
  local n=$(( 100 * SECONDS_PER )) domain out pub_err got deadline rate size raw raw_err raw_got t0=$SECONDS
  domain="bench-$$-$(date +%s).example"
  stage="measuring notifications' mails"
  [ -n "${HUB_MAIL_DIR:-}" ] || stop "scripts/backing.sh env gave no HUB_MAIL_DIR (the SMTP catcher's folder)"
  out=$("$bin/hub-bench" publish "$notify_queue" "$n" "$domain")
  pub_err=$(awk -F= '/publish_errors/ {print $2}' <<<"$out"); need "$pub_err" "hub-bench publish"
  deadline=$((SECONDS + 60 + n / 10))
  got=0
  until [ "$got" -ge "$n" ] || [ $SECONDS -ge $deadline ]; do
    sleep 0.2
    got=$(notify_files "$domain" | wc -l)
  done
  rate=$(notify_rate "$domain"); need "$rate" "the catcher's arrival times of notifications' mails"
  size=$(stat -c %s "$(notify_files "$domain" | sort | tail -n 1)")
  out=$("$bin/hub-bench" smtp "$size" "$SECONDS_PER" 1 "raw.$domain")
  raw=$(awk -F= '/smtp_per_sec/ {print $2}' <<<"$out"); need "$raw" "hub-bench smtp"
  raw_err=$(awk -F= '/smtp_errors/ {print $2}' <<<"$out"); need "$raw_err" "hub-bench smtp's error count"
  raw_got=$(notify_files "raw.$domain" | wc -l)
  local err=$(( pub_err + n - got + raw_err ))
  errors_total=$((errors_total + err))
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "notifications: mails delivered (welcome, $size B)" 1 "$rate" - - "$err" \
    "raw SMTP accepts, same size (lettre; catcher: Python aiosmtpd)" "$raw" >>"$results"
  echo "  notifications: $got of $n mails delivered ($size B each), $rate mails/s; raw SMTP $raw mails/s (errors $raw_err, $raw_got files)"
  rm -rf "${HUB_MAIL_DIR:?}"/*@"$domain" "${HUB_MAIL_DIR:?}"/*@"raw.$domain"
  surface_secs=$((surface_secs + SECONDS - t0))
}
surface_mails

# Memory under large uploads: a loop of 12 MP JPEGs at 8 connections (MAX_CONCURRENT_UPLOADS
# read at once, IMAGE_DECODE_CONCURRENCY decoded at once); its own RSS samples
# (rss.images12mp.*), against the stated bound.
UPLOAD_LOOP_C=8
stage="the 12 MP memory loop"
upload_row "$UPLOAD_LOOP_C" "$work/12mp.jpg" 12mp "12 MP JPEG, $(( $(stat -c %s "$work/12mp.jpg") / 1024 )) KiB"
images_peak() { { cat "$@" 2>/dev/null || true; } | awk '$1 == "images" && $2 > m {m = $2} END {print m + 0}'; }
images_loop_peak=$(images_peak "$work/rss.images12mp.$UPLOAD_LOOP_C")
images_1m_peak=$(images_peak "$work/rss.images.$UPLOAD_LOOP_C")   # 0 unless LEVELS has 8
if [ "$images_loop_peak" -gt $((IMAGES_RSS_BOUND_MIB * 1024)) ]; then
  echo "bench: images peaked at $((images_loop_peak / 1024)) MiB during the 12 MP loop, over its bound of $IMAGES_RSS_BOUND_MIB MiB" >&2
  errors_total=$((errors_total + 1))
fi

# run_wrk runs in a subshell: the peaks are read back from its sample files here.
for s in $rss_services; do
  peak=$(cat "$work"/rss.* 2>/dev/null | awk -v s="$s" '$1 == s && $2 > m {m = $2} END {print m + 0}')
  if [ "$peak" -gt "${peak_rss[$s]}" ]; then peak_rss[$s]=$peak; fi
done

# The table: each row with its limit and ratio, then its fair limit (fair_row) and the
# ratio to that, beside the p99.
touch "$work/fair.tsv"
table=$(awk -F'\t' 'FILENAME == ARGV[1] { fair[$1 SUBSEP $2] = $3; fwhat[$1 SUBSEP $2] = $4; next }
  FNR == 1 {
    print "| endpoint | concurrency | req/s | p50 ms | p99 ms | errors | limit | limit/s | ratio | fair limit/s (HTTP ceiling + raw work) | ratio to fair |";
    print "|---|---|---|---|---|---|---|---|---|---|---|" }
  { ratio = ($8 == "-" || $8 == 0) ? "-" : sprintf("%.0f %%", 100 * $3 / $8);
    k = $1 SUBSEP $2
    f = (k in fair && fair[k] > 0) ? sprintf("%.1f (%s)", fair[k], fwhat[k]) : "-"
    fr = (k in fair && fair[k] > 0) ? sprintf("%.0f %%", 100 * $3 / fair[k]) : "-"
    printf "| %s | %s | %.1f | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3,
      ($4 == "-" ? "-" : sprintf("%.2f", $4)), ($5 == "-" ? "-" : sprintf("%.2f", $5)), $6, $7,
      ($8 == "-" ? "-" : sprintf("%.1f", $8)), ratio, f, fr }' "$work/fair.tsv" "$results")
rss_table="| service | idle RSS MiB | peak RSS under load MiB |
|---|---|---|"
for s in $rss_services; do
  rss_table+=$(printf '\n| %s | %.1f | %.1f |' "${s//_/-}" "$(echo "${idle_rss[$s]} / 1024" | bc -l)" "$(echo "${peak_rss[$s]} / 1024" | bc -l)")
done
rss_table+=$(printf '\n\nimages at %s connections: peak RSS %.1f MiB during the 12 MP JPEG upload loop (bound %s MiB: services/images/README.md, "Memory"), %.1f MiB during the 2 MP uploads' \
  "$UPLOAD_LOOP_C" "$(echo "$images_loop_peak / 1024" | bc -l)" "$IMAGES_RSS_BOUND_MIB" \
  "$(echo "$images_1m_peak / 1024" | bc -l)")
rss_table+=". Each upload is read whole (at most MAX_IMAGE_BYTES), one decode at a time uses up to MAX_IMAGE_PIXELS × 4 B × 2."

# Instructions per request (bench/icount.sh): figures the machine's load does not move.
# Its own build (release without LTO, as its baseline); BENCH_ICOUNT=0 skips it (CI's
# README check does: CI runs bench/icount.sh --check as a step of its own).
icount_section=""
if ! $smoke && [ "${BENCH_ICOUNT:-1}" != 0 ]; then
  stage="counting instructions per request (bench/icount.sh)"
  bash bench/icount.sh --markdown "$work/icount.md" >"$work/icount.log" 2>&1 ||
    { tail -n 20 "$work/icount.log" >&2; stop "bench/icount.sh failed"; }
  icount_section=$(cat "$work/icount.md")
fi

stage="writing the results"
cmd="bench/run.sh"
if $smoke; then cmd+=" --smoke"; fi
report="# Benchmark $(date -u +%Y-%m-%dT%H:%MZ)

Reproduce: \`$cmd\` (BENCH_SECONDS=$SECONDS_PER, BENCH_LEVELS=\"$LEVELS\", BENCH_PASSWORD_HASH=$HASH, BENCH_ARGON2_MEMORY_KIB=$ARGON2_M, BENCH_ARGON2_ITERATIONS=$ARGON2_T, BENCH_ITERATIONS=$ITER).
Machine: $CPUS cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); load generator (wrk) on the same machine.
Build: $PROFILE. Password hash: $hash_name. Limits are measured at each concurrency level in
the same run: raw $hash_name on min(c, $CPUS) threads (hub-bench), the same SELECT with pgbench,
raw S3 PutObjects of the same file at the same concurrency (hub-bench s3put, moto as S3) and
its decode + re-encode alone (hub-bench reencode, the service's code, on as many threads as it decodes at once),
the session upsert straight against MongoDB at the same concurrency (hub-bench mongo),
and for GET /last-connection the SELECT then the session find (1 / (1/pgbench + 1/hub-bench mongofind)).
auth's account routes: their own statements with pgbench (bench/sql/), same concurrency.
Tokens: EdDSA, verified by session, images and user-lookup through auth's JWKS.
notifications: mails delivered end to end, against the SMTP catcher's raw accept rate
(hub-bench smtp, lettre, same size, one at a time as the service); the catcher is Python (aiosmtpd).

$table

$rss_table
${icount_section:+
$icount_section
}"
echo
echo "$report"

echo "bench: the account surface and the mails took $surface_secs s of this run"

if $smoke; then
  [ "$errors_total" -eq 0 ] || { echo "bench: $errors_total errors in smoke mode" >&2; exit 1; }
  echo "bench smoke: 0 errors"
  exit 0
fi

mkdir -p bench/results
stamp=$(date -u +%Y-%m-%d)
echo "$report" >"bench/results/$stamp.md"
# Chart: each endpoint's throughput as a share of its limit, per concurrency.
chart_venv=${BACKING_STATE_DIR:-$root/.backing}/bench-venv
[ -x "$chart_venv/bin/python" ] || python3 -m venv "$chart_venv"
"$chart_venv/bin/python" -c 'import matplotlib' 2>/dev/null || "$chart_venv/bin/pip" install -q 'matplotlib==3.10.7'
"$chart_venv/bin/python" bench/chart.py "$results" "bench/results/$stamp.png"
echo "![ratio chart]($stamp.png)" >>"bench/results/$stamp.md"
echo "bench: wrote bench/results/$stamp.md and bench/results/$stamp.png"
echo "bench: $errors_total errors"
