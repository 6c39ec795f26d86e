#!/usr/bin/env bash
# Instructions per request, per endpoint: a figure that does not move with the machine's
# load, unlike req/s (bench/README.md, "Instructions per request").
#
#   bench/icount.sh [--markdown FILE]   measure and print the table (and write it to FILE)
#   bench/icount.sh --check             measure, then compare with bench/icount-baseline.toml:
#                                       exit 1 when an endpoint grew by more than the margin,
#                                       or when the compiler or build profile differs from
#                                       the baseline's (the counts are then not comparable)
#   bench/icount.sh --update            measure and write bench/icount-baseline.toml
#
# hub-icount (bench/src/bin/hub-icount.rs) builds each service's own router in-process on
# a current-thread runtime with no background task, seeds a user, its token, session and
# image, and sends each endpoint's requests through tower's oneshot (no sockets);
# callgrind counts instructions only inside the function that sends the N measured
# requests (--toggle-collect), plus images' decode and re-encode on tokio's blocking
# pool (images::process::process), with a dump before and after each window. The databases' own work
# is in other processes: not counted. Password hashing runs on the blocking pool too and
# is not counted; PBKDF2 is set to its minimum cost (1000 iterations) anyway.
#
# ICOUNT_REQUESTS (100): requests per endpoint. ICOUNT_MARGIN (2): the allowed growth, in
# percent. The build: release without LTO (CI's README check builds the same way, so CI
# reuses its build directory), in CARGO_TARGET_DIR.
set -Eeuo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

mode=measure markdown=
while [ $# -gt 0 ]; do
  case $1 in
    --check) mode=check ;;
    --update) mode=update ;;
    --markdown) markdown=${2:?--markdown FILE}; shift ;;
    *) echo "usage: bench/icount.sh [--check | --update] [--markdown FILE]" >&2; exit 2 ;;
  esac
  shift
done
baseline=bench/icount-baseline.toml
N=${ICOUNT_REQUESTS:-100}
MARGIN=${ICOUNT_MARGIN:-2}

. scripts/lib/toolchain.sh
need_toolchain bench/icount.sh

command -v valgrind >/dev/null || {
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends valgrind
}
bash scripts/backing.sh install >/dev/null
bash scripts/backing.sh up >/dev/null
eval "$(bash scripts/backing.sh env)"

# The build the counts belong to: the compiler and the profile are recorded with them.
export CARGO_PROFILE_RELEASE_LTO=false
profile="release, lto=false"
rustc_version=$(rustc --version)
valgrind_version=$(valgrind --version)
cargo build --release --locked -p hub-bench --bins
bin=${CARGO_TARGET_DIR:-$root/target}/release

work=$(mktemp -d)
db="icount_$(date +%s)_$$"
export DATABASE_URL="${DATABASE_URL%/*}/$db"
admin_url="${DATABASE_URL%/*}/postgres"
export MONGODB_DATABASE=$db
AWS_BUCKET_NAME="icount-$(date +%s)-$$"
export AWS_BUCKET_NAME
cleanup() {
  psql -q "$admin_url" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  "$bin/hub-bench" s3clean >/dev/null 2>&1 || true
  "$bin/hub-bench" mongoclean >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
psql -q "$admin_url" -c "CREATE DATABASE $db" >/dev/null

# As bench/run.sh configures the services, but PBKDF2 at its minimum and no queue names
# (nothing is published: the relays do not run).
SECRET_KEY="icount-$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
export SECRET_KEY
export PASSWORD_PBKDF2_ITERATIONS=1000 LOGIN_MAX_FAILURES_PER_ADDRESS=1000000
export LOGIN_MAX_FAILURES_PER_USER=1000000 REGISTER_MAX_PER_ADDRESS=1000000000 RUST_LOG=warn
# std's HashMap seeds come from the OS; they change probe lengths, by a few instructions.

t0=$SECONDS
# The exact (demangled) names: a pattern like *icount_window* would also match the async
# block inside it, and toggle collection off again within the window.
window=hub_icount::icount_window
valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" \
  --collect-atstart=no --toggle-collect="$window" \
  --toggle-collect=images::process::process \
  --dump-before="$window" --dump-after="$window" \
  "$bin/hub-icount" "$N" >"$work/stdout" 2>"$work/valgrind.log" || {
  echo "icount: hub-icount failed:" >&2; grep -v '^==' "$work/valgrind.log" >&2 || true
  cat "$work/stdout" >&2; exit 1
}
elapsed=$((SECONDS - t0))

# A dump before each window (what ran since the last one: seeding, warm-up) and one after
# it: the Nth "--dump-after" dump, in part order, is the Nth `window ID` hub-icount printed.
mapfile -t ids < <(awk '$1 == "window" {print $2}' "$work/stdout")
mapfile -t totals < <(
  for f in "$work"/cg.out.*; do
    awk '/^part:/ {p = $2} /^desc: Trigger: --dump-after/ {a = 1} /^totals:/ {t = $2}
         END {if (a) print p, t}' "$f"
  done | sort -n | awk '{print $2}')
[ "${#totals[@]}" -eq "${#ids[@]}" ] ||
  { echo "icount: ${#ids[@]} windows but ${#totals[@]} callgrind dumps after one" >&2; exit 1; }
declare -A count
for i in "${!ids[@]}"; do
  [[ ${totals[$i]} =~ ^[0-9]+$ ]] || { echo "icount: no total for ${ids[$i]}" >&2; exit 1; }
  count[${ids[$i]}]=$((totals[i] / N))
done
table="| endpoint | instructions per request |
|---|---|"
while read -r _ id label; do
  table+=$(printf '\n| %s (%s) | %s |' "$label" "$id" "${count[$id]}")
done < <(grep '^window ' "$work/stdout")
section="## Instructions per request

Reproduce: \`bench/icount.sh\` (ICOUNT_REQUESTS=$N). Callgrind's count of the instructions each
request costs in the service's own process, in-process (no sockets), the databases' work not
counted; the mean of $N requests after a warm-up. Build: $profile; $rustc_version; $valgrind_version.

$table"
echo "$section"
echo "icount: $N requests per endpoint, ${elapsed} s under callgrind"
[ -z "$markdown" ] || echo "$section" >"$markdown"

if [ "$mode" = update ]; then
  {
    echo "# Instructions per request per endpoint (bench/icount.sh --update wrote it; bench/README.md,"
    echo "# \"Instructions per request\"). bench/icount.sh --check fails when an endpoint grows by more than"
    echo "# margin_percent over these, or when rustc or profile differ from these."
    echo "rustc = \"$rustc_version\""
    echo "profile = \"$profile\""
    echo "valgrind = \"$valgrind_version\""
    echo "requests = $N"
    echo "margin_percent = $MARGIN"
    echo
    echo "[instructions_per_request]"
    for id in "${ids[@]}"; do echo "$id = ${count[$id]}"; done
  } >"$baseline"
  echo "icount: wrote $baseline"
  exit 0
fi
[ "$mode" = check ] || exit 0

# --check: the baseline's value of KEY (top level, or in [instructions_per_request]).
base() { awk -v k="$1" -F' = ' '$1 == k {v = $2; gsub(/"/, "", v); print v; exit}' "$baseline"; }
[ -f "$baseline" ] || { echo "icount: no $baseline: run bench/icount.sh --update" >&2; exit 1; }
failed=0
for key in rustc profile; do
  want=$(base "$key"); have=$rustc_version
  [ "$key" = profile ] && have=$profile
  if [ "$want" != "$have" ]; then
    echo "icount: the baseline was measured with $key \"$want\", this run with \"$have\": the counts are not comparable." >&2
    echo "icount: measure the baseline again with this $key (bench/icount.sh --update) in the commit that changes it." >&2
    failed=1
  fi
done
margin=$(base margin_percent); margin=${margin:-$MARGIN}
printf '%-16s %12s %12s %8s\n' endpoint baseline now ratio
for id in "${ids[@]}"; do
  old=$(base "$id"); new=${count[$id]}
  if [ -z "$old" ]; then
    printf '%-16s %12s %12s %8s  not in the baseline\n' "$id" - "$new" -
    failed=1; continue
  fi
  ratio=$(awk -v a="$new" -v b="$old" 'BEGIN {printf "%.4f", a / b}')
  verdict=$(awk -v r="$ratio" -v m="$margin" 'BEGIN {print (r > 1 + m / 100) ? "GREW" : "ok"}')
  printf '%-16s %12s %12s %8s  %s\n' "$id" "$old" "$new" "$ratio" "$verdict"
  [ "$verdict" = ok ] || failed=1
done
if [ "$failed" -ne 0 ]; then
  echo "icount: check failed (margin $margin %). A commit that makes an endpoint slower on purpose" >&2
  echo "icount: runs bench/icount.sh --update and says why in its message (bench/README.md)." >&2
  exit 1
fi
echo "icount: every endpoint within $margin % of the baseline"
