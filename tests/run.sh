#!/usr/bin/env bash
# The one entry point for tests: runs every unit-test binary in $BUILD/tests and every
# end-to-end test in tests/e2e (test_*.sh and test_*.mjs, each an executable script that
# prints its own "N passed, N failed" line), then prints the total.
# Usage: BUILD=build bash tests/run.sh [--unit|--e2e] [filter]
#   (filter: substring of the test file name)
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export EMBECODE_BIN="$PWD/$BUILD/embecode"
export BUILD
only=
case "${1:-}" in --unit|--e2e) only=$1; shift;; esac
filter=${1:-}
total_pass=0; total_fail=0; failed_suites=()

run_one() { # name, command...
  local name=$1; shift
  local out rc line p f
  out=$("$@" 2>&1); rc=$?
  line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
  if [ -n "$line" ]; then
    p=$(echo "$line" | awk '{print $1}'); f=$(echo "$line" | awk '{print $3}')
  else
    p=0; f=1
  fi
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
  if [ "$f" -ne 0 ]; then
    failed_suites+=("$name"); printf '%s\n' "$out" | tail -n 40 | sed "s|^|  [$name] |"
    printf 'FAIL  %-28s %s passed, %s failed (exit %s)\n' "$name" "$p" "$f" "$rc"
  else
    printf 'ok    %-28s %s passed\n' "$name" "$p"
  fi
}

for t in "$BUILD"/tests/test_*; do
  [ "$only" = --e2e ] && break
  [ -x "$t" ] || continue
  case "$t" in *.o|*.d) continue;; esac
  name=$(basename "$t")
  [ -n "$filter" ] && [[ "$name" != *"$filter"* ]] && continue
  run_one "$name" "$t"
done
for t in tests/e2e/test_*.sh tests/e2e/test_*.mjs; do
  [ "$only" = --unit ] && break
  [ -f "$t" ] || continue
  name=$(basename "$t")
  [ -n "$filter" ] && [[ "$name" != *"$filter"* ]] && continue
  case "$t" in
    *.sh) run_one "$name" bash "$t" ;;
    *.mjs) run_one "$name" node "$t" ;;
  esac
done
[ ${#failed_suites[@]} -gt 0 ] && echo "failed suites: ${failed_suites[*]}"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
