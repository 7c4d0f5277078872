/* param.h — all weights of a set of networks in one contiguous float block (llm.c style).
 *
 *   struct param_block pb;  param_init(&pb);
 *   size_t w0 = param_add(&pb, "floq/dense0/kernel", 3, (int[]){E, in, out});  // offsets first
 *   ...
 *   param_alloc(&pb, 1);         // w, and (with_opt) g, m, v with the same layout, zeroed
 *   float *W = pb.w + w0;        // a named view is (offset, shape) into w/g/m/v
 *   param_free(&pb);
 *
 * Because grads and Adam moments share the layout, zeroing grads, Adam, Polyak averaging,
 * checkpointing and broadcasting are each one pass / one call over one buffer. Offsets are
 * rounded up to 16 floats (64 bytes); the padding stays zero.
 */
#ifndef FLOQ_PARAM_H
#define FLOQ_PARAM_H

#include <stddef.h>

#define PARAM_NAME_MAX 64
#define PARAM_MAX_DIMS 4

struct param_view {
    char name[PARAM_NAME_MAX];
    size_t off;   /* in floats */
    size_t count; /* product of shape */
    int ndim;
    int shape[PARAM_MAX_DIMS];
};

struct param_block {
    size_t n; /* floats, including alignment padding */
    int nviews, capviews;
    struct param_view *views;
    float *w; /* (n) weights */
    float *g; /* (n) gradients, or NULL */
    float *m; /* (n) Adam first moment, or NULL */
    float *v; /* (n) Adam second moment, or NULL */
};

void param_init(struct param_block *p);
/* registers a view; returns its offset in floats. Only before param_alloc. */
size_t param_add(struct param_block *p, const char *name, int ndim, const int *shape);
/* marks the current end as a segment boundary and returns it (offset where the next view goes) */
size_t param_mark(struct param_block *p);
/* allocates w (and g, m, v when with_opt), zeroed */
void param_alloc(struct param_block *p, int with_opt);
const struct param_view *param_find(const struct param_block *p, const char *name);
/* the view holding float i of the block, or NULL (alignment padding) */
const struct param_view *param_view_at(const struct param_block *p, size_t i);
/* zeroes g */
void param_zero_grad(struct param_block *p);
void param_free(struct param_block *p);

#endif
