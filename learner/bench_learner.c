/* bench_learner.c — `floq bench` sections for the numerics core and the learner. */
#include "learner/bench_learner.h"

#include <cblas.h>
#include <stdio.h>
#include <string.h>

#include "common/bench.h"
#include "common/mem.h"
#include "common/nn.h"
#include "common/util.h"
#include "learner/agent.h"

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

void bench_nn(double seconds) {
    bench_header("numerics core: MLP forward+backward, paper critic size");
    struct param_block pb;
    param_init(&pb);
    struct mlp net;
    struct mlp_cfg c = {.in = 29 + 8 + 50 + 1, .out = 1, .nhidden = 4,
                        .hidden = {512, 512, 512, 512}, .ln = 1, .act = KERN_GELU_TANH, .E = 1};
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
    bench_record("mlp_fwd_bwd_88-4x512-1_B2048", best_mlp, "GFLOP/s",
                 "sgemm_same_shapes", best_ref);
    double peak = bench_sgemm_gflops(512, 512, 512, seconds / 3);
    bench_record("mlp_fwd_bwd_vs_sgemm512", best_mlp, "GFLOP/s", "sgemm_512x512x512", peak);
    mem_free(x);
    mem_free(dout);
    mlp_tape_free(&t);
    param_free(&pb);
}

static void preset(struct agent_cfg *c, int kind, int paper) {
    agent_cfg_default(c, kind);
    c->obs_dim = 29, c->act_dim = 8, c->batch_size = 256;
    c->r_min = -1, c->r_max = 0;
    if (!paper) {
        c->n_actor_hidden = c->n_value_hidden = c->block_depth = 2;
        for (int i = 0; i < 2; i++) {
            c->actor_hidden[i] = c->value_hidden[i] = 256;
        }
        c->block_width = 256;
        c->noise_samples = 4;
        c->critic_flow_steps = 4;
    }
}

void bench_learner(double seconds) {
    bench_header("learner: updates/s (obs 29, action 8, batch 256)");
    double ref = bench_sgemm_gflops(2048, 512, 512, 1.0);
    bench_record("sgemm_2048x512x512", ref, "GFLOP/s", NULL, 0);
    for (int kind = 0; kind < 2; kind++) {
        for (int paper = 0; paper < 2; paper++) {
            struct agent_cfg c;
            preset(&c, kind, paper);
            struct agent a;
            char err[256];
            if (agent_init(&a, &c, 1, err, sizeof err)) {
                fprintf(stderr, "bench: %s\n", err);
                return;
            }
            int B = c.batch_size, O = c.obs_dim, A = c.act_dim;
            float *obs = mem_alloc(sizeof(float) * (size_t)B * O);
            float *nobs = mem_alloc(sizeof(float) * (size_t)B * O);
            float *act = mem_alloc(sizeof(float) * (size_t)B * A);
            float *rew = mem_alloc(sizeof(float) * (size_t)B);
            float *mask = mem_alloc(sizeof(float) * (size_t)B);
            struct rng r;
            rng_seed(&r, 3);
            rng_fill_normal(&r, obs, (size_t)B * O);
            rng_fill_normal(&r, nobs, (size_t)B * O);
            for (int i = 0; i < B * A; i++) {
                act[i] = 2 * rng_uniform(&r) - 1;
            }
            for (int i = 0; i < B; i++) {
                rew[i] = rng_uniform(&r) < 0.9f ? -1.0f : 0.0f;
                mask[i] = rew[i] < 0 ? 1.0f : 0.0f;
            }
            struct agent_batch b = {B, obs, act, rew, nobs, mask};
            struct agent_draws d;
            agent_draws_alloc(&d, &c);
            agent_draws_sample(&d, &c, &r);
            agent_update(&a, &b, &d); /* warm-up */
            double t0 = now_sec();
            int it = 0;
            double budget = paper ? seconds : seconds / 2;
            do {
                agent_draws_sample(&d, &c, &r);
                agent_update(&a, &b, &d);
                it++;
            } while (now_sec() - t0 < budget || it < 2);
            double el = now_sec() - t0;
            double fl = agent_update_flops(&a);
            char name[96];
            snprintf(name, sizeof name, "%s_%s_updates_per_s", kind ? "fql" : "floq",
                     paper ? "paper" : "small");
            bench_record(name, it / el, "updates/s", NULL, 0);
            snprintf(name, sizeof name, "%s_%s_gflop_per_update", kind ? "fql" : "floq",
                     paper ? "paper" : "small");
            bench_record(name, fl * 1e-9, "GFLOP", NULL, 0);
            snprintf(name, sizeof name, "%s_%s_gflops", kind ? "fql" : "floq",
                     paper ? "paper" : "small");
            bench_record(name, fl * it / el * 1e-9, "GFLOP/s", "sgemm_2048x512x512", ref);
            agent_draws_free(&d);
            mem_free(obs), mem_free(nobs), mem_free(act), mem_free(rew), mem_free(mask);
            agent_free(&a);
        }
    }
}
