"""Checks the SBOMs scripts/sbom.sh --check wrote: for each service NAME, OUT/NAME.cdx.json
is a CycloneDX 1.5 document about the binary NAME whose components include every crate
`cargo tree` says the binary is built from (OUT/NAME.tree), each with a licence and a
package URL. It may list a few more: cargo-cyclonedx takes features as resolved for the
whole workspace (cargo metadata), `cargo tree -p NAME` for NAME alone, so a crate that only
another member's features pull in is listed too (a superset, never a crate left out). Prints one line per service and `sbom: N passed, N failed`; exit 1 on any
failure.

    python3 scripts/lib/sbom_check.py OUT NAME...
"""

import json
import sys
from pathlib import Path


def tree_crates(path: Path, root: str) -> set[tuple[str, str]]:
    """(name, version) of every crate in a `cargo tree --format '{p}'` listing but the root."""
    crates = set()
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1].startswith("v"):
            crates.add((parts[0], parts[1][1:]))
    crates.discard(next((c for c in crates if c[0] == root), ("", "")))
    return crates


def problems(out: Path, name: str) -> list[str]:
    doc = json.loads((out / f"{name}.cdx.json").read_text())
    found = []
    if doc.get("bomFormat") != "CycloneDX" or doc.get("specVersion") != "1.5":
        found.append("not a CycloneDX 1.5 document")
    if doc.get("metadata", {}).get("component", {}).get("name") != name:
        found.append("does not describe the binary")
    components = doc.get("components", [])
    listed = {(c["name"], c["version"]) for c in components}
    expected = tree_crates(out / f"{name}.tree", name)
    if missing := sorted(expected - listed):
        found.append(f"missing {len(missing)} crates, e.g. {missing[:3]}")
    for c in components:
        if not c.get("purl") or not c.get("licenses"):
            found.append(f"{c['name']} has no package URL or licence")
            break
    return found


def main() -> int:
    out = Path(sys.argv[1])
    passed = failed = 0
    for name in sys.argv[2:]:
        found = problems(out, name)
        if found:
            failed += 1
            print(f"sbom {name}: " + "; ".join(found))
        else:
            passed += 1
            print(f"sbom {name}: lists all {len(tree_crates(out / f'{name}.tree', name))} crates of cargo tree")
    print(f"sbom: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
