#!/usr/bin/env bash
# Runs every test program in $1/tests (and tests/*_test.sh scripts), sums their
# "name: N passed, M failed" lines. Last line: "N passed, N failed". Exit 1 on any failure.
# FLOQ_VALGRIND=1 runs the unit binaries under valgrind memcheck.
# FLOQ_TEST_FILTER=regex runs only matching tests.
set -u
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
export FLOQ_BUILD=$build
export FLOQ_SHARED=${FLOQ_SHARED:-$root/../shared}
pass=0; fail=0; broken=()
filter=${FLOQ_TEST_FILTER:-.}
run_one() {  # name, command...
  local name=$1; shift
  local log; log=$(mktemp)
  local t0=$SECONDS
  "$@" >"$log" 2>&1
  local rc=$?
  local line; line=$(grep -E '^[A-Za-z0-9_./-]+: [0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
  if [ -z "$line" ]; then
    echo "$name: no result line (exit $rc); output:"; tail -n 20 "$log"
    fail=$((fail + 1)); broken+=("$name")
  else
    local p f; p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\1/')
    f=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\2/')
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    pass=$((pass + p)); fail=$((fail + f))
    echo "$line  ($((SECONDS - t0))s)"
    grep -E '^[A-Za-z0-9_./-]+: skipped' "$log" | head -n 3 | sed 's/^/  /'
    if [ "$f" -ne 0 ]; then grep -E '^FAIL|error|Error|ERROR' "$log" | head -n 20; broken+=("$name"); fi
  fi
  rm -f "$log"
}
for bin in "$build"/tests/test_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin")
  echo "$name" | grep -Eq "$filter" || continue
  if [ "${FLOQ_VALGRIND:-0}" = 1 ]; then
    run_one "$name" valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
      --suppressions=/usr/share/openmpi/openmpi-valgrind.supp --suppressions="$here/valgrind-mpi.supp" \
      --num-callers=40 "$bin"
  else
    run_one "$name" "$bin"
  fi
done
if [ "${FLOQ_VALGRIND:-0}" != 1 ]; then
  for sh in tests/*_test.sh; do
    [ -f "$sh" ] || continue
    name=$(basename "$sh" .sh)
    echo "$name" | grep -Eq "$filter" || continue
    run_one "$name" bash "$sh" "$build"
  done
fi
[ ${#broken[@]} -gt 0 ] && echo "failing: ${broken[*]}"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
