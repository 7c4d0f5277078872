/* test_pool — the learner's thread pool: every thread runs each job once, barriers order the
 * phases of a job, jobs follow each other without loss, splits cover a range exactly, and the
 * steady state allocates nothing. */
#include <stdint.h>
#include <string.h>

#include "common/mem.h"
#include "common/pool.h"
#include "tests/check.h"

#define MAXT 8

struct job {
    struct pool *p;
    int runs[MAXT];       /* jobs each thread ran */
    int seen_n[MAXT];     /* n as each thread saw it */
    long phase1[MAXT];    /* written before the barrier */
    long sum_after[MAXT]; /* each thread's sum of every phase1 after the barrier */
    int round;
};

static void count_job(void *ctx, int tid, int n) {
    struct job *j = ctx;
    j->runs[tid]++;
    j->seen_n[tid] = n;
}

static void barrier_job(void *ctx, int tid, int n) {
    struct job *j = ctx;
    for (int rep = 0; rep < 3; rep++) {
        j->phase1[tid] = (long)(tid + 1) * 1000 + j->round * 10 + rep;
        pool_barrier(j->p);
        long s = 0;
        for (int t = 0; t < n; t++) {
            s += j->phase1[t];
        }
        j->sum_after[tid] = s;
        pool_barrier(j->p); /* nobody overwrites phase1 before everyone has read it */
    }
}

static void test_pool_n(int n) {
    struct pool p;
    char err[128];
    CHECK(pool_init(&p, n, err, sizeof err) == 0 && p.n == n, "pool_init(%d): %s", n, err);
    struct job j;
    memset(&j, 0, sizeof j);
    j.p = &p;
    int jobs = 500;
    for (int k = 0; k < jobs; k++) {
        pool_run(&p, count_job, &j);
    }
    int ok = 1;
    for (int t = 0; t < n; t++) {
        ok &= j.runs[t] == jobs && j.seen_n[t] == n;
    }
    CHECK(ok, "n=%d: each of %d jobs ran exactly once on every thread", n, jobs);
    ok = 1;
    for (j.round = 0; j.round < 200; j.round++) {
        pool_run(&p, barrier_job, &j);
        long want = 0;
        for (int t = 0; t < n; t++) {
            want += (long)(t + 1) * 1000 + j.round * 10 + 2;
        }
        for (int t = 0; t < n; t++) {
            ok &= j.sum_after[t] == want;
        }
    }
    CHECK(ok, "n=%d: after a barrier every thread sees every other's write", n);
    /* steady state: nothing allocates */
    uint64_t before = mem_alloc_count();
    for (int k = 0; k < 100; k++) {
        pool_run(&p, barrier_job, &j);
    }
    CHECK(mem_alloc_count() == before, "n=%d: pool_run allocates nothing", n);
    /* a moved pool (struct copy) still runs: workers hold only the shared block */
    struct pool moved = p;
    memset(&j.runs, 0, sizeof j.runs);
    pool_run(&moved, count_job, &j);
    CHECK(j.runs[0] == 1 && j.runs[n - 1] == 1, "n=%d: a copied struct pool runs the job", n);
    pool_free(&moved);
    CHECK(moved.n == 0 && moved.s == NULL, "pool_free zeroes the pool");
    pool_free(&moved); /* twice is fine */
}

static void test_split(void) {
    int ok = 1;
    size_t totals[] = {0, 1, 7, 16, 17, 256, 1000003};
    size_t aligns[] = {1, 16};
    for (size_t a = 0; a < 2; a++) {
        for (size_t i = 0; i < sizeof totals / sizeof totals[0]; i++) {
            for (int n = 1; n <= 9; n++) {
                size_t prev = 0;
                for (int k = 0; k < n; k++) {
                    size_t lo, hi;
                    pool_split(totals[i], k, n, aligns[a], &lo, &hi);
                    ok &= lo == prev && hi >= lo && hi <= totals[i];
                    ok &= k == n - 1 || lo % aligns[a] == 0;
                    prev = hi;
                }
                ok &= prev == totals[i];
            }
        }
    }
    CHECK(ok, "pool_split: contiguous parts in order that cover the range, aligned starts");
    size_t lo, hi;
    pool_split(256, 1, 2, 1, &lo, &hi);
    CHECK(lo == 128 && hi == 256, "256 in two: [128, 256)");
    pool_split(100, 0, 3, 16, &lo, &hi);
    CHECK(lo == 0 && hi == 32, "100 floats in three, 16-aligned: [0, 32) (%zu, %zu)", lo, hi);
}

int main(void) {
    struct pool p;
    char err[128];
    CHECK(pool_init(&p, 0, err, sizeof err) == -1 && strstr(err, "threads"),
          "0 threads refused: %s", err);
    CHECK(pool_cores() >= 1, "pool_cores >= 1 (%d)", pool_cores());
    struct pool zero;
    memset(&zero, 0, sizeof zero);
    pool_free(&zero);
    pool_free(NULL);
    for (int n = 1; n <= MAXT; n++) {
        test_pool_n(n);
    }
    test_split();
    return check_report("test_pool");
}
