/* train.h — the subcommands that drive the agent: `floq train` (offline pre-training, then
 * online fine-tuning), `floq q` (Q read-out from a checkpoint) and `floq eval`.
 *
 * A run is one directory: config.json (resolved), metrics.csv, eval.csv, checkpoints/.
 */
#ifndef FLOQ_TRAIN_H
#define FLOQ_TRAIN_H

#include <stdint.h>

#include "learner/agent.h"

#define TRAIN_PATH_MAX 1024

struct train_cfg {
    char agent[16];          /* floq | fql */
    char env_name[128];
    char dataset[TRAIN_PATH_MAX];
    char save_dir[TRAIN_PATH_MAX];
    char run_dir[TRAIN_PATH_MAX]; /* resolved; --run_dir overrides the generated name */
    char resume[TRAIN_PATH_MAX];
    char restore_path[TRAIN_PATH_MAX];
    char project_name[64], run_group[64];
    char preset[16];          /* paper | small | tiny */
    uint64_t seed;
    long offline_steps, online_steps, buffer_size;
    long log_interval, eval_interval, save_interval, plot_interval;
    int eval_episodes, video_episodes, video_frame_skip, balanced_sampling;
    int restore_epoch;
    char p_aug[16], frame_stack[16];
    /* online (actor-learner) */
    float utd;
    long sync_interval;
    int num_envs;
    long start_online_after; /* minimum fill of online transitions before updates */
    int lockstep;            /* policy lag 0: one update per transition, weights every update */
    struct agent_cfg ac;
};

int train_main(int argc, char **argv);
int q_main(int argc, char **argv);
int eval_main(int argc, char **argv);

/* loads an agent from a checkpoint file (config, params, target, Adam state); the agent's
 * batch capacity is max_rows/R or the checkpoint's batch size, whichever is larger */
int train_load_agent(struct agent *a, struct train_cfg *tc, const char *path, int max_rows,
                     uint64_t *step, char *err, size_t errsz);

#endif
