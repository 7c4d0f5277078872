/* collect_ckpt.h — `floq collect` with `--policy checkpoint:FILE`: envs/collect.c cannot read
 * an agent's checkpoint (envs/ knows nothing above it), so this plugs a loader in that runs the
 * checkpoint's one-step policy, then hands over to collect_main.
 *
 *   floq collect --env_name Hopper-v4 --policy checkpoint:run/checkpoints/ckpt-0001000000.ckpt \
 *       --noise 0.1 --episodes 100 --out hopper-medium.npz
 */
#ifndef FLOQ_COLLECT_CKPT_H
#define FLOQ_COLLECT_CKPT_H

/* `floq collect ...` (argv without the subcommand's name); returns the exit code */
int collect_ckpt_main(int argc, char **argv);

#endif
