/* test_golden — the learner's known-answer test: three floq updates on the tiny configuration
 * of ../shared/golden, with every random draw taken from case_tiny.npz, against ref_tiny.npz
 * (an independent float32 implementation). Tolerances are golden/README.md, not loosened:
 * every array except new/...: max|c - r| / max|r| <= 1e-5; new/...: max|c - r| <= 2 lr T and at
 * most 0.1% of elements off by more than 0.01 lr. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/npz.h"
#include "learner/agent.h"
#include "tests/check.h"

static struct npz gcase, gref;
static int T = 3;

static const struct npy_array *need(const struct npz *z, const char *name) {
    const struct npy_array *a = npz_find(z, name);
    if (!a) {
        fprintf(stderr, "golden: %s has no member %s\n", z->path, name);
        exit(1);
    }
    if (a->dtype != NPY_F4) {
        fprintf(stderr, "golden: %s member %s is not float32\n", z->path, name);
        exit(1);
    }
    return a;
}

/* relative max error of c against r (n floats) */
static double relmax(const float *c, const float *r, size_t n) {
    double md = 0, mr = 0;
    for (size_t i = 0; i < n; i++) {
        md = fmax(md, fabs((double)c[i] - r[i]));
        mr = fmax(mr, fabs((double)r[i]));
        if (!isfinite(c[i])) {
            return INFINITY;
        }
    }
    return mr > 0 ? md / mr : md;
}

static void cmp(const char *what, const float *c, const float *r, size_t n) {
    double e = relmax(c, r, n);
    CHECK(e <= 1e-5, "%s: max|c-r|/max|r| = %.3g > 1e-5", what, e);
}

static void cmp_new(const char *what, const float *c, const float *r, size_t n, float lr) {
    double md = 0;
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)c[i] - r[i]);
        md = fmax(md, d);
        off += d > 0.01 * lr;
    }
    CHECK(md <= 2.0 * lr * T, "%s: max|c-r| = %.3g > 2 lr T", what, md);
    CHECK((double)off <= 0.001 * (double)n, "%s: %zu of %zu elements differ by > 0.01 lr", what,
          off, n);
}

int main(void) {
    const char *shared = getenv("FLOQ_SHARED");
    char p1[1024], p2[1024], err[512];
    snprintf(p1, sizeof p1, "%s/golden/case_tiny.npz", shared ? shared : "../shared");
    snprintf(p2, sizeof p2, "%s/golden/ref_tiny.npz", shared ? shared : "../shared");
    if (npz_load(&gcase, p1, err, sizeof err) || npz_load(&gref, p2, err, sizeof err)) {
        fprintf(stderr, "%s\n(set FLOQ_SHARED to the directory holding golden/)\n", err);
        CHECK(0, "golden files readable");
        return check_report("test_golden");
    }
    /* the config of golden/README.md; spot-check it against config_json */
    const struct npy_array *cj = npz_find(&gcase, "config_json");
    char *json = calloc(cj->count + 1, 1);
    memcpy(json, cj->data, cj->count);
    CHECK(strstr(json, "\"noise_samples\": 2") && strstr(json, "\"critic_flow_steps\": 3") &&
              strstr(json, "\"block_width\": 32") && strstr(json, "\"time_embed\": \"cos\""),
          "config_json matches the README's tiny config");
    free(json);
    struct agent_cfg c;
    agent_cfg_default(&c, AGENT_FLOQ);
    c.obs_dim = 5, c.act_dim = 3, c.batch_size = 8;
    c.n_actor_hidden = c.n_value_hidden = 2;
    c.actor_hidden[0] = c.actor_hidden[1] = c.value_hidden[0] = c.value_hidden[1] = 32;
    c.block_width = 32, c.block_depth = 2;
    c.noise_samples = 2, c.critic_flow_steps = 3, c.actor_flow_steps = 10;
    c.r_min = -1, c.r_max = 0;
    struct agent a;
    if (agent_init(&a, &c, 0, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    /* parameters and target from the case */
    char nm[512];
    for (int i = 0; i < a.pb.nviews; i++) {
        const struct param_view *v = &a.pb.views[i];
        snprintf(nm, sizeof nm, "params/%s", v->name);
        const struct npy_array *src = need(&gcase, nm);
        CHECK(src->count == v->count, "%s size %zu vs %zu", nm, src->count, v->count);
        memcpy(a.pb.w + v->off, src->data, sizeof(float) * v->count);
        if (v->off < a.critic_end) {
            snprintf(nm, sizeof nm, "params/target_%s", v->name);
            memcpy(a.target + v->off, need(&gcase, nm)->data, sizeof(float) * v->count);
        }
    }
    /* Q read-out with the initial parameters */
    {
        const float *qo = need(&gcase, "qread/observations")->data;
        const float *qa = need(&gcase, "qread/actions")->data;
        const float *qr = need(&gcase, "qread/noise_ratios")->data;
        const struct npy_array *ks = npz_find(&gcase, "qread/flow_steps");
        int K = ks && ks->dtype == NPY_I4 ? *(const int32_t *)ks->data : 3;
        float fr[2 * 16], cq[2 * 16];
        agent_flow_returns(&a, qo, qa, qr, 16, K, fr);
        agent_critic_q(&a, qo, qa, 16, cq);
        cmp("qread/flow_returns", fr, need(&gref, "qread/flow_returns")->data, 32);
        cmp("qread/critic_q", cq, need(&gref, "qread/critic_q")->data, 32);
    }
    int B = 8, R = 2, A = 3, O = 5, BR = 16;
    for (int t = 0; t < T; t++) {
        struct agent_batch b = {
            .B = B,
            .obs = (const float *)need(&gcase, "batch/observations")->data + t * B * O,
            .act = (const float *)need(&gcase, "batch/actions")->data + t * B * A,
            .rew = (const float *)need(&gcase, "batch/rewards")->data + t * B,
            .next_obs = (const float *)need(&gcase, "batch/next_observations")->data + t * B * O,
            .mask = (const float *)need(&gcase, "batch/masks")->data + t * B,
        };
        struct agent_draws d = {
            .B = B, .R = R, .A = A,
            .next_action_noise = (float *)need(&gcase, "rand/next_action_noise")->data + t * BR * A,
            .next_noise_ratios = (float *)need(&gcase, "rand/next_noise_ratios")->data + t * BR,
            .noise_ratios = (float *)need(&gcase, "rand/noise_ratios")->data + t * BR,
            .critic_t = (float *)need(&gcase, "rand/critic_t")->data + t * BR,
            .actor_x0 = (float *)need(&gcase, "rand/actor_x0")->data + t * B * A,
            .actor_t = (float *)need(&gcase, "rand/actor_t")->data + t * B,
            .distill_noise = (float *)need(&gcase, "rand/distill_noise")->data + t * B * A,
            .mse_noise = (float *)need(&gcase, "rand/mse_noise")->data + t * B * A,
        };
        agent_update(&a, &b, &d);
        /* metrics: each compared over the 3 updates would need all first; compare per step
         * against max|r| of that metric's series */
        struct {
            const char *name;
            double v;
        } ms[] = {
            {"metrics/total_loss", a.metrics.total_loss},
            {"metrics/critic/critic_loss", a.metrics.critic_loss},
            {"metrics/critic/floq_loss", a.metrics.floq_loss},
            {"metrics/critic/distilled_critic_loss", a.metrics.distilled_critic_loss},
            {"metrics/critic/q", a.metrics.critic_q},
            {"metrics/critic/var_flow_returns", a.metrics.var_flow_returns},
            {"metrics/critic/td_error", a.metrics.td_error},
            {"metrics/actor/actor_loss", a.metrics.actor_loss},
            {"metrics/actor/bc_flow_loss", a.metrics.bc_flow_loss},
            {"metrics/actor/distill_loss", a.metrics.distill_loss},
            {"metrics/actor/q_loss", a.metrics.q_loss},
            {"metrics/actor/q", a.metrics.actor_q},
            {"metrics/actor/mse", a.metrics.mse},
        };
        for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
            const float *r = need(&gref, ms[i].name)->data;
            double mr = fmax(fabs(r[0]), fmax(fabs(r[1]), fabs(r[2])));
            double e = fabs(ms[i].v - r[t]) / (mr > 0 ? mr : 1);
            CHECK(e <= 1e-5, "update %d %s: %.9g vs %.9g (rel %.3g)", t, ms[i].name, ms[i].v,
                  r[t], e);
        }
        /* intermediates */
        float tmp[64];
        snprintf(nm, sizeof nm, "update %d inter/next_actions", t);
        cmp(nm, a.next_actions, (float *)need(&gref, "inter/next_actions")->data + t * BR * A,
            (size_t)BR * A);
        snprintf(nm, sizeof nm, "update %d inter/next_returns", t);
        cmp(nm, a.next_returns, (float *)need(&gref, "inter/next_returns")->data + t * BR, BR);
        snprintf(nm, sizeof nm, "update %d inter/target_returns", t);
        cmp(nm, a.target_returns, (float *)need(&gref, "inter/target_returns")->data + t * B, B);
        snprintf(nm, sizeof nm, "update %d inter/current_returns", t);
        cmp(nm, a.current_returns, (float *)need(&gref, "inter/current_returns")->data + t * 2 * BR,
            2 * BR);
        for (int e = 0; e < 2; e++) {
            memcpy(tmp + e * BR, a.flow_x_t, sizeof(float) * BR);
        }
        snprintf(nm, sizeof nm, "update %d inter/flow_x_t", t);
        cmp(nm, tmp, (float *)need(&gref, "inter/flow_x_t")->data + t * 2 * BR, 2 * BR);
        snprintf(nm, sizeof nm, "update %d inter/flow_pred", t);
        cmp(nm, a.flow_pred, (float *)need(&gref, "inter/flow_pred")->data + t * 2 * BR, 2 * BR);
        snprintf(nm, sizeof nm, "update %d inter/critic_q", t);
        cmp(nm, a.critic_q, (float *)need(&gref, "inter/critic_q")->data + t * 2 * B, 2 * B);
        snprintf(nm, sizeof nm, "update %d inter/actor_target_flow_actions", t);
        cmp(nm, a.actor_flow_actions,
            (float *)need(&gref, "inter/actor_target_flow_actions")->data + t * B * A, B * A);
        snprintf(nm, sizeof nm, "update %d inter/actor_onestep_actions", t);
        cmp(nm, a.actor_onestep_actions,
            (float *)need(&gref, "inter/actor_onestep_actions")->data + t * B * A, B * A);
        snprintf(nm, sizeof nm, "update %d inter/actor_qs", t);
        cmp(nm, a.actor_qs, (float *)need(&gref, "inter/actor_qs")->data + t * 2 * B, 2 * B);
        /* gradients of the total loss */
        for (int i = 0; i < a.pb.nviews; i++) {
            const struct param_view *v = &a.pb.views[i];
            char gn[256];
            snprintf(gn, sizeof gn, "grad/%s", v->name);
            snprintf(nm, sizeof nm, "update %d %s", t, gn);
            cmp(nm, a.pb.g + v->off, (float *)need(&gref, gn)->data + (size_t)t * v->count,
                v->count);
        }
    }
    /* parameters, target and Adam state after the three updates */
    for (int i = 0; i < a.pb.nviews; i++) {
        const struct param_view *v = &a.pb.views[i];
        snprintf(nm, sizeof nm, "new/%s", v->name);
        cmp_new(nm, a.pb.w + v->off, need(&gref, nm)->data, v->count, c.lr);
        if (v->off < a.critic_end) {
            snprintf(nm, sizeof nm, "new/target_%s", v->name);
            cmp_new(nm, a.target + v->off, need(&gref, nm)->data, v->count, c.lr);
        }
        snprintf(nm, sizeof nm, "adam/mu/%s", v->name);
        cmp(nm, a.pb.m + v->off, need(&gref, nm)->data, v->count);
        snprintf(nm, sizeof nm, "adam/nu/%s", v->name);
        cmp(nm, a.pb.v + v->off, need(&gref, nm)->data, v->count);
    }
    const struct npy_array *cnt = npz_find(&gref, "adam/count");
    CHECK(cnt && cnt->dtype == NPY_I4 && *(const int32_t *)cnt->data == a.opt.count,
          "adam/count == %ld", a.opt.count);
    agent_free(&a);
    npz_free(&gcase);
    npz_free(&gref);
    return check_report("test_golden");
}
