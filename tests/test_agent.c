/* test_agent — every loss of the spec against independent computations on a tiny network:
 * finite differences through a whole update (per loss, respecting the stop-gradients), the Euler
 * unroll on closed-form fields, the degenerate settings, TD-target and Polyak oracles, batch
 * permutation invariance, bounded actions, no allocation in the update, and the threaded update
 * (repeatable bit for bit per thread count, the serial one at 1 thread, within float rounding of
 * it at 2, 3, 4 and 6). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "learner/agent.h"
#include "tests/check.h"

enum { O = 4, A = 2, B = 6 };

static void tiny_cfg(struct agent_cfg *c, int kind) {
    agent_cfg_default(c, kind);
    c->obs_dim = O, c->act_dim = A, c->batch_size = B;
    c->n_actor_hidden = c->n_value_hidden = c->block_depth = 2;
    for (int i = 0; i < 2; i++) {
        c->actor_hidden[i] = c->value_hidden[i] = 8;
    }
    c->block_width = 8;
    c->noise_samples = 3;
    c->critic_flow_steps = 3;
    c->actor_flow_steps = 4;
    c->r_min = -1, c->r_max = 0;
}

struct data {
    float obs[B * O], act[B * A], rew[B], nobs[B * O], mask[B];
    struct agent_batch b;
};

static void make_data(struct data *d, struct rng *r) {
    for (int i = 0; i < B * O; i++) {
        d->obs[i] = rng_normal(r), d->nobs[i] = rng_normal(r);
    }
    for (int i = 0; i < B * A; i++) {
        d->act[i] = 0.8f * (2 * rng_uniform(r) - 1);
    }
    for (int i = 0; i < B; i++) {
        d->rew[i] = i % 3 == 0 ? 0.0f : -1.0f;
        d->mask[i] = i % 3 == 0 ? 0.0f : 1.0f;
    }
    d->b = (struct agent_batch){B, d->obs, d->act, d->rew, d->nobs, d->mask};
}

static double relerr(double a, double b, double atol) {
    double d = fabs(a - b) - atol;
    return d <= 0 ? 0 : d / (fabs(a) + fabs(b) + atol);
}

/* the loss whose gradient a parameter range receives (spec §4.7, §5.5) */
static double seg_loss(const struct agent *a, int seg) {
    const struct agent_metrics *m = &a->metrics;
    if (seg == 0) {
        return a->c.kind == AGENT_FLOQ ? m->floq_loss : m->critic_loss;
    }
    if (seg == 1) {
        return m->distilled_critic_loss;
    }
    if (seg == 2) {
        return m->bc_flow_loss;
    }
    return a->c.alpha * m->distill_loss + m->q_loss;
}

static void fd_update(int kind) {
    struct agent_cfg c;
    tiny_cfg(&c, kind);
    c.alpha = 3.0f;
    struct agent a;
    char err[256];
    CHECK(agent_init(&a, &c, 5, err, sizeof err) == 0, "agent_init: %s", err);
    struct rng r;
    rng_seed(&r, 9);
    /* move the target away from the online critic so both matter */
    for (size_t i = 0; i < a.critic_end; i++) {
        a.target[i] += 0.05f * rng_normal(&r);
    }
    struct data d;
    make_data(&d, &r);
    struct agent_draws dr;
    agent_draws_alloc(&dr, &c);
    agent_draws_sample(&dr, &c, &r);
    agent_evaluate(&a, &d.b, &dr);
    float *g = mem_alloc(sizeof(float) * a.pb.n);
    memcpy(g, a.pb.g, sizeof(float) * a.pb.n);
    size_t bounds[5] = {0, a.critic_end, kind == AGENT_FLOQ ? a.bc.begin : a.critic_end,
                        a.policy_begin, a.policy_end};
    if (kind == AGENT_FLOQ) {
        bounds[1] = a.distill.begin;
    }
    const char *names[4] = {"critic", "distilled critic", "BC flow actor", "one-step actor"};
    for (int seg = 0; seg < 4; seg++) {
        if (bounds[seg + 1] <= bounds[seg]) {
            continue;
        }
        double worst = 0, gmax = 0;
        int nchk = 0;
        for (size_t i = bounds[seg]; i < bounds[seg + 1]; i += 3) {
            float keep = a.pb.w[i], h = 1e-2f;
            if (keep == 0 && g[i] == 0) {
                continue; /* alignment padding */
            }
            a.pb.w[i] = keep + h;
            agent_evaluate(&a, &d.b, &dr);
            double lp = seg_loss(&a, seg);
            a.pb.w[i] = keep - h;
            agent_evaluate(&a, &d.b, &dr);
            double lm = seg_loss(&a, seg);
            a.pb.w[i] = keep;
            double fd = (lp - lm) / (2.0 * h);
            worst = fmax(worst, relerr(fd, g[i], 2e-3));
            gmax = fmax(gmax, fabs(g[i]));
            nchk++;
        }
        CHECK(worst < 3e-2, "%s %s: gradient vs finite differences of its loss (%d params): worst %g",
              kind ? "fql" : "floq", names[seg], nchk, worst);
        CHECK(gmax > 0, "%s %s receives gradient", kind ? "fql" : "floq", names[seg]);
    }
    /* gradient isolation (oracle 13): the actor loss does not move with theta / phi, the
     * critic loss's gradient does not reach the actors (beta, omega get only actor grads: checked
     * above), and the target receives nothing */
    if (kind == AGENT_FLOQ) {
        agent_evaluate(&a, &d.b, &dr);
        double a0 = a.metrics.actor_loss;
        for (size_t i = 0; i < a.distill.begin; i += 7) {
            a.pb.w[i] += 0.1f;
        }
        agent_evaluate(&a, &d.b, &dr);
        CHECK(a.metrics.actor_loss == a0, "actor loss independent of the flow critic theta");
    }
    mem_free(g);
    agent_draws_free(&dr);
    agent_free(&a);
}

/* ---- Euler on closed-form fields (oracles 2, 3) ---- */
static void const_field(void *ctx, const float *z, float t, int n, float *v) {
    (void)z, (void)t;
    for (int i = 0; i < n; i++) {
        v[i] = *(float *)ctx;
    }
}
static void cond_field(void *ctx, const float *z, float t, int n, float *v) {
    const float *y = ctx;
    for (int i = 0; i < n; i++) {
        v[i] = (y[i] - z[i]) / (1.0f - t);
    }
}
static void lin_field(void *ctx, const float *z, float t, int n, float *v) {
    (void)t;
    for (int i = 0; i < n; i++) {
        v[i] = *(float *)ctx * z[i];
    }
}
static float g_ts[64];
static int g_nt;
static void rec_field(void *ctx, const float *z, float t, int n, float *v) {
    (void)ctx, (void)z;
    g_ts[g_nt++] = t;
    for (int i = 0; i < n; i++) {
        v[i] = 0;
    }
}

static void test_euler(void) {
    float z[4], v[4], y[4] = {3, -7, 0.5f, -100};
    for (int K = 1; K <= 16; K *= 2) {
        float c = 2.5f;
        for (int i = 0; i < 4; i++) {
            z[i] = (float)i - 1.0f;
        }
        flow_euler(z, 4, K, const_field, &c, v);
        CHECK_NEAR(z[2], 1.0 + 2.5, 1e-5, "constant field K=%d: z0 + c", K);
        for (int i = 0; i < 4; i++) {
            z[i] = -(float)i;
        }
        flow_euler(z, 4, K, cond_field, y, v);
        double w = 0;
        for (int i = 0; i < 4; i++) {
            w = fmax(w, fabs(z[i] - y[i]) / fmax(1, fabs(y[i])));
        }
        CHECK(w < 1e-5, "conditional field (y-z)/(1-t) reaches y exactly, K=%d (err %g)", K, w);
        float aa = -0.7f;
        z[0] = 2;
        flow_euler(z, 1, K, lin_field, &aa, v);
        CHECK_NEAR(z[0], 2 * pow(1 - 0.7 / K, K), 1e-5, "linear field: z0 (1 + a/K)^K, K=%d", K);
    }
    g_nt = 0;
    flow_euler(z, 1, 4, rec_field, NULL, v);
    CHECK(g_nt == 4 && g_ts[0] == 0 && g_ts[1] == 0.25f && g_ts[3] == 0.75f,
          "left-endpoint grid t_i = i/K; t = 1 never queried");
}

/* ---- degenerate settings (oracle 5): K=1, train_at_zero_only, coverage 0 -> MSE TD critic ---- */
static void test_degenerate(void) {
    struct agent_cfg c;
    tiny_cfg(&c, AGENT_FLOQ);
    c.critic_flow_steps = 1, c.train_at_zero_only = 1, c.noise_coverage = 0;
    struct agent a;
    char err[256];
    agent_init(&a, &c, 3, err, sizeof err);
    struct rng r;
    rng_seed(&r, 4);
    for (size_t i = 0; i < a.critic_end; i++) {
        a.target[i] += 0.05f * rng_normal(&r);
    }
    struct data d;
    make_data(&d, &r);
    struct agent_draws dr;
    agent_draws_alloc(&dr, &c);
    agent_draws_sample(&dr, &c, &r);
    agent_evaluate(&a, &d.b, &dr);
    /* independent: v(s,a,hl(0),cos 0) from the MLPs directly */
    int R = c.noise_samples, din = a.din_critic, E = a.E;
    float X[B * 64];
    float hl0[64];
    float zero = 0;
    hlgauss_embed(&a.hl, &zero, 1, hl0, 64);
    struct mlp_tape t;
    mlp_tape_init(&t, &a.critic, B * R);
    /* targets: y_b = r + gamma m mean_k mean_e vbar(s', a'_{bk}) */
    float Xn[B * 3 * 64];
    for (int i = 0; i < B * R; i++) {
        memcpy(Xn + i * din, d.nobs + (i / R) * O, sizeof(float) * O);
        memcpy(Xn + i * din + O, a.next_actions + i * A, sizeof(float) * A);
        memcpy(Xn + i * din + O + A, hl0, sizeof(float) * 50);
        Xn[i * din + O + A + 50] = 1.0f;
    }
    double y[B] = {0};
    for (int e = 0; e < E; e++) {
        mlp_infer(&a.critic, a.target, e, &t, Xn, B * R);
        for (int i = 0; i < B * R; i++) {
            y[i / R] += t.out[i] / (E * R);
        }
    }
    double worst_y = 0;
    for (int b = 0; b < B; b++) {
        y[b] = d.rew[b] + c.discount * d.mask[b] * y[b];
        worst_y = fmax(worst_y, fabs(y[b] - a.target_returns[b]));
    }
    CHECK(worst_y < 1e-5, "degenerate: TD target = r + gamma m v_target(s',a',hl(0),1) (%g)",
          worst_y);
    for (int b = 0; b < B; b++) {
        memcpy(X + b * din, d.obs + b * O, sizeof(float) * O);
        memcpy(X + b * din + O, d.act + b * A, sizeof(float) * A);
        memcpy(X + b * din + O + A, hl0, sizeof(float) * 50);
        X[b * din + O + A + 50] = 1.0f;
    }
    double L = 0;
    for (int e = 0; e < E; e++) {
        mlp_infer(&a.critic, a.pb.w, e, &t, X, B);
        for (int b = 0; b < B; b++) {
            L += (t.out[b] - y[b]) * (t.out[b] - y[b]);
        }
    }
    L = R * L / (E * B);
    CHECK(fabs(L - a.metrics.floq_loss) < 1e-5 * fmax(1, L),
          "degenerate: L_flow = R mean (v - y)^2: %g vs %g", L, a.metrics.floq_loss);
    mlp_tape_free(&t);
    agent_draws_free(&dr);
    agent_free(&a);
}

static void test_td_polyak_perm(void) {
    struct agent_cfg c;
    tiny_cfg(&c, AGENT_FLOQ);
    struct agent a;
    char err[256];
    agent_init(&a, &c, 11, err, sizeof err);
    struct rng r;
    rng_seed(&r, 12);
    struct data d;
    make_data(&d, &r);
    struct agent_draws dr;
    agent_draws_alloc(&dr, &c);
    agent_draws_sample(&dr, &c, &r);
    /* oracle 6: m = 0 -> y = r */
    for (int i = 0; i < B; i++) {
        d.mask[i] = 0;
    }
    agent_evaluate(&a, &d.b, &dr);
    int eq = 1;
    for (int i = 0; i < B; i++) {
        eq &= a.target_returns[i] == d.rew[i];
    }
    CHECK(eq, "mask 0: TD target equals the reward");
    make_data(&d, &r);
    struct agent_cfg c0 = c;
    c0.discount = 0;
    struct agent a0;
    agent_init(&a0, &c0, 11, err, sizeof err);
    agent_evaluate(&a0, &d.b, &dr);
    eq = 1;
    for (int i = 0; i < B; i++) {
        eq &= a0.target_returns[i] == d.rew[i];
    }
    CHECK(eq, "gamma 0: TD target equals the reward");
    agent_free(&a0);
    /* identical members: min and mean aggregation agree */
    struct agent am, an;
    struct agent_cfg cm = c, cn = c;
    cm.q_agg = Q_AGG_MEAN, cn.q_agg = Q_AGG_MIN;
    agent_init(&am, &cm, 11, err, sizeof err);
    agent_init(&an, &cn, 11, err, sizeof err);
    for (int i = 0; i < am.critic.nlayers; i++) {
        size_t per = (size_t)am.critic.din[i] * am.critic.dout[i];
        memcpy(am.target + am.critic.off_w[i] + per, am.target + am.critic.off_w[i],
               sizeof(float) * per);
        memcpy(am.target + am.critic.off_b[i] + am.critic.dout[i], am.target + am.critic.off_b[i],
               sizeof(float) * am.critic.dout[i]);
        if (i < am.critic.c.nhidden) {
            memcpy(am.target + am.critic.off_g[i] + am.critic.dout[i],
                   am.target + am.critic.off_g[i], sizeof(float) * am.critic.dout[i]);
            memcpy(am.target + am.critic.off_c[i] + am.critic.dout[i],
                   am.target + am.critic.off_c[i], sizeof(float) * am.critic.dout[i]);
        }
    }
    memcpy(an.target, am.target, sizeof(float) * am.critic_end);
    agent_evaluate(&am, &d.b, &dr);
    agent_evaluate(&an, &d.b, &dr);
    double dmax = 0;
    for (int i = 0; i < B; i++) {
        dmax = fmax(dmax, fabs(am.target_returns[i] - an.target_returns[i]));
    }
    CHECK(dmax < 1e-5, "identical members: q_agg min == mean (%g)", dmax);
    agent_free(&am), agent_free(&an);
    /* oracle 8: Polyak with one-step lag */
    float *w0 = mem_alloc(sizeof(float) * a.critic_end);
    memcpy(w0, a.pb.w, sizeof(float) * a.critic_end);
    agent_update(&a, &d.b, &dr);
    double lag = 0, moved = 0;
    for (size_t i = 0; i < a.critic_end; i++) {
        lag = fmax(lag, fabs(a.target[i] - w0[i]) / fmax(1e-3, fabs(w0[i])));
        moved = fmax(moved, fabs(a.pb.w[i] - w0[i]));
    }
    CHECK(lag < 1e-6, "after the first update the target equals the initial online params (%g)",
          lag);
    CHECK(moved > 1e-4, "the online critic moved (%g)", moved);
    struct agent_cfg c1 = c;
    c1.tau = 1;
    struct agent a1;
    agent_init(&a1, &c1, 11, err, sizeof err);
    agent_update(&a1, &d.b, &dr);
    float *before = mem_alloc(sizeof(float) * a1.critic_end);
    memcpy(before, a1.pb.w, sizeof(float) * a1.critic_end);
    agent_update(&a1, &d.b, &dr);
    CHECK(memcmp(before, a1.target, sizeof(float) * a1.critic_end) == 0,
          "tau 1: target = online params before the latest step");
    agent_free(&a1);
    struct agent_cfg cz = c;
    cz.tau = 0;
    struct agent az;
    agent_init(&az, &cz, 11, err, sizeof err);
    memcpy(before, az.target, sizeof(float) * az.critic_end);
    agent_update(&az, &d.b, &dr);
    CHECK(memcmp(before, az.target, sizeof(float) * az.critic_end) == 0, "tau 0: target unchanged");
    agent_free(&az);
    mem_free(before), mem_free(w0);
    /* oracle 16: batch permutation invariance given the same draws */
    agent_evaluate(&a, &d.b, &dr);
    struct agent_metrics m0 = a.metrics;
    int perm[B] = {3, 0, 5, 1, 4, 2};
    struct data p;
    struct agent_draws pd;
    agent_draws_alloc(&pd, &c);
    int R = c.noise_samples;
    for (int i = 0; i < B; i++) {
        int s = perm[i];
        memcpy(p.obs + i * O, d.obs + s * O, sizeof(float) * O);
        memcpy(p.nobs + i * O, d.nobs + s * O, sizeof(float) * O);
        memcpy(p.act + i * A, d.act + s * A, sizeof(float) * A);
        p.rew[i] = d.rew[s], p.mask[i] = d.mask[s];
        for (int k = 0; k < R; k++) {
            memcpy(pd.next_action_noise + (i * R + k) * A, dr.next_action_noise + (s * R + k) * A,
                   sizeof(float) * A);
            pd.next_noise_ratios[i * R + k] = dr.next_noise_ratios[s * R + k];
            pd.noise_ratios[i * R + k] = dr.noise_ratios[s * R + k];
            pd.critic_t[i * R + k] = dr.critic_t[s * R + k];
        }
        memcpy(pd.actor_x0 + i * A, dr.actor_x0 + s * A, sizeof(float) * A);
        memcpy(pd.distill_noise + i * A, dr.distill_noise + s * A, sizeof(float) * A);
        memcpy(pd.mse_noise + i * A, dr.mse_noise + s * A, sizeof(float) * A);
        pd.actor_t[i] = dr.actor_t[s];
    }
    p.b = (struct agent_batch){B, p.obs, p.act, p.rew, p.nobs, p.mask};
    agent_evaluate(&a, &p.b, &pd);
    double pm = fmax(fabs(a.metrics.critic_loss - m0.critic_loss) / fabs(m0.critic_loss),
                     fabs(a.metrics.actor_loss - m0.actor_loss) / fabs(m0.actor_loss));
    CHECK(pm < 1e-5, "losses invariant to a batch permutation (%g)", pm);
    agent_draws_free(&pd);
    /* oracle 15: acting policy in [-1,1] even for large inputs */
    float obs[8 * O], eps[8 * A], act[8 * A];
    for (int i = 0; i < 8 * O; i++) {
        obs[i] = 100 * rng_normal(&r);
    }
    for (int i = 0; i < 8 * A; i++) {
        eps[i] = 10 * rng_normal(&r);
    }
    agent_act(&a, obs, eps, 8, act);
    int inb = 1;
    for (int i = 0; i < 8 * A; i++) {
        inb &= act[i] >= -1 && act[i] <= 1;
    }
    CHECK(inb, "acting policy returns actions in [-1, 1]");
    /* hot loop: no allocation over 100 updates */
    uint64_t before_n = mem_alloc_count();
    for (int i = 0; i < 100; i++) {
        agent_draws_sample(&dr, &c, &r);
        agent_update(&a, &d.b, &dr);
    }
    CHECK(mem_alloc_count() == before_n, "agent_update allocates nothing (%llu allocations)",
          (unsigned long long)(mem_alloc_count() - before_n));
    CHECK(isfinite(a.metrics.total_loss), "100 updates stay finite");
    agent_draws_free(&dr);
    agent_free(&a);
}

/* ---- threads: a fixed share of the batch per thread, gradients summed in thread order ---- */

/* every float of the trained state: params, Adam moments, target */
static int same_state(const struct agent *x, const struct agent *y) {
    size_t n = x->pb.n * sizeof(float);
    return memcmp(x->pb.w, y->pb.w, n) == 0 && memcmp(x->pb.m, y->pb.m, n) == 0 &&
           memcmp(x->pb.v, y->pb.v, n) == 0 &&
           memcmp(x->target, y->target, x->critic_end * sizeof(float)) == 0 &&
           memcmp(&x->metrics, &y->metrics, sizeof x->metrics) == 0;
}

/* max |x - y| / max |y| over n floats */
static double rel_max(const float *x, const float *y, size_t n) {
    double d = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)x[i] - y[i]));
        m = fmax(m, fabs((double)y[i]));
    }
    return m > 0 ? d / m : d;
}

static void test_threads(int kind, int normalize) {
    struct agent_cfg c;
    tiny_cfg(&c, kind);
    c.normalize_q_loss = normalize;
    const char *name = kind == AGENT_FLOQ ? "floq" : "fql";
    enum { NA = 6, U = 20 };
    /* threads 1, 2, 2 again, 3, 4 (shares 1,2,1,2), 8 (capped at B = 6), 2 then back to 1 */
    int want[NA] = {1, 2, 2, 3, 4, 8};
    struct agent a[NA + 1];
    char err[256];
    for (int i = 0; i <= NA; i++) {
        CHECK(agent_init(&a[i], &c, 21, err, sizeof err) == 0, "init: %s", err);
    }
    for (int i = 0; i < NA; i++) {
        CHECK(agent_set_threads(&a[i], want[i], err, sizeof err) == 0, "%d threads: %s", want[i],
              err);
    }
    CHECK(a[5].nthreads == B, "%s: 8 threads capped at the batch size (%d)", name, a[5].nthreads);
    CHECK(agent_set_threads(&a[NA], 2, err, sizeof err) == 0 &&
              agent_set_threads(&a[NA], 1, err, sizeof err) == 0 && a[NA].nthreads == 1,
          "2 threads, then back to 1");
    CHECK(agent_set_threads(&a[0], 0, err, sizeof err) == -1 && strstr(err, "threads"),
          "0 threads refused: %s", err);
    struct rng r;
    rng_seed(&r, 22);
    struct data d;
    struct agent_draws dr;
    agent_draws_alloc(&dr, &c);
    double g12 = 0;
    uint64_t allocs = 0;
    for (int u = 0; u < U; u++) {
        make_data(&d, &r);
        agent_draws_sample(&dr, &c, &r);
        uint64_t before = mem_alloc_count();
        for (int i = 0; i <= NA; i++) {
            agent_update(&a[i], &d.b, &dr);
        }
        allocs += mem_alloc_count() - before;
        if (u == 0) {
            g12 = rel_max(a[1].pb.g, a[0].pb.g, a[0].pb.n);
        }
    }
    CHECK(allocs == 0, "%s: threaded updates allocate nothing (%llu)", name,
          (unsigned long long)allocs);
    CHECK(same_state(&a[1], &a[2]), "%s: 2 threads repeat bit for bit over %d updates", name, U);
    CHECK(same_state(&a[0], &a[NA]), "%s: back to 1 thread is the serial update bit for bit", name);
    CHECK(g12 <= 1e-5, "%s: first gradient, 2 threads vs 1: max|d|/max|g| = %g", name, g12);
    /* after U Adam steps: the golden test's criterion for new parameters (README of golden/) */
    for (int i = 1; i < NA; i++) {
        double md = 0;
        size_t off = 0, n = a[0].pb.n;
        for (size_t j = 0; j < n; j++) {
            double dj = fabs((double)a[i].pb.w[j] - a[0].pb.w[j]);
            md = fmax(md, dj);
            off += dj > 0.01 * c.lr;
        }
        CHECK(md <= 2.0 * c.lr * U && (double)off <= 0.001 * (double)n,
              "%s: %d threads vs 1 after %d updates: max|dw| %g (2 lr U = %g), %zu of %zu > "
              "0.01 lr",
              name, a[i].nthreads, U, md, 2.0 * c.lr * U, off, n);
        double dl = fabs(a[i].metrics.total_loss - a[0].metrics.total_loss) /
                    fmax(1e-6, fabs(a[0].metrics.total_loss));
        CHECK(dl <= 1e-3, "%s: %d threads vs 1: total loss %.9g vs %.9g", name, a[i].nthreads,
              a[i].metrics.total_loss, a[0].metrics.total_loss);
    }
    /* a NaN in the last transition (the last thread's share): every thread count refuses the
     * update and keeps its state, step included, naming the term */
    d.obs[B * O - 1] = NAN;
    for (int i = 0; i < 2; i++) {
        struct agent *x = &a[i];
        size_t n = x->pb.n * sizeof(float);
        float *w = malloc(n), *m = malloc(n), *v = malloc(n);
        float *tg = malloc(x->critic_end * sizeof(float));
        memcpy(w, x->pb.w, n), memcpy(m, x->pb.m, n), memcpy(v, x->pb.v, n);
        memcpy(tg, x->target, x->critic_end * sizeof(float));
        long step = x->step;
        int rc = agent_update(x, &d.b, &dr);
        CHECK(rc == -1 && x->bad_term[0] && x->step == step && !memcmp(w, x->pb.w, n) &&
                  !memcmp(m, x->pb.m, n) && !memcmp(v, x->pb.v, n) &&
                  !memcmp(tg, x->target, x->critic_end * sizeof(float)),
              "%s, %d threads: a NaN observation is refused, the state kept (rc %d: %s)", name,
              x->nthreads, rc, x->bad_term);
        free(w), free(m), free(v), free(tg);
    }
    make_data(&d, &r);
    /* evaluate leaves the whole batch's gradient in pb.g, as with one thread */
    agent_evaluate(&a[0], &d.b, &dr);
    struct agent e2;
    agent_init(&e2, &c, 21, err, sizeof err);
    memcpy(e2.pb.w, a[0].pb.w, sizeof(float) * a[0].pb.n);
    memcpy(e2.target, a[0].target, sizeof(float) * a[0].critic_end);
    agent_set_threads(&e2, 3, err, sizeof err);
    agent_evaluate(&e2, &d.b, &dr);
    CHECK(rel_max(e2.pb.g, a[0].pb.g, a[0].pb.n) <= 1e-5,
          "%s: evaluate on 3 threads: the batch's gradient in pb.g (%g)", name,
          rel_max(e2.pb.g, a[0].pb.g, a[0].pb.n));
    agent_free(&e2);
    for (int i = 0; i <= NA; i++) {
        agent_free(&a[i]);
    }
    agent_draws_free(&dr);
}

static void test_cfg_errors(void) {
    struct agent_cfg c;
    tiny_cfg(&c, AGENT_FLOQ);
    char err[256];
    c.distill_num_ensembles = 3;
    CHECK(agent_cfg_check(&c, err, sizeof err) == -1 && strstr(err, "ensembles"),
          "unequal ensembles refused: %s", err);
    tiny_cfg(&c, AGENT_FLOQ);
    c.discount = 1;
    CHECK(agent_cfg_check(&c, err, sizeof err) == -1 && strstr(err, "discount"),
          "discount 1 refused: %s", err);
    tiny_cfg(&c, AGENT_FLOQ);
    c.r_min = NAN;
    CHECK(agent_cfg_check(&c, err, sizeof err) == -1, "NaN reward range refused: %s", err);
    /* all-zero rewards and no margin: an empty value support (used to abort on an assert in
     * hlgauss_init) */
    tiny_cfg(&c, AGENT_FLOQ);
    c.r_min = c.r_max = 0, c.reward_offset = 0;
    struct agent a;
    CHECK(agent_init(&a, &c, 1, err, sizeof err) == -1 && strstr(err, "reward_offset"),
          "rewards all 0 with --agent.reward_offset 0 refused in one line: %s", err);
    c.reward_offset = 0.01f;
    CHECK(agent_init(&a, &c, 1, err, sizeof err) == 0, "with a margin it runs: %s", err);
    agent_free(&a);
}

int main(void) {
    fd_update(AGENT_FLOQ);
    fd_update(AGENT_FQL);
    test_euler();
    test_degenerate();
    test_td_polyak_perm();
    test_cfg_errors();
    for (int kind = 0; kind < 2; kind++) {
        test_threads(kind, 0);
        test_threads(kind, 1);
    }
    return check_report("test_agent");
}
