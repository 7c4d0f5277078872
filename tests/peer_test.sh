#!/usr/bin/env bash
# peer_test — the learner against actor ranks that break the protocol on purpose:
# build/tests/tool_evil_actor, written from docs/protocol.md alone, runs MPMD beside floq train
# (learner + one honest floq actor + the evil one; Open MPI's defaults). For each broken rule
# the learner drops and counts what it must, keeps training with the honest actor, cuts off a
# rank that keeps breaking rules or stops taking its messages, and never ends silently short
# of --online_steps (docs/online.md "Rules").
set -u
build=${1:-build}
floq=$(cd "$(dirname "$build/floq")" && pwd)/floq
evil=$(cd "$(dirname "$build/floq")" && pwd)/tests/tool_evil_actor
export OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
unset OMPI_MCA_btl_vader_single_copy_mechanism
. "$(dirname "$0")/lib.sh"

"$floq" collect --env_name tiny-v0 --policy random --episodes 100 --out "$T/tiny.npz" 2>/dev/null \
  || bad "collect tiny"
common=(train --env_name tiny-v0 --dataset "$T/tiny.npz" --preset tiny --log_interval 250
        --eval_interval 0 --actor.num_envs 4 --offline_steps 50 --peer_timeout 3)
received() { sed -n 's/.*online: \([0-9]*\) transitions received.*/\1/p' "$1"; }
dropped() { sed -n "s/.*dropped as $2: \\([0-9]*\\).*/\\1/p" "$1"; }
# run NAME MODE [floq flags...]: learner + honest actor + evil actor; sets rc, log=$T/NAME.log
run() {
  local name=$1 mode=$2; shift 2
  timeout -k 10 ${FLOQ_PEER_TEST_TIMEOUT:-180} mpirun -np 2 "$floq" "${common[@]}" \
    --run_dir "$T/$name" "$@" : -np 1 "$evil" --mode "$mode" --seconds "${secs:-600}" \
    >"$T/$name.log" 2>&1
  rc=$?
  log=$T/$name.log
}

# an actor written from docs/protocol.md alone runs a whole online phase
timeout -k 10 120 mpirun -np 1 "$floq" "${common[@]}" --online_steps 1000 --run_dir "$T/h" : \
  -np 1 "$evil" --mode honest >"$T/h.log" 2>&1
check "[ $? -eq 0 ] && [ '$(received "$T/h.log")' = 1000 ] && grep -q 'evil actor 1 (honest): END after 1000 env steps' '$T/h.log' && grep -q ' 0 bad messages' '$T/h.log'" \
  "an actor from docs/protocol.md alone: 1000 transitions, END, no bad message ($(tail -n 2 "$T/h.log" | tr '\n' ' '))"

# one rule broken, dropped and counted by reason; the run completes with both actors
for c in oversize:size:2 over_credit:credit:5 replay:sequence:5 claims:credit:1 extreme:magnitude:1; do
  IFS=: read -r mode why n <<<"$c"
  run "$mode" "$mode" --online_steps 1500
  got=$(dropped "$log" "$why")
  check "[ $rc -eq 0 ] && [ '$(received "$log")' -ge 1500 ] && [ '$got' = $n ]" \
    "$mode: $n dropped as $why ($got), 1500 transitions, exit $rc ($(grep -E 'dropped as|error' "$log" | head -n 3 | tr '\n' ' '))"
done
col=$(head -n 1 "$T/extreme/metrics.csv" | tr ',' '\n' | grep -n '^bad_magnitude$' | cut -d: -f1)
check "[ -n '$col' ] && [ \"\$(tail -n 1 '$T/extreme/metrics.csv' | cut -d, -f$col)\" = 1 ]" \
  "metrics.csv counts bad messages by reason (bad_magnitude column $col)"
envs=$(sed -n 's/.*online: [0-9]* transitions received (\([0-9]*\) env steps).*/\1/p' "$T/claims.log")
check "[ -n '$envs' ] && [ '$envs' -lt 2000 ]" "a claim of 2^64-1 env steps is not counted ($envs env steps)"

# values at the bound are accepted and trained on: 5 batches whose every obs, next_obs and
# reward is +-1e6 (PROTO_MAX_ABS) make the loss spike, never non-finite; the run completes
run bound at_bound --online_steps 1500
check "[ $rc -eq 0 ] && [ '$(received "$log")' -ge 1500 ] && grep -q ' 0 bad messages' '$log' && [ -f '$T/bound/checkpoints/ckpt-0000001550.ckpt' ]" \
  "values at the magnitude bound: trained on, the run completes with finite losses (exit $rc; $(grep -E 'bad messages|error' "$log" | head -n 2 | tr '\n' ' '))"

# a HELLO saying 65536 envs: credits are counted for the 4 the setup asked for
run big big_envs --online_steps 1500
check "[ $rc -eq 0 ] && grep -q 'actor 2 accepted: 4 env(s)' '$log' && [ '$(received "$log")' -ge 1500 ]" \
  "num_envs 65536 capped at 4 ($(grep 'actor 2' "$log" | head -n 2 | tr '\n' ' '))"

# 400 HELLOs, then silence: HELLO is answered once, the rank is cut off, logs stay throttled,
# and the run still gets its 1500 transitions (it used to end at exit 0 after a few)
run flood_hello hello_flood --online_steps 1500
lines=$(grep -c 'dropped a message from rank 2' "$log")
check "[ '$(received "$log")' -ge 1500 ] && grep -q 'actor 2 cut off' '$log' && [ $lines -le 5 ] && [ \$(grep -c 'actor 2 accepted' '$log') -eq 1 ]" \
  "repeated HELLO: one accept, cut off, $lines log lines, 1500 transitions (exit $rc)"

# a refused rank stays refused when it says HELLO again
run refused refused_hello --online_steps 1500
check "grep -q 'actor 2 refused' '$log' && ! grep -q 'actor 2 accepted' '$log' && [ '$(received "$log")' -ge 1500 ]" \
  "refusal is final ($(grep 'actor 2' "$log" | head -n 2 | tr '\n' ' '))"

# no actor can run (a build speaking another protocol version on every actor rank): the
# learner ends with one line naming the ranks, keeps a checkpoint and exits 1 (it used to wait
# forever)
timeout -k 10 120 mpirun -np 1 "$floq" "${common[@]}" --online_steps 1500 --run_dir "$T/stale" : \
  -np 2 "$evil" --mode stale >"$T/stale.log" 2>&1
rc=$?
check "[ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q 'no actor rank is left' '$T/stale.log' && grep -q 'rank 1 refused' '$T/stale.log' && grep -q 'rank 2 refused' '$T/stale.log' && [ -f '$T/stale/checkpoints/ckpt-0000000050.ckpt' ]" \
  "every actor refused: a clear end, exit $rc ($(grep 'no actor' "$T/stale.log" | head -c 300))"

# a rank that never takes its weights is cut off after --peer_timeout; the others go on
run noweights no_weights --online_steps 6000
check "grep -q 'actor 2 cut off.*not taken its weights' '$log' && [ '$(received "$log")' -ge 6000 ] && [ -f '$T/noweights/checkpoints/ckpt-0000006050.ckpt' ]" \
  "weights never taken: cut off, 6000 transitions ($(grep -E 'cut off|received' "$log" | head -n 2 | tr '\n' ' '))"
# ... and with --lockstep the run still ends (the learner used to wait for it forever)
run lock no_weights --online_steps 300 --lockstep --actor.num_envs 1
check "[ '$(received "$log")' -ge 300 ] && [ -f '$T/lock/checkpoints/ckpt-0000000350.ckpt' ]" \
  "lockstep with a rank that takes no weights ends (exit $rc; $(grep -E 'received|error' "$log" | head -n 2 | tr '\n' ' '))"

# a rank that stops making MPI calls: the learner never waits on it, finishes the run, and
# ends the job naming the rank (exit 4) instead of hanging in MPI_Finalize
t0=$SECONDS
secs=600 run sleeper sleep --online_steps 3000
check "[ $rc -eq 4 ] && [ '$(received "$log")' -ge 3000 ] && grep -q 'actor rank 2 (cut off' '$log' && [ -f '$T/sleeper/checkpoints/ckpt-0000003050.ckpt' ] && [ $((SECONDS - t0)) -lt 60 ]" \
  "a peer that sleeps: the run completes, the job ends with exit 4 in $((SECONDS - t0)) s (exit $rc; $(grep -E 'error' "$log" | head -n 1 | head -c 300))"

# 1-byte messages on every communicator for 10 s: taken off and dropped, memory stays flat
secs=10 run flood flood --online_steps 3000
mb=$(sed -n 's/.*learner peak memory \([0-9]*\) MB.*/\1/p' "$log")
check "[ '$(received "$log")' -ge 3000 ] && grep -q 'actor 2 cut off' '$log' && [ -n '$mb' ] && [ '$mb' -lt 300 ]" \
  "a flood on every communicator: cut off, peak memory $mb MB, 3000 transitions (exit $rc)"

report peer_test
