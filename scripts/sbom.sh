#!/usr/bin/env bash
# CycloneDX SBOMs (JSON, spec 1.5) of the service binaries: one document per binary that
# lists every crate compiled into it (name, version, licence, checksum, package URL), build
# scripts' dependencies included, dev-dependencies not, for the host platform.
#
#   scripts/sbom.sh OUT_DIR [NAME...]   OUT_DIR/<NAME>.cdx.json for these services
#                                       (default: every service of services.toml)
#   scripts/sbom.sh --check             writes every service's into a scratch folder and
#                                       checks each against `cargo tree` (CI)
#
# cargo-cyclonedx reads Cargo.lock and the resolved features (cargo metadata), builds
# nothing, and takes about 2 s: the same crates whatever the profile, so the check needs no
# release build. Release builds (scripts/lib/build.sh build_release: scripts/run.sh,
# bench/run.sh) write theirs beside the binaries, target/release/sbom/. The timestamp is
# the commit's (SOURCE_DATE_EPOCH), so one commit gives the same documents but for their
# serial numbers.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=lib/tools.sh
. scripts/lib/tools.sh
# shellcheck source=lib/registry.sh
. scripts/lib/registry.sh

CARGO_CYCLONEDX_VERSION=0.5.9
need_cargo_tool cargo-cyclonedx "$CARGO_CYCLONEDX_VERSION"

check=false
if [ "${1:-}" = --check ]; then
  check=true
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
  shift
else
  out=${1:?usage: scripts/sbom.sh OUT_DIR [NAME...] | --check}
  shift
fi
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  mapfile -t names < <(registry_services "$root/services.toml" | awk '{ print $1 }')
fi

SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s)
export SOURCE_DATE_EPOCH
# One document per binary of the workspace, each beside its Cargo.toml
# (<dir>/<binary>_bin.cdx.json, ignored by git); ours are moved out at once.
cargo cyclonedx --format json --spec-version 1.5 --describe binaries --quiet
mkdir -p "$out"
for name in "${names[@]}"; do
  mv "services/$name/${name}_bin.cdx.json" "$out/$name.cdx.json"
done
find services bench tests -name '*_bin.cdx.json' -delete

if $check; then
  for name in "${names[@]}"; do
    cargo tree --locked -p "$name" -e normal,build --prefix none --format '{p}' >"$out/$name.tree"
  done
  python3 scripts/lib/sbom_check.py "$out" "${names[@]}"
else
  echo "sbom: ${#names[@]} CycloneDX documents in $out"
fi
