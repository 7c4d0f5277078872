/* actor.h — the environment side of online fine-tuning: E environments stepped with the
 * one-step policy evaluated for the whole batch at once. Runs on an actor rank (actor_rank.h,
 * streaming TRANSITIONS to rank 0) or inline in the learner's process (-np 1: actor_step with a
 * sink that writes straight into the replay; same code path, no messages). No MPI here.
 *
 *   struct actor a;
 *   actor_init(&a, &cfg, err, sizeof err);
 *   actor_set_weights(&a, policy_params, version);  // the learner's one-step actor range
 *   actor_step(&a, sink, ctx);                      // E transitions, episode stats via the sink
 */
#ifndef FLOQ_ACTOR_H
#define FLOQ_ACTOR_H

#include <stddef.h>
#include <stdint.h>

#include "common/nn.h"
#include "common/param.h"
#include "common/rng.h"
#include "common/policy.h"
#include "envs/env.h"

struct actor_cfg {
    char env_name[128];
    int num_envs;
    uint64_t seed;            /* this actor's own seed: actor_seed(run seed, rank) */
    int rank;                 /* 0 for the learner's inline actor */
    struct policy_cfg policy; /* the network the learner's weights belong to */
};

struct actor {
    struct actor_cfg c;
    struct vecenv v;
    struct mlp policy;
    struct param_block pb; /* the one-step actor's parameters only */
    struct mlp_tape t;
    float *x;              /* (E, O+A) policy input */
    float *act, *obs0;     /* (E,A), (E,O) */
    struct rng rng;
    uint32_t wver;
    int have_weights;
    uint64_t steps, episodes, unstable;
};

/* what an actor produces: called once per transition and once per finished episode (either
 * may be NULL) */
struct actor_sink {
    void (*transition)(void *ctx, const float *obs, const float *act, float rew, int terminal,
                       int mask, const float *next_obs, uint32_t wver);
    void (*episode)(void *ctx, const struct env_episode *ep);
    void *ctx;
};

/* the seed of the actor on rank (0: inline) of a run seeded with run_seed */
uint64_t actor_seed(uint64_t run_seed, int rank);
/* builds the envs and the policy network (weights zero until actor_set_weights); 0 or -1 with a
 * message when the env is unknown or its sizes differ from the policy's */
int actor_init(struct actor *a, const struct actor_cfg *c, char *err, size_t errsz);
void actor_free(struct actor *a);
/* floats of the policy block (must equal the learner's policy range) */
size_t actor_policy_size(const struct actor *a);
void actor_set_weights(struct actor *a, const float *w, uint32_t wver);
/* one batched step of all E envs; returns transitions emitted (E minus unstable ones) */
int actor_step(struct actor *a, const struct actor_sink *sink);

#endif
