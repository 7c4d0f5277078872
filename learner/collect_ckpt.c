#include "learner/collect_ckpt.h"

#include <stdio.h>

#include "common/mem.h"
#include "common/rng.h"
#include "envs/collect.h"
#include "learner/agent_ckpt.h"

/* the checkpoint's acting policy, a = clip(mu(s, eps), -1, 1) with fresh eps; collect adds its
 * noise on top */
struct ckpt_policy {
    struct agent ag;
    struct rng rng;
    float *eps;
    int cap;
};

static void ckpt_act(void *ctx, const float *obs, int E, float *actions) {
    struct ckpt_policy *p = ctx;
    int A = p->ag.c.act_dim;
    if (E > p->cap) {
        mem_free(p->eps);
        p->eps = mem_alloc(sizeof(float) * (size_t)E * A);
        p->cap = E;
    }
    rng_fill_normal(&p->rng, p->eps, (size_t)E * A);
    agent_act(&p->ag, obs, p->eps, E, actions);
}

static int ckpt_policy_load(const char *file, const struct env_info *info,
                            struct collect_policy *pol, char *err, size_t errsz) {
    struct ckpt_policy *p = mem_alloc(sizeof *p);
    struct train_cfg tc;
    if (agent_ckpt_load(&p->ag, &tc, file, 0, NULL, err, errsz)) {
        mem_free(p);
        return -1;
    }
    if (p->ag.c.obs_dim != info->obs_dim || p->ag.c.act_dim != info->act_dim) {
        snprintf(err, errsz,
                 "collect: checkpoint %s has obs %d / action %d but env %s has obs %d / action %d",
                 file, p->ag.c.obs_dim, p->ag.c.act_dim, info->name, info->obs_dim, info->act_dim);
        agent_free(&p->ag);
        mem_free(p);
        return -1;
    }
    rng_seed(&p->rng, tc.seed + 7);
    pol->act = ckpt_act;
    pol->ctx = p;
    return 0;
}

static void ckpt_policy_release(struct collect_policy *pol) {
    struct ckpt_policy *p = pol->ctx;
    if (p) {
        agent_free(&p->ag);
        MEM_FREE_ALL(p->eps, p);
        pol->ctx = NULL;
    }
}

int collect_ckpt_main(int argc, char **argv) {
    collect_set_checkpoint_loader(ckpt_policy_load, ckpt_policy_release);
    return collect_main(argc + 1, argv - 1); /* collect_main takes argv[0] = its own name */
}
