#!/usr/bin/env bash
# fuzz.sh — runs every libFuzzer target of make fuzz for a fixed time each.
# Usage: tests/fuzz.sh BUILD_DIR SECONDS   (make fuzz FUZZ_SECONDS=600 for a longer campaign)
# Each target starts from its seed corpus tests/fuzz/<name>/ (read only) and keeps what it
# finds in BUILD_DIR/corpus/<name>/; a crash leaves BUILD_DIR/<name>-crash-* and fails. One line
# per target: executions, exec/s, coverage (edges) and features. Last line: "fuzz: N passed, M
# failed".
set -u
build=${1:-build/fuzz}
secs=${2:-10}
here=$(cd "$(dirname "$0")" && pwd)
pass=0; fail=0
# libFuzzer's leak check needs full unwinding; Open MPI is linked but never started here.
# allocator_may_return_null: an impossible size gets NULL, as from glibc, instead of an ASan
# abort (libhdf5 asks for 0xc8 << 56 bytes on a damaged local heap and handles the NULL);
# floq's loaders bound a declared size by the file before allocating, mem_alloc still aborts
# on a NULL (a finding), and -malloc_limit_mb still fails any single allocation over 1 GiB
export ASAN_OPTIONS=${ASAN_OPTIONS:-fast_unwind_on_malloc=0:detect_leaks=1:allocator_may_return_null=1}
export LSAN_OPTIONS=suppressions=$here/fuzz/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export OPENBLAS_NUM_THREADS=1
for bin in "$build"/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin"); name=${name#fuzz_}
  seeds=$here/fuzz/$name
  corpus=$build/corpus/$name
  mkdir -p "$corpus"
  log=$build/$name.log
  # a fixed seed, so a short pass is repeatable; files up to 64 KiB (HDF5 seeds are ~10 KB)
  (cd "$build" && "./fuzz_$name" -seed=1 -max_total_time="$secs" -max_len=65536 \
     -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=20 -artifact_prefix="$name-" \
     -print_final_stats=1 "corpus/$name" "$seeds") >"$log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  cov=$(grep -E '^#[0-9]+.*(DONE|cov:)' "$log" | tail -n 1 | sed -nE 's/.*cov: ([0-9]+) ft: ([0-9]+).*/\1 edges, \2 features/p')
  if [ $rc -eq 0 ]; then
    pass=$((pass + 1))
    echo "fuzz_$name: ${runs:-?} runs in ${secs} s (${rate:-?}/s), ${cov:-? coverage}, corpus $(ls "$corpus" | wc -l) files"
  else
    fail=$((fail + 1))
    echo "FAIL: fuzz_$name exit $rc; $log:"
    grep -E 'ERROR|SUMMARY|==[0-9]+==|runtime error|Test unit written' "$log" | head -n 12
  fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
