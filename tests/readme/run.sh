#!/usr/bin/env bash
# Runs every command README.md lists, so that they stay true, on one shared release build:
#
#   tests/readme/run.sh       (CI: .ci/run, before scripts/test.sh; each part prints its
#                              seconds: 435 s in CI with its build directory warm, of which
#                              ~175 s the release build of the workspace's own crates; a
#                              machine's first release build adds ~10 minutes)
#
# 1. README's commands: every line of its ```sh blocks is a command this script knows how to
#    run (the table below) or a curl line of the "Quick start" section; a command added to
#    the README and not here fails the check.
# 2. docker-compose.yml: parsed and validated against the compose schema by Debian's
#    docker-compose (1.29; no engine is needed for `config`), with .env.example's values;
#    nothing is started (no Docker daemon here).
# 3. scripts/backing.sh up, status, env (and the README's `eval`).
# 4. scripts/run.sh in the background (the release build, then every service), and then:
#    - auth's JWKS answers with an Ed25519 key: a new deployment signs EdDSA;
#    - the README's quick start, its curl lines run as written (for a fresh user: the
#      README's `ana`, her document number and `<user id>` replaced; TOKEN and REFRESH taken
#      from the login's answer), each answering 2xx; then scripts/quickstart.sh;
#    - scripts/run.sh stopped (TERM) and started again: it reuses the build (every binary
#      unchanged) and is up again in seconds.
# 5. bench/run.sh, bounded (1 s per endpoint, concurrency 1) on the same release build,
#    which it must reuse too (every binary unchanged).
# 6. scripts/soak.sh --minutes 1 --release, on the same release build (every binary unchanged).
# 7. scripts/cluster.sh status and env (`up` and `down` are the chaos test's, in scripts/test.sh).
# 8. cargo nextest run --workspace -E 'package(auth)', bounded to auth's use-case tests.
# Not run here: scripts/test.sh (CI's next step), scripts/sqlx-prepare.sh (its --check is in
# scripts/test.sh), scripts/backing.sh down (the tests need the servers next), and
# `docker compose up` (no Docker daemon: step 2 instead).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
SCRIPT=readme
fail() { echo "$SCRIPT: FAILED: $*" >&2; exit 1; }
part_start=$SECONDS
part() {
  [ -z "${part_name:-}" ] || echo "$SCRIPT: part '$part_name' took $((SECONDS - part_start)) s"
  part_name=$1 part_start=$SECONDS
  echo "$SCRIPT: == $part_name"
}

tmp=$(mktemp -d)
run_pid=
cleanup() {
  if [ -n "$run_pid" ] && kill -0 "$run_pid" 2>/dev/null; then kill -TERM "$run_pid" 2>/dev/null || true; wait "$run_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# ---------------------------------------------------------------------------------------
part "README's commands are all known"
# The lines of the ```sh blocks, continuation lines joined, comments (after two spaces or
# more, as the README aligns them) dropped.
readme_lines() {
  awk '/^## /{q = ($0 == "## Quick start")} /^```sh/{f=1;next} /^```/{f=0} f { print (q ? "Q " : "- ") $0 }' README.md |
    sed -E 's/^([Q-]) [[:space:]]+/\1 /' |
    awk '{ if (cont) { buf = buf " " substr($0, 3) } else { buf = $0 } cont = /\\$/; if (!cont) print buf }' |
    sed -E 's/\\ / /g; s/[[:space:]]{2,}#.*$//' |
    grep -vE '^[Q-] (#|$)' || true
}
# What each listed command runs here (see the header).
declare -A known=(
  ["scripts/run.sh"]="part 4"
  ["scripts/test.sh"]="CI's next step"
  ["scripts/backing.sh up|down|status|env"]="part 3 (down: not run)"
  ['eval "$(scripts/backing.sh env)"']="part 3"
  ["cargo nextest run --workspace -E 'package(auth)'"]="part 8"
  ["scripts/sqlx-prepare.sh"]="--check in scripts/test.sh"
  ["bench/run.sh"]="part 5"
  ["scripts/quickstart.sh"]="part 4"
  ["scripts/soak.sh --minutes 10"]="part 6, as --minutes 1 --release"
  ["scripts/soak.sh --minutes 60 --release"]="part 6, as --minutes 1 --release"
  ["scripts/cluster.sh up|down|status|env"]="part 7 (up, down: the chaos test)"
  ["cp .env.example .env"]="part 2, into a scratch folder"
  ["docker compose up -d --build"]="part 2, as docker-compose config"
  ["TOKEN=...; REFRESH=..."]="part 4, from the login's answer"
)
curls=()
while IFS= read -r line; do
  section=${line:0:1} line=${line:2}
  if [ "$section" = Q ] && [[ $line == curl\ * ]]; then
    curls+=("$line")
  elif [ -n "${known[$line]:-}" ]; then
    echo "$SCRIPT: '$line': ${known[$line]}"
  else
    fail "README.md lists '$line', which this check does not run: add it to tests/readme/run.sh"
  fi
done < <(readme_lines)
[ "${#curls[@]}" -ge 8 ] || fail "the quick start has ${#curls[@]} curl lines, expected at least 8"

# ---------------------------------------------------------------------------------------
part "docker-compose.yml parsed and validated"
command -v docker-compose >/dev/null || fail "docker-compose not installed (scripts/backing.sh install brings it)"
mkdir "$tmp/compose"
cp .env.example "$tmp/compose/.env"
for profile in "" observability; do
  docker-compose --project-directory "$root" --env-file "$tmp/compose/.env" -f docker-compose.yml \
    ${profile:+--profile "$profile"} config -q ||
    fail "docker-compose.yml does not validate${profile:+ with --profile $profile}"
done
echo "$SCRIPT: docker-compose.yml validates (with and without --profile observability)"

# ---------------------------------------------------------------------------------------
part "scripts/backing.sh up, status, env"
bash scripts/backing.sh install   # what scripts/run.sh does first; a fresh clone has no .backing yet
bash scripts/backing.sh up
bash scripts/backing.sh status
eval "$(scripts/backing.sh env)"
[ -n "${DATABASE_URL:-}" ] || fail "scripts/backing.sh env set no DATABASE_URL"

# ---------------------------------------------------------------------------------------
part "scripts/run.sh, the quick start, scripts/quickstart.sh"
. scripts/lib/registry.sh
declare -A port health
while read -r name p h _; do port[$name]=$p health[$name]=$h; done < <(registry_services "$root/services.toml")
bin=${CARGO_TARGET_DIR:-$root/target}/release
# start_run DEADLINE_SECS: scripts/run.sh in the background, until it says every service is up.
start_run() {
  local deadline=$((SECONDS + $1))
  : >"$tmp/run.log"
  scripts/run.sh >"$tmp/run.log" 2>&1 &
  run_pid=$!
  until grep -q '^run.sh: all services up' "$tmp/run.log"; do
    kill -0 "$run_pid" 2>/dev/null || { tail -n 30 "$tmp/run.log" >&2; fail "scripts/run.sh exited before every service was up"; }
    [ $SECONDS -lt $deadline ] || { tail -n 30 "$tmp/run.log" >&2; fail "scripts/run.sh not up after $1 s"; }
    sleep 1
  done
  grep -E '^run.sh: (building|built )' "$tmp/run.log" | tail -n 3 || true
}
stop_run() {
  kill -TERM "$run_pid"
  wait "$run_pid" 2>/dev/null || true
  run_pid=
  local name
  for name in "${!port[@]}"; do
    ! curl -fsS -o /dev/null "http://127.0.0.1:${port[$name]}${health[$name]}" 2>/dev/null ||
      fail "$name still answers after scripts/run.sh was stopped"
  done
}
binaries_stamp() {
  local name
  for name in $(printf '%s\n' "${!port[@]}" | sort); do stat -c "$name %Y %s" "$bin/$name"; done
}

t0=$SECONDS
start_run 3600
echo "$SCRIPT: scripts/run.sh up in $((SECONDS - t0)) s (release build included)"
stamp=$(binaries_stamp)

curl -fsS "http://127.0.0.1:${port[auth]}/.well-known/jwks.json" >"$tmp/jwks.json" ||
  fail "auth's /.well-known/jwks.json does not answer 200: scripts/run.sh should sign EdDSA"
grep -q '"crv":"Ed25519"' "$tmp/jwks.json" || fail "auth's JWKS has no Ed25519 key: $(cat "$tmp/jwks.json")"

# The README's curl lines, as written, for a fresh user.
suffix=$(head -c 5 /dev/urandom | od -An -tx1 | tr -d ' \n')
user="readme_$suffix" dni="rd$suffix"
body=$tmp/body
cp tests/fixtures/1x1.png "$tmp/image.png"
TOKEN='' REFRESH='' user_id=''
for line in "${curls[@]}"; do
  line=$(sed -E "s/\\bana\\b/$user/g; s/12345678A/$dni/g" <<<"$line")
  if [[ $line == *'<user id>'* ]]; then
    [ -n "$user_id" ] || fail "the quick start uses <user id> before the registration gave one"
    cp "$tmp/image.png" "$tmp/$user_id.png"
    line=${line//<user id>/$tmp/$user_id}
  fi
  echo "$SCRIPT: $line" | cut -c1-160
  # Each line is the README's own shell text: run it as the shell would, with curl's
  # status written out and the answer kept.
  # shellcheck disable=SC2016 # $0 is the inner shell's: the answer's file
  status=$(TOKEN=$TOKEN REFRESH=$REFRESH bash -c "curl -sS -o \"\$0\" -w '%{http_code}' ${line#curl }" "$body") || status="no answer"
  [[ $status == 2?? ]] || { cat "$body" >&2 2>/dev/null || true; fail "HTTP $status from the README's: $line"; }
  echo "$SCRIPT:   -> $status $(head -c 200 "$body")"
  case $line in
    */register*) user_id=$(sed -nE 's/.*<[A-Za-z0-9]*:?id>([^<]+)<\/[A-Za-z0-9]*:?id>.*/\1/p' "$body") ;;
    */login*) TOKEN=$(sed -nE 's/.*"token" *: *"([^"]*)".*/\1/p' "$body") REFRESH=$(sed -nE 's/.*"refresh_token" *: *"([^"]*)".*/\1/p' "$body") ;;
    */token/refresh*) TOKEN=$(sed -nE 's/.*"token" *: *"([^"]*)".*/\1/p' "$body") ;;
  esac
done
[ -n "$user_id" ] && [ -n "$TOKEN" ] || fail "the quick start gave no user id or token"
curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:${port[auth]}/profile" -H "Authorization: Bearer $TOKEN" >"$tmp/after" || true
[ "$(cat "$tmp/after")" = 401 ] || fail "after the quick start's logout the profile answers $(cat "$tmp/after"), not 401"
echo "$SCRIPT: the README's quick start ran as written (${#curls[@]} requests, then the profile answers 401)"

bash scripts/quickstart.sh >"$tmp/quickstart.log" 2>&1 || { cat "$tmp/quickstart.log" >&2; fail "scripts/quickstart.sh"; }
echo "$SCRIPT: scripts/quickstart.sh passed"

stop_run
t0=$SECONDS
start_run 300
echo "$SCRIPT: scripts/run.sh up again in $((SECONDS - t0)) s"
[ "$(binaries_stamp)" = "$stamp" ] || fail "scripts/run.sh rebuilt the services on its second start"
stop_run

# ---------------------------------------------------------------------------------------
part "bench/run.sh, bounded, on the same build"
# BENCH_ICOUNT=0: the instruction counts (bench/icount.sh, callgrind) take minutes and are not a CI step yet.
BENCH_SECONDS=1 BENCH_LEVELS=1 BENCH_ICOUNT=0 bash bench/run.sh | tee "$tmp/bench.log"
grep -q '^bench: 0 errors$' "$tmp/bench.log" || fail "bench/run.sh counted errors"
[ "$(binaries_stamp)" = "$stamp" ] || fail "bench/run.sh rebuilt the services scripts/run.sh had built"
echo "$SCRIPT: bench/run.sh reused scripts/run.sh's build"

# ---------------------------------------------------------------------------------------
part "scripts/soak.sh --minutes 1 --release, on the same build"
SOAK_RESULTS_DIR=$tmp/soak bash scripts/soak.sh --minutes 1 --release
[ "$(binaries_stamp)" = "$stamp" ] || fail "scripts/soak.sh --release rebuilt the services scripts/run.sh had built"
ls "$tmp"/soak/soak-*.png >/dev/null || fail "scripts/soak.sh plotted no RSS"

# ---------------------------------------------------------------------------------------
part "scripts/cluster.sh status, env"
bash scripts/cluster.sh status || true   # nothing of the cluster runs yet: reports it down
bash scripts/cluster.sh env >"$tmp/cluster.env"
grep -q DATABASE_URL "$tmp/cluster.env" || fail "scripts/cluster.sh env set no DATABASE_URL"

# ---------------------------------------------------------------------------------------
part "cargo nextest run --workspace -E 'package(auth)' (its use cases)"
cargo nextest run --workspace --no-tests=fail -E 'package(auth) & test(/^use_cases::/)'

part "finished"
echo "$SCRIPT: every command README.md lists ran"
