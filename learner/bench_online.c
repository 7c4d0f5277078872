/* bench_online.c — `floq bench` sections of the actor-learner: an actor's env steps/s with
 * batched policy inference against the bare env rate at the same E (same process, same run),
 * and the weight broadcast of a paper-size policy against a raw broadcast of the same bytes. */
#include "learner/bench_online.h"

#include <stdio.h>
#include <string.h>

#include "actor/actor.h"
#include "common/bench.h"
#include "common/comm.h"
#include "common/mem.h"
#include "common/proto.h"
#include "common/util.h"

void bench_actor(double seconds) {
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

void bench_bcast(double seconds) {
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
    struct mlp_cfg c = {.in = 37, .out = 8, .nhidden = 4, .hidden = {512, 512, 512, 512},
                        .act = KERN_GELU_TANH, .E = 1};
    mlp_register(&net, &c, &pb, "actor_onestep_flow");
    param_alloc(&pb, 0);
    size_t np = pb.n, cap = proto_frame_bytes(proto_weights_bytes(np));
    unsigned char *buf = mem_alloc(cap);
    struct proto_buf msg;
    proto_buf_init(&msg, proto_weights_bytes(np));
    struct comm_req bc = {0};
    int root = comm_rank() == 0;
    if (root) {
        bench_header("bcast: policy weights to the actor ranks");
    }
    /* both loops run a fixed count decided by the root, so every rank calls the same number */
    int iters = 0;
    double t_enc = 0, t_raw = 0;
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
            if (root && pass == 0) {
                char err[128];
                proto_encode_weights(&msg, (uint32_t)count, pb.w, np, err, sizeof err);
                proto_frame_put(buf, cap, &msg);
            }
            comm_ibcast(&bc, buf, cap);
            comm_wait(&bc);
            count++;
        }
        double el = now_sec() - t0;
        if (pass == 0) {
            iters = count, t_enc = el / count;
        } else {
            t_raw = el / count;
        }
    }
    if (root) {
        char name[96];
        snprintf(name, sizeof name, "weights_bcast_%zu_floats_%d_ranks", np, comm_size());
        bench_record(name, t_enc * 1e3, "ms", "raw_ibcast_same_bytes_ms", t_raw * 1e3);
    }
    comm_req_free(&bc);
    proto_buf_free(&msg);
    mem_free(buf);
    param_free(&pb);
}
