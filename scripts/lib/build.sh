# shellcheck shell=bash
# Building the services in release mode, shared by scripts/run.sh and bench/run.sh so that
# one reuses the other's build. Source it, then:
#
#   hub_git_commit                 the commit stamp the hub_build_info metric reports:
#                                  HEAD's 12-character hash, or `unknown` outside git
#   build_release WHO PACKAGES...  `cargo build --release --locked PACKAGES...` (`-p name`
#                                  pairs), with HUB_GIT_COMMIT exported as hub_git_commit
#                                  says; announces how long a first build takes and,
#                                  when stderr is not a terminal (cargo then hides its
#                                  progress bar), prints `WHO: built N of M ...` lines;
#                                  then writes each binary's CycloneDX SBOM beside it,
#                                  <target>/release/sbom/<name>.cdx.json (scripts/sbom.sh)
#
# Why one function: hub-runtime reads HUB_GIT_COMMIT at compile time (option_env!), so
# cargo rebuilds it and every service above it whenever the value differs from the last
# build. Both scripts compute it here, the same way, and build the services with the same
# command, so the second one finds everything fresh.

hub_git_commit() {
  local root
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  git -C "$root" rev-parse --short=12 HEAD 2>/dev/null || echo unknown
}

build_release() {
  local who=$1
  shift
  HUB_GIT_COMMIT=$(hub_git_commit)
  export HUB_GIT_COMMIT
  echo "$who: building in release mode (HUB_GIT_COMMIT=$HUB_GIT_COMMIT); the first build takes about 10 minutes on 2 cores, later ones only rebuild what changed"
  if [ -t 2 ]; then
    cargo build --release --locked "$@"
  else
    build_release_quietly "$who" "$@"
  fi
  release_sboms "$@"
}

# The SBOM of every package built (`-p name` pairs), beside the release binaries.
release_sboms() {
  local root names=()
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  while [ $# -gt 0 ]; do
    if [ "$1" = -p ]; then names+=("$2"); shift; fi
    shift
  done
  bash "$root/scripts/sbom.sh" "${CARGO_TARGET_DIR:-$root/target}/release/sbom" "${names[@]}"
}

build_release_quietly() {
  local who=$1
  shift
  # Not a terminal: cargo's progress bar, forced on, is read back and turned into a line per
  # 5 % ("Building [==>  ] 12/340: crate, ..." separated by carriage returns); cargo's
  # own lines (Compiling, warnings, errors, Finished) pass through unchanged.
  CARGO_TERM_PROGRESS_WHEN=always CARGO_TERM_PROGRESS_WIDTH=100 \
    cargo build --release --locked "$@" 2>&1 |
    awk -v who="$who" '
      BEGIN { RS = "[\r\n]"; last = -1 }
      /^ *Building \[/ {
        if (match($0, /[0-9]+\/[0-9]+/)) {
          split(substr($0, RSTART, RLENGTH), nm, "/")
          step = int(20 * nm[1] / nm[2])
          if (step != last) {
            last = step
            printf "%s: built %d of %d crates and build scripts (%d %%)\n", who, nm[1], nm[2], 100 * nm[1] / nm[2]
            fflush()
          }
        }
        next
      }
      /^[ \t]*$/ { next }
      { sub(/[ \t]+$/, ""); print; fflush() }
    '
}
