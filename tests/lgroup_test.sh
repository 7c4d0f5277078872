#!/usr/bin/env bash
# lgroup_test — data-parallel learner ranks (floq train --learner_ranks L) under mpirun, with
# Open MPI's defaults (as root: allow-run-as-root, oversubscribe):
#  * offline, floq and fql: L=2 matches L=1 of the same seed to float tolerance after 100
#    updates (every array of the checkpoint: weights, Adam moments, target), an L=2 run
#    repeats bit for bit, and L=2 x 1 thread is L=1 x 2 threads bit for bit (the same shares,
#    added in the same order);
#  * -np 4 = 2 learner ranks + 2 actor ranks, offline then online: both actors deliver, the
#    follower did every update, exit 0; and L = N (no actor rank) runs online with the inline
#    actor;
#  * a learner rank whose parameters drift (build/floq-faults --test_fault flip_learner flips
#    one bit on learner rank 1 after update 50) is caught by the checksum at update 100: exit 1,
#    one line naming the rank, nothing saved after it;
#  * --learner_ranks larger than the job, 0 or not a number: one line naming the flag, exit 2;
#  * --resume of an L=2 run with L=1 continues (L is the launch's, not the run's).
set -u
build=${1:-build}
floq=$(cd "$(dirname "$build/floq")" && pwd)/floq
faults=$(cd "$(dirname "$build/floq")" && pwd)/floq-faults
tool=$(cd "$(dirname "$build/floq")" && pwd)/tests/tool_ckpt
export OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
. "$(dirname "$0")/lib.sh"

"$floq" collect --env_name tiny-v0 --policy random --episodes 100 --out "$T/tiny.npz" 2>/dev/null \
  || bad "collect tiny"
common=(--env_name tiny-v0 --dataset "$T/tiny.npz" --preset tiny --log_interval 50
        --eval_interval 0 --learner_threads 1)
ck() { echo "$T/$1/checkpoints/ckpt-$(printf %010d "$2").ckpt"; }
# largest relative difference over every array of two checkpoints
maxrel() { "$tool" diff "$1" "$2" | awk '{if ($4 > m) m = $4} END {print m + 0}'; }

# 1. L=2 against L=1, and L=2 twice, for both agents
for agent in floq fql; do
  timeout 120 "$floq" train "${common[@]}" --agent "$agent" --offline_steps 100 \
    --run_dir "$T/$agent-1" >"$T/$agent-1.log" 2>&1
  check "[ $? -eq 0 ]" "$agent L=1 offline ($(tail -n 2 "$T/$agent-1.log"))"
  for run in a b; do
    timeout 120 mpirun -np 2 "$floq" train "${common[@]}" --agent "$agent" --offline_steps 100 \
      --learner_ranks 2 --run_dir "$T/$agent-2$run" >"$T/$agent-2$run.log" 2>&1
    check "[ $? -eq 0 ]" "$agent L=2 offline, run $run ($(tail -n 2 "$T/$agent-2$run.log"))"
  done
  check "grep -q 'learner ranks: 2, each on 16 of the batch' '$T/$agent-2a.log'" \
    "$agent: the leader announces 2 learner ranks on 16 transitions each"
  check "grep -q 'learner rank 1: 100 updates on its share' '$T/$agent-2a.log'" \
    "$agent: learner rank 1 did all 100 updates"
  rel=$(maxrel "$(ck $agent-1 100)" "$(ck $agent-2a 100)")
  check "[ -n '$rel' ] && awk 'BEGIN{exit !($rel > 0 && $rel < 1e-3)}'" \
    "$agent: L=2 matches L=1 after 100 updates to float tolerance (max relative difference $rel)"
  check "diff <('$tool' hash '$(ck $agent-2a 100)') <('$tool' hash '$(ck $agent-2b 100)') >/dev/null" \
    "$agent: an L=2 run repeats bit for bit"
  # two ranks of one thread split and add exactly as one rank of two threads: the same bits
  timeout 120 "$floq" train "${common[@]}" --agent "$agent" --offline_steps 100 \
    --learner_threads 2 --run_dir "$T/$agent-1t2" >"$T/$agent-1t2.log" 2>&1
  check "diff <('$tool' hash '$(ck $agent-1t2 100)') <('$tool' hash '$(ck $agent-2a 100)') >/dev/null" \
    "$agent: L=2 x 1 thread equals L=1 x 2 threads bit for bit"
  # the logged losses of the whole batch are the same figures either way
  check "[ \"\$(cut -d, -f5-8 '$T/$agent-1/metrics.csv')\" = \"\$(cut -d, -f5-8 '$T/$agent-2a/metrics.csv')\" ]" \
    "$agent: metrics.csv losses of L=2 equal L=1's to the printed digits"
done

# 2. -np 4: two learner ranks, two actor ranks, offline then online
timeout 180 mpirun -np 4 "$floq" train "${common[@]}" --offline_steps 200 --online_steps 2000 \
  --actor.num_envs 4 --learner_ranks 2 --run_dir "$T/o" >"$T/o.log" 2>&1
rc=$?
check "[ $rc -eq 0 ]" "-np 4 --learner_ranks 2 online exit $rc ($(tail -n 3 "$T/o.log"))"
check "grep -q 'online: 2 actor rank(s)' '$T/o.log'" "the leader sees ranks 2 and 3 as its 2 actors"
for r in 2 3; do
  sent=$(sed -n "s/.*actor $r: .* env steps in .*, \([0-9]*\) sent.*/\1/p" "$T/o.log")
  check "[ -n '$sent' ] && [ '$sent' -gt 0 ]" "actor rank $r delivered transitions (sent=$sent)"
done
nup=$(sed -n 's/.*learner rank 1: \([0-9]*\) updates on its share.*/\1/p' "$T/o.log")
last=$(awk -F, 'NR > 1 {s = $1} END {print s}' "$T/o/metrics.csv")
check "[ -n '$nup' ] && [ '$nup' -ge 2100 ] && [ -f '$(ck o 2200)' ]" \
  "learner rank 1 shared the offline and online updates ($nup; last metrics row $last)"

# L = N: no actor rank, so the online phase runs its inline actor on the leader
timeout 120 mpirun -np 2 "$floq" train "${common[@]}" --offline_steps 50 --online_steps 300 \
  --learner_ranks 2 --run_dir "$T/n" >"$T/n.log" 2>&1
check "[ $? -eq 0 ] && [ -f '$(ck n 350)' ]" "--learner_ranks 2 of -np 2 runs online inline ($(tail -n 2 "$T/n.log"))"

# 3. a learner rank's parameters drift: the checksum stops the run
timeout 120 mpirun -np 2 "$faults" train "${common[@]}" --offline_steps 300 --save_interval 50 \
  --learner_ranks 2 --test_fault flip_learner --run_dir "$T/f" >"$T/f.log" 2>&1
rc=$?
check "[ $rc -eq 1 ]" "a drifted learner rank ends the run with exit 1 (got $rc)"
check "grep -q \"step 100: learner rank 1's parameters differ from rank 0's after update 100\" '$T/f.log'" \
  "one line names the rank and the update ($(grep -m1 'differ' "$T/f.log"))"
check "[ -f '$(ck f 50)' ] && [ ! -f '$(ck f 100)' ]" "nothing saved at or after the mismatch"

# 4. a bad value
mpirun -np 2 "$floq" train "${common[@]}" --offline_steps 10 --learner_ranks 3 \
  --run_dir "$T/x" >"$T/x.log" 2>&1
rc=$?
check "[ $rc -eq 2 ] && grep -q -- '--learner_ranks=3 but the job has 2 ranks; start it with mpirun -np N' '$T/x.log'" \
  "--learner_ranks over the job: exit 2 with the fix (got $rc: $(grep -m1 learner_ranks "$T/x.log"))"

for v in 0 two; do
  "$floq" train "${common[@]}" --offline_steps 10 --learner_ranks "$v" --run_dir "$T/x$v" \
    >"$T/x$v.log" 2>&1
  rc=$?
  check "[ $rc -eq 2 ] && [ \$(grep -c learner_ranks '$T/x$v.log') -eq 1 ]" \
    "--learner_ranks $v: exit 2 with one line naming the flag (got $rc: $(head -n 1 "$T/x$v.log"))"
done

# 5. resume an L=2 run with one rank
timeout 120 "$floq" train "${common[@]}" --resume "$T/floq-2a" --offline_steps 150 \
  >"$T/r.log" 2>&1
check "[ $? -eq 0 ] && [ -f '$(ck floq-2a 150)' ]" "an L=2 run resumes with L=1 ($(tail -n 1 "$T/r.log"))"

report lgroup_test
