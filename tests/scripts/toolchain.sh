#!/usr/bin/env bash
# Checks scripts/lib/toolchain.sh and that the building scripts run it first: with a fake
# cargo and rustc on PATH that report an old version, with none at all, with a new enough
# one, and against another Cargo.toml (rust-version is read, not hard-coded). Run by
# scripts/test.sh; alone: `bash tests/scripts/toolchain.sh`. Needs no network and no build.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. scripts/lib/toolchain.sh

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0 passed=0
fail() { printf 'toolchain test: FAIL: %s\n' "$*" >&2; failures=$((failures + 1)); }
ok() { passed=$((passed + 1)); }

# A PATH holding only the tools the scripts need before the check, plus fakes.
# fake_path NAME [TOOL VERSION]...: $tmp/NAME/bin with TOOL printing `TOOL VERSION (fake)`.
fake_path() {
  local dir=$tmp/$1/bin tool
  shift
  mkdir -p "$dir"
  for tool in awk dirname; do ln -sf "$(command -v "$tool")" "$dir/$tool"; done
  while [ $# -gt 0 ]; do
    printf '#!/bin/sh\necho "%s %s (fake)"\n' "$1" "$2" >"$dir/$1"
    chmod +x "$dir/$1"
    shift 2
  done
  echo "$dir"
}

# expect DESCRIPTION WANT_STATUS PATTERN... -- COMMAND...: COMMAND's status is WANT_STATUS
# and its stderr contains every PATTERN (fixed strings); with no PATTERN, stderr is empty.
expect() {
  local what=$1 want=$2 status=0 pattern
  shift 2
  local patterns=()
  while [ "$1" != -- ]; do patterns+=("$1"); shift; done
  shift
  "$@" 2>"$tmp/err" >/dev/null || status=$?
  if [ "$status" -ne "$want" ]; then
    fail "$what: status $status, expected $want; stderr: $(cat "$tmp/err")"; return
  fi
  if [ ${#patterns[@]} -eq 0 ] && [ -s "$tmp/err" ]; then
    fail "$what: expected no message, got: $(cat "$tmp/err")"; return
  fi
  for pattern in "${patterns[@]}"; do
    grep -qF -- "$pattern" "$tmp/err" || { fail "$what: no \"$pattern\" in: $(cat "$tmp/err")"; return; }
  done
  ok
}

want=$(rust_version)
if [ "$want" = "$(awk -F'"' '/^rust-version/ {print $2; exit}' Cargo.toml)" ]; then ok; else fail "rust_version gave '$want'"; fi

install_line="curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh"
check() { PATH=$1 need_toolchain "$2" "${3:-$root/Cargo.toml}"; }

none=$(fake_path none)
expect "no toolchain" 1 "who: this workspace needs Rust $want or newer" "cargo is not installed" \
  "rustc is not installed" "$install_line" "rustup toolchain install stable" -- check "$none" who
old=$(fake_path old cargo 1.80.0 rustc 1.80.0)
expect "old toolchain, no rustup" 1 "cargo 1.80.0 is older than $want" "rustc 1.80.0 is older than $want" \
  "$install_line" -- check "$old" who
old_rustup=$(fake_path old-rustup cargo 1.94.1 rustc 1.94.1 rustup 1.28.0)
expect "old toolchain with rustup" 1 "rustc 1.94.1 is older than $want" "rustup update stable" -- check "$old_rustup" who
mixed=$(fake_path mixed cargo "$want.0" rustc 1.2.3-nightly)
expect "new cargo, old rustc" 1 "rustc 1.2.3-nightly is older than $want" -- check "$mixed" who
current=$(fake_path current cargo "$want.0" rustc "$want.0")
expect "toolchain at rust-version" 0 -- check "$current" who
newer=$(fake_path newer cargo 1.100.0 rustc 2.0.0-beta.1)
expect "newer toolchain" 0 -- check "$newer" who

# The version comes from Cargo.toml: the same fake toolchain fails against a newer one.
printf '[workspace]\nmembers = []\n\n[workspace.package]\nedition = "2024"\nrust-version = "1.999"\n' >"$tmp/Cargo.toml"
if [ "$(rust_version "$tmp/Cargo.toml")" = 1.999 ]; then ok; else fail "rust_version of another Cargo.toml"; fi
expect "toolchain at the workspace's version, older than another Cargo.toml's" 1 "who: this workspace needs Rust 1.999" \
  "rustc $want.0 is older than 1.999" -- check "$current" who "$tmp/Cargo.toml"

# Each building script stops at once, before installing or starting anything, exit 1.
for script in scripts/run.sh scripts/test.sh scripts/soak.sh bench/run.sh; do
  name=$(basename "$(dirname "$script")")/$(basename "$script")
  expect "$script, no toolchain" 1 "$name: this workspace needs Rust $want" "$install_line" -- \
    env PATH="$none" "$BASH" "$script"
  expect "$script, old toolchain" 1 "$name: this workspace needs Rust $want" "cargo 1.80.0 is older" -- \
    env PATH="$old" "$BASH" "$script"
done

if [ "$failures" -ne 0 ]; then
  echo "toolchain: $passed passed, $failures failed" >&2
  exit 1
fi
echo "toolchain: $passed passed"
