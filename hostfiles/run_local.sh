#!/usr/bin/env bash
# The main job on one machine (`make run`): make a pointmaze dataset with the OGBench navigate
# recipe, pre-train floq offline on it (small preset), fine-tune online with one actor rank
# (mpirun -np 2: rank 0 learner, rank 1 actor), then evaluate the policy.
# Overrides: BUILD, OFFLINE, ONLINE, EPISODES, ENV, PRESET, NP, OUT (run directory parent).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
OFFLINE=${OFFLINE:-2000}
ONLINE=${ONLINE:-1000}
EPISODES=${EPISODES:-200}
ENV=${ENV:-pointmaze-medium-navigate-singletask-task1-v0}
PRESET=${PRESET:-small}
NP=${NP:-2}
OUT=${OUT:-runs}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
data=$OUT/data/pointmaze-medium-navigate-v0-${EPISODES}ep.npz
mkdir -p "$OUT/data"
if [ ! -f "$data" ]; then
  "$BUILD/floq" collect --env_name pointmaze-medium-navigate-v0 --policy expert \
    --episodes "$EPISODES" --out "$data"
fi
run=$OUT/local-$(date +%Y%m%d-%H%M%S)
launch=()
if [ "$NP" -gt 1 ] && command -v mpirun >/dev/null; then
  launch=(mpirun -np "$NP")
  [ "$NP" -gt "$(nproc)" ] && launch+=(--oversubscribe)
fi
"${launch[@]}" "$BUILD/floq" train --env_name "$ENV" --dataset "$data" --preset "$PRESET" \
  --offline_steps "$OFFLINE" --online_steps "$ONLINE" --log_interval 250 \
  --eval_interval "$OFFLINE" --eval_episodes 20 --save_interval 0 --run_dir "$run"
ckpt=$(ls "$run"/checkpoints/*.ckpt | tail -n 1)
"$BUILD/floq" eval --checkpoint "$ckpt" --episodes 20
echo "run: $run (metrics.csv, eval.csv, actors.csv, checkpoints/)"
