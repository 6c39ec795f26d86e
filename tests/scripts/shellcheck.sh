#!/usr/bin/env bash
# Runs shellcheck over every shell script of the repository (the tracked *.sh files and
# .ci/run), warnings and errors: one count per clean file. Run by scripts/test.sh, which
# installs shellcheck through scripts/backing.sh install; alone: `bash tests/scripts/shellcheck.sh`.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
command -v shellcheck >/dev/null ||
  { echo "shellcheck: not installed (scripts/backing.sh install brings it)" >&2; exit 1; }
mapfile -t files < <(git ls-files '*.sh' .ci/run)
passed=0 failed=0
for f in "${files[@]}"; do
  if shellcheck -x --severity=warning "$f"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
done
echo "shellcheck: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
