# shellcheck shell=bash
# Cargo subcommands the scripts build from source, each pinned to one version. Source it,
# then:
#
#   need_cargo_tool CRATE VERSION   `cargo install --locked CRATE@VERSION`, unless
#                                   `cargo SUB --version` (SUB: CRATE without `cargo-`)
#                                   already reports VERSION
#
# cargo install puts them in $CARGO_HOME/bin (~/.cargo/bin), which outlives checkouts and CI
# runs on one machine: only the first run there (or a version changed here) pays the build,
# and says how long it took. The versions live where they are used (scripts/deny.sh,
# scripts/sbom.sh, scripts/fuzz.sh); docs/SUPPLY-CHAIN.md lists them with their costs.

need_cargo_tool() {
  local crate=$1 version=$2 have t0=$SECONDS
  have=$(cargo "${crate#cargo-}" --version 2>/dev/null || true)
  if [[ " $have " == *" $version "* ]]; then
    return 0
  fi
  echo "$crate: installing $version (${have:-not installed}; once per machine)" >&2
  cargo install --locked --quiet "$crate@$version" >&2
  echo "$crate: $version installed in $((SECONDS - t0)) s" >&2
}
