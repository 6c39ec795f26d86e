# shellcheck shell=bash
# The service registry (services.toml at the repository root) for bash scripts. Source it:
#
#   . scripts/lib/registry.sh
#   registry_services [FILE]    one line per service, in file order: name port health protocol
#
# The lines come from the `registry` binary of crates/registry (hub-registry: the one
# reader of services.toml, the one the tests crate uses too), built by `cargo run` on first
# use: a few seconds on a fresh checkout (serde and toml only), then cargo's freshness
# check, about 0.1 s a call. A file that does not parse as TOML, or breaks one of the
# registry's rules (unique names and ports, a "/path" health, protocol rest or soap), is an
# error (message on stderr, status 1), never a silent skip.

registry_services() {
  local root
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  cargo run --quiet --locked --manifest-path "$root/Cargo.toml" -p hub-registry --bin registry -- \
    services "${1:-$root/services.toml}"
}
