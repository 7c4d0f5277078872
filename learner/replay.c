#include "learner/replay.h"

#include <stdio.h>
#include <string.h>

#include "common/mem.h"
#include "common/util.h"
#include "learner/dataset.h"

void replay_init(struct replay *r, int O, int A, size_t cap, int maxB) {
    memset(r, 0, sizeof *r);
    r->O = O, r->A = A, r->cap = cap, r->maxB = maxB;
    r->obs = mem_alloc(sizeof(float) * cap * O);
    r->next_obs = mem_alloc(sizeof(float) * cap * O);
    r->act = mem_alloc(sizeof(float) * cap * A);
    r->rew = mem_alloc(sizeof(float) * cap);
    r->mask = mem_alloc(sizeof(float) * cap);
    r->term = mem_alloc(sizeof(float) * cap);
    r->b_obs = mem_alloc(sizeof(float) * (size_t)maxB * O);
    r->b_next = mem_alloc(sizeof(float) * (size_t)maxB * O);
    r->b_act = mem_alloc(sizeof(float) * (size_t)maxB * A);
    r->b_rew = mem_alloc(sizeof(float) * (size_t)maxB);
    r->b_mask = mem_alloc(sizeof(float) * (size_t)maxB);
}

void replay_free(struct replay *r) {
    MEM_FREE_ALL(r->obs, r->next_obs, r->act, r->rew, r->mask, r->term, r->b_obs, r->b_next,
                 r->b_act, r->b_rew, r->b_mask);
    memset(r, 0, sizeof *r);
}

int replay_add_dataset(struct replay *r, const struct dataset *d, char *err, size_t errsz) {
    if (d->obs_dim != r->O || d->act_dim != r->A) {
        snprintf(err, errsz, "replay: dataset has obs %d / action %d, the agent expects %d / %d",
                 d->obs_dim, d->act_dim, r->O, r->A);
        return -1;
    }
    if (d->n > r->cap) {
        snprintf(err, errsz, "replay: dataset of %zu rows does not fit capacity %zu", d->n, r->cap);
        return -1;
    }
    size_t n = d->n;
    memcpy(r->obs, d->obs, sizeof(float) * n * r->O);
    memcpy(r->next_obs, d->next_obs, sizeof(float) * n * r->O);
    memcpy(r->act, d->act, sizeof(float) * n * r->A);
    memcpy(r->rew, d->rew, sizeof(float) * n);
    memcpy(r->mask, d->mask, sizeof(float) * n);
    for (size_t i = 0; i < n; i++) {
        r->term[i] = d->term[i] ? 1.0f : 0.0f;
    }
    r->size = n;
    r->pos = n % r->cap;
    return 0;
}

void replay_push(struct replay *r, const float *obs, const float *act, float rew, float mask,
                 float term, const float *next_obs) {
    size_t i = r->pos;
    memcpy(r->obs + i * r->O, obs, sizeof(float) * r->O);
    memcpy(r->next_obs + i * r->O, next_obs, sizeof(float) * r->O);
    memcpy(r->act + i * r->A, act, sizeof(float) * r->A);
    r->rew[i] = rew;
    r->mask[i] = mask;
    r->term[i] = term;
    r->pos = (i + 1) % r->cap;
    if (r->size < r->cap) {
        r->size++;
    }
    r->pushed++;
}

void replay_sample(struct replay *r, struct rng *g, int B, struct agent_batch *batch) {
    FLOQ_ASSERT(B <= r->maxB && r->size > 0);
    int O = r->O, A = r->A;
    for (int b = 0; b < B; b++) {
        size_t i = (size_t)rng_below(g, r->size);
        memcpy(r->b_obs + (size_t)b * O, r->obs + i * O, sizeof(float) * O);
        memcpy(r->b_next + (size_t)b * O, r->next_obs + i * O, sizeof(float) * O);
        memcpy(r->b_act + (size_t)b * A, r->act + i * A, sizeof(float) * A);
        r->b_rew[b] = r->rew[i];
        r->b_mask[b] = r->mask[i];
    }
    batch->B = B;
    batch->obs = r->b_obs;
    batch->act = r->b_act;
    batch->rew = r->b_rew;
    batch->next_obs = r->b_next;
    batch->mask = r->b_mask;
}
