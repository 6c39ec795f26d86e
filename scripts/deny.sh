#!/usr/bin/env bash
# cargo-deny over the workspace's dependency tree, with deny.toml: licences, banned crates,
# sources, and security advisories (docs/SUPPLY-CHAIN.md).
#
#   scripts/deny.sh                       cargo-deny fetches the advisory database itself
#   scripts/deny.sh --advisory-db BUNDLE  the database from a git bundle (a snapshot, for
#                                         machines that cannot reach it), offline
#
# With a bundle, its one branch is cloned into target/advisory-dbs/, where cargo-deny
# looks for the database deny.toml names, and cargo-deny runs --offline. A
# clone already there is refreshed from the bundle, so a newer snapshot is used at once.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=lib/tools.sh
. scripts/lib/tools.sh

CARGO_DENY_VERSION=0.20.2
# deny.toml's db-path; cargo-deny does not expand a `~` in it, so the default is given here.
export HUB_ADVISORY_DBS=${HUB_ADVISORY_DBS:-${CARGO_HOME:-$HOME/.cargo}/advisory-dbs}
need_cargo_tool cargo-deny "$CARGO_DENY_VERSION"

bundle=
while [ $# -gt 0 ]; do
  case $1 in
    --advisory-db) bundle=${2:?--advisory-db needs a git bundle}; shift 2 ;;
    *) echo "deny.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

args=()
if [ -n "$bundle" ]; then
  [ -f "$bundle" ] || { echo "deny.sh: no bundle at $bundle" >&2; exit 2; }
  # deny.toml's db-path: this checkout's own copy, instead of ~/.cargo/advisory-dbs.
  export HUB_ADVISORY_DBS=$root/target/advisory-dbs
  # The directory cargo-deny derives from the database URL (deny.toml's db-urls), as it
  # reports it when asked to open a database that is not there yet.
  dir=$(cargo deny --log-level debug --offline check advisories 2>&1 |
    sed -n "s/.*Opening advisory database at '\([^']*\)'.*/\1/p" | head -n 1) || true
  [ -n "$dir" ] || { echo "deny.sh: cargo-deny did not say where it reads the database" >&2; exit 1; }
  branch=$(git bundle list-heads "$bundle" | awk 'NR == 1 { sub("refs/heads/", "", $2); print $2 }')
  if [ -d "$dir/.git" ]; then
    git -C "$dir" fetch --quiet "$bundle" "$branch"
    git -C "$dir" reset --quiet --hard FETCH_HEAD
  else
    rm -rf "$dir"
    git clone --quiet --branch "$branch" "$bundle" "$dir"
  fi
  echo "deny.sh: advisory database from $(basename "$bundle"): $(git -C "$dir" log -1 --format=%s)"
  args+=(--offline)
fi

if [ -n "$bundle" ]; then
  # --offline holds cargo's own metadata offline too, and it reads every crate of the lock
  # file, for every platform: a machine that only ever built for Linux lacks e.g.
  # windows-sys. Those come from the crate registry first (reachable; only the advisory
  # database is not).
  cargo fetch --locked --quiet
  cargo deny --locked "${args[@]}" check --hide-inclusion-graph advisories bans licenses sources
  exit
fi
# No snapshot: cargo-deny fetches the database. Where it cannot (a machine without a route
# to GitHub), the other three checks still run and the skipped one is named, so a network
# gap is neither a red build nor a silent pass.
if ! cargo deny --locked fetch db; then
  echo "deny.sh: ADVISORIES NOT CHECKED: the advisory database could not be fetched and no snapshot was given (--advisory-db)" >&2
  cargo deny --locked --offline check --hide-inclusion-graph bans licenses sources
  exit
fi
cargo deny --locked check --hide-inclusion-graph advisories bans licenses sources
