#!/usr/bin/env bash
# The main job on one machine (`make run`): make a pointmaze dataset with the OGBench navigate
# recipe, train floq on it (small preset), evaluate the policy and read Q-values back.
# Overrides: BUILD, STEPS, EPISODES, ENV, PRESET, OUT (run directory parent).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
STEPS=${STEPS:-3000}
EPISODES=${EPISODES:-200}
ENV=${ENV:-pointmaze-medium-navigate-singletask-task1-v0}
PRESET=${PRESET:-small}
OUT=${OUT:-runs}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
data=$OUT/data/pointmaze-medium-navigate-v0-${EPISODES}ep.npz
mkdir -p "$OUT/data"
if [ ! -f "$data" ]; then
  "$BUILD/floq" collect --env_name=pointmaze-medium-navigate-v0 --policy=expert \
    --episodes="$EPISODES" --out="$data"
fi
run=$OUT/local-$(date +%Y%m%d-%H%M%S)
"$BUILD/floq" train --env_name "$ENV" --dataset "$data" --preset "$PRESET" \
  --offline_steps "$STEPS" --log_interval 250 --eval_interval "$STEPS" --eval_episodes 20 \
  --save_interval 0 --run_dir "$run"
ckpt=$(ls "$run"/checkpoints/*.ckpt | tail -n 1)
"$BUILD/floq" eval --checkpoint "$ckpt" --episodes 20
echo "metrics: $run/metrics.csv  evaluations: $run/eval.csv  checkpoint: $ckpt"
