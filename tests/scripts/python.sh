#!/usr/bin/env bash
# Lints every tracked Python file (the scripts' helpers under scripts/py/, bench/chart.py,
# the tests' clients and checks) with ruff, by the rules of ruff.toml: one count per clean
# file. Run by scripts/test.sh; ruff comes from scripts/backing.sh's venv (backing.sh install
# brings it); alone: `bash tests/scripts/python.sh`. No build, no network.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
[ -n "${HUB_PYTHON:-}" ] || eval "$(bash scripts/backing.sh env)"
ruff=$(dirname "$HUB_PYTHON")/ruff
[ -x "$ruff" ] || { echo "ruff: not installed in $(dirname "$HUB_PYTHON") (scripts/backing.sh install brings it)" >&2; exit 1; }
mapfile -t files < <(git ls-files '*.py')
# `path:line:col: CODE message` per finding; a file counts once however many it has.
report=$("$ruff" check --no-cache --output-format concise "${files[@]}" 2>&1) || true
failed=$({ grep -Eo '^[^:]+\.py:[0-9]+:' <<<"$report" || true; } | cut -d: -f1 | sort -u | wc -l)
[ "$failed" -eq 0 ] || printf '%s\n' "$report" >&2
if ! grep -q '^All checks passed' <<<"$report" && [ "$failed" -eq 0 ]; then
  printf 'ruff: did not run cleanly:\n%s\n' "$report" >&2
  failed=${#files[@]}
fi
echo "ruff: $((${#files[@]} - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
