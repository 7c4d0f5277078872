#!/usr/bin/env bash
# plot_test — floq plot end to end on small real runs: tiny-v0 (floq 2 seeds, fql 1 seed, an
# inline online run) and the landscape of a real point-maze checkpoint. Each PNG is checked by
# tests/tool_pngcheck (signature, IHDR width/height, the CRC-32 of every chunk); then bad inputs
# each give one line naming the file, exit 1 or 2, and no crash.
set -u
build=${1:-build}
floq=$build/floq
pngcheck=$build/tests/tool_pngcheck
export OPENBLAS_NUM_THREADS=1
. "$(dirname "$0")/lib.sh"

if ! command -v "${FLOQ_GNUPLOT:-gnuplot}" >/dev/null; then
  bad "gnuplot is not installed; make setup installs gnuplot-nox"
  report plot_test
  exit 1
fi
# floq plot's temporary directories go here: the test checks none is left behind
mkdir -p "$T/tmp"
plot() { TMPDIR=$T/tmp $floq plot "$@"; }
valid() {  # png width height: the checker's line on failure
  local out; out=$($pngcheck "$1" "$2" "$3") && ok || bad "$out"
}

# small real runs
$floq collect --env_name tiny-v0 --policy random --episodes 20 --out "$T/tiny.npz" 2>/dev/null ||
  bad "collect tiny"
tiny=(--env_name tiny-v0 --dataset "$T/tiny.npz" --preset tiny --log_interval 50
      --eval_interval 100 --eval_episodes 5)
for s in 0 1; do
  $floq train "${tiny[@]}" --offline_steps 300 --seed $s --run_dir "$T/floq-s$s" 2>/dev/null ||
    bad "train floq seed $s"
done
$floq train "${tiny[@]}" --agent fql --offline_steps 300 --run_dir "$T/fql-s0" 2>/dev/null ||
  bad "train fql"
$floq train "${tiny[@]}" --offline_steps 100 --online_steps 300 --run_dir "$T/online" \
  2>/dev/null || bad "train online (inline actor)"
$floq collect --env_name pointmaze-medium-navigate-v0 --policy expert --episodes 5 \
  --out "$T/pm.npz" 2>/dev/null || bad "collect pointmaze"
$floq train --env_name pointmaze-medium-navigate-singletask-task3-v0 --dataset "$T/pm.npz" \
  --preset tiny --offline_steps 200 --eval_interval 0 --run_dir "$T/pm" 2>/dev/null ||
  bad "train pointmaze"
$floq landscape --checkpoint "$T/pm/checkpoints/ckpt-0000000200.ckpt" --out "$T/ls.csv" \
  --rollouts=false >/dev/null 2>&1 || bad "floq landscape"

# curves of two groups and a landscape, at the requested size
plot "$T/floq-s0" "$T/floq-s1" "$T/fql-s0" --landscape "$T/ls.csv" --out "$T/a.png" \
  --width 1200 --height 1500 --title "plot test" >"$T/out.txt" 2>"$T/err.txt"
check "[ $? -eq 0 ]" "plot of 3 runs + landscape exits 0 ($(head -c 300 "$T/err.txt"))"
valid "$T/a.png" 1200 1500
check "grep -q 'agent=floq: 2 runs' '$T/out.txt' && grep -q 'agent=fql: 1 run' '$T/out.txt'" \
  "seeds of one config form one group, labelled by what differs ($(cat "$T/out.txt"))"
check "grep -q '1 landscape' '$T/out.txt' && grep -q '6 panels' '$T/out.txt'" \
  "offline panels: success, return, critic, Q, actor, updates/s"
check "[ ! -s '$T/err.txt' ]" "no warnings for well-formed runs"
check "[ -z \"\$(ls -A '$T/tmp')\" ]" "temporary directory removed"

# the online columns; a landscape found as RUN_DIR/landscape.csv; default and small sizes
plot "$T/online" --out "$T/b.png" --width 900 --height 700 >"$T/out.txt" 2>"$T/err.txt"
check "[ $? -eq 0 ]" "online run plots ($(head -c 300 "$T/err.txt"))"
valid "$T/b.png" 900 700
check "grep -q '11 panels' '$T/out.txt'" "online panels drawn ($(cat "$T/out.txt"))"
cp "$T/ls.csv" "$T/pm/landscape.csv"
plot "$T/pm" --out "$T/c.png" >"$T/out.txt" 2>"$T/err.txt"
check "[ $? -eq 0 ] && grep -q '1 landscape' '$T/out.txt'" "RUN_DIR/landscape.csv is drawn"
wh=$(sed -nE 's/.* \(([0-9]+)x([0-9]+)\).*/\1 \2/p' "$T/out.txt")
valid "$T/c.png" ${wh:-0 0}
plot --landscape "$T/ls.csv" --out "$T/d.png" --width 640 --height 480 >/dev/null 2>&1
valid "$T/d.png" 640 480
plot "$T/floq-s0" "$T/fql-s0" --label "$T/fql-s0=baseline" --out "$T/e.png" >"$T/out.txt"
check "grep -q 'baseline: 1 run' '$T/out.txt'" "--label RUN_DIR=LABEL"

# the checker itself rejects a damaged PNG
cp "$T/d.png" "$T/x.png"
printf '\x01' | dd of="$T/x.png" bs=1 seek=17 conv=notrunc 2>/dev/null
check "! $pngcheck '$T/x.png' 640 480 >/dev/null" "tool_pngcheck catches a flipped IHDR byte"
head -c 2000 "$T/d.png" >"$T/x.png"
check "! $pngcheck '$T/x.png' 640 480 >/dev/null" "tool_pngcheck catches a truncated PNG"
check "! $pngcheck '$T/d.png' 641 480 >/dev/null" "tool_pngcheck checks the width"

# bad usage: exit 2 and one line
fails() {  # expected-exit-codes grep-pattern what, then the plot arguments
  local codes=$1 pat=$2 what=$3; shift 3
  plot "$@" >/dev/null 2>"$T/err.txt"
  local rc=$?
  if [[ " $codes " == *" $rc "* ]] && [ "$(wc -l <"$T/err.txt")" -eq 1 ] &&
     grep -q -- "$pat" "$T/err.txt"; then ok
  else bad "$what: exit $rc, stderr: $(head -c 300 "$T/err.txt")"; fi
}
fails 2 "--out" "missing --out" "$T/floq-s0"
fails 2 "run directory" "no run directory" --out "$T/y.png"
fails 2 "did you mean --width" "unknown flag" "$T/floq-s0" --out "$T/y.png" --widht 300
fails 2 "range" "width out of range" "$T/floq-s0" --out "$T/y.png" --width 5
fails 2 "RUN_DIR=LABEL" "label of no run" "$T/floq-s0" --out "$T/y.png" --label nothere=x
$floq plot --help >/dev/null
check "[ $? -eq 0 ]" "floq plot --help"

# bad files: exit 1, one line naming the file
mkrun() {  # name: a run dir with the config of floq-s0 (so no other warning)
  mkdir -p "$T/$1" && cp "$T/floq-s0/config.json" "$T/$1/"
}
mkrun nometrics
fails "1 2" "nometrics has no metrics.csv" "run dir without metrics.csv" "$T/nometrics" --out "$T/y.png"
fails 1 "not a directory" "missing run dir" "$T/nothere" --out "$T/y.png"
mkrun empty; : >"$T/empty/metrics.csv"
fails 1 "empty/metrics.csv is empty" "empty metrics.csv" "$T/empty" --out "$T/y.png"
mkrun cut; head -c 60 "$T/floq-s0/metrics.csv" >"$T/cut/metrics.csv"
fails 1 "cut/metrics.csv has no column 'step'\|nothing to plot" "metrics.csv cut inside the header" \
  "$T/cut" --out "$T/y.png"
mkrun garbled; head -c 4000 /dev/urandom >"$T/garbled/metrics.csv"
fails 1 "garbled/metrics.csv" "garbled metrics.csv" "$T/garbled" --out "$T/y.png"
mkrun text; printf 'hello world\nnot, a, metrics file\n' >"$T/text/metrics.csv"
fails 1 "text/metrics.csv has no column 'step'" "text that is not a metrics.csv" "$T/text" \
  --out "$T/y.png"
mkrun nonnum; sed '4s/^\([0-9]*\),offline,\([0-9.]*\),[0-9.]*,/\1,offline,\2,fast,/' \
  "$T/floq-s0/metrics.csv" >"$T/nonnum/metrics.csv"
fails 1 "nonnum/metrics.csv line 4, column updates_per_s: 'fast' is not a number" \
  "non-numeric cell" "$T/nonnum" --out "$T/y.png"
mkrun short; { cat "$T/floq-s0/metrics.csv"; echo "400,offline,1,2"; } >"$T/short/metrics.csv"
fails 1 "short/metrics.csv line 9 has 4 cells" "a short row" "$T/short" --out "$T/y.png"
mkrun badeval; cp "$T/floq-s0/metrics.csv" "$T/badeval/"
printf 'step,return_mean\n1,x\n' >"$T/badeval/eval.csv"
fails 1 "badeval/eval.csv line 2" "bad eval.csv" "$T/badeval" --out "$T/y.png"
mkrun badcfg; cp "$T/floq-s0/metrics.csv" "$T/badcfg/"; echo '{"agent": ' >"$T/badcfg/config.json"
fails 1 "badcfg/config.json is not a flat JSON" "bad config.json" "$T/badcfg" --out "$T/y.png"
head -c 300 "$T/ls.csv" >"$T/lscut.csv"
fails 1 "lscut.csv" "landscape CSV cut short" --landscape "$T/lscut.csv" --out "$T/y.png"
fails 1 "metrics.csv has no column 'x'" "a metrics file as a landscape" --landscape \
  "$T/floq-s0/metrics.csv" --out "$T/y.png"
FLOQ_GNUPLOT=/nonexistent/gnuplot plot "$T/floq-s0" --out "$T/y.png" 2>"$T/err.txt"
check "[ $? -eq 1 ] && grep -q 'install gnuplot-nox' '$T/err.txt'" \
  "gnuplot missing: one clear line ($(cat "$T/err.txt"))"
check "[ ! -e '$T/y.png' ] && [ -z \"\$(ls -A '$T/tmp')\" ]" \
  "failures leave no output and no temporary directory"

# a run still writing its last line: a warning, the rows before it are drawn
mkrun open; { cat "$T/floq-s0/metrics.csv"; printf '400,offline,1.0'; } >"$T/open/metrics.csv"
plot "$T/open" --out "$T/f.png" --width 700 --height 500 >/dev/null 2>"$T/err.txt"
check "[ $? -eq 0 ] && grep -q 'open/metrics.csv: skipped an unfinished last line' '$T/err.txt'" \
  "unfinished last line: warning naming the file ($(cat "$T/err.txt"))"
valid "$T/f.png" 700 500

# every prefix of a metrics.csv and of a landscape CSV: exit 0 or 1, never a crash
mkrun prefix
for n in 1 37 150 400 900 2000 3000; do
  head -c $n "$T/floq-s0/metrics.csv" >"$T/prefix/metrics.csv"
  plot "$T/prefix" --out "$T/g.png" --width 300 --height 300 >/dev/null 2>&1
  rc=$?
  check "[ $rc -le 1 ]" "metrics.csv cut at $n bytes: exit $rc"
  head -c $((n * 4)) "$T/ls.csv" >"$T/lsp.csv"
  plot --landscape "$T/lsp.csv" --out "$T/g.png" --width 300 --height 300 >/dev/null 2>&1
  rc=$?
  check "[ $rc -le 1 ]" "landscape cut at $((n * 4)) bytes: exit $rc"
done

report plot_test
