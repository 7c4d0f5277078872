#include "learner/agent.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/mem.h"
#include "common/util.h"

void agent_cfg_default(struct agent_cfg *c, int kind) {
    /* clang-format off */
    *c = (struct agent_cfg){
        .kind = kind, .lr = 3e-4f, .batch_size = 256, .discount = 0.99f, .tau = 0.005f,
        /* networks: actors, critics (distilled / FQL), flow critic */
        .actor_hidden = {512, 512, 512, 512}, .n_actor_hidden = 4, .actor_layer_norm = 0,
        .value_hidden = {512, 512, 512, 512}, .n_value_hidden = 4, .layer_norm = 1,
        .block_width = 512, .block_depth = 4, .activate_before_layernorm = 1, .gelu_exact = 0,
        .flow_num_ensembles = 2, .distill_num_ensembles = 2,
        /* losses */
        .q_agg = Q_AGG_MEAN, .alpha = 10.0f, .actor_flow_steps = 10, .normalize_q_loss = 0,
        /* the flow critic: noise, integration, embeddings, support */
        .noise_samples = 8, .noise_coverage = 0.1f, .critic_flow_steps = 8,
        .train_at_zero_only = 0, .embed_time = 1, .time_embed = TIME_EMBED_COS,
        .use_prob_embed = 1, .num_bins = 51, .sigma = 16.0f, .reward_offset = 0.01f,
        .r_min = -1.0f, .r_max = 0.0f};
    /* clang-format on */
}

int agent_cfg_preset(struct agent_cfg *c, const char *preset, char *err, size_t errsz) {
    int w;
    if (strcmp(preset, "paper") == 0) {
        return 0;
    } else if (strcmp(preset, "small") == 0) {
        w = 256;
        c->noise_samples = 4;
        c->critic_flow_steps = 4;
    } else if (strcmp(preset, "tiny") == 0) {
        w = 32;
        c->noise_samples = 2;
        c->critic_flow_steps = 3;
        c->batch_size = 32;
    } else {
        snprintf(err, errsz, "--preset=%s: expected paper, small or tiny", preset);
        return -1;
    }
    /* two hidden layers of w units in every network */
    c->n_actor_hidden = c->n_value_hidden = c->block_depth = 2;
    for (int i = 0; i < 2; i++) {
        c->actor_hidden[i] = c->value_hidden[i] = w;
    }
    c->block_width = w;
    return 0;
}

int agent_cfg_check(const struct agent_cfg *c, char *err, size_t errsz) {
#define BAD(...)                                                                                   \
    do {                                                                                           \
        snprintf(err, errsz, __VA_ARGS__);                                                         \
        return -1;                                                                                 \
    } while (0)
    if (c->obs_dim <= 0 || c->act_dim <= 0) {
        BAD("agent: obs_dim %d / action_dim %d must be positive", c->obs_dim, c->act_dim);
    }
    if (c->batch_size < 1 || c->batch_size > 1 << 20) {
        BAD("agent: --batch_size=%d must be in [1, 1048576]", c->batch_size);
    }
    if (!(c->lr > 0) || !isfinite(c->lr)) {
        BAD("agent: --agent.lr=%g must be a positive number", c->lr);
    }
    if (!(c->discount >= 0 && c->discount < 1)) {
        BAD("agent: --agent.discount=%g must be in [0, 1)", c->discount);
    }
    if (!(c->tau >= 0 && c->tau <= 1)) {
        BAD("agent: --agent.tau=%g must be in [0, 1]", c->tau);
    }
    if (c->flow_num_ensembles < 1 || c->flow_num_ensembles > AGENT_MAX_E ||
        c->distill_num_ensembles < 1 || c->distill_num_ensembles > AGENT_MAX_E) {
        BAD("agent: ensembles must be in [1, %d]", AGENT_MAX_E);
    }
    if (c->kind == AGENT_FLOQ && c->flow_num_ensembles != c->distill_num_ensembles) {
        BAD("agent: --agent.flow_num_ensembles=%d and --agent.distill_num_ensembles=%d must be "
            "equal (as in the reference)",
            c->flow_num_ensembles, c->distill_num_ensembles);
    }
    if (c->noise_samples < 1 || c->noise_samples > 1024) {
        BAD("agent: --agent.noise_samples=%d must be in [1, 1024]", c->noise_samples);
    }
    if (c->critic_flow_steps < 1 || c->critic_flow_steps > 4096) {
        BAD("agent: --agent.critic_flow_steps=%d must be in [1, 4096]", c->critic_flow_steps);
    }
    if (c->actor_flow_steps < 1 || c->actor_flow_steps > 4096) {
        BAD("agent: --agent.actor_flow_steps=%d must be in [1, 4096]", c->actor_flow_steps);
    }
    if (c->num_bins < 2 || c->num_bins > HLGAUSS_MAX_BINS) {
        BAD("agent: --agent.num_bins=%d must be in [2, %d]", c->num_bins, HLGAUSS_MAX_BINS);
    }
    if (!(c->sigma > 0)) {
        BAD("agent: --agent.sigma=%g must be positive", c->sigma);
    }
    if (!(c->noise_coverage >= 0) || !isfinite(c->noise_coverage)) {
        BAD("agent: --agent.noise_coverage=%g must be >= 0", c->noise_coverage);
    }
    if (!isfinite(c->alpha)) {
        BAD("agent: --agent.alpha must be finite");
    }
    if (!c->activate_before_layernorm) {
        BAD("agent: --agent.activate_before_layernorm=false is not implemented; the reference "
            "runs use true");
    }
    if (c->n_actor_hidden < 1 || c->n_actor_hidden > MLP_MAX_HIDDEN || c->n_value_hidden < 1 ||
        c->n_value_hidden > MLP_MAX_HIDDEN || c->block_depth < 1 ||
        c->block_depth > MLP_MAX_HIDDEN) {
        BAD("agent: network depth must be in [1, %d]", MLP_MAX_HIDDEN);
    }
    for (int i = 0; i < c->n_actor_hidden; i++) {
        if (c->actor_hidden[i] < 1 || c->actor_hidden[i] > 8192) {
            BAD("agent: --agent.actor_hidden_dims entries must be in [1, 8192]");
        }
    }
    for (int i = 0; i < c->n_value_hidden; i++) {
        if (c->value_hidden[i] < 1 || c->value_hidden[i] > 8192) {
            BAD("agent: --agent.value_hidden_dims entries must be in [1, 8192]");
        }
    }
    if (c->block_width < 1 || c->block_width > 8192) {
        BAD("agent: --agent.block_width=%d must be in [1, 8192]", c->block_width);
    }
    if (!isfinite(c->r_min) || !isfinite(c->r_max) || c->r_min > c->r_max) {
        BAD("agent: reward range [%g, %g] is not valid", c->r_min, c->r_max);
    }
    /* the critic's value support (HL-Gauss bins) must have room: all-equal rewards need a
     * margin */
    float g1 = 1.0f - c->discount;
    float qmin = (c->r_min - c->reward_offset) / g1, qmax = (c->r_max + c->reward_offset) / g1;
    float width = (qmax - qmin) / (float)(c->num_bins - 1);
    if (!(qmax > qmin) || !isfinite(qmin) || !isfinite(qmax) || !(width > 0) ||
        !(c->sigma * width > 0) || !isfinite(c->sigma * width)) {
        BAD("agent: the critic's value support [%g, %g] is empty or not finite: the rewards span "
            "[%g, %g] and --agent.reward_offset is %g; give --agent.reward_offset > 0 (default "
            "0.01)",
            qmin, qmax, c->r_min, c->r_max, c->reward_offset);
    }
    return 0;
#undef BAD
}

static int zfeat_dim(const struct agent_cfg *c) {
    return c->use_prob_embed ? c->num_bins - 1 : 1;
}

static int tfeat_dim(const struct agent_cfg *c) {
    return c->embed_time ? time_embed_dim(c->time_embed) : 1;
}

/* registers every network's views in a->pb (sizes from a->c; no allocation of weights) */
static void register_nets(struct agent *a) {
    const struct agent_cfg *c = &a->c;
    int O = c->obs_dim, A = c->act_dim;
    int act = c->gelu_exact ? KERN_GELU_ERF : KERN_GELU_TANH;
    a->E = c->flow_num_ensembles;
    a->Ed = c->kind == AGENT_FLOQ ? c->distill_num_ensembles : c->flow_num_ensembles;
    /* parameters: critic first (the target mirrors [0, critic_end)), then the rest */
    param_init(&a->pb);
    struct mlp_cfg mc = {0};
    if (c->kind == AGENT_FLOQ) {
        a->din_critic = O + A + zfeat_dim(c) + tfeat_dim(c);
        mc.in = a->din_critic;
        mc.nhidden = c->block_depth;
        for (int i = 0; i < c->block_depth; i++) {
            mc.hidden[i] = c->block_width;
        }
    } else {
        a->din_critic = O + A;
        mc.in = O + A;
        mc.nhidden = c->n_value_hidden;
        memcpy(mc.hidden, c->value_hidden, sizeof mc.hidden);
    }
    mc.out = 1;
    mc.ln = c->layer_norm;
    mc.act = act;
    mc.E = a->E;
    mlp_register(&a->critic, &mc, &a->pb, c->kind == AGENT_FLOQ ? "floq" : "critic");
    a->critic_end = param_mark(&a->pb);
    if (c->kind == AGENT_FLOQ) {
        struct mlp_cfg dc = {.in = O + A, .out = 1, .nhidden = c->n_value_hidden,
                             .ln = c->layer_norm, .act = act, .E = a->Ed};
        memcpy(dc.hidden, c->value_hidden, sizeof dc.hidden);
        mlp_register(&a->distill, &dc, &a->pb, "critic");
    }
    /* the BC flow actor has the policy's shape with the flow time as one more input */
    struct policy_cfg pc = agent_policy(c);
    struct mlp_cfg bcc = policy_mlp_cfg(&pc);
    bcc.in += 1;
    mlp_register(&a->bc, &bcc, &a->pb, "actor_bc_flow");
    a->policy_begin = param_mark(&a->pb);
    policy_register(&a->onestep, &pc, &a->pb);
    a->policy_end = param_mark(&a->pb);
}

struct policy_cfg agent_policy(const struct agent_cfg *c) {
    struct policy_cfg p = {.obs_dim = c->obs_dim,
                           .act_dim = c->act_dim,
                           .n_hidden = c->n_actor_hidden,
                           .layer_norm = c->actor_layer_norm,
                           .gelu_exact = c->gelu_exact};
    memcpy(p.hidden, c->actor_hidden, sizeof p.hidden);
    return p;
}

int agent_layout(const struct agent_cfg *c, struct param_block *pb, char *err, size_t errsz) {
    if (agent_cfg_check(c, err, errsz)) {
        return -1;
    }
    struct agent *a = mem_alloc(sizeof *a);
    a->c = *c;
    register_nets(a);
    *pb = a->pb; /* the views move to the caller */
    mem_free(a);
    return 0;
}

size_t agent_init_bytes(const struct agent_cfg *c) {
    struct param_block pb;
    char why[256];
    if (agent_layout(c, &pb, why, sizeof why)) {
        return 0;
    }
    param_free(&pb);
    struct agent *a = mem_alloc(sizeof *a);
    a->c = *c;
    register_nets(a);
    size_t B = (size_t)c->batch_size,
           BR = B * (size_t)(c->kind == AGENT_FLOQ ? c->noise_samples : 1);
    size_t O = (size_t)c->obs_dim, A = (size_t)c->act_dim, E = AGENT_MAX_E;
    /* params, grads, Adam moments, target; the tapes; the per-row scratch of agent_init */
    size_t n = 4 * param_mark(&a->pb) + a->critic_end;
    n += BR * (O + 4 * A + (size_t)a->din_critic + 4 * E + 4) +
         B * (2 * (O + A) + 3 * A + 2 * E + 4);
    size_t bytes = n * sizeof(float) + mlp_tape_bytes(&a->critic, (int)BR) +
                   mlp_tape_bytes(&a->bc, (int)B) + mlp_tape_bytes(&a->onestep, (int)BR) +
                   (c->kind == AGENT_FLOQ ? mlp_tape_bytes(&a->distill, (int)B) : 0);
    param_free(&a->pb);
    mem_free(a);
    return bytes;
}

/* one update thread's scratch for nb transitions (nb R replicated rows) */
static void worker_alloc(const struct agent *a, struct agent_worker *w, int nb) {
    int O = a->c.obs_dim, A = a->c.act_dim, BR = nb * a->R;
    memset(w, 0, sizeof *w);
    mlp_tape_init(&w->t_critic, &a->critic, BR);
    if (a->c.kind == AGENT_FLOQ) {
        mlp_tape_init(&w->t_distill, &a->distill, nb);
    }
    mlp_tape_init(&w->t_bc, &a->bc, nb);
    mlp_tape_init(&w->t_os, &a->onestep, BR);
    w->x_os = mem_alloc(sizeof(float) * (size_t)BR * (O + A));
    w->x_crit = mem_alloc(sizeof(float) * (size_t)BR * a->din_critic);
    w->x_small = mem_alloc(sizeof(float) * (size_t)nb * (O + A + 1));
    w->z = mem_alloc(sizeof(float) * (size_t)AGENT_MAX_E * BR);
    w->v = mem_alloc(sizeof(float) * (size_t)BR * (A > 1 ? A : 1));
    w->dtmp = mem_alloc(sizeof(float) * (size_t)BR * (A > 1 ? A : 1));
    w->dact = mem_alloc(sizeof(float) * (size_t)nb * (O + A + 1));
}

/* frees a worker's scratch (not its gradient) */
static void worker_free(struct agent_worker *w) {
    mlp_tape_free(&w->t_critic);
    mlp_tape_free(&w->t_distill);
    mlp_tape_free(&w->t_bc);
    mlp_tape_free(&w->t_os);
    MEM_FREE_ALL(w->x_os, w->x_crit, w->x_small, w->z, w->v, w->dtmp, w->dact);
    memset(w, 0, sizeof *w);
}

int agent_init(struct agent *a, const struct agent_cfg *c, uint64_t seed, char *err,
               size_t errsz) {
    memset(a, 0, sizeof *a);
    if (agent_cfg_check(c, err, errsz)) {
        return -1;
    }
    a->c = *c;
    int A = c->act_dim, B = c->batch_size;
    a->E = c->flow_num_ensembles;
    a->Ed = c->kind == AGENT_FLOQ ? c->distill_num_ensembles : c->flow_num_ensembles;
    a->R = c->kind == AGENT_FLOQ ? c->noise_samples : 1;
    a->K = c->critic_flow_steps;
    a->M = c->actor_flow_steps;
    float g1 = 1.0f - c->discount;
    a->noise_lo = c->noise_coverage * c->r_min / g1;
    a->noise_hi = c->noise_coverage * c->r_max / g1;
    float qmin = (c->r_min - c->reward_offset) / g1, qmax = (c->r_max + c->reward_offset) / g1;
    hlgauss_init(&a->hl, qmin, qmax, c->num_bins, c->sigma);

    register_nets(a);
    param_alloc(&a->pb, 1);

    /* init: one stream per network so sizes of one do not shift the draws of another */
    struct rng root;
    rng_seed(&root, seed);
    struct rng r0 = rng_split(&root, RNG_STREAM_INIT);
    struct rng rc = rng_split(&r0, 1), rd = rng_split(&r0, 2), rb = rng_split(&r0, 3),
               ro = rng_split(&r0, 4);
    mlp_init_weights(&a->critic, a->pb.w, &rc);
    if (c->kind == AGENT_FLOQ) {
        mlp_init_weights(&a->distill, a->pb.w, &rd);
    }
    mlp_init_weights(&a->bc, a->pb.w, &rb);
    mlp_init_weights(&a->onestep, a->pb.w, &ro);
    a->target = mem_alloc(sizeof(float) * a->critic_end);
    memcpy(a->target, a->pb.w, sizeof(float) * a->critic_end);
    a->opt = adam_default();
    a->opt.lr = c->lr;

    /* worker 0: the whole batch's scratch (one thread; the read-outs use it too) */
    int R = a->R, BR = B * R;
    a->maxB = B;
    a->nthreads = 1;
    a->wk = mem_alloc(sizeof *a->wk);
    worker_alloc(a, &a->wk[0], B);
    a->wk[0].g = a->pb.g;
    pool_init(&a->pool, 1, NULL, 0);
    a->next_actions = mem_alloc(sizeof(float) * (size_t)BR * A);
    a->next_returns = mem_alloc(sizeof(float) * (size_t)BR);
    a->target_returns = mem_alloc(sizeof(float) * (size_t)B);
    a->current_returns = mem_alloc(sizeof(float) * (size_t)AGENT_MAX_E * BR);
    a->flow_x_t = mem_alloc(sizeof(float) * (size_t)BR);
    a->flow_pred = mem_alloc(sizeof(float) * (size_t)AGENT_MAX_E * BR);
    a->critic_q = mem_alloc(sizeof(float) * (size_t)AGENT_MAX_E * B);
    a->actor_flow_actions = mem_alloc(sizeof(float) * (size_t)B * A);
    a->actor_onestep_actions = mem_alloc(sizeof(float) * (size_t)B * A);
    a->actor_qs = mem_alloc(sizeof(float) * (size_t)AGENT_MAX_E * B);
    return 0;
}

/* frees workers [from, nthreads), and their gradients but worker 0's (pb.g) */
static void workers_free(struct agent *a, int from) {
    for (int k = from; k < a->nthreads && a->wk; k++) {
        if (k > 0) {
            mem_free(a->wk[k].g);
        }
        worker_free(&a->wk[k]);
    }
}

void agent_free(struct agent *a) {
    pool_free(&a->pool);
    workers_free(a, 0);
    mem_free(a->wk);
    param_free(&a->pb);
    mem_free(a->target);
    MEM_FREE_ALL(a->next_actions, a->next_returns, a->target_returns, a->current_returns,
                 a->flow_x_t, a->flow_pred, a->critic_q, a->actor_flow_actions,
                 a->actor_onestep_actions, a->actor_qs);
    memset(a, 0, sizeof *a);
}

static void alloc_job(void *ctx, int tid, int n) {
    struct agent *a = ctx;
    if (tid > 0) {
        /* a share is at most ceil(maxB / n) transitions, whatever the batch (pool_split) */
        worker_alloc(a, &a->wk[tid], (a->maxB + n - 1) / n);
        a->wk[tid].g = mem_alloc(sizeof(float) * a->pb.n);
    }
}

int agent_set_threads(struct agent *a, int n, char *err, size_t errsz) {
    if (n < 1) {
        seterr(err, errsz, "agent: %d update threads; expected at least 1", n);
        return -1;
    }
    n = FLOQ_MIN(n, a->maxB);
    if (n != a->nthreads) {
        struct pool np;
        if (pool_init(&np, n, err, errsz)) {
            return -1;
        }
        pool_free(&a->pool);
        workers_free(a, 1);
        struct agent_worker *wk = mem_alloc(sizeof *wk * (size_t)n);
        wk[0] = a->wk[0];
        mem_free(a->wk);
        a->wk = wk;
        a->pool = np;
        a->nthreads = n;
        /* each thread allocates (and so first touches: zeroes) its own scratch and gradient,
         * which puts them on its NUMA node */
        pool_run(&a->pool, alloc_job, a);
    }
    if (n > 1) {
        linear_blas_threads(1); /* every update thread calls BLAS on its own rows */
    }
    return 0;
}

void agent_draws_alloc(struct agent_draws *d, const struct agent_cfg *c) {
    memset(d, 0, sizeof *d);
    int B = c->batch_size, R = c->kind == AGENT_FLOQ ? c->noise_samples : 1, A = c->act_dim;
    d->B = B, d->R = R, d->A = A;
    size_t BR = (size_t)B * R;
    d->next_action_noise = mem_alloc(sizeof(float) * BR * A);
    d->next_noise_ratios = mem_alloc(sizeof(float) * BR);
    d->noise_ratios = mem_alloc(sizeof(float) * BR);
    d->critic_t = mem_alloc(sizeof(float) * BR);
    d->actor_x0 = mem_alloc(sizeof(float) * (size_t)B * A);
    d->actor_t = mem_alloc(sizeof(float) * (size_t)B);
    d->distill_noise = mem_alloc(sizeof(float) * (size_t)B * A);
    d->mse_noise = mem_alloc(sizeof(float) * (size_t)B * A);
}

void agent_draws_sample(struct agent_draws *d, const struct agent_cfg *c, struct rng *r) {
    FLOQ_ASSERT(d->B == c->batch_size && d->A == c->act_dim); /* allocated for this config */
    size_t BR = (size_t)d->B * d->R, B = (size_t)d->B, A = (size_t)d->A;
    rng_fill_normal(r, d->next_action_noise, BR * A);
    rng_fill_uniform(r, d->next_noise_ratios, BR);
    rng_fill_uniform(r, d->noise_ratios, BR);
    rng_fill_uniform(r, d->critic_t, BR);
    rng_fill_normal(r, d->actor_x0, B * A);
    rng_fill_uniform(r, d->actor_t, B);
    rng_fill_normal(r, d->distill_noise, B * A);
    rng_fill_normal(r, d->mse_noise, B * A);
}

void agent_draws_free(struct agent_draws *d) {
    MEM_FREE_ALL(d->next_action_noise, d->next_noise_ratios, d->noise_ratios, d->critic_t,
                 d->actor_x0, d->actor_t, d->distill_noise, d->mse_noise);
    memset(d, 0, sizeof *d);
}

/* ---------------------------------------------------------------------------------------- */
/* input builders */

/* X (n, ld): row r gets src row (r / rep) in columns [col, col+w) */
static void put_rows(float *X, int ld, int col, const float *src, int w, int n, int rep) {
    for (int r = 0; r < n; r++) {
        memcpy(X + (size_t)r * ld + col, src + (size_t)(r / rep) * w, sizeof(float) * (size_t)w);
    }
}

/* z features and time features of the flow-critic input for n rows */
static void put_zt(struct agent *a, float *X, const float *z, const float *t, float t_const,
                   int n) {
    int ld = a->din_critic, zc = a->c.obs_dim + a->c.act_dim, zd = zfeat_dim(&a->c);
    if (a->c.use_prob_embed) {
        hlgauss_embed(&a->hl, z, n, X + zc, ld);
    } else {
        float lo = a->hl.q_min, span = a->hl.q_max - a->hl.q_min;
        for (int r = 0; r < n; r++) {
            X[(size_t)r * ld + zc] = (z[r] - lo) / span;
        }
    }
    int tc = zc + zd;
    for (int r = 0; r < n; r++) {
        float tv = t ? t[r] : t_const;
        if (a->c.embed_time) {
            time_embed(a->c.time_embed, tv, X + (size_t)r * ld + tc);
        } else {
            X[(size_t)r * ld + tc] = tv;
        }
    }
}

void flow_euler(float *z, int n, int K, flow_field_fn field, void *ctx, float *v) {
    float dt = 1.0f / (float)K;
    for (int i = 0; i < K; i++) {
        field(ctx, z, (float)i / (float)K, n, v);
        for (int r = 0; r < n; r++) {
            z[r] += dt * v[r];
        }
    }
}

struct critic_field {
    struct agent *a;
    struct mlp_tape *t;
    const float *w;
    int e;
    float *X;
};

/* the flow critic as a velocity field: X has the obs/action columns filled */
static void critic_field_eval(void *ctx, const float *z, float t, int n, float *v) {
    struct critic_field *f = ctx;
    put_zt(f->a, f->X, z, NULL, t, n);
    mlp_infer(&f->a->critic, f->w, f->e, f->t, f->X, n);
    memcpy(v, f->t->out, sizeof(float) * (size_t)n);
}

/* Euler read-out (spec §3.4) for member e with weights w on worker k's scratch: z (n) in place */
static void integrate(struct agent *a, struct agent_worker *k, const float *w, int e, float *X,
                      float *z, int n, int K) {
    struct critic_field f = {a, &k->t_critic, w, e, X};
    flow_euler(z, n, K, critic_field_eval, &f, k->t_critic.d0);
}

static void onestep_actions(struct agent *a, struct agent_worker *k, const float *obs,
                            const float *eps, int n, int rep, float *out, int clip) {
    int O = a->c.obs_dim, A = a->c.act_dim, ld = O + A;
    put_rows(k->x_os, ld, 0, obs, O, n, rep);
    put_rows(k->x_os, ld, O, eps, A, n, 1);
    mlp_infer(&a->onestep, a->pb.w, 0, &k->t_os, k->x_os, n);
    for (int i = 0; i < n * A; i++) {
        float v = k->t_os.out[i];
        out[i] = clip ? clampf(v, -1.0f, 1.0f) : v;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* one thread's share of an update */

/* transitions [b0, b0 + b.B) of the batch as a batch of their own, with their draws; losses
 * stay means over the whole batch (Bg rows), and the agent's intermediates take this share's
 * rows at the matching offsets */
struct slice {
    struct agent_batch b;
    struct agent_draws d;
    int b0, Bg;
};

static void slice_of(struct slice *s, const struct agent *a, const struct agent_batch *b,
                     const struct agent_draws *d, int b0, int b1) {
    int O = a->c.obs_dim, A = a->c.act_dim;
    size_t r0 = (size_t)b0 * a->R, i0 = (size_t)b0;
    s->b = (struct agent_batch){b1 - b0,     b->obs + i0 * O,      b->act + i0 * A,
                                b->rew + i0, b->next_obs + i0 * O, b->mask + i0};
    s->d = *d;
    s->d.B = b1 - b0;
    s->d.next_action_noise += r0 * A;
    s->d.next_noise_ratios += r0;
    s->d.noise_ratios += r0;
    s->d.critic_t += r0;
    s->d.actor_x0 += i0 * A;
    s->d.actor_t += i0;
    s->d.distill_noise += i0 * A;
    s->d.mse_noise += i0 * A;
    s->b0 = b0;
    s->Bg = b->B;
}

/* ---------------------------------------------------------------------------------------- */
/* floq critic (spec §4) */

static void critic_floq(struct agent *a, struct agent_worker *k, const struct slice *s) {
    const struct agent_batch *b = &s->b;
    const struct agent_draws *d = &s->d;
    int B = b->B, R = a->R, BR = B * R, E = a->E, O = a->c.obs_dim, A = a->c.act_dim;
    int Bg = s->Bg, BRg = Bg * R;
    size_t r0 = (size_t)s->b0 * R;
    int ld = a->din_critic;
    float lo = a->noise_lo, span = a->noise_hi - a->noise_lo, gamma = a->c.discount;
    float *X = k->x_crit;
    struct agent_sums *m = &k->sums;
    float *next_actions = a->next_actions + r0 * A, *next_returns = a->next_returns + r0;
    float *target_returns = a->target_returns + s->b0, *flow_x_t = a->flow_x_t + r0;

    /* 1. next actions, one independent sample per replica */
    onestep_actions(a, k, b->next_obs, d->next_action_noise, BR, R, next_actions, 1);

    /* 2. target returns through the target field */
    put_rows(X, ld, 0, b->next_obs, O, BR, R);
    put_rows(X, ld, O, next_actions, A, BR, 1);
    for (int e = 0; e < E; e++) {
        float *z = k->z + (size_t)e * BR;
        for (int r = 0; r < BR; r++) {
            z[r] = lo + span * d->next_noise_ratios[r];
        }
        integrate(a, k, a->target, e, X, z, BR, a->K);
    }
    for (int r = 0; r < BR; r++) {
        float g = k->z[r];
        for (int e = 1; e < E; e++) {
            float ze = k->z[(size_t)e * BR + r];
            g = a->c.q_agg == Q_AGG_MIN ? fminf(g, ze) : g + ze;
        }
        next_returns[r] = a->c.q_agg == Q_AGG_MIN ? g : g / (float)E;
    }
    /* 3. TD target, one scalar per transition */
    for (int i = 0; i < B; i++) {
        float sum = 0;
        for (int j = 0; j < R; j++) {
            sum += b->rew[i] + gamma * b->mask[i] * next_returns[i * R + j];
        }
        target_returns[i] = sum / (float)R;
    }

    /* 4. flow-matching loss at (x_t, t), every member, summed over replicas */
    put_rows(X, ld, 0, b->obs, O, BR, R);
    put_rows(X, ld, O, b->act, A, BR, R);
    float *x0 = k->v; /* (BR) */
    float *tt = k->dtmp;
    for (int r = 0; r < BR; r++) {
        x0[r] = lo + span * d->noise_ratios[r];
        float t = a->c.train_at_zero_only ? 0.0f : d->critic_t[r];
        tt[r] = t;
        float y = target_returns[r / R];
        flow_x_t[r] = (1.0f - t) * x0[r] + t * y;
    }
    put_zt(a, X, flow_x_t, tt, 0, BR);
    double flow = 0;
    float *dout = k->z; /* reuse: (BR) per member, sequential */
    for (int e = 0; e < E; e++) {
        mlp_forward(&a->critic, a->pb.w, e, &k->t_critic, X, BR);
        float *pred = a->flow_pred + (size_t)e * BRg + r0;
        for (int r = 0; r < BR; r++) {
            float p = k->t_critic.out[r];
            float wv = target_returns[r / R] - x0[r];
            float diff = p - wv;
            pred[r] = p;
            flow += (double)diff * diff;
            dout[r] = 2.0f * diff / (float)(E * Bg);
        }
        mlp_backward(&a->critic, a->pb.w, k->g, e, &k->t_critic, dout, NULL, BR);
    }
    m->critic = flow;

    /* 5. distillation target: online field from the same x0 */
    put_rows(X, ld, 0, b->obs, O, BR, R);
    put_rows(X, ld, O, b->act, A, BR, R);
    for (int e = 0; e < E; e++) {
        float *z = a->current_returns + (size_t)e * BRg + r0;
        for (int r = 0; r < BR; r++) {
            z[r] = lo + span * d->noise_ratios[r];
        }
        integrate(a, k, a->pb.w, e, X, z, BR, a->K);
    }
    /* qhat (B) in dtmp; var_flow_returns and td_error */
    float *qhat = k->dtmp;
    double var_sum = 0, td = 0;
    for (int i = 0; i < B; i++) {
        double sum = 0, mk[1024];
        for (int j = 0; j < R; j++) {
            double me = 0;
            for (int e = 0; e < E; e++) {
                me += a->current_returns[(size_t)e * BRg + r0 + i * R + j];
            }
            mk[j] = me / E;
            sum += me;
        }
        qhat[i] = (float)(sum / (double)(E * R));
        double mean = 0, var = 0;
        for (int j = 0; j < R; j++) {
            mean += mk[j];
        }
        mean /= R;
        for (int j = 0; j < R; j++) {
            var += (mk[j] - mean) * (mk[j] - mean);
        }
        var_sum += var / R;
        double dtd = (double)qhat[i] - target_returns[i];
        td += dtd * dtd;
    }
    m->var_flow = var_sum;
    m->td = td;

    /* 6. distilled critic regression on qhat */
    int Ed = a->Ed;
    float *Xs = k->x_small;
    put_rows(Xs, O + A, 0, b->obs, O, B, 1);
    put_rows(Xs, O + A, O, b->act, A, B, 1);
    double dist = 0, qsum = 0;
    float *dq = k->dact;
    for (int e = 0; e < Ed; e++) {
        mlp_forward(&a->distill, a->pb.w, e, &k->t_distill, Xs, B);
        for (int i = 0; i < B; i++) {
            float q = k->t_distill.out[i];
            a->critic_q[(size_t)e * Bg + s->b0 + i] = q;
            float diff = q - qhat[i];
            dist += (double)diff * diff;
            qsum += q;
            dq[i] = 2.0f * diff / (float)(Ed * Bg);
        }
        mlp_backward(&a->distill, a->pb.w, k->g, e, &k->t_distill, dq, NULL, B);
    }
    m->distilled = dist;
    m->critic_q = qsum;
}

/* ---------------------------------------------------------------------------------------- */
/* FQL critic (spec Appendix A) */

static void critic_fql(struct agent *a, struct agent_worker *k, const struct slice *s) {
    const struct agent_batch *b = &s->b;
    const struct agent_draws *d = &s->d;
    int B = b->B, Bg = s->Bg, E = a->E, O = a->c.obs_dim, A = a->c.act_dim, ld = O + A;
    float gamma = a->c.discount;
    struct agent_sums *m = &k->sums;
    float *next_actions = a->next_actions + (size_t)s->b0 * A;
    float *next_returns = a->next_returns + s->b0, *target_returns = a->target_returns + s->b0;
    onestep_actions(a, k, b->next_obs, d->next_action_noise, B, 1, next_actions, 1);
    float *X = k->x_crit;
    put_rows(X, ld, 0, b->next_obs, O, B, 1);
    put_rows(X, ld, O, next_actions, A, B, 1);
    for (int e = 0; e < E; e++) {
        mlp_infer(&a->critic, a->target, e, &k->t_critic, X, B);
        memcpy(k->z + (size_t)e * B, k->t_critic.out, sizeof(float) * (size_t)B);
    }
    for (int i = 0; i < B; i++) {
        float g = k->z[i];
        for (int e = 1; e < E; e++) {
            float ze = k->z[(size_t)e * B + i];
            g = a->c.q_agg == Q_AGG_MIN ? fminf(g, ze) : g + ze;
        }
        next_returns[i] = a->c.q_agg == Q_AGG_MIN ? g : g / (float)E;
        target_returns[i] = b->rew[i] + gamma * b->mask[i] * next_returns[i];
    }
    put_rows(X, ld, 0, b->obs, O, B, 1);
    put_rows(X, ld, O, b->act, A, B, 1);
    double loss = 0, qsum = 0;
    float *dq = k->dtmp;
    for (int e = 0; e < E; e++) {
        mlp_forward(&a->critic, a->pb.w, e, &k->t_critic, X, B);
        for (int i = 0; i < B; i++) {
            float q = k->t_critic.out[i];
            a->critic_q[(size_t)e * Bg + s->b0 + i] = q;
            float diff = q - target_returns[i];
            loss += (double)diff * diff;
            qsum += q;
            dq[i] = 2.0f * diff / (float)(E * Bg);
        }
        mlp_backward(&a->critic, a->pb.w, k->g, e, &k->t_critic, dq, NULL, B);
    }
    m->critic = loss;
    m->critic_q = qsum;
}

/* ---------------------------------------------------------------------------------------- */
/* FQL actor (spec §5) */

/* the Q-loss scale: 1, or 1 / mean |Q| over the whole batch (normalize_q_loss; then every
 * thread waits for the others' sums and adds them in thread order) */
static float q_scale(struct agent *a, const struct agent_worker *k, int Bg) {
    if (!a->c.normalize_q_loss) {
        return 1.0f;
    }
    pool_barrier(&a->pool);
    if (!a->xsum) {
        double qabs = 0;
        for (int t = 0; t < a->nthreads; t++) {
            qabs += a->wk[t].sums.actor_qabs;
        }
        return (float)(1.0 / (qabs / Bg));
    }
    /* learner ranks: thread 0 adds this rank's threads, then the ranks (xsum); the others wait
     * for it at a second barrier */
    if (k == &a->wk[0]) {
        double qabs = 0;
        for (int t = 0; t < a->nthreads; t++) {
            qabs += a->wk[t].sums.actor_qabs;
        }
        a->xsum(a->xsum_ctx, &qabs, 1);
        a->qabs_all = qabs;
    }
    pool_barrier(&a->pool);
    return (float)(1.0 / (a->qabs_all / Bg));
}

static void actor_update(struct agent *a, struct agent_worker *k, const struct slice *s) {
    const struct agent_batch *b = &s->b;
    const struct agent_draws *d = &s->d;
    int B = b->B, Bg = s->Bg, O = a->c.obs_dim, A = a->c.act_dim, M = a->M;
    struct agent_sums *m = &k->sums;
    float *Xs = k->x_small;
    int ldb = O + A + 1;

    /* 1. BC flow matching */
    put_rows(Xs, ldb, 0, b->obs, O, B, 1);
    for (int i = 0; i < B; i++) {
        float t = d->actor_t[i];
        for (int j = 0; j < A; j++) {
            Xs[(size_t)i * ldb + O + j] = (1.0f - t) * d->actor_x0[i * A + j] + t * b->act[i * A + j];
        }
        Xs[(size_t)i * ldb + O + A] = t;
    }
    mlp_forward(&a->bc, a->pb.w, 0, &k->t_bc, Xs, B);
    double bc = 0;
    float *dv = k->dtmp;
    for (int i = 0; i < B * A; i++) {
        float diff = k->t_bc.out[i] - (b->act[i] - d->actor_x0[i]);
        bc += (double)diff * diff;
        dv[i] = 2.0f * diff / (float)(Bg * A);
    }
    mlp_backward(&a->bc, a->pb.w, k->g, 0, &k->t_bc, dv, NULL, B);
    m->bc = bc;

    /* 2. BC flow sampling from distill_noise, M Euler steps, no grad */
    float *x = a->actor_flow_actions + (size_t)s->b0 * A;
    memcpy(x, d->distill_noise, sizeof(float) * (size_t)B * A);
    float dt = 1.0f / (float)M;
    for (int st = 0; st < M; st++) {
        for (int i = 0; i < B; i++) {
            memcpy(Xs + (size_t)i * ldb + O, x + (size_t)i * A, sizeof(float) * (size_t)A);
            Xs[(size_t)i * ldb + O + A] = (float)st / (float)M;
        }
        mlp_infer(&a->bc, a->pb.w, 0, &k->t_bc, Xs, B);
        for (int i = 0; i < B * A; i++) {
            x[i] += dt * k->t_bc.out[i];
        }
    }
    for (int i = 0; i < B * A; i++) {
        x[i] = clampf(x[i], -1.0f, 1.0f);
    }

    /* 3. one-step policy with the same noise, distilled towards the BC samples */
    int ldo = O + A;
    put_rows(k->x_os, ldo, 0, b->obs, O, B, 1);
    put_rows(k->x_os, ldo, O, d->distill_noise, A, B, 1);
    mlp_forward(&a->onestep, a->pb.w, 0, &k->t_os, k->x_os, B);
    float *act = a->actor_onestep_actions + (size_t)s->b0 * A;
    memcpy(act, k->t_os.out, sizeof(float) * (size_t)B * A);
    float *dact = k->v; /* (B,A) grad w.r.t. the one-step output */
    double dl = 0;
    for (int i = 0; i < B * A; i++) {
        float diff = act[i] - x[i];
        dl += (double)diff * diff;
        dact[i] = a->c.alpha * 2.0f * diff / (float)(Bg * A);
    }
    m->distill = dl;

    /* 4. Q loss through the (frozen) scalar critic at the clipped action */
    const struct mlp *qnet = a->c.kind == AGENT_FLOQ ? &a->distill : &a->critic;
    struct mlp_tape *qt = a->c.kind == AGENT_FLOQ ? &k->t_distill : &k->t_critic;
    int Ed = a->Ed;
    put_rows(Xs, ldo, 0, b->obs, O, B, 1);
    for (int i = 0; i < B; i++) {
        for (int j = 0; j < A; j++) {
            Xs[(size_t)i * ldo + O + j] = clampf(act[i * A + j], -1.0f, 1.0f);
        }
    }
    double qsum = 0, qabs = 0;
    float *qb = k->z; /* (B) mean over members */
    memset(qb, 0, sizeof(float) * (size_t)B);
    for (int e = 0; e < Ed; e++) {
        mlp_infer(qnet, a->pb.w, e, qt, Xs, B);
        for (int i = 0; i < B; i++) {
            a->actor_qs[(size_t)e * Bg + s->b0 + i] = qt->out[i];
            qb[i] += qt->out[i];
        }
    }
    for (int i = 0; i < B; i++) {
        qb[i] /= (float)Ed;
        qsum += qb[i];
        qabs += fabsf(qb[i]);
    }
    m->actor_q = qsum;
    m->actor_qabs = qabs;
    float scale = q_scale(a, k, Bg);
    float *dq = k->dtmp, *dx = k->dact;
    for (int i = 0; i < B; i++) {
        dq[i] = -scale / (float)(Ed * Bg);
    }
    for (int e = 0; e < Ed; e++) {
        mlp_forward(qnet, a->pb.w, e, qt, Xs, B);
        mlp_backward(qnet, a->pb.w, NULL, e, qt, dq, dx, B);
        for (int i = 0; i < B; i++) {
            for (int j = 0; j < A; j++) {
                float u = act[i * A + j];
                if (u > -1.0f && u < 1.0f) {
                    dact[i * A + j] += dx[(size_t)i * ldo + O + j];
                }
            }
        }
    }
    /* the one-step tape still holds its forward of step 3: backprop into omega */
    mlp_backward(&a->onestep, a->pb.w, k->g, 0, &k->t_os, dact, NULL, B);

    /* logged: mse of the acting policy against the dataset actions */
    onestep_actions(a, k, b->obs, d->mse_noise, B, 1, k->dtmp, 1);
    double mse = 0;
    for (int i = 0; i < B * A; i++) {
        double df = (double)k->dtmp[i] - b->act[i];
        mse += df * df;
    }
    m->mse = mse;
}

/* ---------------------------------------------------------------------------------------- */
/* the update on the pool: losses (each thread its share of the batch, into its own gradient),
 * the gradient sum in thread order, then Polyak and Adam on slices of the block */

static void losses_job(void *ctx, int tid, int n) {
    struct agent *a = ctx;
    struct agent_worker *k = &a->wk[tid];
    size_t lo, hi;
    pool_split((size_t)(a->share_hi - a->share_lo), tid, n, 1, &lo, &hi);
    k->b0 = a->share_lo + (int)lo, k->b1 = a->share_lo + (int)hi;
    memset(&k->sums, 0, sizeof k->sums);
    memset(k->g, 0, sizeof(float) * a->pb.n);
    struct slice s;
    slice_of(&s, a, a->job_b, a->job_d, k->b0, k->b1);
    if (a->c.kind == AGENT_FLOQ) {
        critic_floq(a, k, &s);
    } else {
        critic_fql(a, k, &s);
    }
    actor_update(a, k, &s);
}

/* chunks of the gradient sum: small enough to stay in L1 while the threads' parts are added */
#define GRAD_CHUNK 2048

static void reduce_job(void *ctx, int tid, int n) {
    struct agent *a = ctx;
    size_t lo, hi;
    pool_split(a->pb.n, tid, n, 16, &lo, &hi);
    for (size_t c = lo; c < hi; c += GRAD_CHUNK) {
        size_t len = FLOQ_MIN((size_t)GRAD_CHUNK, hi - c);
        for (int t = 1; t < n; t++) {
            kern_add(a->pb.g + c, a->wk[t].g + c, len);
        }
    }
}

static void apply_job(void *ctx, int tid, int n) {
    struct agent *a = ctx;
    size_t lo, hi;
    pool_split(a->pb.n, tid, n, 16, &lo, &hi);
    /* Polyak reads the online params before Adam moves them (one-step lag, spec P10) */
    if (lo < a->critic_end) {
        polyak_update(a->target + lo, a->pb.w + lo, FLOQ_MIN(hi, a->critic_end) - lo, a->c.tau);
    }
    adam_apply(&a->opt, a->pb.w + lo, a->pb.g + lo, a->pb.m + lo, a->pb.v + lo, hi - lo);
}

/* the metrics from every thread's sums, added in thread order */
static void metrics_total(struct agent *a, int B) {
    struct agent_sums t = {0};
    for (int i = 0; i < a->nthreads; i++) {
        const struct agent_sums *s = &a->wk[i].sums;
        t.critic += s->critic, t.var_flow += s->var_flow, t.td += s->td;
        t.distilled += s->distilled, t.critic_q += s->critic_q, t.bc += s->bc;
        t.distill += s->distill, t.actor_q += s->actor_q, t.actor_qabs += s->actor_qabs;
        t.mse += s->mse;
    }
    _Static_assert(sizeof t == AGENT_NSUMS * sizeof(double), "agent_sums is AGENT_NSUMS doubles");
    if (a->xsum) {
        a->xsum(a->xsum_ctx, (double *)&t, AGENT_NSUMS); /* the whole batch, over the ranks */
    }
    struct agent_metrics *m = &a->metrics;
    int E = a->E, Ed = a->Ed, A = a->c.act_dim;
    if (a->c.kind == AGENT_FLOQ) {
        m->floq_loss = t.critic / (double)(E * B);
        m->var_flow_returns = t.var_flow / B;
        m->td_error = t.td / B;
        m->distilled_critic_loss = t.distilled / (double)(Ed * B);
        m->critic_loss = m->floq_loss + m->distilled_critic_loss;
        m->critic_q = t.critic_q / (double)(Ed * B);
    } else {
        m->critic_loss = t.critic / (double)(E * B);
        m->floq_loss = m->distilled_critic_loss = m->var_flow_returns = 0;
        m->critic_q = t.critic_q / (double)(E * B);
        m->td_error = 0;
    }
    m->bc_flow_loss = t.bc / (double)(B * A);
    m->distill_loss = t.distill / (double)(B * A);
    double qmean = t.actor_q / B;
    float scale = a->c.normalize_q_loss ? (float)(1.0 / (t.actor_qabs / B)) : 1.0f;
    m->q_loss = -qmean * scale;
    m->actor_q = qmean;
    m->mse = t.mse / (double)(B * A);
    m->actor_loss = m->bc_flow_loss + a->c.alpha * m->distill_loss + m->q_loss;
    m->total_loss = m->critic_loss + m->actor_loss;
}

void agent_grads(struct agent *a, const struct agent_batch *b, const struct agent_draws *d) {
    agent_grads_share(a, b, d, 0, b->B);
}

void agent_grads_share(struct agent *a, const struct agent_batch *b, const struct agent_draws *d,
                       int lo, int hi) {
    FLOQ_ASSERT(b->B <= a->maxB && b->B == d->B && 0 <= lo && lo <= hi && hi <= b->B);
    a->job_b = b, a->job_d = d;
    a->share_lo = lo, a->share_hi = hi;
    double t0 = now_sec();
    pool_run(&a->pool, losses_job, a);
    double t1 = now_sec();
    if (a->nthreads > 1) {
        pool_run(&a->pool, reduce_job, a);
    }
    metrics_total(a, b->B);
    a->job_b = NULL, a->job_d = NULL;
    a->t_losses += t1 - t0;
    a->t_reduce += now_sec() - t1;
}

void agent_apply(struct agent *a) {
    double t0 = now_sec();
    adam_next(&a->opt);
    pool_run(&a->pool, apply_job, a);
    a->step++;
    a->t_apply += now_sec() - t0;
}

/* gradients this large square to infinity in Adam's second moment */
#define AGENT_MAX_GRAD 1e18f

/* names the first loss term or gradient that is not finite (or a gradient too large for Adam)
 * in a->bad_term; 0 when there is none */
int agent_check_grads(struct agent *a) {
    const struct agent_metrics *m = &a->metrics;
    int floq = a->c.kind == AGENT_FLOQ;
    const struct {
        const char *name;
        double v;
    } terms[] = {
        {floq ? "floq_loss" : "critic_loss", floq ? m->floq_loss : m->critic_loss},
        {"distilled_critic_loss", floq ? m->distilled_critic_loss : 0},
        {"bc_flow_loss", m->bc_flow_loss},
        {"distill_loss", m->distill_loss},
        {"q_loss", m->q_loss},
        {"total_loss", m->total_loss},
    };
    for (size_t i = 0; i < FLOQ_ARRAY_LEN(terms); i++) {
        if (!isfinite(terms[i].v)) {
            snprintf(a->bad_term, sizeof a->bad_term, "%s is %g", terms[i].name, terms[i].v);
            return -1;
        }
    }
    size_t i = first_beyond(a->pb.g, a->pb.n, AGENT_MAX_GRAD);
    if (i < a->pb.n) {
        const struct param_view *v = param_view_at(&a->pb, i);
        snprintf(a->bad_term, sizeof a->bad_term, "the gradient of %s is %g",
                 v ? v->name : "padding", (double)a->pb.g[i]);
        return -1;
    }
    return 0;
}

int agent_update(struct agent *a, const struct agent_batch *b, const struct agent_draws *d) {
    agent_grads(a, b, d);
    if (agent_check_grads(a)) {
        return -1; /* not applied: the parameters stay the last good ones */
    }
    agent_apply(a);
    a->bad_term[0] = 0;
    return 0;
}

void agent_evaluate(struct agent *a, const struct agent_batch *b, const struct agent_draws *d) {
    /* on this process alone, the whole batch: the learner ranks do not take part */
    void (*xsum)(void *, double *, int) = a->xsum;
    a->xsum = NULL;
    agent_grads(a, b, d);
    a->xsum = xsum;
}

/* ---------------------------------------------------------------------------------------- */
/* read-outs (one thread: worker 0's scratch holds the whole batch) */

void agent_flow_returns(struct agent *a, const float *obs, const float *act, const float *ratio,
                        int n, int K, float *out) {
    struct agent_worker *k = &a->wk[0];
    int O = a->c.obs_dim, A = a->c.act_dim, ld = a->din_critic, cap = a->maxB * a->R;
    float lo = a->noise_lo, span = a->noise_hi - a->noise_lo;
    for (int s = 0; s < n; s += cap) {
        int m = FLOQ_MIN(cap, n - s);
        put_rows(k->x_crit, ld, 0, obs + (size_t)s * O, O, m, 1);
        put_rows(k->x_crit, ld, O, act + (size_t)s * A, A, m, 1);
        for (int e = 0; e < a->E; e++) {
            float *z = out + (size_t)e * n + s;
            for (int r = 0; r < m; r++) {
                z[r] = lo + span * ratio[s + r];
            }
            integrate(a, k, a->pb.w, e, k->x_crit, z, m, K);
        }
    }
}

void agent_critic_q(struct agent *a, const float *obs, const float *act, int n, float *out) {
    struct agent_worker *k = &a->wk[0];
    int O = a->c.obs_dim, A = a->c.act_dim;
    const struct mlp *q = a->c.kind == AGENT_FLOQ ? &a->distill : &a->critic;
    struct mlp_tape *t = &k->t_critic;
    int cap = a->maxB * a->R;
    for (int s = 0; s < n; s += cap) {
        int m = FLOQ_MIN(cap, n - s);
        put_rows(k->x_crit, O + A, 0, obs + (size_t)s * O, O, m, 1);
        put_rows(k->x_crit, O + A, O, act + (size_t)s * A, A, m, 1);
        for (int e = 0; e < a->Ed; e++) {
            /* the distilled critic's tape holds B rows; use the critic tape (>= B*R) when the
             * widths allow, else chunk by B */
            if (a->c.kind == AGENT_FLOQ) {
                for (int c0 = 0; c0 < m; c0 += a->maxB) {
                    int mm = FLOQ_MIN(a->maxB, m - c0);
                    mlp_infer(q, a->pb.w, e, &k->t_distill, k->x_crit + (size_t)c0 * (O + A), mm);
                    memcpy(out + (size_t)e * n + s + c0, k->t_distill.out,
                           sizeof(float) * (size_t)mm);
                }
            } else {
                mlp_infer(q, a->pb.w, e, t, k->x_crit, m);
                memcpy(out + (size_t)e * n + s, t->out, sizeof(float) * (size_t)m);
            }
        }
    }
}

void agent_act(struct agent *a, const float *obs, const float *eps, int n, float *act) {
    int cap = a->maxB * a->R, O = a->c.obs_dim, A = a->c.act_dim;
    for (int s = 0; s < n; s += cap) {
        int m = FLOQ_MIN(cap, n - s);
        onestep_actions(a, &a->wk[0], obs + (size_t)s * O, eps + (size_t)s * A, m, 1,
                        act + (size_t)s * A, 1);
    }
}

double agent_update_flops(const struct agent *a) {
    int B = a->maxB, BR = B * a->R;
    double f = 0;
    if (a->c.kind == AGENT_FLOQ) {
        f += mlp_flops_forward(&a->onestep, BR);                          /* next actions */
        f += 2.0 * a->E * a->K * mlp_flops_forward(&a->critic, BR);       /* target + qhat */
        f += a->E * (mlp_flops_forward(&a->critic, BR) + mlp_flops_backward(&a->critic, BR, 1, 0));
        f += a->Ed * (mlp_flops_forward(&a->distill, B) + mlp_flops_backward(&a->distill, B, 1, 0));
    } else {
        f += mlp_flops_forward(&a->onestep, B);
        f += a->E * mlp_flops_forward(&a->critic, B);
        f += a->E * (mlp_flops_forward(&a->critic, B) + mlp_flops_backward(&a->critic, B, 1, 0));
    }
    const struct mlp *q = a->c.kind == AGENT_FLOQ ? &a->distill : &a->critic;
    f += mlp_flops_forward(&a->bc, B) + mlp_flops_backward(&a->bc, B, 1, 0);
    f += a->M * mlp_flops_forward(&a->bc, B);
    f += 2.0 * mlp_flops_forward(&a->onestep, B) + mlp_flops_backward(&a->onestep, B, 1, 0);
    f += a->Ed * (2.0 * mlp_flops_forward(q, B) + mlp_flops_backward(q, B, 0, 1));
    f += mlp_flops_forward(&a->onestep, B); /* mse metric */
    return f;
}
