/* replay.h — the learner's replay: a ring buffer pre-filled with the offline dataset (spec §7),
 * uniform sampling with replacement into a contiguous batch.
 *
 *   struct replay rb;
 *   replay_init(&rb, O, A, capacity);            // capacity = max(buffer_size, N_dataset + 1)
 *   replay_add_dataset(&rb, &dataset);           // rows 0..N-1, write pointer at N
 *   replay_push(&rb, obs, act, rew, mask, term, next_obs);   // online: overwrites the oldest
 *   replay_sample(&rb, &rng, B, &batch);         // fills batch arrays (owned by rb)
 */
#ifndef FLOQ_REPLAY_H
#define FLOQ_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "common/rng.h"
#include "learner/agent.h"

struct dataset;

struct replay {
    int O, A;
    size_t cap, size, pos; /* pos: next write slot */
    uint64_t pushed;       /* online transitions pushed in total */
    float *obs, *act, *rew, *mask, *next_obs;
    float *term; /* 1.0f where an episode ended (terminated or truncated) */
    /* batch storage */
    int maxB;
    float *b_obs, *b_act, *b_rew, *b_mask, *b_next;
};

void replay_init(struct replay *r, int O, int A, size_t cap, int maxB);
void replay_free(struct replay *r);
/* copies the dataset into rows [0, n); -1 if it does not fit or dims differ */
int replay_add_dataset(struct replay *r, const struct dataset *d, char *err, size_t errsz);
void replay_push(struct replay *r, const float *obs, const float *act, float rew, float mask,
                 float term, const float *next_obs);
/* B uniform indices in [0, size) with replacement; batch points into r's batch storage */
void replay_sample(struct replay *r, struct rng *g, int B, struct agent_batch *batch);

#endif
