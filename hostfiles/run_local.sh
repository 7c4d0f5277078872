#!/usr/bin/env bash
# The main job on one machine (`make run`): make a pointmaze-medium dataset with the OGBench
# navigate recipe started from task3's start cell with task3's goal as each episode's first goal
# (then random goals), pre-train floq offline on it (small preset, the spec's alpha 10),
# fine-tune online with one actor rank (mpirun -np 2: rank 0 learner, rank 1 actor), evaluate
# the policy and draw the run's plots. What it shows and what it does not: docs/results.md 1.
# Overrides: BUILD, OFFLINE, ONLINE, EPISODES, ENV, PRESET, NP, OUT (run directory parent), SEED.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
OFFLINE=${OFFLINE:-3000}
ONLINE=${ONLINE:-1000}
EPISODES=${EPISODES:-200}
ENV=${ENV:-pointmaze-medium-navigate-singletask-task3-v0}
SEED=${SEED:-0}
PRESET=${PRESET:-small}
NP=${NP:-2}
OUT=${OUT:-runs}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
data=$OUT/data/${ENV%-v0}-start-${EPISODES}ep.npz
mkdir -p "$OUT/data"
if [ ! -f "$data" ]; then
  "$BUILD/floq" collect --env_name "$ENV" --policy expert --episodes "$EPISODES" --out "$data"
fi
run=$OUT/local-$(date +%Y%m%d-%H%M%S)
launch=()
if [ "$NP" -gt 1 ] && command -v mpirun >/dev/null; then
  launch=(mpirun -np "$NP")
  [ "$NP" -gt "$(nproc)" ] && launch+=(--oversubscribe)
fi
"${launch[@]}" "$BUILD/floq" train --env_name "$ENV" --dataset "$data" --preset "$PRESET" \
  --offline_steps "$OFFLINE" --online_steps "$ONLINE" --log_interval 250 --seed "$SEED" \
  --eval_interval 500 --eval_episodes 20 --save_interval 0 --run_dir "$run"
ckpt=$(ls "$run"/checkpoints/*.ckpt | tail -n 1)
"$BUILD/floq" eval --checkpoint "$ckpt" --episodes 50
"$BUILD/floq" landscape --checkpoint "$ckpt" --out "$run/landscape.csv" --res 1.0 --rollouts=false
"$BUILD/floq" plot "$run" --out "$run/plots.png"
echo "run: $run (metrics.csv, eval.csv, actors.csv, checkpoints/)"
echo "plots: $run/plots.png"

