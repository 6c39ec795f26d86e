#!/usr/bin/env bash
# Old and new binaries of the PostgreSQL services in one run: the same endpoints, the
# same database, the same concurrency, alternated so that drift on the machine (other
# load, caches) falls on both alike. For a change, this is the "within noise" check.
#
#   bench/compare.sh OLD_BIN_DIR NEW_BIN_DIR     e.g. a release build of the base commit
#                                                (git worktree + cargo build --release)
#                                                and target/release
#   bench/compare.sh OLD_BIN_DIR NEW_BIN_DIR CONTROL_BIN_DIR
#                                                and a control: the old build again (a copy
#                                                of OLD_BIN_DIR, or OLD_BIN_DIR itself), run as
#                                                a third build in the same rotation; its
#                                                control/old ratio is the noise of this run
#
# Each round starts one build's auth, user-soap, user-lookup, session and connected,
# measures
#   user-lookup GET /user/soap, user-lookup POST /user/soap (SOAP), auth POST /login,
#   user-soap POST /register, session POST /api/sessions, connected GET /last-connection
# with wrk, stops them, then does the same with the other build. Prints every round and,
# per endpoint, the median req/s and the median p99 of each build, and new/old.
# Settings: BENCH_SECONDS (5), BENCH_CONCURRENCY (8), BENCH_ROUNDS (3), BENCH_ITERATIONS
# (PBKDF2, 600000), BENCH_ENDPOINTS (an extended regex: only the endpoints whose label
# matches, e.g. 'GET|SOAP|sessions'; default all).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
[ $# -eq 2 ] || [ $# -eq 3 ] || { sed -n '2,24p' "$0" >&2; exit 2; }
old=$(cd "$1" && pwd) new=$(cd "$2" && pwd) ctl=
builds=(old new)
if [ $# -eq 3 ]; then ctl=$(cd "$3" && pwd); builds+=(ctl); fi
services=(auth user-soap user-lookup session connected)
dir_of() { case $1 in old) echo "$old" ;; new) echo "$new" ;; ctl) echo "$ctl" ;; esac; }
for d in "$old" "$new" ${ctl:+"$ctl"}; do
  for b in "${services[@]}"; do
    [ -x "$d/$b" ] || { echo "compare: $d/$b is missing" >&2; exit 2; }
  done
done
SECONDS_PER=${BENCH_SECONDS:-5} C=${BENCH_CONCURRENCY:-8} ROUNDS=${BENCH_ROUNDS:-3}
ITER=${BENCH_ITERATIONS:-600000} ONLY=${BENCH_ENDPOINTS:-.}

command -v wrk >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wrk; }
bash scripts/backing.sh install >/dev/null
bash scripts/backing.sh up >/dev/null
eval "$(bash scripts/backing.sh env)"
# hub-bench drops each build's MongoDB database at the end (as bench/run.sh does).
cargo build --release --locked -p hub-bench
bench_bin=${CARGO_TARGET_DIR:-$root/target}/release/hub-bench
. scripts/lib/registry.sh
declare -A port health
while read -r name p h _; do port[$name]=$((p + 21000)); health[$name]=$h; done <<<"$(registry_services)"

work=$(mktemp -d)
# One database per build: a change may add migrations, and a build refuses a database
# that another build's migrations have touched.
db="bench_compare_$(date +%s)_$$"
declare -A db_url=([old]="${DATABASE_URL%/*}/${db}_old" [new]="${DATABASE_URL%/*}/${db}_new"
                   [ctl]="${DATABASE_URL%/*}/${db}_ctl")
# session and connected: one MongoDB database per build too (dropped by cleanup).
mongo_db() { echo "${db}_$1"; }
pids=()
stop_all() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
}
cleanup() {
  stop_all
  for b in "${builds[@]}"; do
    psql -q "$DATABASE_URL" -c "DROP DATABASE IF EXISTS ${db}_$b WITH (FORCE)" >/dev/null 2>&1 || true
    MONGODB_DATABASE=$(mongo_db "$b") "$bench_bin" mongoclean >/dev/null 2>&1 || true
  done
  rabbitmqctl -q delete_queue bench-compare-events >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
for b in "${builds[@]}"; do psql -q "$DATABASE_URL" -c "CREATE DATABASE ${db}_$b" >/dev/null; done

secret="compare-$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
start_build() { # bin-dir label old|new|ctl
  for name in "${services[@]}"; do
    # session serves HTTP only here (SESSION_CONSUMER=false): the logins' events are
    # not what is measured.
    env DATABASE_URL="${db_url[$3]}" AMQP_URL="$AMQP_URL" HOST=127.0.0.1 PORT="${port[$name]}" \
      SECRET_KEY="$secret" PASSWORD_PBKDF2_ITERATIONS="$ITER" LOGIN_MAX_FAILURES_PER_ADDRESS=1000000 \
      LOGIN_MAX_FAILURES_PER_USER=1000000 REGISTER_MAX_PER_ADDRESS=1000000000 \
      MONGODB_URI="$MONGODB_URI" MONGODB_DATABASE="$(mongo_db "$3")" SESSION_CONSUMER=false \
      RABBITMQ_QUEUE="bench-compare-events" RUST_LOG=warn "$1/$name" >>"$work/$2.$name.log" 2>&1 &
    pids+=($!)
  done
  for name in "${services[@]}"; do
    local deadline=$((SECONDS + 60))
    until curl -fsS "http://127.0.0.1:${port[$name]}${health[$name]}" >/dev/null 2>&1; do
      [ $SECONDS -lt $deadline ] || { echo "compare: $2 $name not up" >&2; cat "$work/$2.$name.log" >&2; exit 1; }
      sleep 0.1
    done
  done
}

rps() { # url script(optional): req/s, p99 ms, errors
  local s="$work/script.lua"
  { [ -n "${2:-}" ] && cat "bench/wrk/$2"; cat bench/wrk/report.lua; } >"$s"
  wrk -t2 -c"$C" -d"${SECONDS_PER}s" --timeout 30s --latency -s "$s" "$1" |
    sed -nE 's/^RESULT rps=([^ ]+) .* p99_ms=([^ ]+) errors=([^ ]+).*/\1 \2 \3/p'
}

# The seeded user (current-format hash), through each build's own user-soap; its token
# (auth) and its session (session), which POST /api/sessions then updates and
# GET /last-connection reads. One token serves every build: they share SECRET_KEY.
declare -A token
for b in "${builds[@]}"; do
  start_build "$(dir_of "$b")" "seed-$b" "$b"
  curl -fsS -o /dev/null -X POST "http://127.0.0.1:${port[user-soap]}/register" -H 'content-type: text/xml' --data \
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:u="http://example.com/user"><s:Body><u:RegisterUser><u:username>bench_login</u:username><u:password>bench-password</u:password><u:first_name>B</u:first_name><u:last_name>M</u:last_name><u:dni>bench0</u:dni><u:email>bench@example.com</u:email><u:city>C</u:city></u:RegisterUser></s:Body></s:Envelope>'
  token[$b]=$(curl -fsS -X POST "http://127.0.0.1:${port[auth]}/login" -H 'content-type: application/json' \
    --data '{"username":"bench_login","password":"bench-password"}' | sed -E 's/.*"token":"([^"]+)".*/\1/')
  curl -fsS -o /dev/null -X POST "http://127.0.0.1:${port[session]}/api/sessions" -H "authorization: Bearer ${token[$b]}" \
    -H 'content-type: application/json' --data '{"data":{}}'
  stop_all
done

endpoints=(
  "user-lookup GET /user/soap|http://127.0.0.1:${port[user-lookup]}/user/soap?username=bench_login|"
  "user-lookup POST /user/soap (SOAP)|http://127.0.0.1:${port[user-lookup]}/user/soap|lookup_soap.lua"
  "auth POST /login|http://127.0.0.1:${port[auth]}/login|login.lua"
  "user-soap POST /register|http://127.0.0.1:${port[user-soap]}/register|register.lua"
  "session POST /api/sessions|http://127.0.0.1:${port[session]}/api/sessions|session.lua"
  "connected GET /last-connection|http://127.0.0.1:${port[connected]}/last-connection?username=bench_login|"
)
selected=()
for spec in "${endpoints[@]}"; do [[ ${spec%%|*} =~ $ONLY ]] && selected+=("$spec"); done
[ ${#selected[@]} -gt 0 ] || { echo "compare: no endpoint matches BENCH_ENDPOINTS='$ONLY'" >&2; exit 2; }
endpoints=("${selected[@]}")
results=$work/results.tsv # build endpoint rps errors p99
errors=0
echo "compare: c=$C, ${SECONDS_PER}s per point, $ROUNDS rounds, PBKDF2 $ITER; old=$old new=$new${ctl:+ control=$ctl}"
for round in $(seq "$ROUNDS"); do
  # Rotate which build goes first, so none always meets a warmer machine.
  n=${#builds[@]} order=()
  for i in $(seq 0 $((n - 1))); do order+=("${builds[$(( (i + round - 1) % n ))]}"); done
  for build in "${order[@]}"; do
    start_build "$(dir_of "$build")" "$build" "$build"
    export BENCH_TOKEN=${token[$build]}   # session.lua
    for spec in "${endpoints[@]}"; do
      IFS='|' read -r label url script <<<"$spec"
      read -r r p99 e < <(rps "$url" "$script")
      errors=$((errors + e))
      printf '%s\t%s\t%s\t%s\t%s\n' "$build" "$label" "$r" "$e" "$p99" >>"$results"
      printf '  round %d %-3s %-36s %9.1f req/s  p99 %8.2f ms  errors %s\n' "$round" "$build" "$label" "$r" "$p99" "$e"
    done
    stop_all
  done
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
med() { awk -F'\t' -v b="$1" -v l="$2" '$1 == b && $2 == l {print $3}' "$results" | median; }
# The median p99 (ms) of a build on an endpoint, over the rounds.
med_p99() { awk -F'\t' -v b="$1" -v l="$2" '$1 == b && $2 == l {print $5}' "$results" | median; }
echo
if [ -n "$ctl" ]; then
  echo "| endpoint (c=$C) | old req/s (median) | new req/s (median) | control (old again) req/s (median) | new/old | control/old (noise) | p99 ms old / new / control (median) |"
  echo "|---|---|---|---|---|---|---|"
else
  echo "| endpoint (c=$C) | old req/s (median) | new req/s (median) | new/old | p99 ms old / new (median) |"
  echo "|---|---|---|---|---|"
fi
for spec in "${endpoints[@]}"; do
  label=${spec%%|*}
  o=$(med old "$label") n=$(med new "$label")
  if [ -n "$ctl" ]; then
    c=$(med ctl "$label")
    printf '| %s | %.1f | %.1f | %.1f | %.2f | %.2f | %.2f / %.2f / %.2f |\n' "$label" "$o" "$n" "$c" \
      "$(echo "$n / $o" | bc -l)" "$(echo "$c / $o" | bc -l)" \
      "$(med_p99 old "$label")" "$(med_p99 new "$label")" "$(med_p99 ctl "$label")"
  else
    printf '| %s | %.1f | %.1f | %.2f | %.2f / %.2f |\n' "$label" "$o" "$n" "$(echo "$n / $o" | bc -l)" \
      "$(med_p99 old "$label")" "$(med_p99 new "$label")"
  fi
done
echo
echo "reproduce: bench/compare.sh $old $new${ctl:+ $ctl}   (BENCH_SECONDS=$SECONDS_PER BENCH_CONCURRENCY=$C BENCH_ROUNDS=$ROUNDS BENCH_ITERATIONS=$ITER BENCH_ENDPOINTS='$ONLY'); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$errors" -eq 0 ] || { echo "compare: $errors errors" >&2; exit 1; }
