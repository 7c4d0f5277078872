/* env_bench.c — bench_envs(): vecenv throughput against raw mj_step on the same model. */
#include "envs/env.h"

#include <stdio.h>
#include <string.h>

#include "common/bench.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/rng.h"
#include "common/util.h"
#include "envs/env_impl.h"

#define BENCH_E      16
#define BENCH_WINDOW 0.2 /* seconds per timing window */
#define BENCH_ROUNDS 5   /* windows alternate raw / env; best of each */

/* env steps/s over one window of batched random actions */
static double env_window(struct vecenv *v, struct rng *r, float *act) {
    size_t n = (size_t)v->E * (size_t)v->A;
    uint64_t steps = 0;
    double t0 = now_sec(), t;
    do {
        for (int k = 0; k < 8; k++) {
            for (size_t j = 0; j < n; j++) {
                act[j] = 2.0f * rng_uniform(r) - 1.0f;
            }
            vecenv_step(v, act);
            steps += (uint64_t)v->E;
        }
        t = now_sec() - t0;
    } while (t < BENCH_WINDOW);
    return (double)steps / t;
}

/* raw mj_step/s on one mjData with random ctrl per frame_skip steps, reset every episode */
static double raw_window(const mjModel *m, mjData *d, int frame_skip, int max_steps,
                         struct rng *r) {
    uint64_t steps = 0;
    double t0 = now_sec(), t;
    do {
        for (int k = 0; k < 8; k++) {
            if (steps % ((uint64_t)frame_skip * (uint64_t)max_steps) == 0) {
                mj_resetData(m, d);
                mj_forward(m, d);
            }
            for (int u = 0; u < m->nu; u++) {
                d->ctrl[u] = 2.0 * rng_uniform_d(r) - 1.0;
            }
            for (int f = 0; f < frame_skip; f++) {
                mj_step(m, d);
            }
            steps += (uint64_t)frame_skip;
        }
        t = now_sec() - t0;
    } while (t < BENCH_WINDOW);
    return (double)steps / t;
}

static void bench_one(const char *name) {
    char err[1024];
    struct vecenv v;
    if (vecenv_init(&v, name, BENCH_E, 1, err, sizeof err)) {
        log_error("bench %s: %s", name, err);
        return;
    }
    const struct env_shared *s = env_shared_of(&v);
    float *act = mem_alloc((size_t)v.E * (size_t)v.A * sizeof(float));
    struct rng r;
    rng_seed(&r, 7);
    vecenv_reset(&v);
    mjData *d = s->m ? mjutil_make_data(s->m, name, err, sizeof err) : NULL;
    double best_env = 0, best_raw = 0;
    for (int round = 0; round < BENCH_ROUNDS; round++) {
        if (d) {
            double raw = raw_window(s->m, d, v.info.frame_skip, v.info.max_steps, &r);
            best_raw = FLOQ_MAX(best_raw, raw);
        }
        double e = env_window(&v, &r, act);
        best_env = FLOQ_MAX(best_env, e);
    }
    char label[128], ref[64];
    snprintf(label, sizeof label, "env %s (E=%d)", name, BENCH_E);
    if (d) {
        snprintf(ref, sizeof ref, "raw mj_step/%d", v.info.frame_skip);
        bench_record(label, best_env, "steps/s", ref, best_raw / v.info.frame_skip);
        mj_deleteData(d);
    } else {
        bench_record(label, best_env, "steps/s", NULL, 0);
    }
    if (v.n_unstable) {
        log_warn("bench %s: %llu unstable episodes", name, (unsigned long long)v.n_unstable);
    }
    mem_free(act);
    vecenv_free(&v);
}

void bench_envs(void) {
    bench_header("envs");
    for (const char *const *p = env_names(); *p; p++) {
        if (strstr(*p, "singletask")) {
            continue; /* same model and cost as the navigate name */
        }
        bench_one(*p);
    }
}
