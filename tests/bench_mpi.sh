#!/usr/bin/env bash
# bench_mpi — the multi-rank figures of `make bench`:
#  * weight broadcast of a paper-size policy (4x512, obs 29, action 8) to 1 and 3 actor ranks,
#    against a raw broadcast of the same bytes in the same run;
#  * the gradient allreduce of the paper preset (every trainable parameter, floq and fql) over 2
#    ranks, against the 1-thread update time of the same agent measured in the same run;
#  * online env steps/s on Hopper-v4 (8 envs per actor) with 1, 2 and 4 actor ranks, against the
#    1-actor figure of the same run, and the learner's updates/s while ingesting. This machine has
#    2 cores: 2 and 4 actors plus the learner are oversubscribed (ranks time-share the cores).
# Figures go to stdout and, as JSON lines, to $FLOQ_BENCH_JSONL (default build/bench.jsonl).
set -u
build=${1:-build}
floq=$(cd "$build" && pwd)/floq
out=${FLOQ_BENCH_JSONL:-build/bench.jsonl}
export FLOQ_BENCH_JSONL=$out
export OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
# vader's single-copy mechanism (CMA, the default) against copy-in/copy-out ("none")
for mech in cma none; do
  for np in 2 4; do
    echo "  [btl_vader_single_copy_mechanism=$mech]"
    OMPI_MCA_btl_vader_single_copy_mechanism=$mech timeout 300 mpirun -np $np "$floq" bench \
      --only bcast --seconds 2 2>&1 | grep -v '^$'
  done
done
for mech in cma none; do
  echo "  [btl_vader_single_copy_mechanism=$mech]"
  OMPI_MCA_btl_vader_single_copy_mechanism=$mech timeout 600 mpirun -np 2 "$floq" bench \
    --only allreduce --seconds 2 2>&1 | grep -v '^$'
done
"$floq" collect --env_name Hopper-v4 --policy random --episodes 20 --out "$T/hopper.npz" 2>/dev/null
echo
echo "== online scaling: Hopper-v4, 8 envs per actor, tiny learner, utd 0.05 ($(nproc) cores; loadavg $(cut -d' ' -f1 /proc/loadavg)) =="
base=0
for na in 1 2 4; do
  np=$((na + 1))
  over=""; [ $np -gt "$(nproc)" ] && over=" (oversubscribed)"
  timeout 600 mpirun -np $np "$floq" train --env_name Hopper-v4 --dataset "$T/hopper.npz" \
    --preset tiny --offline_steps 0 --online_steps 40000 --utd 0.05 --actor.num_envs 8 \
    --log_interval 100 --eval_interval 0 --run_dir "$T/r$na" >"$T/r$na.log" 2>&1 || {
    echo "  $na actor(s): run failed"; tail -n 3 "$T/r$na.log"; continue; }
  read -r env upd <<<"$(awk -F, 'NR == 1 {for (i = 1; i <= NF; i++) c[$i] = i; next}
      $2 == "online" && $c["env_steps"] > 4000 {e += $c["env_steps_per_s"]; u += $c["updates_per_s"]; n++}
      END {if (n) printf "%.0f %.1f", e / n, u / n; else print "0 0"}' "$T/r$na/metrics.csv")"
  [ $na -eq 1 ] && base=$env
  ratio=$(awk -v a="$env" -v b="$base" 'BEGIN {printf "%.3f", (b > 0 ? a / b : 0)}')
  printf "  %-40s %10s steps/s | %-26s %10s  ratio %s%s\n" "online_env_steps_${na}_actors" "$env" \
    "1_actor_same_run" "$base" "$ratio" "$over"
  printf "  %-40s %10s upd/s\n" "learner_updates_while_ingesting_${na}_actors" "$upd"
  printf '{"name":"online_env_steps_%d_actors","value":%s,"unit":"steps/s","ref_name":"1_actor_same_run","ref_value":%s,"ratio":%s,"oversubscribed":%s}\n' \
    "$na" "$env" "$base" "$ratio" "$([ -n "$over" ] && echo true || echo false)" >>"$out"
  printf '{"name":"learner_updates_while_ingesting_%d_actors","value":%s,"unit":"updates/s","ref_name":null,"ref_value":null,"ratio":null}\n' \
    "$na" "$upd" >>"$out"
done
