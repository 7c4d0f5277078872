#!/usr/bin/env bash
# train_test — floq train / q / eval end to end on a problem with a closed-form Q:
# a deterministic 5-state chain, r = -1, terminal at the end, gamma 0.9:
#   Q*(s, a) = -(1 - 0.9^(5 - s)) / 0.1 = -4.0951 -3.439 -2.71 -1.9 -1.0 for every action.
# Checks: floq and fql learn it (|Q - Q*| <= 0.15 after 3000 updates), an offline run is
# bit-for-bit repeatable (also on 2 update threads, which agree with 1 to float rounding), a
# resumed run equals an uninterrupted one, and bad inputs fail cleanly.
set -u
build=${1:-build}
floq=$build/floq
mk=$build/tests/tool_mkdata
export OPENBLAS_NUM_THREADS=1
. "$(dirname "$0")/lib.sh"

$mk chain "$T/chain.npz" 5 4000 1 || bad "tool_mkdata chain"
$mk qinput "$T/q.txt" 5
common=(--env_name chain-v0 --dataset "$T/chain.npz" --preset tiny --agent.discount 0.9
        --agent.tau 0.05 --log_interval 500 --eval_interval 0 --seed 3)

within() {  # file with one Q per row (after a comment line) vs the closed form
  awk 'BEGIN{split("-4.0951 -3.439 -2.71 -1.9 -1.0", q, " "); worst = 0}
       /^#/ {next} {i++; d = $1 - q[i]; if (d < 0) d = -d; if (d > worst) worst = d}
       END {printf "max |Q - Q*| = %.4f\n", worst; exit !(i == 5 && worst <= 0.15)}' "$1"
}

# floq learns the closed-form Q
$floq train "${common[@]}" --offline_steps 3000 --run_dir "$T/a" 2>"$T/a.log" || bad "floq train exit $?"
ck=$T/a/checkpoints/ckpt-0000003000.ckpt
check "[ -f '$ck' ]" "checkpoint written"
check "[ -s '$T/a/metrics.csv' ] && head -1 '$T/a/metrics.csv' | grep -q floq_loss" "metrics.csv with losses"
check "grep -q '\"agent.critic_flow_steps\": \"3\"' '$T/a/config.json'" "config.json holds the resolved config"
$floq q --checkpoint "$ck" --input "$T/q.txt" >"$T/qa.txt" || bad "floq q exit"
if within "$T/qa.txt"; then ok; else bad "floq Q within 0.15 of Q*"; cat "$T/qa.txt"; fi
# more integration steps at read-out time (the test-time compute knob) stays accurate
$floq q --checkpoint "$ck" --input "$T/q.txt" --flow_steps 12 --noise_samples 16 >"$T/qk.txt" || bad "floq q --flow_steps"
if within "$T/qk.txt"; then ok; else bad "floq Q with K'=12, R'=16 within 0.15"; fi
check "grep -q 'flow_steps 12, noise_samples 16' '$T/qk.txt'" "q reports the read-out settings"

# same seed, same threads: bit-for-bit the same run
$floq train "${common[@]}" --offline_steps 3000 --run_dir "$T/b" 2>/dev/null || bad "second run"
$floq q --checkpoint "$T/b/checkpoints/ckpt-0000003000.ckpt" --input "$T/q.txt" --members >"$T/qb.txt"
$floq q --checkpoint "$ck" --input "$T/q.txt" --members >"$T/qa2.txt"
check "diff <(tail -n +2 '$T/qa2.txt') <(tail -n +2 '$T/qb.txt') >/dev/null" "repeat run gives identical Q"
check "diff <(cut -d, -f1,2,5- '$T/a/metrics.csv') <(cut -d, -f1,2,5- '$T/b/metrics.csv') >/dev/null" \
  "repeat run gives identical losses in metrics.csv"

# update threads: 2 threads repeat bit for bit; 1 and 2 threads agree to float rounding
for r in t1:1 t2:2 t2b:2; do
  $floq train "${common[@]}" --offline_steps 200 --learner_threads "${r#*:}" \
    --run_dir "$T/${r%%:*}" 2>"$T/${r%%:*}.log" || bad "run ${r%%:*}"
  $floq q --checkpoint "$T/${r%%:*}/checkpoints/ckpt-0000000200.ckpt" --input "$T/q.txt" \
    --members >"$T/q${r%%:*}.txt"
done
check "grep -q '2 update threads' '$T/t2.log' && grep -q '1 update thread;' '$T/t1.log'" \
  "--learner_threads sets the update threads"
check "diff <(tail -n +2 '$T/qt2.txt') <(tail -n +2 '$T/qt2b.txt') >/dev/null" \
  "2 update threads: a repeat run gives identical Q"
check "paste <(tail -n +2 '$T/qt1.txt') <(tail -n +2 '$T/qt2.txt') | awk '{h = NF / 2
  for (i = 1; i <= h; i++) {d = \$i - \$(i + h); if (d < 0) d = -d; if (d > 1e-3) bad = 1}}
  END {exit bad}'" "1 and 2 update threads: Q within 1e-3 after 200 updates"

# stop at 1500, resume to 3000: identical to the uninterrupted run
$floq train "${common[@]}" --offline_steps 1500 --run_dir "$T/c" 2>/dev/null || bad "run to 1500"
$floq train --resume "$T/c" --offline_steps 3000 2>"$T/c.log" || { bad "resume exit"; cat "$T/c.log"; }
$floq q --checkpoint "$T/c/checkpoints/ckpt-0000003000.ckpt" --input "$T/q.txt" --members >"$T/qc.txt"
check "diff <(tail -n +2 '$T/qa2.txt') <(tail -n +2 '$T/qc.txt') >/dev/null" "resumed run equals the uninterrupted one"

# metrics.csv after a resume: rows written after the checkpoint the run resumes from (here the
# newest checkpoint is lost, as when a job dies between two saves) are not repeated
$floq train "${common[@]}" --offline_steps 1500 --save_interval 500 --log_interval 250 \
  --run_dir "$T/d" 2>/dev/null || bad "run to 1500 with checkpoints every 500"
rm "$T/d/checkpoints/ckpt-0000001500.ckpt"
$floq train --resume "$T/d" --offline_steps 1500 2>"$T/d.log" || { bad "resume from 1000"; cat "$T/d.log"; }
dups=$(cut -d, -f1 "$T/d/metrics.csv" | sort | uniq -d | tr '\n' ' ')
check "[ -z '$dups' ] && [ \$(grep -c '^1250,' '$T/d/metrics.csv') -eq 1 ] && grep -q 'dropped 2 row' '$T/d.log'" \
  "metrics.csv has each step once after a resume (repeated: '$dups')"

# config.json that cannot be written: one line naming it, exit 1 (it used to be ignored)
mkdir -p "$T/cfg/config.json.tmp"
$floq train "${common[@]}" --offline_steps 10 --run_dir "$T/cfg" 2>"$T/err.txt"
check "[ $? -eq 1 ] && grep -q 'config.json' '$T/err.txt' && [ \$(wc -l <'$T/err.txt') -le 3 ]" \
  "unwritable config.json: exit 1 naming it ($(tail -n 1 "$T/err.txt"))"

# all-zero rewards with --agent.reward_offset 0: the critic's value support is empty; one line
# (it used to abort on an assert in common/hlgauss.c)
$mk chain-zero "$T/zero.npz" 5 400 1
$floq train "${common[@]}" --dataset "$T/zero.npz" --agent.reward_offset 0 --offline_steps 10 \
  --run_dir "$T/zero" 2>"$T/err.txt"
rc=$?
check "[ $rc -eq 2 ] && grep -q 'reward_offset' '$T/err.txt'" \
  "zero rewards, reward_offset 0: exit 2 and the flag named (exit $rc: $(tail -n 1 "$T/err.txt"))"

# SIGTERM / SIGINT mid-run: the current update finishes, a checkpoint is written, exit 3; the
# resumed run ends with the parameters of an uninterrupted one; a second signal exits at once
$build/tests/tool_ckpt hash "$ck" >"$T/a.hash"
for sig in TERM INT; do
  $floq train "${common[@]}" --offline_steps 3000 --run_dir "$T/s$sig" 2>"$T/s$sig.log" &
  pid=$!
  while ! grep -q 'step' "$T/s$sig/metrics.csv" 2>/dev/null; do sleep 0.05; done
  kill -$sig $pid
  wait $pid
  rc=$?
  n=$(ls "$T/s$sig/checkpoints" 2>/dev/null | wc -l)
  check "[ $rc -eq 3 ] && [ $n -eq 1 ] && grep -q 'stopped by SIG$sig at step' '$T/s$sig.log'" \
    "SIG$sig: exit $rc, $n checkpoint ($(tail -n 1 "$T/s$sig.log"))"
  $floq train --resume "$T/s$sig" --offline_steps 3000 2>/dev/null
  check "[ $? -eq 0 ] && $build/tests/tool_ckpt hash '$T/s$sig/checkpoints/ckpt-0000003000.ckpt' | diff -q - '$T/a.hash' >/dev/null" \
    "SIG$sig then --resume: parameters identical to the uninterrupted run"
done
$floq train "${common[@]}" --offline_steps 3000 --run_dir "$T/s2" 2>"$T/s2.log" &
pid=$!
while ! grep -q 'step' "$T/s2/metrics.csv" 2>/dev/null; do sleep 0.05; done
# two different signals (the same one twice, sent back to back, can arrive as one: a pending
# signal is not counted); whichever comes second ends the process with 128 + its number
kill -TERM $pid; kill -INT $pid
wait $pid
rc=$?
check "{ [ $rc -eq 143 ] || [ $rc -eq 130 ]; } && grep -q 'received again: exiting at once' '$T/s2.log'" \
  "a second signal exits at once with 128 + its number (exit $rc)"

$floq train --resume "$T/c" --offline_steps 4000 --agent.alpha 3 2>"$T/err.txt"
check "[ $? -eq 2 ] && grep -q 'cannot change on --resume' '$T/err.txt'" "agent flags cannot change on --resume"

# checkpoints: the newest --keep_checkpoints stay; a damaged newest one (cut short, or holding a
# NaN) falls back to the previous one with a message, and the resumed run ends as the
# uninterrupted one did
$floq train "${common[@]}" --offline_steps 1000 --save_interval 100 --keep_checkpoints 3 \
  --run_dir "$T/k" 2>/dev/null || bad "run with --keep_checkpoints 3"
check "[ \"\$(ls '$T/k/checkpoints')\" = \"\$(printf 'ckpt-0000000800.ckpt\nckpt-0000000900.ckpt\nckpt-0000001000.ckpt')\" ]" \
  "--keep_checkpoints 3 keeps 800, 900, 1000 ($(ls "$T/k/checkpoints" | tr '\n' ' '))"
$build/tests/tool_ckpt hash "$T/k/checkpoints/ckpt-0000001000.ckpt" >"$T/k.hash"
for damage in cut nan; do
  cp -r "$T/k" "$T/k-$damage"
  newest=$T/k-$damage/checkpoints/ckpt-0000001000.ckpt
  if [ $damage = cut ]; then head -c 3000 "$newest" >"$T/x" && mv "$T/x" "$newest"
  else $build/tests/tool_ckpt poison "$newest" adam_v 7; fi
  $floq train --resume "$T/k-$damage" --offline_steps 1000 2>"$T/kr.log"
  rc=$?
  check "[ $rc -eq 0 ] && grep -q 'falling back to the previous checkpoint' '$T/kr.log' && grep -q 'ckpt-0000000900.ckpt (step 900)' '$T/kr.log' && $build/tests/tool_ckpt hash '$newest' | diff -q - '$T/k.hash' >/dev/null" \
    "a $damage newest checkpoint: resumed from the previous one, same parameters at 1000 (exit $rc; $(grep -E 'falling|resuming' "$T/kr.log" | head -c 300))"
done
# --resume with another --agent: refused (it relabelled the floq run fql, which then could not load)
$floq train --resume "$T/k" --agent fql --offline_steps 1100 2>"$T/err.txt"
check "[ $? -eq 2 ] && grep -q 'agent=fql cannot change on --resume' '$T/err.txt'" \
  "--resume of a floq run with --agent fql refused ($(head -c 200 "$T/err.txt"))"

# a diverging run (lr 10): the refused update names its step and term, nothing is saved after
# the last good state, and no checkpoint holds a non-finite value
$floq train "${common[@]}" --offline_steps 3000 --agent.lr 10 --run_dir "$T/nan" 2>"$T/err.txt"
check "[ $? -eq 1 ] && grep -Eq 'step [0-9]+: [a-z_]+ is -?nan' '$T/err.txt' && [ ! -d '$T/nan/checkpoints' ]" \
  "offline divergence: exit 1 naming the step and the term, no checkpoint ($(grep step "$T/err.txt" | tail -n 1))"
tk=$build/tests/tool_ckpt
$floq collect --env_name tiny-v0 --policy random --episodes 20 --out "$T/tiny.npz" 2>/dev/null
$floq train --env_name tiny-v0 --dataset "$T/tiny.npz" --preset tiny --offline_steps 0 \
  --online_steps 300 --eval_interval 0 --agent.lr 10 --save_interval 1 --log_interval 10 \
  --run_dir "$T/onan" 2>"$T/err.txt"
rc=$?
badstep=$(sed -n 's/.*step \([0-9]*\): .* the update was not applied.*/\1/p' "$T/err.txt")
allok=1
printf '0.1 0.2 0.3\n' >"$T/q3.txt"
for c in "$T"/onan/checkpoints/*.ckpt; do
  $floq q --checkpoint "$c" --input "$T/q3.txt" >/dev/null 2>&1 || allok=0
  s=$(basename "$c" .ckpt); s=$((10#${s#ckpt-}))
  [ -n "$badstep" ] && [ "$s" -le "$badstep" ] || allok=0
done
check "[ $rc -eq 1 ] && [ -n '$badstep' ] && [ $allok = 1 ]" \
  "online divergence: exit 1 at step $badstep, no checkpoint after it and all finite (exit $rc)"
# a checkpoint holding a NaN: floq q refuses it (it printed nan and exited 0)
cp "$ck" "$T/poison.ckpt" && $tk poison "$T/poison.ckpt" params 0
$floq q --checkpoint "$T/poison.ckpt" --input "$T/q.txt" >"$T/qp.txt" 2>"$T/err.txt"
check "[ $? -eq 1 ] && ! grep -qi nan '$T/qp.txt' && grep -q 'non-finite' '$T/err.txt'" \
  "floq q on a NaN checkpoint: exit 1, no nan printed ($(head -c 200 "$T/err.txt"))"

# the FQL baseline on the same data
$floq train "${common[@]}" --agent fql --offline_steps 3000 --run_dir "$T/f" 2>/dev/null || bad "fql train"
$floq q --checkpoint "$T/f/checkpoints/ckpt-0000003000.ckpt" --input "$T/q.txt" >"$T/qf.txt" || bad "fql q"
if within "$T/qf.txt"; then ok; else bad "fql Q within 0.15 of Q*"; fi
check "head -1 '$T/qf.txt' | grep -q 'agent fql'" "q reads fql checkpoints"

# bad inputs: clear one-line errors, non-zero exit, nothing half-written
for kind in bad-nan bad-dtype bad-len bad-missing; do
  $mk $kind "$T/$kind.npz"
  $floq train "${common[@]}" --dataset "$T/$kind.npz" --offline_steps 10 --run_dir "$T/x-$kind" 2>"$T/err.txt"
  rc=$?
  check "[ $rc -ne 0 ] && [ \$(wc -l <'$T/err.txt') -le 2 ] && grep -q '$T/$kind.npz' '$T/err.txt'" \
    "$kind dataset: non-zero exit and one line naming the file ($(head -c 200 "$T/err.txt"))"
done
grep -q rewards "$T/err.txt" 2>/dev/null || true
head -c 3000 "$T/chain.npz" >"$T/trunc.npz"
$floq train "${common[@]}" --dataset "$T/trunc.npz" --offline_steps 10 --run_dir "$T/x-t" 2>"$T/err.txt"
check "[ $? -ne 0 ] && grep -q trunc.npz '$T/err.txt'" "truncated zip: clear error ($(head -c 200 "$T/err.txt"))"
$floq train --seeed 1 2>"$T/err.txt"
check "[ $? -eq 2 ] && grep -q -- '--seed' '$T/err.txt'" "unknown flag: exit 2 and the closest flag"
$floq train "${common[@]}" --agent.q_agg max 2>"$T/err.txt"
check "[ $? -eq 2 ] && grep -q 'mean|min' '$T/err.txt'" "bad value: exit 2 and the valid ones"
$floq trian 2>"$T/err.txt"
check "[ $? -eq 2 ] && grep -q \"'train'\" '$T/err.txt'" "unknown subcommand: exit 2 and the closest one"
for sub in train q eval collect bench; do
  $floq $sub --help >/dev/null 2>&1
  check "[ $? -eq 0 ]" "floq $sub --help"
done
printf '0.1 0.2 0.3\n' >"$T/badq.txt"
$floq q --checkpoint "$ck" --input "$T/badq.txt" 2>"$T/err.txt"
check "[ $? -ne 0 ] && grep -q 'expected 2 numbers' '$T/err.txt'" "q input of the wrong width"
head -c 500 "$ck" >"$T/cut.ckpt"
$floq q --checkpoint "$T/cut.ckpt" --input "$T/q.txt" 2>"$T/err.txt"
check "[ $? -ne 0 ] && grep -q truncated '$T/err.txt'" "truncated checkpoint: clear error"

# floq collect with a checkpoint's policy; a checkpoint for another env says both sizes
$floq collect --env_name tiny-v0 --policy "checkpoint:$T/f/checkpoints/ckpt-0000003000.ckpt" \
  --episodes 5 --out "$T/fromckpt.npz" 2>"$T/err.txt"
check "[ $? -ne 0 ] && grep -q 'obs 1 / action 1' '$T/err.txt' && grep -q 'obs 2 / action 1' '$T/err.txt'" \
  "checkpoint policy of the wrong size: both sizes named ($(head -c 200 "$T/err.txt"))"
$floq collect --env_name tiny-v0 --policy random --episodes 20 --out "$T/tiny.npz" 2>/dev/null
$floq train --env_name tiny-v0 --dataset "$T/tiny.npz" --preset tiny --offline_steps 200 \
  --eval_interval 100 --eval_episodes 5 --log_interval 100 --run_dir "$T/g" 2>/dev/null
check "[ \$(wc -l <'$T/g/eval.csv') -ge 3 ]" "periodic evaluation rows in eval.csv"
$floq collect --env_name tiny-v0 --policy "checkpoint:$T/g/checkpoints/ckpt-0000000200.ckpt" \
  --episodes 5 --noise 0.1 --out "$T/fromckpt.npz" 2>/dev/null
check "[ $? -eq 0 ] && [ -s '$T/fromckpt.npz' ]" "collect with --policy checkpoint:FILE"
# --restore_path from another network with the same parameter count (actor widths 8,5 and 8,6
# both give 8960 floats): refused naming the view, instead of copied as one block
tinyargs=(--env_name tiny-v0 --dataset "$T/tiny.npz" --preset tiny --offline_steps 20 --eval_interval 0)
$floq train "${tinyargs[@]}" --agent.actor_hidden_dims 8,5 --run_dir "$T/r85" 2>/dev/null
$floq train "${tinyargs[@]}" --agent.actor_hidden_dims 8,6 --run_dir "$T/r86" \
  --restore_path "$T/r85/checkpoints/ckpt-0000000020.ckpt" 2>"$T/err.txt"
check "[ $? -eq 2 ] && grep -q 'different network' '$T/err.txt' && grep -q 'dense1/kernel' '$T/err.txt' && [ ! -d '$T/r86/checkpoints' ]" \
  "--restore_path of another network with the same count is refused ($(head -c 300 "$T/err.txt"))"
$floq eval --checkpoint "$T/g/checkpoints/ckpt-0000000200.ckpt" --episodes 5 >"$T/ev.txt"
check "[ $? -eq 0 ] && grep -q success '$T/ev.txt'" "floq eval prints success for tiny-v0"

report train_test
