#!/usr/bin/env bash
# fuzz.sh — runs every libFuzzer target of make fuzz for a fixed time each.
# Usage: tests/fuzz.sh BUILD_DIR SECONDS   a campaign (make fuzz FUZZ_SECONDS=600): each target
#                                          runs SECONDS from its seed corpus tests/fuzz/<name>/
#                                          (read only) and keeps what it finds in
#                                          BUILD_DIR/corpus/<name>/
#        tests/fuzz.sh BUILD_DIR test      make test's short pass: a fixed number of inputs per
#                                          target (a few seconds each here) from the seeds alone,
#                                          in a fresh corpus, so the pass is the same on every
#                                          machine and every run, whatever earlier campaigns found
# A crash leaves BUILD_DIR/<name>-crash-* and fails. One line per target: executions, exec/s,
# coverage (edges) and features. Last line: "fuzz: N passed, M failed".
set -u
build=${1:-build/fuzz}
secs=${2:-10}
# inputs per target in the test pass (about 5 s each on this 2-core VM under ASan; fuzz_h5 about
# 90 s: every input forks the HDF5 reader, and libhdf5 crashes about 1 child in 15)
declare -A test_runs=([proto]=250000 [cfg]=30000 [ckpt]=40000 [npz]=15000 [h5]=2000)
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
  log=$build/$name.log
  if [ "$secs" = test ]; then
    corpus=$(mktemp -d); budget=-runs=${test_runs[$name]:-10000}; what="${test_runs[$name]:-10000} inputs"
  else
    corpus=$build/corpus/$name; budget=-max_total_time=$secs; what="$secs s"
  fi
  mkdir -p "$corpus"
  # artifacts go to a fresh directory first: fuzz_h5's HDF5 reader is a forked child, and one
  # that libhdf5 crashes or that passes the malloc limit leaves an artifact (and its own stat
  # lines in the log) from libFuzzer's handlers although the load just fails; a passing run
  # drops them, a failing one moves them all to BUILD_DIR
  art=$(mktemp -d "$build/artifacts.$name.XXXXXX")
  # a fixed seed, so a pass is repeatable (a test pass exactly: fixed inputs, fresh corpus);
  # files up to 64 KiB (HDF5 seeds are ~10 KB)
  (cd "$build" && "./fuzz_$name" -seed=1 "$budget" -max_len=65536 \
     -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=20 \
     -artifact_prefix="$(basename "$art")/$name-" -print_final_stats=1 "$corpus" "$seeds") >"$log" 2>&1
  rc=$?
  [ $rc -ne 0 ] && mv "$art"/* "$build"/ 2>/dev/null
  rm -rf "$art"
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  cov=$(grep -E '^#[0-9]+.*(DONE|cov:)' "$log" | tail -n 1 | sed -nE 's/.*cov: ([0-9]+) ft: ([0-9]+).*/\1 edges, \2 features/p')
  if [ $rc -eq 0 ]; then
    pass=$((pass + 1))
    echo "fuzz_$name: ${runs:-?} runs ($what, ${rate:-?}/s), ${cov:-? coverage}, corpus $(ls "$corpus" | wc -l) files"
  else
    fail=$((fail + 1))
    echo "FAIL: fuzz_$name exit $rc; $log:"
    grep -E 'ERROR|SUMMARY|==[0-9]+==|runtime error|Test unit written' "$log" | tail -n 12 |
      sed "s|$(basename "$art")/||"
  fi
  [ "$secs" = test ] && rm -rf "$corpus"
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
