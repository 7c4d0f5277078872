#include "common/param.h"

#include <stdio.h>
#include <string.h>

#include "common/mem.h"
#include "common/util.h"

void param_init(struct param_block *p) {
    memset(p, 0, sizeof *p);
}

size_t param_mark(struct param_block *p) {
    p->n = (p->n + 15) & ~(size_t)15;
    return p->n;
}

size_t param_add(struct param_block *p, const char *name, int ndim, const int *shape) {
    FLOQ_ASSERT(p->w == NULL);
    FLOQ_ASSERT(ndim >= 1 && ndim <= PARAM_MAX_DIMS);
    FLOQ_ASSERT(strlen(name) < PARAM_NAME_MAX);
    if (p->nviews == p->capviews) {
        int cap = p->capviews ? 2 * p->capviews : 32;
        struct param_view *nv = mem_alloc(sizeof *nv * (size_t)cap);
        if (p->views) {
            memcpy(nv, p->views, sizeof *nv * (size_t)p->nviews);
        }
        mem_free(p->views);
        p->views = nv;
        p->capviews = cap;
    }
    struct param_view *v = &p->views[p->nviews++];
    memset(v, 0, sizeof *v);
    snprintf(v->name, sizeof v->name, "%s", name);
    v->ndim = ndim;
    v->count = 1;
    for (int i = 0; i < ndim; i++) {
        FLOQ_ASSERT(shape[i] > 0);
        v->shape[i] = shape[i];
        v->count *= (size_t)shape[i];
    }
    v->off = param_mark(p);
    p->n = v->off + v->count;
    return v->off;
}

void param_alloc(struct param_block *p, int with_opt) {
    FLOQ_ASSERT(p->w == NULL);
    param_mark(p);
    p->w = mem_alloc(sizeof(float) * p->n);
    if (with_opt) {
        p->g = mem_alloc(sizeof(float) * p->n);
        p->m = mem_alloc(sizeof(float) * p->n);
        p->v = mem_alloc(sizeof(float) * p->n);
    }
}

const struct param_view *param_find(const struct param_block *p, const char *name) {
    for (int i = 0; i < p->nviews; i++) {
        if (strcmp(p->views[i].name, name) == 0) {
            return &p->views[i];
        }
    }
    return NULL;
}

const struct param_view *param_view_at(const struct param_block *p, size_t i) {
    for (int k = 0; k < p->nviews; k++) {
        const struct param_view *v = &p->views[k];
        if (i >= v->off && i < v->off + v->count) {
            return v;
        }
    }
    return NULL;
}

void param_zero_grad(struct param_block *p) {
    if (p->g) {
        memset(p->g, 0, sizeof(float) * p->n);
    }
}

void param_free(struct param_block *p) {
    MEM_FREE_ALL(p->views, p->w, p->g, p->m, p->v);
    memset(p, 0, sizeof *p);
}
