#include "learner/eval.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/cfg.h"
#include "common/mem.h"
#include "common/rng.h"
#include "common/util.h"
#include "envs/env.h"
#include "learner/agent_ckpt.h"

int eval_open_checkpoint(struct agent *a, struct train_cfg *tc, const char *path, int max_rows,
                         char *env, size_t envsz, const char *cmd) {
    char err[1024];
    if (!path[0]) {
        fprintf(stderr, "floq %s: --checkpoint FILE is required\n", cmd);
        return 2;
    }
    if (agent_ckpt_load(a, tc, path, max_rows, NULL, err, sizeof err)) {
        fprintf(stderr, "floq %s: %s\n", cmd, err);
        return 1;
    }
    if (!env[0]) {
        snprintf(env, envsz, "%s", tc->env_name);
    }
    return 0;
}

void eval_policy_step(struct agent *a, struct vecenv *v, struct rng *r, float *eps, float *act) {
    rng_fill_normal(r, eps, (size_t)v->E * v->A);
    agent_act(a, v->obs, eps, v->E, act);
    vecenv_step(v, act);
}

int eval_run(struct agent *a, const char *env_name, int episodes, uint64_t seed,
             struct eval_result *res, char *err, size_t errsz) {
    memset(res, 0, sizeof *res);
    struct vecenv v;
    if (vecenv_init(&v, env_name, episodes, seed, err, errsz)) {
        return -1;
    }
    if (v.O != a->c.obs_dim || v.A != a->c.act_dim) {
        snprintf(err, errsz, "eval: env %s has obs %d / action %d, the checkpoint %d / %d",
                 env_name, v.O, v.A, a->c.obs_dim, a->c.act_dim);
        vecenv_free(&v);
        return -1;
    }
    int E = episodes, A = v.A;
    float *eps = mem_alloc(sizeof(float) * (size_t)E * A);
    float *act = mem_alloc(sizeof(float) * (size_t)E * A);
    double *ret = mem_alloc(sizeof(double) * (size_t)E);
    double *succ = mem_alloc(sizeof(double) * (size_t)E);
    uint8_t *fin = mem_alloc((size_t)E);
    struct rng r;
    rng_seed(&r, seed);
    r = rng_split(&r, RNG_STREAM_EVAL);
    vecenv_reset(&v);
    int left = E;
    while (left > 0) {
        eval_policy_step(a, &v, &r, eps, act);
        for (int i = 0; i < E; i++) {
            if (fin[i]) {
                continue;
            }
            ret[i] += v.rew[i];
            if (v.term[i] || v.trunc[i] || v.unstable[i]) {
                fin[i] = 1;
                succ[i] = v.success[i];
                left--;
            }
        }
    }
    double sr = 0, sr2 = 0, ss = 0, ss2 = 0, sc = 0, sc2 = 0;
    for (int i = 0; i < E; i++) {
        double sco = env_normalized_score(&v.info, ret[i]);
        sr += ret[i], sr2 += ret[i] * ret[i];
        ss += succ[i], ss2 += succ[i] * succ[i];
        if (isfinite(sco)) {
            sc += sco, sc2 += sco * sco;
        }
    }
    res->episodes = E;
    res->ret_mean = sr / E;
    res->succ_mean = ss / E;
    res->score_mean = sc / E;
    double k = E > 1 ? 1.0 / ((double)E * (E - 1)) : 0;
    res->ret_se = sqrt(fmax(0, (sr2 - sr * sr / E) * k));
    res->succ_se = sqrt(fmax(0, (ss2 - ss * ss / E) * k));
    res->score_se = sqrt(fmax(0, (sc2 - sc * sc / E) * k));
    res->has_success = v.info.has_success;
    res->has_score = v.info.ref_max != v.info.ref_min;
    MEM_FREE_ALL(eps, act, ret, succ, fin);
    vecenv_free(&v);
    return 0;
}

int eval_main(int argc, char **argv) {
    char ckpt[TRAIN_PATH_MAX] = "", env[128] = "", err[1024];
    int episodes = 50;
    uint64_t seed = 0;
    struct cfg_opt o[] = {
        CFG_STR("checkpoint", ckpt, sizeof ckpt, "checkpoint file"),
        CFG_STR("env_name", env, sizeof env, "environment (default: the checkpoint's)"),
        CFG_INT("episodes", &episodes, 1, 100000, "episodes"),
        CFG_U64("seed", &seed, "evaluation seed"),
    };
    int rc =
        cfg_command("eval", "usage: floq eval --checkpoint FILE [--env_name NAME] [--episodes N]\n",
                    o, (int)FLOQ_ARRAY_LEN(o), argc, argv);
    if (rc != CFG_RUN) {
        return rc;
    }
    struct agent a;
    struct train_cfg tc;
    rc = eval_open_checkpoint(&a, &tc, ckpt, episodes, env, sizeof env, "eval");
    if (rc) {
        return rc;
    }
    struct eval_result er;
    rc = eval_run(&a, env, episodes, seed, &er, err, sizeof err);
    if (rc) {
        fprintf(stderr, "floq eval: %s\n", err);
        agent_free(&a);
        return 2;
    }
    printf("env %s  episodes %d\n", env, er.episodes);
    printf("return           %.4f +- %.4f (stderr)\n", er.ret_mean, er.ret_se);
    if (er.has_success) {
        printf("success          %.4f +- %.4f\n", er.succ_mean, er.succ_se);
    }
    if (er.has_score) {
        printf("normalized score %.2f +- %.2f\n", er.score_mean, er.score_se);
    }
    agent_free(&a);
    return 0;
}
