/* pool.h — a persistent thread pool for the learner's update: n threads (the caller is thread
 * 0), created once, that run one function together and meet at barriers. Handing over a job,
 * waiting for it and a barrier spin briefly, then sleep on a futex: nothing allocates and nothing
 * locks after pool_init.
 *
 *   struct pool p;
 *   if (pool_init(&p, pool_cores(), err, sizeof err)) ...;
 *   pool_run(&p, work, ctx);     // work(ctx, tid, n) on every thread, tid 0 on the caller;
 *                                // returns when all n have returned
 *   // inside work: pool_barrier(&p) waits until all n threads reach it
 *   pool_free(&p);
 *
 * Work is split by the caller's own fixed rule (pool_split), so results do not depend on timing.
 * One job at a time: pool_run is not reentrant and is called from one thread only.
 */
#ifndef FLOQ_POOL_H
#define FLOQ_POOL_H

#include <stddef.h>

#define POOL_MAX_THREADS 1024

typedef void (*pool_fn)(void *ctx, int tid, int n);

struct pool_shared; /* the handover words, one cache line each (pool.c) */

struct pool {
    int n;                 /* threads, the caller included */
    void *threads;         /* (n - 1) pthread_t of the workers */
    void *args;            /* (n - 1) their start arguments */
    struct pool_shared *s; /* NULL when n == 1 (pool_run then calls fn directly) */
};

/* starts n - 1 worker threads (n in [1, POOL_MAX_THREADS]); 0, or -1 with a message (the pool
 * is then freed) */
int pool_init(struct pool *p, int n, char *err, size_t errsz);
/* runs fn(ctx, tid, n) on every thread, tid 0 on the caller, and returns when all are done;
 * everything written before the call is visible to fn, everything fn wrote is visible after */
void pool_run(struct pool *p, pool_fn fn, void *ctx);
/* inside fn: returns when all n threads have called it (writes before it are visible after it) */
void pool_barrier(struct pool *p);
/* stops and joins the workers; NULL-safe, safe twice, fine on a zeroed or half-built pool */
void pool_free(struct pool *p);

/* the cores this process may run on (sched_getaffinity), at least 1 */
int pool_cores(void);
/* part k of n of [0, total): [*lo, *hi), contiguous, in order, sizes differing by at most one
 * unit of `align` (the last part takes the remainder) */
void pool_split(size_t total, int k, int n, size_t align, size_t *lo, size_t *hi);

#endif
