#include "common/mem.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Atomic uint64_t g_count;

void *mem_try_alloc(size_t n) {
    if (n > PTRDIFF_MAX) {
        return NULL; /* no object is that large (and rounding up to 64 bytes could wrap) */
    }
    size_t sz = (n + 63) & ~(size_t)63;
    if (sz == 0) {
        sz = 64;
    }
    void *p = aligned_alloc(64, sz);
    if (!p) {
        return NULL;
    }
    memset(p, 0, sz);
    atomic_fetch_add(&g_count, 1);
    return p;
}

void *mem_alloc(size_t n) {
    void *p = mem_try_alloc(n);
    if (!p) {
        fprintf(stderr, "floq: out of memory allocating %zu bytes\n", n);
        abort();
    }
    return p;
}

void mem_free(void *p) {
    free(p);
}

void mem_free_n(void *const *blocks, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(blocks[i]);
    }
}

uint64_t mem_alloc_count(void) {
    return atomic_load(&g_count);
}

char *mem_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = mem_alloc(n);
    memcpy(p, s, n);
    return p;
}
