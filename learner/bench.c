/* bench.c — every `floq bench` section, with its same-run reference, and the reporting. */
#include "learner/bench.h"

#include <cblas.h>
#include <math.h>
#include <mujoco/mujoco.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/actor.h"
#include "common/cfg.h"
#include "common/comm.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/nn.h"
#include "common/pool.h"
#include "common/proto.h"
#include "common/rng.h"
#include "common/util.h"
#include "envs/env.h"
#include "learner/agent.h"

/* ---- reporting and the sgemm reference -------------------------------------------------- */

static const char *blas_core(void) {
    return openblas_get_corename();
}

static int blas_threads(void) {
    return openblas_get_num_threads();
}

/* the 1-minute load average, or -1 */
static double loadavg1(void) {
    double load = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &load) != 1) {
            load = -1;
        }
        fclose(f);
    }
    return load;
}

/* prints a section header with the OpenBLAS core, thread count and the load average */
static void bench_header(const char *section) {
    double load = loadavg1();
    const char *ct = getenv("OPENBLAS_CORETYPE");
    printf("\n== %s ==  OpenBLAS core %s (OPENBLAS_CORETYPE=%s), %d thread(s), loadavg %.2f\n",
           section, blas_core(), ct ? ct : "unset", blas_threads(), load);
    fflush(stdout);
}

/* prints "name  value unit  | ref_name ref_value  ratio" and appends the JSON line; ref_name may
 * be NULL (no reference, ratio omitted) */
static void bench_record(const char *name, double value, const char *unit, const char *ref_name,
                         double ref_value) {
    if (ref_name) {
        printf("  %-40s %12.4g %-10s | %-28s %12.4g  ratio %.3f\n", name, value, unit, ref_name,
               ref_value, ref_value != 0 ? value / ref_value : 0.0);
    } else {
        printf("  %-40s %12.4g %-10s\n", name, value, unit);
    }
    fflush(stdout);
    const char *path = getenv("FLOQ_BENCH_JSONL");
    if (!path) {
        path = "build/bench.jsonl";
    }
    FILE *f = fopen(path, "a");
    if (!f) {
        fprintf(stderr, "bench: cannot append to %s; set FLOQ_BENCH_JSONL to a writable file\n",
                path);
        return;
    }
    fputs("{\"name\":", f);
    cfg_json_string(f, name);
    fprintf(f, ",\"value\":%.6g,\"unit\":", value);
    cfg_json_string(f, unit);
    if (ref_name) {
        fputs(",\"ref_name\":", f);
        cfg_json_string(f, ref_name);
        fprintf(f, ",\"ref_value\":%.6g,\"ratio\":%.6g", ref_value,
                ref_value != 0 ? value / ref_value : 0.0);
    } else {
        fputs(",\"ref_name\":null,\"ref_value\":null,\"ratio\":null", f);
    }
    fprintf(f, ",\"core\":\"%s\",\"threads\":%d}\n", blas_core(), blas_threads());
    fclose(f);
}

/* best-of-windows GFLOP/s of row-major cblas_sgemm C(MxN) = A(MxK) B(KxN), `seconds` total */
static double bench_sgemm_gflops(int M, int N, int K, double seconds) {
    float *A = mem_alloc(sizeof(float) * (size_t)M * K);
    float *B = mem_alloc(sizeof(float) * (size_t)K * N);
    float *C = mem_alloc(sizeof(float) * (size_t)M * N);
    struct rng r;
    rng_seed(&r, 1);
    rng_fill_uniform(&r, A, (size_t)M * K);
    rng_fill_uniform(&r, B, (size_t)K * N);
    double flop = 2.0 * M * N * K, best = 0;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N);
    int windows = 5;
    for (int w = 0; w < windows; w++) {
        double t0 = now_sec(), t;
        long it = 0;
        do {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, K, B, N, 0.0f,
                        C, N);
            it++;
            t = now_sec() - t0;
        } while (t < seconds / windows);
        double g = flop * (double)it / t * 1e-9;
        if (g > best) {
            best = g;
        }
    }
    MEM_FREE_ALL(A, B, C);
    return best;
}

/* ---- nn: the MLP against the same matmuls alone ------------------------------------------ */

/* the matmuls of an MLP forward+backward alone, same shapes and buffers: the reference */
static void sgemm_only(const struct mlp *net, const float *w, float *g, struct mlp_tape *t,
                       const float *x, int B) {
    const float *in = x;
    for (int l = 0; l < net->nlayers; l++) {
        int K = net->din[l], N = net->dout[l];
        float *out = l < net->c.nhidden ? t->y[l] : t->out;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, N, K, 1.0f, in, K,
                    w + net->off_w[l], N, 0.0f, out, N);
        in = out;
    }
    for (int l = net->nlayers - 1; l >= 0; l--) {
        int K = net->din[l], N = net->dout[l];
        const float *inp = l == 0 ? x : t->y[l - 1];
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, N, B, 1.0f, inp, K, t->d0, N, 1.0f,
                    g + net->off_w[l], N);
        if (l > 0) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, K, N, 1.0f, t->d0, N,
                        w + net->off_w[l], N, 0.0f, t->d1, K);
        }
    }
}

/* the critic size of the paper (obs 29 + action 8 + HL-Gauss 50 + time), B = 2048 */
static void bench_nn(double seconds) {
    bench_header("numerics core: MLP forward+backward, paper critic size");
    struct param_block pb;
    param_init(&pb);
    struct mlp net;
    struct mlp_cfg c = {.in = 29 + 8 + 50 + 1,
                        .out = 1,
                        .nhidden = 4,
                        .hidden = {512, 512, 512, 512},
                        .ln = 1,
                        .act = KERN_GELU_TANH,
                        .E = 1};
    mlp_register(&net, &c, &pb, "critic");
    param_alloc(&pb, 1);
    struct rng r;
    rng_seed(&r, 7);
    mlp_init_weights(&net, pb.w, &r);
    int B = 2048;
    struct mlp_tape t;
    mlp_tape_init(&t, &net, B);
    float *x = mem_alloc(sizeof(float) * (size_t)B * c.in);
    float *dout = mem_alloc(sizeof(float) * (size_t)B);
    rng_fill_normal(&r, x, (size_t)B * c.in);
    rng_fill_normal(&r, dout, (size_t)B);
    double flops = mlp_flops_forward(&net, B) + mlp_flops_backward(&net, B, 1, 0);
    double best_mlp = 0, best_ref = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now_sec();
        int it = 0;
        do {
            mlp_forward(&net, pb.w, 0, &t, x, B);
            mlp_backward(&net, pb.w, pb.g, 0, &t, dout, NULL, B);
            it++;
        } while (now_sec() - t0 < seconds / 6);
        double g1 = flops * it / (now_sec() - t0) * 1e-9;
        t0 = now_sec();
        it = 0;
        do {
            sgemm_only(&net, pb.w, pb.g, &t, x, B);
            it++;
        } while (now_sec() - t0 < seconds / 6);
        double g2 = flops * it / (now_sec() - t0) * 1e-9;
        best_mlp = g1 > best_mlp ? g1 : best_mlp;
        best_ref = g2 > best_ref ? g2 : best_ref;
    }
    bench_record("mlp_fwd_bwd_88-4x512-1_B2048", best_mlp, "GFLOP/s", "sgemm_same_shapes",
                 best_ref);
    double peak = bench_sgemm_gflops(512, 512, 512, seconds / 3);
    bench_record("mlp_fwd_bwd_vs_sgemm512", best_mlp, "GFLOP/s", "sgemm_512x512x512", peak);
    /* the rows one update thread gets: B R / T of the flow critic (2048 / T at B 256, R 8), B / T
     * of the other networks; forward only (the Euler read-outs) and forward + backward */
    printf("  one thread's share of the rows (1 thread; ratio to sgemm 512x512x512):\n");
    for (int rows = 2048; rows >= 4; rows /= 2) {
        double fl[2] = {mlp_flops_forward(&net, rows),
                        mlp_flops_forward(&net, rows) + mlp_flops_backward(&net, rows, 1, 0)};
        for (int bwd = 0; bwd < 2; bwd++) {
            double best = 0;
            for (int rep = 0; rep < 3; rep++) {
                double t0 = now_sec();
                int it = 0;
                do {
                    if (bwd) {
                        mlp_forward(&net, pb.w, 0, &t, x, rows);
                        mlp_backward(&net, pb.w, pb.g, 0, &t, dout, NULL, rows);
                    } else {
                        mlp_infer(&net, pb.w, 0, &t, x, rows);
                    }
                    it++;
                } while (now_sec() - t0 < seconds / 30);
                best = fmax(best, fl[bwd] * it / (now_sec() - t0) * 1e-9);
            }
            char name[96];
            snprintf(name, sizeof name, "mlp_%s_88-4x512-1_B%d", bwd ? "fwd_bwd" : "infer", rows);
            bench_record(name, best, "GFLOP/s", "sgemm_512x512x512", peak);
        }
    }
    mem_free(x);
    mem_free(dout);
    mlp_tape_free(&t);
    param_free(&pb);
}

/* ---- learner: updates/s of floq and fql, small and paper presets, 1..N threads ---------- */

/* an Ant-sized agent of the small or paper preset */
static void preset(struct agent_cfg *c, int kind, int paper) {
    agent_cfg_default(c, kind);
    agent_cfg_preset(c, paper ? "paper" : "small", NULL, 0);
    c->obs_dim = 29, c->act_dim = 8, c->batch_size = 256;
    c->r_min = -1, c->r_max = 0;
}

#define MAX_POINTS 16

/* the thread counts of the scaling curve: 1, 2, 3, 4, then doubling, and every usable core */
static int thread_counts(int *out, int cores) {
    int n = 0;
    for (int t = 1; t <= cores && n < MAX_POINTS - 1; t = t < 4 ? t + 1 : 2 * t) {
        out[n++] = t;
    }
    if (out[n - 1] != cores) {
        out[n++] = cores;
    }
    return n;
}

/* one agent of the curve with a fixed batch; its rates at every point */
struct curve_agent {
    int kind, paper;
    struct agent_cfg c;
    struct agent a;
    struct agent_draws d;
    struct agent_batch b;
    struct rng r;
    float *obs, *nobs, *act, *rew, *mask;
    double upd[MAX_POINTS], ratio[MAX_POINTS], blas_upd[MAX_POINTS], blas_ratio[MAX_POINTS];
    double phase[MAX_POINTS][4]; /* ms per update: losses, gradient sum, Polyak + Adam, draws */
    double last_phase[4];
};

static int curve_agent_init(struct curve_agent *ca, int kind, int paper) {
    memset(ca, 0, sizeof *ca);
    ca->kind = kind, ca->paper = paper;
    preset(&ca->c, kind, paper);
    char err[256];
    if (agent_init(&ca->a, &ca->c, 1, err, sizeof err)) {
        fprintf(stderr, "bench: %s\n", err);
        return -1;
    }
    int B = ca->c.batch_size, O = ca->c.obs_dim, A = ca->c.act_dim;
    ca->obs = mem_alloc(sizeof(float) * (size_t)B * O);
    ca->nobs = mem_alloc(sizeof(float) * (size_t)B * O);
    ca->act = mem_alloc(sizeof(float) * (size_t)B * A);
    ca->rew = mem_alloc(sizeof(float) * (size_t)B);
    ca->mask = mem_alloc(sizeof(float) * (size_t)B);
    rng_seed(&ca->r, 3);
    rng_fill_normal(&ca->r, ca->obs, (size_t)B * O);
    rng_fill_normal(&ca->r, ca->nobs, (size_t)B * O);
    for (int i = 0; i < B * A; i++) {
        ca->act[i] = 2 * rng_uniform(&ca->r) - 1;
    }
    for (int i = 0; i < B; i++) {
        ca->rew[i] = rng_uniform(&ca->r) < 0.9f ? -1.0f : 0.0f;
        ca->mask[i] = ca->rew[i] < 0 ? 1.0f : 0.0f;
    }
    ca->b = (struct agent_batch){B, ca->obs, ca->act, ca->rew, ca->nobs, ca->mask};
    agent_draws_alloc(&ca->d, &ca->c);
    return 0;
}

static void curve_agent_free(struct curve_agent *ca) {
    agent_draws_free(&ca->d);
    MEM_FREE_ALL(ca->obs, ca->nobs, ca->act, ca->rew, ca->mask);
    agent_free(&ca->a);
}

/* updates/s with the agent's current threads: one warm-up update, then at least 2 in budget */
static double curve_agent_rate(struct curve_agent *ca, double budget) {
    agent_draws_sample(&ca->d, &ca->c, &ca->r);
    agent_update(&ca->a, &ca->b, &ca->d);
    struct agent *a = &ca->a;
    a->t_losses = a->t_reduce = a->t_apply = 0;
    double t0 = now_sec(), t_draws = 0;
    int it = 0;
    do {
        double td = now_sec();
        agent_draws_sample(&ca->d, &ca->c, &ca->r);
        t_draws += now_sec() - td;
        agent_update(&ca->a, &ca->b, &ca->d);
        it++;
    } while (now_sec() - t0 < budget || it < 2);
    double el = now_sec() - t0;
    ca->last_phase[0] = a->t_losses / it * 1e3;
    ca->last_phase[1] = a->t_reduce / it * 1e3;
    ca->last_phase[2] = a->t_apply / it * 1e3;
    ca->last_phase[3] = t_draws / it * 1e3;
    return it / el;
}

static const char *curve_name(const struct curve_agent *ca) {
    static const char *names[2][2] = {{"floq_small", "floq_paper"}, {"fql_small", "fql_paper"}};
    return names[ca->kind][ca->paper];
}

/* name, or name_<T>thr beyond one thread (the 1-thread names are the historical ones) */
static void point_name(char *out, size_t n, const char *base, const char *what, int T) {
    if (T == 1) {
        snprintf(out, n, "%s%s", base, what);
    } else {
        snprintf(out, n, "%s%s_%dthr", base, what, T);
    }
}

/* one point of the curve: the T-thread sgemm reference, every agent on T update threads, and
 * beyond one thread the same agents on 1 update thread with T OpenBLAS threads (the old way) */
static double curve_point(struct curve_agent *ca, int na, int T, int k, double seconds) {
    char name[128], ref_name[64];
    linear_blas_threads(T);
    point_name(ref_name, sizeof ref_name, "sgemm_2048x512x512", "", T);
    double ref = bench_sgemm_gflops(2048, 512, 512, 1.0);
    bench_record(ref_name, ref, "GFLOP/s", NULL, 0);
    for (int blas = 0; blas < (T > 1 ? 2 : 1); blas++) {
        for (int i = 0; i < na; i++) {
            struct curve_agent *c = &ca[i];
            char err[256];
            if (agent_set_threads(&c->a, blas ? 1 : T, err, sizeof err)) {
                fprintf(stderr, "bench: %s\n", err);
                continue;
            }
            linear_blas_threads(blas ? T : 1);
            double rate = curve_agent_rate(c, c->paper ? seconds : seconds / 2);
            double gf = agent_update_flops(&c->a) * rate * 1e-9;
            const char *base = curve_name(c);
            char b2[64];
            snprintf(b2, sizeof b2, "%s%s", base, blas ? "_blas" : "");
            point_name(name, sizeof name, b2, "_updates_per_s", T);
            bench_record(name, rate, "updates/s", NULL, 0);
            if (T == 1) {
                point_name(name, sizeof name, base, "_gflop_per_update", T);
                bench_record(name, agent_update_flops(&c->a) * 1e-9, "GFLOP", NULL, 0);
            }
            point_name(name, sizeof name, b2, "_gflops", T);
            bench_record(name, gf, "GFLOP/s", ref_name, ref);
            if (blas) {
                c->blas_upd[k] = rate, c->blas_ratio[k] = gf / ref;
            } else {
                c->upd[k] = rate, c->ratio[k] = gf / ref;
                memcpy(c->phase[k], c->last_phase, sizeof c->last_phase);
            }
        }
    }
    linear_blas_threads(1);
    return ref;
}

/* the curve: updates/s of the four agents at 1..N update threads, each with its ratio to the
 * same-run sgemm of that thread count; below it the OpenBLAS-threaded update for comparison */
static void bench_learner(double seconds) {
    int cores = pool_cores(), blas0 = linear_blas_threads(0);
    bench_header("learner: updates/s (obs 29, action 8, batch 256) on 1..N update threads");
    printf("  %d usable cores (sched_getaffinity); update threads run OpenBLAS single-threaded\n",
           cores);
    int Ts[MAX_POINTS], np = thread_counts(Ts, cores);
    struct curve_agent ca[4];
    int na = 0;
    for (int kind = 0; kind < 2; kind++) {
        for (int paper = 0; paper < 2; paper++) {
            if (curve_agent_init(&ca[na], kind, paper) == 0) {
                na++;
            }
        }
    }
    double refs[MAX_POINTS], loads[MAX_POINTS];
    for (int k = 0; k < np; k++) {
        loads[k] = loadavg1();
        printf("  -- %d update thread%s (loadavg %.2f) --\n", Ts[k], Ts[k] > 1 ? "s" : "",
               loads[k]);
        refs[k] = curve_point(ca, na, Ts[k], k, seconds);
    }
    printf("\n  scaling curve: updates/s (ratio: update GFLOP/s / same-run sgemm 2048x512x512 "
           "GFLOP/s at the same thread count)\n  %7s %7s %10s",
           "threads", "loadavg", "sgemm");
    for (int i = 0; i < na; i++) {
        printf(" %21s", curve_name(&ca[i]));
    }
    printf("\n");
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1 && np > 1) {
            printf("  the same agents on 1 update thread with T OpenBLAS threads:\n");
        }
        for (int k = pass; k < np; k++) {
            printf("  %7d %7.2f %10.1f", Ts[k], loads[k], refs[k]);
            for (int i = 0; i < na; i++) {
                double u = pass ? ca[i].blas_upd[k] : ca[i].upd[k];
                double r = pass ? ca[i].blas_ratio[k] : ca[i].ratio[k];
                printf("  %8.3f (%.2f) %4.2fx", u, r, ca[i].upd[0] > 0 ? u / ca[i].upd[0] : 0);
            }
            printf("\n");
        }
    }
    printf("  (u (r) s: updates/s, ratio to the same-thread-count sgemm, speedup over 1 thread)\n");
    printf("\n  where an update's time goes, ms: losses and gradients (all threads) | sum of the "
           "threads' gradients | Polyak + Adam | the draws (one thread, before the update)\n"
           "  %7s",
           "threads");
    for (int i = 0; i < na; i++) {
        printf(" %33s", curve_name(&ca[i]));
    }
    printf("\n");
    for (int k = 0; k < np; k++) {
        printf("  %7d", Ts[k]);
        for (int i = 0; i < na; i++) {
            printf("  %9.2f | %5.2f | %5.2f | %5.2f", ca[i].phase[k][0], ca[i].phase[k][1],
                   ca[i].phase[k][2], ca[i].phase[k][3]);
        }
        printf("\n");
    }
    fflush(stdout);
    for (int i = 0; i < na; i++) {
        curve_agent_free(&ca[i]);
    }
    linear_blas_threads(blas0);
}

/* ---- envs: vecenv against raw mj_step on the same model -------------------------------- */

#define ENVS_E      16
#define ENVS_ROUNDS 5 /* windows alternate raw / env; best of each; --seconds / 15 each */

/* env steps/s over one window of batched random actions */
static double env_window(struct vecenv *v, struct rng *r, float *act, double window) {
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
    } while (t < window);
    return (double)steps / t;
}

/* raw mj_step/s on one mjData with random ctrl per frame_skip steps, reset every episode */
static double raw_window(const mjModel *m, mjData *d, int frame_skip, int max_steps, double window,
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
    } while (t < window);
    return (double)steps / t;
}

static void envs_one(const char *name, double window) {
    char err[1024];
    struct vecenv v;
    if (vecenv_init(&v, name, ENVS_E, 1, err, sizeof err)) {
        log_error("bench %s: %s", name, err);
        return;
    }
    const mjModel *m = vecenv_model(&v);
    float *act = mem_alloc((size_t)v.E * (size_t)v.A * sizeof(float));
    struct rng r;
    rng_seed(&r, 7);
    vecenv_reset(&v);
    mjData *d = m ? mj_makeData(m) : NULL;
    double best_env = 0, best_raw = 0;
    for (int round = 0; round < ENVS_ROUNDS; round++) {
        if (d) {
            double raw = raw_window(m, d, v.info.frame_skip, v.info.max_steps, window, &r);
            best_raw = FLOQ_MAX(best_raw, raw);
        }
        double e = env_window(&v, &r, act, window);
        best_env = FLOQ_MAX(best_env, e);
    }
    char label[128], ref[64];
    snprintf(label, sizeof label, "env %s (E=%d)", name, ENVS_E);
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

/* env steps/s per core for every registered env (one name per model: singletask variants are
 * skipped), E = 16 envs, batched random actions, beside the raw mj_step rate of the same model
 * in the same run / frame_skip (ratio = overhead factor) */
static void bench_envs(double seconds) {
    bench_header("envs");
    for (const char *const *p = env_names(); *p; p++) {
        if (strstr(*p, "singletask")) {
            continue; /* same model and cost as the navigate name */
        }
        envs_one(*p, seconds / 15);
    }
}

/* ---- proto: ingest and encode against memcpy of the same bytes -------------------------- */

enum { BO = 29, BA = 8, BB = 256, RING = 1 << 16, WINDOWS = 5 }; /* Ant-like messages */
#define N_POLICY 800000 /* about the paper's 4x512 one-step policy for Ant */

/* everything the timed loops touch */
struct proto_bench {
    struct proto_batch batch;
    struct proto_buf msg, enc, wmsg;
    struct proto_dims dims;
    float *obs, *act, *rew, *term, *mask, *next_obs; /* replay-like ring, (RING, .) */
    unsigned char *raw;                              /* memcpy reference ring, same bytes */
    size_t raw_slots, slot;
    float *params;
    double window; /* seconds per timing window: --seconds / 30 */
    int failed;
};

static void ingest_once(struct proto_bench *s) {
    struct proto_transitions t;
    if (proto_decode_transitions(&t, s->msg.data, s->msg.size, &s->dims, NULL, 0) != PROTO_OK) {
        s->failed = 1;
        return;
    }
    size_t at = s->slot;
    struct proto_rows rows = {s->obs + at * BO, s->act + at * BA,      s->rew + at, s->term + at,
                              s->mask + at,     s->next_obs + at * BO, NULL};
    proto_transitions_copy(&t, 0, t.n, &rows);
    s->slot = (s->slot + BB) % RING;
}

static void memcpy_once(struct proto_bench *s) {
    memcpy(s->raw + s->slot * s->msg.size, s->msg.data, s->msg.size);
    s->slot = (s->slot + 1) % s->raw_slots;
}

static void encode_once(struct proto_bench *s) {
    s->failed |= proto_encode_transitions(&s->enc, &s->batch, NULL, 0) != 0;
}

static void validate_once(struct proto_bench *s) {
    struct proto_transitions t;
    s->failed |= proto_decode_transitions(&t, s->msg.data, s->msg.size, &s->dims, NULL, 0) != 0;
}

static void weights_once(struct proto_bench *s) {
    uint32_t v;
    s->failed |=
        proto_decode_weights(&v, s->params, s->wmsg.data, s->wmsg.size, &s->dims, NULL, 0) != 0;
}

static void weights_memcpy_once(struct proto_bench *s) {
    memcpy(s->params, s->wmsg.data, 4 * (size_t)N_POLICY);
}

/* best-of-windows calls per second */
static double rate(struct proto_bench *s, void (*fn)(struct proto_bench *)) {
    double best = 0;
    s->slot = 0;
    fn(s);
    for (int w = 0; w < WINDOWS; w++) {
        double t0 = now_sec(), t;
        long it = 0;
        do {
            for (int k = 0; k < 16; k++) {
                fn(s);
            }
            it += 16;
            t = now_sec() - t0;
        } while (t < s->window);
        if (it / t > best) {
            best = it / t;
        }
    }
    return best;
}

/* learner ingest (decode + validate + copy into replay-like rows) and actor encode rates,
 * Ant-like O=29 A=8, 256 transitions per message, with a memcpy reference */
static void bench_proto(double seconds) {
    bench_header("proto");
    struct proto_bench s;
    memset(&s, 0, sizeof s);
    s.window = seconds / 30;
    char err[256];
    if (proto_batch_init(&s.batch, BO, BA, BB, err, sizeof err) != 0) {
        printf("  proto bench: %s\n", err);
        return;
    }
    // an Ant-like batch: 256 transitions, an episode end every 100 rows
    struct rng r;
    rng_seed(&r, 1);
    for (int i = 0; i < BB; i++) {
        float o[BO], a[BA], no[BO];
        rng_fill_normal(&r, o, BO);
        rng_fill_normal(&r, no, BO);
        for (int j = 0; j < BA; j++) {
            a[j] = rng_uniform(&r) * 2 - 1;
        }
        int term = i % 100 == 99;
        proto_batch_push(&s.batch, o, a, rng_uniform(&r), term, !term, no, 1);
        if (term) {
            proto_batch_push_episode(&s.batch, -50.0f, 100, 0);
        }
    }
    // header values of an actor some way into a run (wait_us: 3 s spent waiting)
    s.batch.rank = 1;
    s.batch.seq = 1000;
    s.batch.env_steps = 1000000;
    s.batch.wait_us = 3000000;
    s.dims = (struct proto_dims){BO, BA, BB, N_POLICY, UINT32_MAX};
    proto_buf_init(&s.msg, proto_transitions_max_bytes(BO, BA, BB));
    proto_buf_init(&s.enc, proto_transitions_max_bytes(BO, BA, BB));
    proto_encode_transitions(&s.msg, &s.batch, err, sizeof err);
    s.obs = mem_alloc(sizeof(float) * RING * BO);
    s.act = mem_alloc(sizeof(float) * RING * BA);
    s.rew = mem_alloc(sizeof(float) * RING);
    s.term = mem_alloc(sizeof(float) * RING);
    s.mask = mem_alloc(sizeof(float) * RING);
    s.next_obs = mem_alloc(sizeof(float) * RING * BO);
    s.raw_slots = RING / BB;
    s.raw = mem_alloc(s.raw_slots * s.msg.size);
    s.params = mem_alloc(sizeof(float) * N_POLICY);
    proto_buf_init(&s.wmsg, proto_weights_bytes(N_POLICY));
    rng_fill_normal(&r, s.params, N_POLICY);
    proto_encode_weights(&s.wmsg, 1, s.params, N_POLICY, err, sizeof err);

    double ref = rate(&s, memcpy_once) * BB;
    double ingest = rate(&s, ingest_once) * BB;
    double validate = rate(&s, validate_once) * BB;
    double encode = rate(&s, encode_once) * BB;
    printf("  (%d transitions/message, %zu bytes/message, replay-like ring of %d rows)\n", BB,
           s.msg.size, RING);
    bench_record("proto_ingest_ant_b256", ingest, "trans/s", "memcpy_msg_bytes", ref);
    bench_record("proto_validate_ant_b256", validate, "trans/s", "memcpy_msg_bytes", ref);
    bench_record("proto_encode_ant_b256", encode, "trans/s", "memcpy_msg_bytes", ref);
    double wref = rate(&s, weights_memcpy_once), wdec = rate(&s, weights_once);
    bench_record("proto_weights_decode_800k_ms", 1e3 / wdec, "ms", "memcpy_3.2MB_ms", 1e3 / wref);
    if (s.failed) {
        printf("  proto bench: a decode failed; the figures above are not valid\n");
    }
    proto_batch_free(&s.batch);
    proto_buf_free(&s.msg);
    proto_buf_free(&s.enc);
    proto_buf_free(&s.wmsg);
    MEM_FREE_ALL(s.obs, s.act, s.rew, s.term, s.mask, s.next_obs, s.raw, s.params);
}

/* ---- actor and bcast: the actor-learner --------------------------------------------------- */

/* an actor's env steps/s with batched policy inference against the bare env rate at the same E
 * (same process, same run) */
static void bench_actor(double seconds) {
    bench_header("actor: env steps/s with batched policy inference (E=16, policy 2x256)");
    const char *envs[] = {"pointmaze-medium-navigate-singletask-task1-v0", "Hopper-v4",
                          "HalfCheetah-v4", "Ant-v4"};
    int E = 16;
    for (size_t k = 0; k < FLOQ_ARRAY_LEN(envs); k++) {
        char err[512];
        struct env_info info;
        if (env_lookup(envs[k], &info, err, sizeof err)) {
            fprintf(stderr, "bench: %s\n", err);
            continue;
        }
        /* bare env rate: vecenv_step with uniform random actions */
        struct vecenv v;
        if (vecenv_init(&v, envs[k], E, 1, err, sizeof err)) {
            fprintf(stderr, "bench: %s\n", err);
            continue;
        }
        vecenv_reset(&v);
        float *act = mem_alloc(sizeof(float) * (size_t)E * v.A);
        struct rng r;
        rng_seed(&r, 2);
        double t0 = now_sec();
        uint64_t steps = 0;
        while (now_sec() - t0 < seconds / 2) {
            for (int i = 0; i < E * v.A; i++) {
                act[i] = 2 * rng_uniform(&r) - 1;
            }
            vecenv_step(&v, act);
            steps += (uint64_t)E;
        }
        double bare = steps / (now_sec() - t0);
        mem_free(act);
        vecenv_free(&v);
        /* the actor: the same envs driven by the one-step policy */
        struct actor_cfg ac = {.num_envs = E,
                               .seed = 1,
                               .policy = {.obs_dim = info.obs_dim,
                                          .act_dim = info.act_dim,
                                          .n_hidden = 2,
                                          .hidden = {256, 256}}};
        snprintf(ac.env_name, sizeof ac.env_name, "%s", envs[k]);
        struct actor a;
        if (actor_init(&a, &ac, err, sizeof err)) {
            fprintf(stderr, "bench: %s\n", err);
            continue;
        }
        mlp_init_weights(&a.policy, a.pb.w, &r);
        a.have_weights = 1;
        struct actor_sink sink = {NULL, NULL, NULL}; /* transitions are dropped */
        t0 = now_sec();
        while (now_sec() - t0 < seconds / 2) {
            actor_step(&a, &sink);
        }
        double rate = a.steps / (now_sec() - t0);
        actor_free(&a);
        char name[128];
        snprintf(name, sizeof name, "actor_env_steps_%s_E16", info.name);
        bench_record(name, rate, "steps/s", "bare_vecenv_same_E", bare);
    }
}

/* one round of the weights' fan-out as the learner sends them: WEIGHTS from rank 0 to every
 * other rank, point to point on the weights communicator (no collective, so a rank that does
 * not take part stalls nobody else) */
static void fanout_round(unsigned char *buf, size_t cap, const struct proto_buf *msg) {
    int n = comm_size();
    if (comm_rank() == 0) {
        struct comm_req *req = mem_alloc(sizeof *req * (size_t)n);
        for (int r = 1; r < n; r++) {
            comm_isend(&req[r], COMM_WEIGHTS, r, PROTO_TAG_WEIGHTS, msg->data, msg->size);
        }
        for (int r = 1; r < n; r++) {
            comm_wait(&req[r]);
            comm_req_free(&req[r]);
        }
        mem_free(req);
        return;
    }
    int from, tag;
    size_t got;
    while (!comm_poll(COMM_WEIGHTS, 0, PROTO_TAG_WEIGHTS, &from, &tag, &got)) {
    }
    comm_recv(COMM_WEIGHTS, buf, cap, 0, PROTO_TAG_WEIGHTS, &got);
}

/* the weights' fan-out of a paper-size policy to the actor ranks against a raw broadcast of
 * the same bytes (under mpirun; every rank takes part) */
static void bench_bcast(double seconds) {
    if (!comm_initialized() || comm_size() < 2) {
        if (!comm_initialized() || comm_rank() == 0) {
            printf("\n== bcast ==  skipped: run under mpirun with >= 2 ranks (make bench does)\n");
        }
        return;
    }
    /* the paper-size one-step policy: (29+8) -> 4x512 -> 8 */
    struct param_block pb;
    param_init(&pb);
    struct mlp net;
    struct mlp_cfg c = {.in = 37,
                        .out = 8,
                        .nhidden = 4,
                        .hidden = {512, 512, 512, 512},
                        .act = KERN_GELU_TANH,
                        .E = 1};
    mlp_register(&net, &c, &pb, "actor_onestep_flow");
    param_alloc(&pb, 0);
    size_t np = pb.n, cap = proto_weights_bytes(np);
    unsigned char *buf = mem_alloc(cap);
    struct proto_buf msg;
    proto_buf_init(&msg, cap);
    struct comm_req bc = {0};
    int root = comm_rank() == 0;
    if (root) {
        bench_header("bcast: policy weights to the actor ranks (point to point, as online)");
    }
    /* both loops run a fixed count decided by the root, so every rank calls the same number */
    int iters = 0;
    double t_fan = 0, t_raw = 0;
    for (int pass = 0; pass < 2; pass++) {
        int count = 0;
        double t0 = now_sec();
        for (;;) {
            int go = 1;
            if (root) {
                go = now_sec() - t0 < seconds / 2 || count < 5;
                if (pass == 1) {
                    go = count < iters;
                }
            }
            /* one int of control so the actors know whether another round follows */
            int ctl = go;
            comm_ibcast(&bc, &ctl, sizeof ctl);
            comm_wait(&bc);
            if (!ctl) {
                break;
            }
            if (pass == 0) {
                if (root) {
                    char err[128];
                    proto_encode_weights(&msg, (uint32_t)count, pb.w, np, err, sizeof err);
                }
                fanout_round(buf, cap, &msg);
            } else {
                comm_ibcast(&bc, buf, cap);
                comm_wait(&bc);
            }
            count++;
        }
        double el = now_sec() - t0;
        if (pass == 0) {
            iters = count, t_fan = el / count;
        } else {
            t_raw = el / count;
        }
    }
    if (root) {
        char name[96];
        snprintf(name, sizeof name, "weights_fanout_%zu_floats_%d_ranks", np, comm_size());
        bench_record(name, t_fan * 1e3, "ms", "raw_ibcast_same_bytes_ms", t_raw * 1e3);
    }
    comm_req_free(&bc);
    proto_buf_free(&msg);
    mem_free(buf);
    param_free(&pb);
}

/* seconds per call of sum(g, n), over count calls */
static double time_sum(int (*sum)(float *, size_t), float *g, size_t n, int count) {
    double t0 = now_sec();
    for (int i = 0; i < count; i++) {
        sum(g, n);
    }
    return (now_sec() - t0) / count;
}

/* one gradient-sum figure against the 1-thread update of the same agent */
static void record_sum(const char *what, int kind, int L, double t, double upd) {
    char name[96], ref[64];
    snprintf(name, sizeof name, "%s_%s_paper_grads_%d_ranks_ms", what, kind ? "fql" : "floq", L);
    snprintf(ref, sizeof ref, "%s_paper_update_1thr_ms", kind ? "fql" : "floq");
    bench_record(name, t * 1e3, "ms", ref, upd * 1e3);
}

/* the gradient allreduce a data-parallel learner would make each update: every trainable
 * parameter of the paper preset, summed over all ranks (under mpirun), against the 1-thread
 * update time of the same agent measured on rank 0 in the same run */
static void bench_allreduce(double seconds) {
    if (!comm_initialized() || comm_size() < 2) {
        if (!comm_initialized() || comm_rank() == 0) {
            printf("\n== allreduce ==  skipped: run under mpirun with >= 2 ranks (make bench "
                   "does)\n");
        }
        return;
    }
    int root = comm_rank() == 0, L = comm_size();
    if (root) {
        bench_header("allreduce: the paper preset's gradient summed over the ranks");
    }
    struct comm_req bc = {0};
    for (int kind = 0; kind < 2; kind++) {
        struct agent_cfg c;
        preset(&c, kind, 1);
        struct param_block pb;
        char err[256];
        if (agent_layout(&c, &pb, err, sizeof err)) {
            fprintf(stderr, "bench: %s\n", err);
            break;
        }
        size_t n = pb.n;
        param_free(&pb);
        float *g = mem_alloc(sizeof(float) * n);
        struct rng r;
        rng_seed(&r, 5 + (uint64_t)comm_rank());
        rng_fill_normal(&r, g, n);
        /* the update on rank 0 (the others wait in the control broadcast below, sleeping) */
        double upd = 0;
        if (root) {
            struct curve_agent ca;
            if (curve_agent_init(&ca, kind, 1) == 0) {
                agent_set_threads(&ca.a, 1, err, sizeof err);
                upd = 1.0 / curve_agent_rate(&ca, seconds);
                curve_agent_free(&ca);
            }
        }
        /* warm-up, then a count the root picks from it, the same on every rank */
        double t0 = now_sec();
        comm_allreduce_sum(g, n);
        int count = (int)fmin(1000, fmax(5, seconds / fmax(now_sec() - t0, 1e-6)));
        comm_ibcast(&bc, &count, sizeof count);
        comm_wait(&bc);
        double t = time_sum(comm_allreduce_sum, g, n, count);
        if (root) {
            record_sum("allreduce", kind, L, t, upd);
            double bytes = 4.0 * (double)n;
            printf("  (%zu floats, %.1f MB; algorithm bandwidth %.2f GB/s, ring bus bandwidth "
                   "2(L-1)/L x bytes/t = %.2f GB/s)\n",
                   n, bytes * 1e-6, bytes / t * 1e-9, 2.0 * (L - 1) / L * bytes / t * 1e-9);
        }
        /* the sum --learner_ranks makes: fixed rank order (all-to-all of slices, local sum,
         * allgather), the same count of calls */
        if (comm_learn_size() == 1 && comm_learn_init(L)) {
            break;
        }
        comm_learn_sum(g, n);
        double tf = time_sum(comm_learn_sum, g, n, count);
        if (root) {
            record_sum("fixed_order_sum", kind, L, tf, upd);
            printf("  (--learner_ranks' fixed-order sum: %.2fx the MPI_Allreduce above)\n", tf / t);
        }
        mem_free(g);
    }
    comm_req_free(&bc);
}

/* ---- floq bench ------------------------------------------------------------------------ */

static const struct section {
    const char *name;
    void (*run)(double seconds);
    int collective; /* every rank takes part (under mpirun) */
} SECTIONS[] = {{"nn", bench_nn, 0},
                {"learner", bench_learner, 0},
                {"envs", bench_envs, 0},
                {"actor", bench_actor, 0},
                {"proto", bench_proto, 0},
                {"bcast", bench_bcast, 1},
                {"allreduce", bench_allreduce, 1}};

int bench_main(int argc, char **argv) {
    char only[256] = "nn,learner,envs,actor,proto";
    float seconds = 3.0f;
    struct cfg_opt o[] = {
        CFG_STR("only", only, sizeof only,
                "comma-separated sections: nn, learner, envs, actor, proto, bcast, allreduce "
                "(the last two need mpirun)"),
        CFG_FLOAT("seconds", &seconds, 0.1, 3600, "time budget per measurement"),
    };
    int rc = cfg_command(
        "bench",
        "usage: floq bench [--only nn,learner,envs,actor,proto,bcast,allreduce] [--seconds S]\n"
        "Each figure is printed with a reference measured in the same run and their ratio,\n"
        "and appended as one JSON line to $FLOQ_BENCH_JSONL (default build/bench.jsonl).\n",
        o, (int)FLOQ_ARRAY_LEN(o), argc, argv);
    if (rc != CFG_RUN) {
        return rc;
    }
    int mpi = comm_launched();
    if (mpi && comm_init(NULL, NULL)) {
        fprintf(stderr, "floq bench: MPI failed to start\n");
        return 1;
    }
    int worker = mpi && comm_rank() != 0; /* non-root ranks: the collective sections only */
    const char *names[FLOQ_ARRAY_LEN(SECTIONS)];
    for (size_t i = 0; i < FLOQ_ARRAY_LEN(SECTIONS); i++) {
        names[i] = SECTIONS[i].name;
    }
    char *save = NULL, *tok = strtok_r(only, ",", &save);
    for (; tok && rc == CFG_RUN; tok = strtok_r(NULL, ",", &save)) {
        int k = closest_name(tok, names, (int)FLOQ_ARRAY_LEN(SECTIONS));
        if (strcmp(tok, names[k]) != 0) {
            if (!worker) {
                fprintf(stderr, "floq bench: unknown section '%s'; did you mean '%s'?\n", tok,
                        names[k]);
            }
            rc = 2;
        } else if (!worker || SECTIONS[k].collective) {
            SECTIONS[k].run(seconds);
        }
    }
    if (mpi) {
        comm_finalize(0, 0, NULL);
    }
    return rc == CFG_RUN ? 0 : rc;
}
