#include "actor/actor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "common/util.h"

uint64_t actor_seed(uint64_t run_seed, int rank) {
    return run_seed * 1000003ULL + (uint64_t)rank;
}

int actor_init(struct actor *a, const struct actor_cfg *c, char *err, size_t errsz) {
    memset(a, 0, sizeof *a);
    a->c = *c;
    if (vecenv_init(&a->v, c->env_name, c->num_envs, c->seed, err, errsz)) {
        return -1;
    }
    int O = a->v.O, A = a->v.A, E = c->num_envs;
    if (O != c->policy.obs_dim || A != c->policy.act_dim) {
        snprintf(err, errsz,
                 "actor: env %s has obs %d / action %d but the policy expects %d / %d; the dataset "
                 "and --env_name must describe the same environment",
                 c->env_name, O, A, c->policy.obs_dim, c->policy.act_dim);
        vecenv_free(&a->v);
        return -1;
    }
    param_init(&a->pb);
    policy_register(&a->policy, &c->policy, &a->pb);
    param_alloc(&a->pb, 0);
    mlp_tape_init(&a->t, &a->policy, E);
    a->x = mem_alloc(sizeof(float) * (size_t)E * (O + A));
    a->act = mem_alloc(sizeof(float) * (size_t)E * A);
    a->obs0 = mem_alloc(sizeof(float) * (size_t)E * O);
    struct rng root;
    rng_seed(&root, c->seed);
    a->rng = rng_split(&root, RNG_STREAM_ACTOR + (uint64_t)c->rank);
    vecenv_reset(&a->v);
    return 0;
}

void actor_free(struct actor *a) {
    vecenv_free(&a->v);
    param_free(&a->pb);
    mlp_tape_free(&a->t);
    MEM_FREE_ALL(a->x, a->act, a->obs0);
    memset(a, 0, sizeof *a);
}

size_t actor_policy_size(const struct actor *a) {
    return a->pb.n;
}

void actor_set_weights(struct actor *a, const float *w, uint32_t wver) {
    memcpy(a->pb.w, w, sizeof(float) * a->pb.n);
    a->wver = wver;
    a->have_weights = 1;
}

int actor_step(struct actor *a, const struct actor_sink *sink) {
    struct vecenv *v = &a->v;
    int E = v->E, O = v->O, A = v->A;
    /* policy for the whole batch: a = clip(mu(s, eps), -1, 1), fresh eps each step */
    for (int i = 0; i < E; i++) {
        memcpy(a->x + (size_t)i * (O + A), v->obs + (size_t)i * O, sizeof(float) * O);
        for (int j = 0; j < A; j++) {
            a->x[(size_t)i * (O + A) + O + j] = rng_normal(&a->rng);
        }
    }
    mlp_infer(&a->policy, a->pb.w, 0, &a->t, a->x, E);
    for (int i = 0; i < E * A; i++) {
        a->act[i] = clampf(a->t.out[i], -1.0f, 1.0f);
    }
    memcpy(a->obs0, v->obs, sizeof(float) * (size_t)E * O);
    vecenv_step(v, a->act);
    int n = 0;
    for (int i = 0; i < E; i++) {
        if (v->unstable[i]) {
            a->unstable++;
            continue;
        }
        int terminal = v->term[i] || v->trunc[i];
        if (sink->transition) {
            sink->transition(sink->ctx, a->obs0 + (size_t)i * O, a->act + (size_t)i * A, v->rew[i],
                             terminal, !v->term[i], v->next_obs + (size_t)i * O, a->wver);
        }
        n++;
    }
    for (int k = 0; k < v->n_done; k++) {
        a->episodes++;
        if (sink->episode) {
            sink->episode(sink->ctx, &v->done[k]);
        }
    }
    a->steps += (uint64_t)E;
    return n;
}
