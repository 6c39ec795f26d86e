# shellcheck shell=bash
# The service registry (services.toml at the repository root) for bash scripts. Source it:
#
#   . scripts/lib/registry.sh
#   registry_services [FILE]    one line per service, in file order: name port health protocol
#
# It reads the part of TOML that services.toml keeps to: [[service]] tables of `key = "text"`
# and `key = integer` lines, comments and blank lines; anything else, or a service without
# all four fields, is an error (message on stderr, status 1) rather than a silent skip.
# tests/tests/it/registry.rs checks that this and a real TOML parser read the same services.

registry_services() {
  local file=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/services.toml}
  awk '
    function fail(msg) { printf "registry: %s:%d: %s\n", FILENAME, FNR, msg > "/dev/stderr"; bad = 1; exit 1 }
    function flush() {
      if (!in_service) return
      if (f["name"] !~ /^[a-z][a-z0-9-]*$/ || !quoted["name"]) fail("service without a valid name (entry from line " start ")")
      if (f["port"] !~ /^[0-9]+$/ || quoted["port"]) fail(f["name"] ": port missing or not an integer")
      if (f["health"] !~ /^\/[^ \t]*$/ || !quoted["health"]) fail(f["name"] ": health missing or not a \"/path\"")
      if (f["protocol"] !~ /^(rest|soap)$/ || !quoted["protocol"]) fail(f["name"] ": protocol must be \"rest\" or \"soap\"")
      print f["name"], f["port"], f["health"], f["protocol"]
      count++
      delete f; delete quoted
    }
    { sub(/\r$/, "") }
    /^[ \t]*(#.*)?$/ { next }
    /^[ \t]*\[\[[ \t]*service[ \t]*\]\][ \t]*(#.*)?$/ { flush(); in_service = 1; start = FNR; next }
    /^[ \t]*\[/ { flush(); in_service = 0; next }      # another table: not ours
    /^[ \t]*[A-Za-z0-9_-]+[ \t]*=/ {
      if (!in_service) next
      key = $0; sub(/^[ \t]*/, "", key); sub(/[ \t]*=.*$/, "", key)
      val = $0; sub(/^[^=]*=[ \t]*/, "", val)
      if (val ~ /^"[^"\\]*"[ \t]*(#.*)?$/) { sub(/^"/, "", val); sub(/".*$/, "", val); quoted[key] = 1 }
      else if (val ~ /^[0-9]+[ \t]*(#.*)?$/) { sub(/[ \t#].*$/, "", val) }
      else fail("cannot read the value of " key " (only \"text\" and integers)")
      if (key in f) fail("duplicate key " key)
      f[key] = val
      next
    }
    { fail("cannot read this line") }
    END {
      if (bad) exit 1
      flush()
      if (bad) exit 1
      if (!count) { printf "registry: %s: no [[service]] entries\n", FILENAME > "/dev/stderr"; exit 1 }
    }
  ' "$file"
}
