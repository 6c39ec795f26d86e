# shellcheck shell=bash
# The Rust toolchain check every building script runs first (scripts/run.sh,
# scripts/test.sh, scripts/soak.sh, bench/run.sh). Source it, then:
#
#   rust_version [CARGO_TOML]   the workspace's rust-version (root Cargo.toml): e.g. 1.95
#   need_toolchain WHO [CARGO_TOML]
#                               cargo and rustc on PATH and at least rust_version, or a
#                               message on stderr (`WHO: ...`, with the rustup commands that
#                               install or update them) and status 1
#
# No rust-toolchain.toml: any stable toolchain at least as new as rust-version builds the
# workspace. tests/scripts/toolchain.sh checks the messages with a fake cargo and rustc.

rust_version() {
  local file=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/Cargo.toml}
  awk '
    /^[ \t]*\[/ { in_pkg = ($0 ~ /^[ \t]*\[workspace\.package\][ \t]*(#.*)?$/); next }
    in_pkg && /^[ \t]*rust-version[ \t]*=/ {
      v = $0; sub(/^[^=]*=[ \t]*"/, "", v); sub(/".*$/, "", v); print v; found = 1; exit
    }
    END { if (!found) { print "toolchain: no rust-version in [workspace.package] of " FILENAME > "/dev/stderr"; exit 1 } }
  ' "$file"
}

# version_at_least HAVE WANT: 1.95.0 >= 1.95, 1.100.0 >= 1.95; a suffix (-nightly) is ignored.
version_at_least() {
  local have=${1%%[-+ ]*} want=$2 h w i
  IFS=. read -r -a h <<<"$have"
  IFS=. read -r -a w <<<"$want"
  for i in 0 1 2; do
    [[ ${h[i]:-0} =~ ^[0-9]+$ ]] || return 1
    if ((10#${h[i]:-0} > 10#${w[i]:-0})); then return 0; fi
    if ((10#${h[i]:-0} < 10#${w[i]:-0})); then return 1; fi
  done
  return 0
}

need_toolchain() {
  local who=$1 want tool out have problems=()
  want=$(rust_version "${2:-}") || return 1
  for tool in cargo rustc; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      problems+=("$tool is not installed (not on PATH)")
      continue
    fi
    # `cargo 1.95.0 (f2d3ce0bd 2026-03-21)`, `rustc 1.95.0 (59807616e 2026-04-14)`
    out=$("$tool" --version 2>/dev/null) || out=
    have=$(awk '{print $2; exit}' <<<"$out")
    if [ -z "$have" ] || ! version_at_least "$have" "$want"; then
      problems+=("$tool ${have:-(version unknown)} is older than $want")
    fi
  done
  [ ${#problems[@]} -eq 0 ] && return 0
  {
    printf '%s: this workspace needs Rust %s or newer (rust-version in Cargo.toml):\n' "$who" "$want"
    printf '  - %s\n' "${problems[@]}"
    if command -v rustup >/dev/null 2>&1; then
      printf 'Update the toolchain with rustup:\n'
      printf '  rustup update stable && rustup default stable\n'
    else
      printf 'Install the toolchain with rustup (https://rustup.rs):\n'
      printf "  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh\n"
      # shellcheck disable=SC2016 # printed for the reader's shell, not expanded here
      printf '  . "$HOME/.cargo/env"\n'
      printf '  rustup toolchain install stable\n'
      printf '(A distribution package such as Debian'"'"'s rustc is usually too old.)\n'
    fi
    printf 'then run %s again.\n' "$who"
  } >&2
  return 1
}
