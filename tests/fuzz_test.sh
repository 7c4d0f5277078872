#!/usr/bin/env bash
# fuzz_test — the short fuzz pass of make test: builds the libFuzzer targets (clang, make
# fuzz-build) and runs each on a fixed number of inputs from its seed corpus under tests/fuzz/
# in a fresh corpus (tests/fuzz.sh BUILD test: the same pass on every machine and run;
# FLOQ_FUZZ_SECONDS=N runs each N seconds on the kept corpus instead). Skipped (with a line saying so, which make test shows) when clang or its fuzzer
# runtime is missing; make setup installs both (clang, libclang-rt-14-dev). CI sets
# FLOQ_REQUIRE_FUZZ=1 (.ci/run), which makes a missing clang a failure instead. Not run under
# make asan (the targets carry their own sanitizers).
set -u
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
if [ "${FLOQ_SANITIZED:-0}" = 1 ]; then
  echo "fuzz_test: skipped under make asan (the fuzz targets are sanitized builds already)"
  echo "fuzz_test: 0 passed, 0 failed"
  exit 0
fi
if ! command -v clang >/dev/null || ! echo 'int LLVMFuzzerTestOneInput(const char*d,long n){return 0;}' |
    clang -x c -fsanitize=fuzzer -o /dev/null - 2>/dev/null; then
  msg="clang with libFuzzer (clang -fsanitize=fuzzer) is not installed; make setup (root) installs clang and libclang-rt-14-dev"
  if [ "${FLOQ_REQUIRE_FUZZ:-0}" = 1 ]; then
    echo "FAIL: fuzz_test: $msg (FLOQ_REQUIRE_FUZZ=1)"
    echo "fuzz_test: 0 passed, 1 failed"
    exit 1
  fi
  echo "fuzz_test: skipped: $msg"
  echo "fuzz_test: 0 passed, 0 failed"
  exit 0
fi
log=$(mktemp)
if ! nice -n 5 make -s fuzz-build >"$log" 2>&1; then
  echo "FAIL: make fuzz-build"; tail -n 20 "$log"; rm -f "$log"
  echo "fuzz_test: 0 passed, 1 failed"
  exit 1
fi
rm -f "$log"
bash tests/fuzz.sh build/fuzz "${FLOQ_FUZZ_SECONDS:-test}" | sed 's/^fuzz: /fuzz_test: /'
exit "${PIPESTATUS[0]}"
