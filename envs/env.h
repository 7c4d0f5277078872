/* env.h — environments (MuJoCo and a tiny test env) and the vectorised form the actors use.
 *
 *   struct vecenv v;
 *   if (vecenv_init(&v, "pointmaze-medium-navigate-singletask-task1-v0", E, seed, err, sizeof err))
 *       ...;                                      // unknown name: err lists the valid names
 *   vecenv_reset(&v);                              // v.obs (E,O) holds first observations
 *   for (;;) {
 *       policy(v.obs, actions);                    // (E,A), one batch for all envs
 *       vecenv_step(&v, actions);                  // fills v.next_obs, v.rew, v.term, v.trunc,
 *                                                  // v.success; finished envs auto-reset, so
 *                                                  // v.obs is the obs to act on next
 *       for (int i = 0; i < v.n_done; i++) use(v.done[i]);   // finished-episode stats
 *   }
 *   vecenv_free(&v);
 *
 * One mjModel per vecenv shared read-only, one mjData per env, nothing allocated in step.
 * A simulation that goes unstable (MuJoCo's warning counters move, or a non-finite state) ends
 * that episode: the transition is flagged in v.unstable[i] (not a true termination), counted in
 * v.n_unstable, and the env resets. Actions are clipped to [-1,1] before use.
 */
#ifndef FLOQ_ENV_H
#define FLOQ_ENV_H

#include <stddef.h>
#include <stdint.h>

#include "common/rng.h"

struct env;
struct mjModel_;

/* static description of an environment family member, resolved from its name */
struct env_info {
    char name[96];       /* canonical name, e.g. "Hopper-v4" */
    int obs_dim, act_dim;
    int max_steps;       /* episode limit (truncation, not terminal) */
    int has_success;     /* 1 if the task has a success flag */
    double ref_min, ref_max; /* D4RL normalised-score references; 0/0 when none */
    double dt;           /* seconds per env step */
    int frame_skip;      /* mj_step calls per env step (0 for non-MuJoCo envs) */
};

struct env_episode {
    double ret;     /* undiscounted return */
    int len;        /* steps */
    int success;    /* final-step success flag (0 when the task has none) */
    int unstable;   /* ended by a simulation instability */
};

struct vecenv {
    int E, O, A;
    struct env_info info;
    void *impl;            /* family-specific shared state (model, ...) */
    struct env *envs;      /* E envs */
    float *obs;            /* (E,O) observation to act on */
    float *next_obs;       /* (E,O) observation reached by the last step (before any reset) */
    float *rew;            /* (E) */
    uint8_t *term;         /* (E) true termination (mask = 1 - term) */
    uint8_t *trunc;        /* (E) time limit reached */
    uint8_t *unstable;     /* (E) episode ended by instability */
    float *success;        /* (E) success flag as the task reports it (OGBench singletask: of s) */
    int n_done;            /* episodes finished by the last step */
    struct env_episode *done; /* (E) their stats */
    uint64_t n_unstable;   /* total instabilities so far */
    uint64_t steps;        /* total env steps so far (sum over envs) */
};

/* resolves a name; -1 with "unknown env NAME; valid: ..." in err */
int env_lookup(const char *name, struct env_info *info, char *err, size_t errsz);
/* the canonical env names (NULL-terminated list, static) */
const char *const *env_names(void);
/* D4RL normalised score (x100) of an episode return; NAN when the env has no references */
double env_normalized_score(const struct env_info *info, double ret);

int vecenv_init(struct vecenv *v, const char *name, int E, uint64_t seed, char *err, size_t errsz);
void vecenv_reset(struct vecenv *v);
void vecenv_step(struct vecenv *v, const float *actions /* (E,A) */);
void vecenv_free(struct vecenv *v);

/* the MuJoCo model behind a vecenv (shared by its envs, read-only), or NULL for a non-MuJoCo
 * env: for same-run references such as floq bench's raw mj_step rate */
const struct mjModel_ *vecenv_model(const struct vecenv *v);

#endif
