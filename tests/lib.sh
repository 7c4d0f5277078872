# lib.sh — sourced by the tests/*_test.sh scripts: a temp dir removed on exit, pass/fail
# counters, check "CONDITION" "what", and report NAME (prints "NAME: N passed, M failed").
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0; fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
report() { echo "$1: $pass passed, $fail failed"; [ "$fail" -eq 0 ]; }
