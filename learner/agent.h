/* agent.h — the floq agent (flow critic + distilled critic + FQL actor) and the FQL baseline
 * (monolithic critic + the same actor), as floq-spec.md describes them.
 *
 *   struct agent_cfg c;  agent_cfg_default(&c, "floq");   // every default of spec §8.1
 *   c.obs_dim = O; c.act_dim = A; c.r_min = ...; c.r_max = ...;
 *   struct agent ag;
 *   if (agent_init(&ag, &c, seed, err, sizeof err)) ...;   // params drawn from the seed
 *   agent_set_threads(&ag, pool_cores(), err, sizeof err); // optional: N update threads
 *   struct agent_draws d;  agent_draws_alloc(&d, &c);  agent_draws_sample(&d, &c, &rng);
 *   if (agent_update(&ag, &batch, &d)) ...;    // one update: losses, Adam, Polyak; -1 when
 *                                              // a loss or gradient is not finite (ag.bad_term)
 *   ag.metrics.critic_loss ...
 *
 * Threads: with N threads each takes a fixed contiguous share of the batch's transitions (with
 * their R replicas) through the whole update, into a gradient of its own; the N gradients are
 * summed in thread order and Adam and Polyak run on N slices of the block. N = 1 is the serial
 * update exactly; a given N repeats bit for bit; different N agree to float rounding.
 * agent_update = agent_grads (the gradient of the whole batch is in pb.g) + agent_apply (Polyak,
 * Adam); data-parallel learner ranks (learner/lgroup.h) each run agent_grads_share on their
 * part of the batch and sum pb.g over the ranks in between.
 *
 * Parameter layout: one trainable block pb = [critic | distilled critic (floq) | BC flow actor |
 * one-step actor], every segment 64-byte aligned; the critic sits at offset 0 so the target
 * block (`target`, critic-sized) uses the critic's offsets. The one-step actor (the policy the
 * actors run) is the contiguous range [policy_begin, policy_end) of pb.w.
 * View names follow the reference: floq/dense<i>/kernel [E,in,out], critic/..., actor_bc_flow/...,
 * actor_onestep_flow/...; the target's views are the critic's.
 */
#ifndef FLOQ_AGENT_H
#define FLOQ_AGENT_H

#include <stddef.h>
#include <stdint.h>

#include "common/adam.h"
#include "common/hlgauss.h"
#include "common/nn.h"
#include "common/param.h"
#include "common/policy.h"
#include "common/pool.h"
#include "common/rng.h"

enum agent_kind { AGENT_FLOQ = 0, AGENT_FQL = 1 };
enum q_agg { Q_AGG_MEAN = 0, Q_AGG_MIN = 1 };

#define AGENT_MAX_E 8

struct agent_cfg {
    int kind; /* enum agent_kind */
    int obs_dim, act_dim;
    float lr;
    int batch_size;
    int actor_hidden[MLP_MAX_HIDDEN], n_actor_hidden;
    int value_hidden[MLP_MAX_HIDDEN], n_value_hidden;
    int layer_norm, actor_layer_norm;
    float discount, tau;
    int q_agg;
    float alpha;
    int actor_flow_steps;
    int normalize_q_loss;
    int flow_num_ensembles, distill_num_ensembles; /* FQL: value_num_ensembles = flow_num_... */
    int noise_samples;
    float noise_coverage;
    int critic_flow_steps;
    int train_at_zero_only;
    int embed_time;
    int time_embed; /* enum time_embed (cos default, fourier) */
    int use_prob_embed;
    int num_bins;
    float sigma, reward_offset;
    int block_width, block_depth;
    int activate_before_layernorm; /* only true supported */
    int gelu_exact;                /* 0: tanh approximation (reference), 1: erf form */
    float r_min, r_max;            /* filled from the dataset */
};

/* every random draw of one update (spec §4-5); rows of replicated arrays are b*R + k */
struct agent_draws {
    int B, R, A;
    float *next_action_noise; /* (B*R,A) floq, (B,A) fql */
    float *next_noise_ratios; /* (B*R) */
    float *noise_ratios;      /* (B*R) */
    float *critic_t;          /* (B*R) */
    float *actor_x0;          /* (B,A) */
    float *actor_t;           /* (B) */
    float *distill_noise;     /* (B,A) */
    float *mse_noise;         /* (B,A) logged metric only */
};

struct agent_batch {
    int B;
    const float *obs, *act, *rew, *next_obs, *mask; /* (B,O) (B,A) (B) (B,O) (B) */
};

struct agent_metrics {
    double total_loss;
    double critic_loss, floq_loss, distilled_critic_loss, critic_q, var_flow_returns, td_error;
    double actor_loss, bc_flow_loss, distill_loss, q_loss, actor_q, mse;
};

/* loss sums of one thread's rows (doubles, summed in row order); metrics are their totals */
struct agent_sums {
    double critic, var_flow, td, distilled, critic_q; /* critic (floq: flow matching) */
    double bc, distill, actor_q, actor_qabs, mse;     /* actor */
};

/* the sums as one array of doubles (to add them over learner ranks) */
#define AGENT_NSUMS 10
/* one update thread: its transitions [b0, b1), its scratch (sized for them) and its gradient */
struct agent_worker {
    int b0, b1;
    struct mlp_tape t_critic, t_distill, t_bc, t_os;
    float *x_os, *x_crit, *x_small, *z, *v, *dtmp, *dact;
    float *g; /* (pb.n) this thread's gradient; worker 0's is pb.g (borrowed) */
    struct agent_sums sums;
};

struct agent {
    struct agent_cfg c;
    int E, Ed, R, K, M; /* ensembles, noise samples, critic / actor flow steps */
    int din_critic;     /* critic input width */
    struct param_block pb;
    float *target;      /* (critic_end) Polyak target of the critic segment */
    size_t critic_end, policy_begin, policy_end;
    struct mlp critic, distill, bc, onestep;
    struct adam opt;
    struct hlgauss hl;
    float noise_lo, noise_hi; /* [l, h) of the initial noise */
    long step;
    struct agent_metrics metrics;
    char bad_term[128]; /* after a refused update: "floq_loss is nan", "the gradient of ..." */
    /* update threads (agent_set_threads; 1 after agent_init). Worker 0 is sized for the whole
     * batch (the read-outs use it); the others for their share. */
    int maxB, nthreads;
    int share_lo, share_hi; /* the transitions of the update in flight this process computes */
    struct agent_worker *wk; /* (nthreads) */
    struct pool pool;
    double t_losses, t_reduce, t_apply; /* seconds spent in the three phases, summed */
    /* data-parallel learner ranks (learner/lgroup.h): this process computes only transitions
     * [share_lo, share_hi) of each batch (agent_grads_share), and the sums that need the whole
     * batch (the Q-loss scale, the loss sums behind the metrics) are completed by xsum, which
     * adds n doubles over the ranks in place (every rank gets the same bits). NULL: one
     * process */
    void (*xsum)(void *ctx, double *v, int n);
    void *xsum_ctx;
    double qabs_all; /* the Q-loss scale's sum over the whole batch (xsum) */
    const struct agent_batch *job_b;    /* the update in flight (pool jobs read them) */
    const struct agent_draws *job_d;
    /* intermediates of the last update (for tests and logging) */
    float *next_actions;      /* (BR,A) */
    float *next_returns;      /* (B,R) aggregated target read-out */
    float *target_returns;    /* (B) y */
    float *current_returns;   /* (E,B,R) */
    float *flow_x_t;          /* (BR) */
    float *flow_pred;         /* (E,BR) */
    float *critic_q;          /* (Ed,B) */
    float *actor_flow_actions;    /* (B,A) clipped BC flow samples */
    float *actor_onestep_actions; /* (B,A) before clipping */
    float *actor_qs;          /* (Ed,B) */
};

void agent_cfg_default(struct agent_cfg *c, int kind);
/* a network size preset on top of the defaults: paper (the spec's, no change), small (2x256,
 * R=4, K=4: what 2 cores train in reasonable time), tiny (2x32, R=2, K=3, batch 32: tests);
 * 0, or -1 naming the valid presets */
int agent_cfg_preset(struct agent_cfg *c, const char *preset, char *err, size_t errsz);
/* checks a config for values the agent cannot run with; -1 with one line naming the key */
int agent_cfg_check(const struct agent_cfg *c, char *err, size_t errsz);
/* allocates and initialises (spec §2 init) from seed; the target is an exact copy */
int agent_init(struct agent *a, const struct agent_cfg *c, uint64_t seed, char *err,
               size_t errsz);
void agent_free(struct agent *a);
/* the one-step actor's description: what actors build and WEIGHTS fills */
struct policy_cfg agent_policy(const struct agent_cfg *c);
/* the views of the trainable block of an agent with this config, registered into pb (nothing
 * allocated but the view table; param_free(pb) after); 0, or -1 when the config is invalid */
int agent_layout(const struct agent_cfg *c, struct param_block *pb, char *err, size_t errsz);
/* an estimate (within a few percent) of the bytes agent_init allocates for c; 0 when c is not
 * valid. A loader bounds a file's config with it before allocating */
size_t agent_init_bytes(const struct agent_cfg *c);

void agent_draws_alloc(struct agent_draws *d, const struct agent_cfg *c);
void agent_draws_sample(struct agent_draws *d, const struct agent_cfg *c, struct rng *r);
void agent_draws_free(struct agent_draws *d);

/* runs the update on n threads (n >= 1; capped at the batch size): a pool of n - 1 workers
 * and the scratch of each, allocated here, once. n > 1 sets the BLAS library to one thread
 * (each update thread calls it on its own rows); n = 1 leaves it as it is. 0, or -1 with a
 * message (the agent then keeps its previous threads). Not during an update. */
int agent_set_threads(struct agent *a, int n, char *err, size_t errsz);

/* one update (spec §6): all losses and grads at the current params, Adam, Polyak. 0; or -1
 * when a loss term or a gradient is not finite (or a gradient is beyond 1e18, which Adam's
 * second moment would square to infinity): then nothing is applied, the parameters, moments
 * and target stay as they were, and a->bad_term names the term */
int agent_update(struct agent *a, const struct agent_batch *b, const struct agent_draws *d);
/* the first half of agent_update: losses, metrics and the whole batch's gradient in pb.g */
void agent_grads(struct agent *a, const struct agent_batch *b, const struct agent_draws *d);
/* agent_grads on transitions [lo, hi) of the batch only (the losses stay means over all b->B):
 * the share of one learner rank. pb.g then holds that share's part of the gradient, and the
 * metrics are the whole batch's only when a->xsum adds the sums over the ranks */
void agent_grads_share(struct agent *a, const struct agent_batch *b, const struct agent_draws *d,
                       int lo, int hi);
/* after the whole batch's gradient is in pb.g: 0, or -1 naming the loss term or gradient that
 * is not finite (or beyond 1e18) in a->bad_term (agent_update's check, between the halves) */
int agent_check_grads(struct agent *a);
/* the second half: Polyak (pre-update online params), then one Adam step with pb.g. The halves
 * check nothing; agent_update checks the losses and pb.g between them */
void agent_apply(struct agent *a);
/* the same losses and metrics without touching any parameter (validation) */
void agent_evaluate(struct agent *a, const struct agent_batch *b, const struct agent_draws *d);

/* Q read-outs for n rows (n <= maxB*R). floq: per member Euler read-out with K steps from
 * start points l + (h-l) ratio[i], out (E,n); fql/distilled: out (Ed,n) of the scalar critic */
void agent_flow_returns(struct agent *a, const float *obs, const float *act, const float *ratio,
                        int n, int K, float *out);
void agent_critic_q(struct agent *a, const float *obs, const float *act, int n, float *out);
/* the acting policy: a = clip(mu(s, eps), -1, 1) for n rows (n <= maxB*R) */
void agent_act(struct agent *a, const float *obs, const float *eps, int n, float *act);

/* K-step Euler integration with the left-endpoint grid t_i = i/K (spec §3.4, P13):
 * z <- z + (1/K) v(z, t_i), i = 0..K-1; field writes v (n) for the n states z at time t;
 * v is caller scratch of n floats */
typedef void (*flow_field_fn)(void *ctx, const float *z, float t, int n, float *v);
void flow_euler(float *z, int n, int K, flow_field_fn field, void *ctx, float *v);

/* analytic matmul FLOPs of one update */
double agent_update_flops(const struct agent *a);

#endif
