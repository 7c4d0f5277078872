/* rng.h — seeded, splittable random numbers (xoshiro256**, seeded by splitmix64).
 *
 *   struct rng root;  rng_seed(&root, seed);
 *   struct rng actor = rng_split(&root, RNG_STREAM_ACTOR + rank);  // independent stream
 *   float u = rng_uniform(&actor);   // [0,1), 24 random bits
 *   float n = rng_normal(&actor);    // N(0,1), Box-Muller in double
 *
 * Pure integer arithmetic plus libm log/cos/sqrt in double: the same seed gives the same bits
 * on every run and every x86-64 glibc machine. The state is 4 words: checkpoint it as is.
 */
#ifndef FLOQ_RNG_H
#define FLOQ_RNG_H

#include <stddef.h>
#include <stdint.h>

struct rng {
    uint64_t s[4];
};

/* stream ids for rng_split: one per purpose, plus rank/env index where needed */
enum rng_stream {
    RNG_STREAM_INIT = 1,        /* network initialisation */
    RNG_STREAM_SAMPLER = 2,     /* batch indices */
    RNG_STREAM_DRAWS = 3,       /* the agent's per-update noise */
    RNG_STREAM_EVAL = 4,        /* evaluation episodes */
    RNG_STREAM_DATA = 5,        /* dataset generation */
    RNG_STREAM_ACTOR = 1000,    /* + actor rank */
    RNG_STREAM_ENV = 1000000,   /* + env index */
};

void rng_seed(struct rng *r, uint64_t seed);
/* a new generator whose stream depends on r's state and id; r itself is not advanced */
struct rng rng_split(const struct rng *r, uint64_t id);
uint64_t rng_u64(struct rng *r);
/* uniform float in [0,1) with 24 random bits */
float rng_uniform(struct rng *r);
/* uniform double in [0,1) with 53 random bits */
double rng_uniform_d(struct rng *r);
/* uniform integer in [0, n), n > 0 (Lemire's method, unbiased) */
uint64_t rng_below(struct rng *r, uint64_t n);
/* standard normal (float) */
float rng_normal(struct rng *r);
void rng_fill_uniform(struct rng *r, float *x, size_t n);
void rng_fill_normal(struct rng *r, float *x, size_t n);

#endif
