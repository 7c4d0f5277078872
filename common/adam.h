/* adam.h — Adam (optax.adam semantics: bias-corrected, eps outside the sqrt, no weight decay,
 * no clipping) and Polyak averaging, each one pass over a flat parameter range.
 *
 *   struct adam opt = adam_default();     // lr 3e-4, b1 0.9, b2 0.999, eps 1e-8
 *   adam_step(&opt, pb.w, pb.g, pb.m, pb.v, pb.n);   // count += 1, then the update
 *   adam_next(&opt); adam_apply(&opt, w + lo, g + lo, m + lo, v + lo, hi - lo);  // by slices
 *   polyak_update(target, online, n, 0.005f);        // target = tau*online + (1-tau)*target
 */
#ifndef FLOQ_ADAM_H
#define FLOQ_ADAM_H

#include <stddef.h>

struct adam {
    float lr;
    double b1, b2; /* kept in double: (1 - b) is formed in double as optax does */
    float eps;
    long count; /* steps taken */
};

struct adam adam_default(void);
void adam_step(struct adam *o, float *w, const float *g, float *m, float *v, size_t n);
/* adam_step in two halves, for a block updated in slices (by threads): adam_next once (count
 * += 1), then adam_apply on each slice; elementwise, so a split changes no bit */
void adam_next(struct adam *o);
void adam_apply(const struct adam *o, float *w, const float *g, float *m, float *v, size_t n);
void polyak_update(float *target, const float *online, size_t n, float tau);

#endif
