#!/usr/bin/env bash
# mpi_test — the actor-learner under mpirun (as root in CI: allow-run-as-root, oversubscribe):
#  * -np 3 offline -> online on tiny-v0: both actors deliver, weights reach them (policy lag
#    finite and bounded), the updates-per-env-step ratio holds (utd 1 +- 10%), exit 0;
#  * an actor rank sending malformed, truncated, wrong-version, wrong-size, NaN and oversized
#    messages: the learner counts every one, survives and keeps training (these fault cases run
#    build/floq-faults, the test build; build/floq has no fault flags), with Open MPI's default
#    shared-memory single-copy mechanism (CMA) and again with single-copy off;
#  * --lockstep reproduces the reference's policy lag 0; -np 1 (no mpirun) runs inline, lag 0;
#  * an offline checkpoint resumes straight into online fine-tuning.
set -u
build=${1:-build}
floq=$(cd "$(dirname "$build/floq")" && pwd)/floq
faults=$(cd "$(dirname "$build/floq")" && pwd)/floq-faults
export OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Open MPI's defaults otherwise (single-copy CMA on); one case also runs with single-copy off
export OMPI_MCA_rmaps_base_oversubscribe=1
unset OMPI_MCA_btl_vader_single_copy_mechanism
. "$(dirname "$0")/lib.sh"
col() {  # col FILE NAME -> values of that column on online rows
  awk -F, -v name="$2" 'NR == 1 {for (i = 1; i <= NF; i++) if ($i == name) c = i; next}
                        $2 == "online" {print $c}' "$1"
}

# fault injection exists only in the test build
"$floq" train --help >"$T/help.txt" 2>&1
"$faults" train --help >"$T/help-faults.txt" 2>&1
check "! grep -q test_ '$T/help.txt' && grep -q test_bad_actor '$T/help-faults.txt' && grep -q test_fault '$T/help-faults.txt'" \
  "--test_* flags only in build/floq-faults --help"
"$floq" train --test_fault drop_batch >/dev/null 2>&1
check "[ $? -eq 2 ]" "build/floq refuses --test_fault (unknown flag)"

"$floq" collect --env_name tiny-v0 --policy random --episodes 100 --out "$T/tiny.npz" 2>/dev/null \
  || bad "collect tiny"
common=(--env_name tiny-v0 --dataset "$T/tiny.npz" --preset tiny --log_interval 250
        --eval_interval 0 --actor.num_envs 4)

# 1. three ranks: learner + two actors
timeout 180 mpirun -np 3 "$floq" train "${common[@]}" --offline_steps 300 --online_steps 3000 \
  --run_dir "$T/a" >"$T/a.log" 2>&1
rc=$?
check "[ $rc -eq 0 ]" "mpirun -np 3 exit $rc ($(tail -n 3 "$T/a.log"))"
for r in 1 2; do
  sent=$(sed -n "s/.*actor $r: .* env steps in .*, \([0-9]*\) sent.*/\1/p" "$T/a.log")
  check "[ -n '$sent' ] && [ '$sent' -gt 0 ]" "actor $r delivered transitions (sent=$sent)"
done
recv=$(sed -n 's/.*online: \([0-9]*\) transitions received.*/\1/p' "$T/a.log")
check "[ -n '$recv' ] && [ '$recv' -ge 3000 ]" "learner received >= 3000 transitions ($recv)"
lagmax=$(col "$T/a/metrics.csv" lag_max | awk '$1 != "nan" && $1 > m {m = $1} END {print m + 0}')
lagn=$(col "$T/a/metrics.csv" lag_max | grep -vc nan)
check "[ $lagn -ge 3 ] && awk 'BEGIN{exit !($lagmax >= 0 && $lagmax <= 200)}'" \
  "policy lag measured and bounded (max $lagmax updates over $lagn rows)"
utd=$(paste -d' ' <(col "$T/a/metrics.csv" online_updates) <(col "$T/a/metrics.csv" env_steps) \
      | awk '$2 >= 1000 {r = $1 / $2; if (r < lo || lo == "") lo = r; if (r > hi) hi = r}
             END {printf "%.3f %.3f", lo, hi}')
check "awk 'BEGIN{split(\"$utd\", u, \" \"); exit !(u[1] >= 0.9 && u[2] <= 1.1)}'" \
  "updates per env step within 1 +- 10% once 1000 transitions arrived (min, max = $utd)"
check "[ \$(col '$T/a/metrics.csv' bad_messages | tail -1) -eq 0 ]" "no bad messages in a clean run"
check "[ -f '$T/a/checkpoints/ckpt-0000003300.ckpt' ]" "final checkpoint at step 3300"

# the last evaluation row is of the final checkpoint's parameters (online, the learner may still
# owe updates when the last env step arrives): floq eval with the run's evaluation seed
# (seed 0 + step) gives the same return
timeout 180 mpirun -np 2 "$floq" train "${common[@]}" --offline_steps 100 --online_steps 1000 \
  --eval_interval 1100 --eval_episodes 5 --run_dir "$T/lastev" >"$T/lastev.log" 2>&1
check "[ $? -eq 0 ]" "mpirun -np 2 with evaluations ($(tail -n 2 "$T/lastev.log"))"
last=$(tail -n 1 "$T/lastev/eval.csv" | cut -d, -f1,3)
again=$("$floq" eval --checkpoint "$T/lastev/checkpoints/ckpt-0000001100.ckpt" --episodes 5 --seed 1100 \
        2>/dev/null | awk '$1 == "return" {print $2}')
check "[ '${last%%,*}' = 1100 ] && awk 'BEGIN{d = ${last#*,} - (${again:-nan}); exit !(d < 1e-3 && d > -1e-3)}'" \
  "final evaluation row (step,return = $last) = floq eval of the final checkpoint ($again)"

# 2. a misbehaving actor: counted, dropped, training goes on; an oversized message (4 MiB) is
#    consumed without being stored, with CMA (the default) and with single-copy off
for mech in default none; do
  if [ $mech = none ]; then export OMPI_MCA_btl_vader_single_copy_mechanism=none; fi
  timeout 180 mpirun -np 3 "$faults" train "${common[@]}" --offline_steps 100 --online_steps 1500 \
    --test_bad_actor 2 --run_dir "$T/b-$mech" >"$T/b.log" 2>&1
  rc=$?
  unset OMPI_MCA_btl_vader_single_copy_mechanism
  check "[ $rc -eq 0 ]" "bad-actor run (single-copy $mech) exit $rc ($(tail -n 3 "$T/b.log"))"
  nbad=$(sed -n 's/.*updates, \([0-9]*\) bad messages dropped.*/\1/p' "$T/b.log")
  check "[ '$nbad' = 14 ]" "all 14 malformed messages counted ($nbad, single-copy $mech)"
  for why in truncated version checksum size dims nonfinite; do
    check "grep -q 'dropped as $why' '$T/b.log'" "drop reason '$why' counted (single-copy $mech)"
  done
  upd=$(col "$T/b-$mech/metrics.csv" online_updates | tail -1)
  check "[ '$upd' = 1500 ]" "the learner kept training through the bad messages ($upd updates, single-copy $mech)"
done

# 3. lock-step: lag 0 exactly
timeout 180 mpirun -np 2 "$floq" train --env_name tiny-v0 --dataset "$T/tiny.npz" --preset tiny \
  --log_interval 100 --eval_interval 0 --actor.num_envs 1 --offline_steps 50 --online_steps 400 \
  --lockstep --run_dir "$T/c" >"$T/c.log" 2>&1
check "[ $? -eq 0 ]" "lockstep run ($(tail -n 2 "$T/c.log"))"
lm=$(col "$T/c/metrics.csv" lag_max | grep -v nan | sort -n | tail -1)
check "[ '$lm' = 0.000 ] || [ '$lm' = 0 ]" "lockstep policy lag is 0 (max $lm)"

# 4. one process (no mpirun): the inline actor, lag 0
"$floq" train "${common[@]}" --offline_steps 300 --online_steps 600 --run_dir "$T/d" >"$T/d.log" 2>&1
check "[ $? -eq 0 ] && grep -q 'inline actor' '$T/d.log'" "single process runs the actor inline"
lm=$(col "$T/d/metrics.csv" lag_max | grep -v nan | sort -n | tail -1)
check "[ '$lm' = 0.000 ] || [ '$lm' = 0 ]" "inline policy lag is 0 (max $lm)"

# 5. an offline checkpoint straight into online fine-tuning
"$floq" train "${common[@]}" --offline_steps 200 --run_dir "$T/e" >/dev/null 2>&1
timeout 180 mpirun -np 2 "$floq" train --resume "$T/e" --online_steps 500 >"$T/e.log" 2>&1
check "[ $? -eq 0 ] && [ -f '$T/e/checkpoints/ckpt-0000000700.ckpt' ]" \
  "resume offline -> online ($(tail -n 2 "$T/e.log"))"

# 6. a real batch lost on the way (dropped as corrupt): credits count env steps, the run ends
timeout 120 mpirun -np 3 "$faults" train "${common[@]}" --offline_steps 50 --online_steps 800 \
  --test_fault drop_batch --run_dir "$T/f" >"$T/f.log" 2>&1
check "[ $? -eq 0 ] && grep -q 'dropped as checksum: 1' '$T/f.log'" \
  "a lost batch neither stalls nor ends the run early ($(tail -n 2 "$T/f.log" | tr '\n' ' '))"

# 7. a refused actor (HELLO with the wrong obs size): the run completes with the other actor,
#    and the refused rank exits non-zero only after the end-of-run broadcast
timeout 120 mpirun -np 3 "$faults" train "${common[@]}" --offline_steps 50 --online_steps 600 \
  --test_fault bad_hello --run_dir "$T/g" >"$T/g.log" 2>&1
check "grep -q 'refused this actor' '$T/g.log' && grep -q 'online: 60[0-9] transitions received' '$T/g.log' && ls '$T/g/checkpoints/' | grep -q 'ckpt-00000006[5-9][0-9].ckpt'" \
  "refused actor: the learner finishes with the others ($(grep -E 'refused|received' "$T/g.log" | head -2 | tr '\n' ' '))"

# 8. a minimum fill larger than the credit windows, a budget that is not a multiple of E,
#    and utd 0.7 (700 updates for 1000 env steps)
timeout 120 mpirun -np 3 "$floq" train "${common[@]}" --offline_steps 50 --online_steps 1002 \
  --start_online_after 700 --utd 0.7 --run_dir "$T/h" >"$T/h.log" 2>&1
check "[ $? -eq 0 ]" "start_online_after 700 with 2 actors x 4 envs completes ($(tail -n 1 "$T/h.log"))"
upd=$(col "$T/h/metrics.csv" online_updates | tail -1)
env=$(col "$T/h/metrics.csv" env_steps | tail -1)
check "[ '$upd' = 701 ] && [ '$env' -ge 1002 ] && [ '$env' -le 1008 ]" \
  "utd 0.7 and a budget of 1002 with E=4: floor(0.7 x 1002) = 701 updates ($upd), 1002..1008 env steps ($env)"
# 10. an idle actor rank costs almost no CPU while the learner runs the offline phase (it burnt
#     ~20% of a core polling every 50-100 us); with no online phase it gets END and exits 0
timeout 180 mpirun -np 2 "$floq" train "${common[@]}" --offline_steps 4000 --run_dir "$T/idle" \
  >"$T/idle.log" 2>&1
rc=$?
read -r waited cpu <<<"$(sed -n 's/.*actor 1: waited \([0-9.]*\) s for the learner.s setup (cpu \([0-9.]*\) s).*/\1 \2/p' "$T/idle.log")"
check "[ $rc -eq 0 ] && [ -n '$waited' ] && awk 'BEGIN{exit !($waited >= 1 && $cpu < 0.02 * $waited)}'" \
  "idle actor during the offline phase: ${cpu:-?} s of CPU in ${waited:-?} s (exit $rc)"

# 11. a diverging online phase with an actor rank (lr 10): the refused update stops the run
#     before any checkpoint or weights leave; exit 1, every checkpoint finite
timeout 120 mpirun -np 2 "$floq" train "${common[@]}" --offline_steps 0 --online_steps 500 \
  --agent.lr 10 --save_interval 1 --run_dir "$T/nan" >"$T/nan.log" 2>&1
rc=$?
bad=$(sed -n 's/.*step \([0-9]*\): .* the update was not applied.*/\1/p' "$T/nan.log")
allok=1
printf '0.1 0.2 0.3\n' >"$T/q3.txt"
for c in "$T"/nan/checkpoints/*.ckpt; do
  [ -f "$c" ] || continue
  "$floq" q --checkpoint "$c" --input "$T/q3.txt" >/dev/null 2>&1 || allok=0
  s=$(basename "$c" .ckpt); s=$((10#${s#ckpt-}))
  [ -n "$bad" ] && [ "$s" -le "$bad" ] || allok=0
done
check "[ $rc -eq 1 ] && [ -n '$bad' ] && [ $allok = 1 ] && ! grep -q 'weights dropped' '$T/nan.log'" \
  "online divergence with an actor rank: exit $rc at step ${bad:-?}, no checkpoint after it, all finite, no bad weights sent"

# 12. SIGUSR1 to mpirun (which forwards it to every rank) during the online phase: the learner
#     finishes the update, stops the actors, writes a checkpoint and exits 3; --resume goes on
timeout 180 mpirun -np 3 "$floq" train "${common[@]}" --offline_steps 300 --online_steps 200000 \
  --run_dir "$T/u" >"$T/u.log" 2>&1 &
pid=$!
for _ in $(seq 600); do grep -q ',online,' "$T/u/metrics.csv" 2>/dev/null && break; sleep 0.1; done
kill -USR1 "$(pgrep -P $pid -x mpirun)" # mpirun itself, not the timeout wrapping it
wait $pid
rc=$?
last=$(ls "$T/u/checkpoints" | tail -n 1); s=${last#ckpt-}; s=$((10#${s%.ckpt}))
check "[ $rc -eq 3 ] && grep -q 'stopped by SIGUSR1 at step $s' '$T/u.log' && [ \$(grep -c 'actor [12]: .* env steps in' '$T/u.log') -eq 2 ] && [ $s -gt 300 ]" \
  "SIGUSR1 during the online phase: exit $rc, both actors stopped, checkpoint at step $s"
timeout 180 mpirun -np 3 "$floq" train --resume "$T/u" --online_steps $((s - 300 + 500)) >"$T/u2.log" 2>&1
check "[ $? -eq 0 ] && [ -f '$T/u/checkpoints/ckpt-$(printf %010d $((s + 500))).ckpt' ]" \
  "the interrupted run resumes and ends at step $((s + 500)) ($(tail -n 1 "$T/u2.log"))"

# 9. resuming a run whose online phase is complete ends at once on every rank
timeout 60 mpirun -np 2 "$floq" train --resume "$T/e" --online_steps 500 >"$T/i.log" 2>&1
check "[ $? -eq 0 ]" "resume of a finished online run exits ($(tail -n 1 "$T/i.log"))"

report mpi_test
