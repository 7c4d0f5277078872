/* collect.h — `floq collect`: datasets from an env and a policy, written as .npz.
 *
 *   floq collect --env_name pointmaze-medium-navigate-v0 --policy expert --out data/pm.npz
 *   floq collect --env_name Hopper-v4 --policy random --episodes 1000 --out data/hop.npz
 *
 * Maze names (pointmaze-*, any task form) follow OGBench's navigate recipe
 * (data_gen_scripts/generate_locomaze.py): per episode a start cell uniform over free cells and
 * a goal uniform over vertex cells (both + U(-1,1) noise), `rows` steps (1001, giant 2001), a new
 * goal whenever the point reaches the current one (success on s'), action = policy + N(0,
 * noise^2) clipped to [-1,1] (noise default 0.5). Policies: expert = BFS oracle direction,
 * random = U(-1,1). Output: OUT with `episodes` episodes (default 1000, giant 500) and
 * OUT-val.npz with episodes/10, members (OGBench order) observations f4 (N,2), actions f4 (N,2),
 * terminals b1 (N) (1 only on each episode's last row), qpos f4 (N,2), qvel f4 (N,2) of s_t.
 *
 * Other envs (tiny-v0, locomotion): D4RL-style transitions from episodes run to termination,
 * truncation or instability: observations, actions, rewards f4, terminals b1 (true
 * termination), timeouts b1 (limit reached or unstable), next_observations, and for MuJoCo envs
 * qpos/qvel of s. Policies: random, or an external callback (checkpoint:FILE, see below); noise
 * default 0. No val file unless --val_episodes is given.
 */
#ifndef FLOQ_COLLECT_H
#define FLOQ_COLLECT_H

#include <stddef.h>
#include <stdint.h>

#include "envs/env.h"

/* a batched policy: actions (E,A) for observations (E,O); the caller adds noise and clips */
struct collect_policy {
    void (*act)(void *ctx, const float *obs, int E, float *actions);
    void *ctx;
};

struct collect_cfg {
    const char *env_name;
    const char *policy; /* "random", "expert" or "checkpoint:FILE" (informational with pol) */
    double noise;       /* Gaussian action noise sigma; < 0: default (maze 0.5, else 0) */
    int episodes;       /* training episodes; 0: default (maze 1000 / giant 500, else 1000) */
    int val_episodes;   /* < 0: default (maze episodes/10, else 0) */
    int rows;           /* maze rows per episode / max steps per episode; 0: default */
    const char *out;    /* must end in .npz; the val split goes to OUT-val.npz */
    uint64_t seed;
};

/* runs the collection; pol overrides cfg->policy when non-NULL (external policies).
 * 0, or -1 with one line in err */
int collect_run(const struct collect_cfg *cfg, const struct collect_policy *pol, char *err,
                size_t errsz);

/* `floq collect ...`: argv[0] is the subcommand name; returns the process exit code */
int collect_main(int argc, char **argv);

/* lets main plug in "--policy checkpoint:FILE": load fills pol for the env (must check the
 * checkpoint's obs/act sizes against info and say both sizes on mismatch); release frees it */
void collect_set_checkpoint_loader(int (*load)(const char *file, const struct env_info *info,
                                               struct collect_policy *pol, char *err, size_t errsz),
                                   void (*release)(struct collect_policy *pol));

#endif
