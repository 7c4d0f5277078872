/* sched_getaffinity, CPU_COUNT and syscall are GNU extensions */
#define _GNU_SOURCE
#include "common/pool.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/mem.h"
#include "common/util.h"

/* spins (each a pause, ~20-60 ns) before a waiter sleeps on the futex: long enough to catch
 * the next job of a running update without a syscall, short enough not to burn a core that
 * another process wants between updates. A pool with more threads than cores does not spin: a
 * spinning thread would hold the core the thread it waits for needs. */
#define POOL_SPIN 4096

/* every word another thread writes gets its own cache line */
struct pool_shared {
    _Alignas(64) _Atomic uint32_t gen; /* job generation: bumped to start a job (futex word) */
    pool_fn fn;
    void *ctx;
    int stop;
    int spin;                           /* POOL_SPIN, or 0 when oversubscribed */
    _Alignas(64) _Atomic uint32_t done; /* workers finished with the current job (futex word) */
    _Alignas(64) _Atomic uint32_t bar_arrived;
    _Alignas(64) _Atomic uint32_t bar_gen; /* barrier generation (futex word) */
    _Alignas(64) char end;
};

/* a worker knows only the shared block (the caller's struct pool may move) */
struct worker_arg {
    struct pool_shared *s;
    int tid, n;
};

static void futex_wait(_Atomic uint32_t *w, uint32_t val) {
    /* returns on a wake, a signal, or at once when *w != val (EAGAIN): callers re-check */
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake_all(_Atomic uint32_t *w) {
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* waits until *w != val: spin, then sleep */
static void wait_change(_Atomic uint32_t *w, uint32_t val, int spin) {
    for (int i = 0; i < spin; i++) {
        if (atomic_load_explicit(w, memory_order_acquire) != val) {
            return;
        }
        cpu_relax();
    }
    while (atomic_load_explicit(w, memory_order_acquire) == val) {
        futex_wait(w, val);
    }
}

static void *worker_main(void *arg) {
    struct worker_arg *wa = arg;
    struct pool_shared *s = wa->s;
    int tid = wa->tid, n = wa->n;
    uint32_t seen = 0; /* pool_init starts every worker before the first bump of gen */
    for (;;) {
        wait_change(&s->gen, seen, s->spin);
        seen = atomic_load_explicit(&s->gen, memory_order_acquire);
        if (s->stop) {
            return NULL;
        }
        s->fn(s->ctx, tid, n);
        if (atomic_fetch_add_explicit(&s->done, 1, memory_order_acq_rel) + 1 == (uint32_t)(n - 1)) {
            futex_wake_all(&s->done);
        }
    }
}

/* bumps the generation: the workers run s->fn, or stop */
static void publish(struct pool_shared *s) {
    atomic_store_explicit(&s->done, 0, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->gen, 1, memory_order_acq_rel);
    futex_wake_all(&s->gen);
}

int pool_init(struct pool *p, int n, char *err, size_t errsz) {
    memset(p, 0, sizeof *p);
    if (n < 1 || n > POOL_MAX_THREADS) {
        seterr(err, errsz, "pool: %d threads; expected 1 to %d", n, POOL_MAX_THREADS);
        return -1;
    }
    p->n = 1;
    if (n == 1) {
        return 0;
    }
    p->s = mem_alloc(sizeof *p->s);
    p->s->spin = n <= pool_cores() ? POOL_SPIN : 0;
    p->threads = mem_alloc(sizeof(pthread_t) * (size_t)(n - 1));
    struct worker_arg *args = mem_alloc(sizeof *args * (size_t)(n - 1));
    p->args = args;
    pthread_t *th = p->threads;
    p->n = n;
    for (int i = 1; i < n; i++) {
        args[i - 1] = (struct worker_arg){p->s, i, n};
        int rc = pthread_create(&th[i - 1], NULL, worker_main, &args[i - 1]);
        if (rc != 0) {
            seterr(err, errsz, "pool: cannot start thread %d of %d: %s; use fewer threads", i, n,
                   strerror(rc));
            /* stop the ones that did start */
            p->n = i;
            p->s->stop = 1;
            publish(p->s);
            for (int j = 1; j < i; j++) {
                pthread_join(th[j - 1], NULL);
            }
            MEM_FREE_ALL(p->args, p->threads, p->s);
            memset(p, 0, sizeof *p);
            return -1;
        }
    }
    return 0;
}

void pool_run(struct pool *p, pool_fn fn, void *ctx) {
    if (!p->s) {
        fn(ctx, 0, 1);
        return;
    }
    struct pool_shared *s = p->s;
    s->fn = fn;
    s->ctx = ctx;
    publish(s);
    fn(ctx, 0, p->n);
    uint32_t want = (uint32_t)(p->n - 1);
    for (;;) {
        uint32_t d = atomic_load_explicit(&s->done, memory_order_acquire);
        if (d == want) {
            break;
        }
        wait_change(&s->done, d, s->spin);
    }
}

void pool_barrier(struct pool *p) {
    if (!p->s) {
        return;
    }
    struct pool_shared *s = p->s;
    uint32_t g = atomic_load_explicit(&s->bar_gen, memory_order_acquire);
    if (atomic_fetch_add_explicit(&s->bar_arrived, 1, memory_order_acq_rel) + 1 == (uint32_t)p->n) {
        atomic_store_explicit(&s->bar_arrived, 0, memory_order_relaxed);
        atomic_fetch_add_explicit(&s->bar_gen, 1, memory_order_acq_rel);
        futex_wake_all(&s->bar_gen);
        return;
    }
    wait_change(&s->bar_gen, g, s->spin);
}

void pool_free(struct pool *p) {
    if (!p || !p->s) {
        if (p) {
            memset(p, 0, sizeof *p);
        }
        return;
    }
    struct pool_shared *s = p->s;
    s->stop = 1;
    publish(s);
    pthread_t *th = p->threads;
    for (int i = 1; i < p->n; i++) {
        pthread_join(th[i - 1], NULL);
    }
    MEM_FREE_ALL(p->args, p->threads, p->s);
    memset(p, 0, sizeof *p);
}

int pool_cores(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        return n > 0 ? (int)n : 1;
    }
    int n = CPU_COUNT(&set);
    return n > 0 ? n : 1;
}

void pool_split(size_t total, int k, int n, size_t align, size_t *lo, size_t *hi) {
    FLOQ_ASSERT(n >= 1 && k >= 0 && k < n && align >= 1);
    size_t units = (total + align - 1) / align;
    size_t a = units * (size_t)k / (size_t)n, b = units * (size_t)(k + 1) / (size_t)n;
    *lo = FLOQ_MIN(total, a * align);
    *hi = FLOQ_MIN(total, b * align);
}
