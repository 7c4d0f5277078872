#include "common/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

void rng_seed(struct rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) {
        r->s[i] = splitmix64(&x);
    }
}

struct rng rng_split(const struct rng *r, uint64_t id) {
    /* hash the parent state and the id into a fresh splitmix64 seed */
    uint64_t x = id * 0xd1342543de82ef95ULL + 0x2545f4914f6cdd1dULL;
    for (int i = 0; i < 4; i++) {
        x ^= r->s[i];
        splitmix64(&x); /* advances x */
    }
    struct rng c;
    rng_seed(&c, splitmix64(&x));
    return c;
}

uint64_t rng_u64(struct rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float rng_uniform(struct rng *r) {
    return (float)(rng_u64(r) >> 40) * 0x1.0p-24f;
}

double rng_uniform_d(struct rng *r) {
    return (double)(rng_u64(r) >> 11) * 0x1.0p-53;
}

uint64_t rng_below(struct rng *r, uint64_t n) {
    unsigned __int128 m = (unsigned __int128)rng_u64(r) * n;
    uint64_t l = (uint64_t)m;
    if (l < n) {
        uint64_t t = (0 - n) % n;
        while (l < t) {
            m = (unsigned __int128)rng_u64(r) * n;
            l = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

float rng_normal(struct rng *r) {
    /* Box-Muller; u1 in (0,1] so log never sees 0 */
    double u1 = 1.0 - rng_uniform_d(r);
    double u2 = rng_uniform_d(r);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

void rng_fill_uniform(struct rng *r, float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        x[i] = rng_uniform(r);
    }
}

void rng_fill_normal(struct rng *r, float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        x[i] = rng_normal(r);
    }
}
