#!/usr/bin/env bash
# Coverage-guided fuzzing of the parsers that read hostile input (fuzz/, docs/FUZZING.md):
# cargo-fuzz (libFuzzer) on the stable toolchain, without a sanitizer.
#
#   scripts/fuzz.sh               every target, HUB_FUZZ_SECS (default 60) seconds each
#   scripts/fuzz.sh TARGET...     only these
#
# One instrumented build serves every target. It goes to HUB_FUZZ_TARGET_DIR (default
# fuzz/target), which CI keeps outside its fresh checkout so that only changed crates
# rebuild. Each target starts from its committed seeds (fuzz/seeds/<target>) and keeps
# what it learns in fuzz/corpus/<target> (not committed). A crash fails the run: its input
# is saved under fuzz/artifacts/<target>/, and the line to replay it is printed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=lib/tools.sh
. scripts/lib/tools.sh

CARGO_FUZZ_VERSION=0.13.2
need_cargo_tool cargo-fuzz "$CARGO_FUZZ_VERSION"

secs=${HUB_FUZZ_SECS:-60}
export CARGO_TARGET_DIR=${HUB_FUZZ_TARGET_DIR:-$root/fuzz/target}
# Release with debug assertions (fuzz/Cargo.toml's profile), no sanitizer: the stable
# toolchain cannot build AddressSanitizer, and safe Rust needs it least.
flags=(--sanitizer none --debug-assertions)

t0=$SECONDS
(cd fuzz && cargo fuzz build "${flags[@]}")
echo "fuzz: built every target in $((SECONDS - t0)) s"

if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cd fuzz && cargo fuzz list)
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
passed=0 failed=0
for target in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
  t0=$SECONDS
  # -max_total_time bounds the run; -timeout turns an input that hangs (10 s) into a
  # failure; the corpus directory is written to, the seeds only read.
  if (cd fuzz && cargo fuzz run "${flags[@]}" "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1) >"$log" 2>&1; then
    runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo '?')
    echo "fuzz $target: no crash in $((SECONDS - t0)) s ($runs inputs)"
    passed=$((passed + 1))
  else
    tail -n 40 "$log"
    echo "fuzz $target: FAILED after $((SECONDS - t0)) s; replay: (cd fuzz && cargo fuzz run ${flags[*]} $target artifacts/$target/<file>)"
    failed=$((failed + 1))
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
