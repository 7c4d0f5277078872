#include "common/adam.h"

#include "common/kern.h"

struct adam adam_default(void) {
    struct adam o = {3e-4f, 0.9, 0.999, 1e-8f, 0};
    return o;
}

void adam_step(struct adam *o, float *w, const float *g, float *m, float *v, size_t n) {
    adam_next(o);
    adam_apply(o, w, g, m, v, n);
}

void adam_next(struct adam *o) {
    o->count++;
}

void adam_apply(const struct adam *o, float *w, const float *g, float *m, float *v, size_t n) {
    kern_adam(w, g, m, v, n, o->lr, o->b1, o->b2, o->eps, o->count);
}

void polyak_update(float *target, const float *online, size_t n, float tau) {
    kern_polyak(target, online, n, tau);
}
