/* tiny.c — "tiny-v0": a 1-D point for fast, MuJoCo-free tests of the learner and actors.
 *
 * state (x, v); obs = (x, v) (O = 2); action a ∈ [-1,1] (A = 1).
 * reset: x = -0.5 + U(-0.1, 0.1), v = 0.
 * step:  v' = 0.5 v + 0.1 a;  x' = x + v'.
 * success = |x' - 0.5| <= 0.1 (on the new state); reward = success - 1 ∈ {-1, 0};
 * terminated = success; episode limit 50 steps. a = +1 always reaches the goal in 5 or 6 steps.
 */
#include "envs/env_impl.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define TINY_GOAL 0.5
#define TINY_TOL  0.1

static const char *const tiny_names[] = {"tiny-v0", NULL};

static int tiny_lookup(const char *name, struct env_info *info, int *variant) {
    if (strcmp(name, "tiny-v0") != 0) {
        return 0;
    }
    memset(info, 0, sizeof *info);
    snprintf(info->name, sizeof info->name, "%s", name);
    info->obs_dim = 2;
    info->act_dim = 1;
    info->max_steps = 50;
    info->has_success = 1;
    info->dt = 0.1;
    info->frame_skip = 0;
    *variant = 0;
    return 1;
}

/* the observation is the state (x, v) */
static void tiny_obs(const struct env_shared *s, const struct env *e, float *obs) {
    env_copy_obs(obs, e->fs, s->info.obs_dim);
}

static void tiny_reset(const struct env_shared *s, struct env *e, float *obs) {
    e->fs[0] = -0.5 + 0.2 * (rng_uniform_d(&e->rng) - 0.5);
    e->fs[1] = 0.0;
    tiny_obs(s, e, obs);
}

static void tiny_step(const struct env_shared *s, struct env *e, const float *action, float *obs,
                      struct env_step *out) {
    double v = 0.5 * e->fs[1] + 0.1 * (double)action[0];
    double x = e->fs[0] + v;
    e->fs[0] = x;
    e->fs[1] = v;
    tiny_obs(s, e, obs);
    int success = fabs(x - TINY_GOAL) <= TINY_TOL;
    out->success = (float)success;
    out->reward = (float)success - 1.0f;
    out->term = (uint8_t)success;
}

const struct env_family env_family_tiny = {
    .name = "tiny",
    .names = tiny_names,
    .lookup = tiny_lookup,
    .init = NULL,
    .free = NULL,
    .reset = tiny_reset,
    .step = tiny_step,
};
