#!/usr/bin/env bash
# Sets up and builds (scripts/setup.sh), then runs every test: the lit suite
# (round trips, verifier diagnostics, folds, lowering IR, executed numerics
# against the NumPy reference) and the Python tests. The last line counts
# them: "N passed, N failed". Exits non-zero if anything failed.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
export BUILD_DIR

"$ROOT/scripts/setup.sh" || { echo "0 passed, 1 failed"; exit 1; }

passed=0
failed=0
status=0

echo "== lit: $ROOT/test"
lit_log=$(mktemp)
/usr/lib/llvm-22/bin/lit -sv "$BUILD_DIR/test" 2>&1 | tee "$lit_log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
lit_passed=$(sed -nE 's/^ *Passed *: *([0-9]+).*/\1/p' "$lit_log" | tail -n1)
lit_failed=$(grep -E '^ *(Failed|Unresolved|Timed Out|Unexpectedly Passed) *:' "$lit_log" \
  | sed -E 's/[^:]*: *([0-9]+).*/\1/' | awk '{s += $1} END {print s + 0}')
rm -f "$lit_log"
passed=$((passed + ${lit_passed:-0}))
failed=$((failed + ${lit_failed:-0}))

echo "== pytest: $ROOT/python/tests"
py_log=$(mktemp)
(cd "$ROOT" && "$ROOT/.venv/bin/python3" -m pytest -q -p no:cacheprovider python/tests) 2>&1 | tee "$py_log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
py_summary=$(tail -n1 "$py_log")
rm -f "$py_log"
py_passed=$(grep -oE '[0-9]+ passed' <<<"$py_summary" | grep -oE '[0-9]+')
py_failed=$(grep -oE '[0-9]+ (failed|error|errors)' <<<"$py_summary" | grep -oE '^[0-9]+' \
  | awk '{s += $1} END {print s + 0}')
passed=$((passed + ${py_passed:-0}))
failed=$((failed + ${py_failed:-0}))

# A runner that crashed without counting is a failure too.
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "$passed passed, $failed failed"
exit "$status"
