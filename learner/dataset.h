/* dataset.h — an offline RL dataset as flat float arrays of transitions (s, a, r, mask, s').
 *
 *   struct dataset_opts o;
 *   dataset_opts_default(&o);                 // clip_actions on, no relabelling
 *   o.relabel = 1;                            // e.g. antmaze-large-navigate-singletask-task1-v0
 *   o.goal_xy[0] = 36.0f, o.goal_xy[1] = 24.0f, o.goal_tol = 0.5f;
 *   struct dataset d;
 *   if (dataset_load(&d, "antmaze-large-navigate-v0.npz", &o, err, sizeof err)) { ... }
 *   const float *s = d.obs + i * d.obs_dim;   // row i of (n, O)
 *   dataset_free(&d);
 *
 * Formats (chosen by magic bytes, then by extension; docs/datasets.md has every rule):
 *   OGBench .npz  observations, actions, terminals (+ qpos): rows with terminal 0 become
 *                 transitions to the following row; rewards/masks only via relabel.
 *   own .npz      as above plus rewards (+ masks, + next_observations: then rows are used as is).
 *   D4RL .hdf5    d4rl.qlearning_dataset: s' = row i+1, rows with timeouts dropped,
 *                 mask = 1 - terminals. libhdf5 reads it in a forked child process that
 *                 streams the columns back, so libhdf5 crashing on a damaged file is an error.
 * Errors are one line naming the file, the key and the problem.
 */
#ifndef FLOQ_DATASET_H
#define FLOQ_DATASET_H

#include <stddef.h>
#include <stdint.h>

struct dataset_opts {
    int relabel;        /* 1: OGBench singletask rewards from qpos[0:2] (used when the file has
                           no rewards): success = |xy - goal_xy| <= goal_tol,
                           reward = success - 1, mask = 1 - success */
    float goal_xy[2];   /* the task's goal cell centre (envs-facts.md B.3) */
    float goal_tol;     /* point 1.0, ant 0.5 */
    int clip_actions;   /* 1 (default): clip actions to +-(1 - 1e-5) as FQL does */
    float reward_shift; /* added to every reward the file carries (default 0; FQL: -1 for D4RL
                           antmaze); not applied to relabelled rewards */
    int keep_qpos;      /* 1 (default): keep qpos of each transition's s when the file has it */
};

struct dataset {
    size_t n; /* transitions */
    int obs_dim, act_dim;
    float *obs;         /* (n, O) */
    float *act;         /* (n, A) */
    float *rew;         /* (n) */
    float *mask;        /* (n) 0 = do not bootstrap from s' */
    float *next_obs;    /* (n, O) */
    uint8_t *term;      /* (n) 1 on the last transition of each episode (and of the dataset) */
    float r_min, r_max; /* min(min rew, 0), max(max rew, 0): spec P6 */
    int nq;
    float *qpos;        /* (n, nq) or NULL */
    const char *format; /* "ogbench-npz", "npz", "npz-transitions" or "d4rl-hdf5" (static) */
};

/* relabel 0, goal 0, goal_tol 0, clip_actions 1, reward_shift 0, keep_qpos 1 */
void dataset_opts_default(struct dataset_opts *o);

/* loads path into d (caller-owned struct); o NULL = defaults. 0, or -1 with one line in err
 * (d is then zeroed). */
int dataset_load(struct dataset *d, const char *path, const struct dataset_opts *o, char *err,
                 size_t errsz);

/* frees everything; safe on a zeroed or already-freed struct */
void dataset_free(struct dataset *d);

#endif
