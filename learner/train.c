#include "learner/train.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cfg.h"
#include "common/comm.h"
#include "common/ckpt.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/npz.h"
#include "common/util.h"
#include "envs/env.h"
#include "envs/maze.h"
#include "actor/actor_rank.h"
#include "actor/fault.h"
#include "learner/dataset.h"
#include "learner/online.h"
#include "learner/replay.h"

/* ---------------------------------------------------------------------------------------- */
/* configuration: defaults, presets, the per-task table, flags */

/* spec §8.2: per-environment overrides of the README commands (offline). One table for both
 * agents; a row applies when the env name starts with prefix. -1 / NAN = keep. */
struct task_override {
    const char *prefix;
    int kind;          /* AGENT_FLOQ or AGENT_FQL */
    float discount;
    int q_agg;         /* -1 keep */
    int batch_size;    /* -1 keep */
    float alpha;
    int block_depth;   /* -1 keep */
    float noise_coverage;
};

static const struct task_override TASKS[] = {
    {"antmaze-large-navigate", AGENT_FLOQ, 0.99f, Q_AGG_MEAN, 256, 10, 4, NAN},
    {"antmaze-giant-navigate", AGENT_FLOQ, 0.995f, Q_AGG_MIN, 512, 10, 4, NAN},
    {"humanoidmaze-medium-navigate", AGENT_FLOQ, 0.995f, Q_AGG_MEAN, 256, 30, 4, NAN},
    {"humanoidmaze-large-navigate", AGENT_FLOQ, 0.995f, Q_AGG_MEAN, 512, 20, 4, NAN},
    {"antsoccer-arena-navigate", AGENT_FLOQ, 0.995f, Q_AGG_MEAN, 256, 10, 4, NAN},
    {"cube-single-play", AGENT_FLOQ, 0.99f, Q_AGG_MEAN, 256, 300, 2, NAN},
    {"cube-double-play", AGENT_FLOQ, 0.99f, Q_AGG_MEAN, 256, 300, 2, NAN},
    {"scene-play", AGENT_FLOQ, 0.99f, Q_AGG_MEAN, 256, 300, 4, NAN},
    {"puzzle-3x3-play", AGENT_FLOQ, 0.99f, Q_AGG_MEAN, 256, 1000, 4, NAN},
    {"puzzle-4x4-play", AGENT_FLOQ, 0.99f, Q_AGG_MEAN, 256, 1000, 4, 0.25f},
    {"antmaze-large-navigate", AGENT_FQL, NAN, Q_AGG_MIN, -1, 10, -1, NAN},
    {"antmaze-giant-navigate", AGENT_FQL, 0.995f, Q_AGG_MIN, -1, 10, -1, NAN},
    {"humanoidmaze-medium-navigate", AGENT_FQL, 0.995f, -1, -1, 30, -1, NAN},
    {"humanoidmaze-large-navigate", AGENT_FQL, 0.995f, -1, -1, 30, -1, NAN},
    {"antsoccer-arena-navigate", AGENT_FQL, 0.995f, -1, -1, 10, -1, NAN},
    {"cube-single-play", AGENT_FQL, NAN, -1, -1, 300, -1, NAN},
    {"cube-double-play", AGENT_FQL, NAN, -1, -1, 300, -1, NAN},
    {"scene-play", AGENT_FQL, NAN, -1, -1, 300, -1, NAN},
    {"puzzle-3x3-play", AGENT_FQL, NAN, -1, -1, 1000, -1, NAN},
    {"puzzle-4x4-play", AGENT_FQL, NAN, -1, -1, 1000, -1, NAN},
};

static void apply_task_table(struct train_cfg *tc) {
    for (size_t i = 0; i < FLOQ_ARRAY_LEN(TASKS); i++) {
        const struct task_override *t = &TASKS[i];
        if (t->kind != tc->ac.kind || strncmp(tc->env_name, t->prefix, strlen(t->prefix)) != 0) {
            continue;
        }
        if (!isnan(t->discount)) {
            tc->ac.discount = t->discount;
        }
        if (t->q_agg >= 0) {
            tc->ac.q_agg = t->q_agg;
        }
        if (t->batch_size > 0) {
            tc->ac.batch_size = t->batch_size;
        }
        if (!isnan(t->alpha)) {
            tc->ac.alpha = t->alpha;
        }
        if (t->block_depth > 0) {
            tc->ac.block_depth = t->block_depth;
        }
        if (!isnan(t->noise_coverage)) {
            tc->ac.noise_coverage = t->noise_coverage;
        }
    }
}

/* presets: paper = the spec's defaults; small = the 2-core benchmark size; tiny = tests */
static int apply_preset(struct train_cfg *tc, char *err, size_t errsz) {
    struct agent_cfg *c = &tc->ac;
    int w;
    if (strcmp(tc->preset, "paper") == 0) {
        return 0;
    } else if (strcmp(tc->preset, "small") == 0) {
        w = 256;
        c->noise_samples = 4;
        c->critic_flow_steps = 4;
    } else if (strcmp(tc->preset, "tiny") == 0) {
        w = 32;
        c->noise_samples = 2;
        c->critic_flow_steps = 3;
        c->batch_size = 32;
    } else {
        snprintf(err, errsz, "--preset=%s: expected paper, small or tiny", tc->preset);
        return -1;
    }
    c->n_actor_hidden = c->n_value_hidden = c->block_depth = 2;
    for (int i = 0; i < 2; i++) {
        c->actor_hidden[i] = c->value_hidden[i] = w;
    }
    c->block_width = w;
    return 0;
}

static void train_defaults(struct train_cfg *tc, int kind) {
    memset(tc, 0, sizeof *tc);
    snprintf(tc->agent, sizeof tc->agent, "%s", kind == AGENT_FQL ? "fql" : "floq");
    snprintf(tc->env_name, sizeof tc->env_name, "pointmaze-medium-navigate-singletask-task1-v0");
    snprintf(tc->save_dir, sizeof tc->save_dir, "runs");
    snprintf(tc->project_name, sizeof tc->project_name, "Debug");
    snprintf(tc->run_group, sizeof tc->run_group, "Debug");
    snprintf(tc->preset, sizeof tc->preset, "paper");
    tc->seed = 0;
    tc->offline_steps = 2000000;
    tc->online_steps = 0;
    tc->buffer_size = 2000000;
    tc->log_interval = 5000;
    tc->eval_interval = 20000;
    tc->save_interval = 1000000;
    tc->plot_interval = 100000;
    tc->eval_episodes = 50;
    tc->video_frame_skip = 3;
    tc->restore_epoch = -1;
    tc->utd = 1.0f;
    tc->sync_interval = 1;
    tc->num_envs = 1;
    tc->start_online_after = 0;
    agent_cfg_default(&tc->ac, kind);
}

#define NOPT 96
/* accepted for compatibility with the reference's flags, not used */
static int g_time_embed_dim = 64, g_use_resnets, g_num_transformations = 2;
static char g_agent_name[16], g_encoder[16];

static int train_opts(struct train_cfg *tc, struct cfg_opt *o) {
    struct agent_cfg *c = &tc->ac;
    int n = 0;
#define ADD(...) o[n++] = (struct cfg_opt)__VA_ARGS__
    ADD(CFG_STR("agent", tc->agent, sizeof tc->agent, "agent: floq or fql (the monolithic-critic baseline)"));
    ADD(CFG_STR("env_name", tc->env_name, sizeof tc->env_name, "environment / task name"));
    ADD(CFG_STR("dataset", tc->dataset, sizeof tc->dataset, "offline dataset (.npz OGBench/own, .hdf5 D4RL)"));
    ADD(CFG_STR("preset", tc->preset, sizeof tc->preset, "network size preset: paper (4x512, R=8, K=8), small (2x256, R=4, K=4), tiny"));
    ADD(CFG_U64("seed", &tc->seed, "seed of every random draw"));
    ADD(CFG_LONG("offline_steps", &tc->offline_steps, 0, 1e12, "gradient updates on the dataset"));
    ADD(CFG_LONG("online_steps", &tc->online_steps, 0, 1e12, "environment steps of online fine-tuning"));
    ADD(CFG_LONG("buffer_size", &tc->buffer_size, 1, 1e10, "replay capacity (at least the dataset + 1)"));
    ADD(CFG_LONG("log_interval", &tc->log_interval, 1, 1e12, "updates between metrics.csv rows"));
    ADD(CFG_LONG("eval_interval", &tc->eval_interval, 0, 1e12, "steps between evaluations (0: off)"));
    ADD(CFG_LONG("save_interval", &tc->save_interval, 0, 1e12, "steps between checkpoints (0: only at the end)"));
    ADD(CFG_LONG("plot_interval", &tc->plot_interval, 0, 1e12, "accepted for compatibility (no plots)"));
    ADD(CFG_INT("eval_episodes", &tc->eval_episodes, 0, 100000, "episodes per evaluation"));
    ADD(CFG_INT("video_episodes", &tc->video_episodes, 0, 0, "accepted for compatibility; no video in floq C"));
    ADD(CFG_INT("video_frame_skip", &tc->video_frame_skip, 0, 1000, "accepted for compatibility"));
    ADD(CFG_INT("balanced_sampling", &tc->balanced_sampling, 0, 0, "1 (half online, half offline) is not implemented"));
    ADD(CFG_STR("save_dir", tc->save_dir, sizeof tc->save_dir, "directory that holds run directories"));
    ADD(CFG_STR("run_dir", tc->run_dir, sizeof tc->run_dir, "exact run directory (default: save_dir/<env>.<agent>.s<seed>.<time>)"));
    ADD(CFG_STR("resume", tc->resume, sizeof tc->resume, "continue the run in this directory from its newest checkpoint"));
    ADD(CFG_STR("restore_path", tc->restore_path, sizeof tc->restore_path, "start from this checkpoint file (weights and optimiser)"));
    ADD(CFG_INT("restore_epoch", &tc->restore_epoch, -1, 2e9, "accepted for compatibility (use --restore_path FILE)"));
    ADD(CFG_STR("project_name", tc->project_name, sizeof tc->project_name, "label kept in config.json"));
    ADD(CFG_STR("run_group", tc->run_group, sizeof tc->run_group, "label kept in config.json"));
    ADD(CFG_STR("p_aug", tc->p_aug, sizeof tc->p_aug, "visual augmentation: not supported (state-based only)"));
    ADD(CFG_STR("frame_stack", tc->frame_stack, sizeof tc->frame_stack, "visual frame stacking: not supported"));
    ADD(CFG_FLOAT("utd", &tc->utd, 1e-3, 1e3, "online updates per environment step"));
    ADD(CFG_LONG("sync_interval", &tc->sync_interval, 1, 1e9, "updates between policy broadcasts to the actors"));
    ADD(CFG_INT("actor.num_envs", &tc->num_envs, 1, 4096, "environments per actor rank"));
    ADD(CFG_BOOL("lockstep", &tc->lockstep, "exact reference parity: each transition waits for the weights of the previous update (policy lag 0)"));
    ADD(CFG_LONG("start_online_after", &tc->start_online_after, 0, 1e12, "online transitions to collect before online updates start"));
    /* agent keys (spec §11) */
    ADD(CFG_FLOAT("agent.lr", &c->lr, 1e-12, 10, "Adam learning rate"));
    ADD(CFG_INT("agent.batch_size", &c->batch_size, 1, 1 << 20, "batch size"));
    ADD(CFG_INT("batch_size", &c->batch_size, 1, 1 << 20, "batch size (same as --agent.batch_size)"));
    ADD(CFG_INTLIST("agent.actor_hidden_dims", c->actor_hidden, MLP_MAX_HIDDEN, &c->n_actor_hidden, 1, 8192, "actor hidden sizes"));
    ADD(CFG_INTLIST("agent.value_hidden_dims", c->value_hidden, MLP_MAX_HIDDEN, &c->n_value_hidden, 1, 8192, "distilled / FQL critic hidden sizes"));
    ADD(CFG_BOOL("agent.layer_norm", &c->layer_norm, "LayerNorm in the critics"));
    ADD(CFG_BOOL("agent.actor_layer_norm", &c->actor_layer_norm, "LayerNorm in the actors"));
    ADD(CFG_FLOAT("agent.discount", &c->discount, 0, 0.999999, "discount gamma"));
    ADD(CFG_FLOAT("agent.tau", &c->tau, 0, 1, "Polyak rate of the target critic"));
    ADD(CFG_CHOICE("agent.q_agg", &c->q_agg, "mean|min", "ensemble aggregation of the TD target"));
    ADD(CFG_FLOAT("agent.alpha", &c->alpha, 0, 1e9, "weight of the one-step distillation loss"));
    ADD(CFG_INT("agent.actor_flow_steps", &c->actor_flow_steps, 1, 4096, "Euler steps of the BC flow"));
    ADD(CFG_INT("agent.flow_steps", &c->actor_flow_steps, 1, 4096, "FQL name of --agent.actor_flow_steps"));
    ADD(CFG_BOOL("agent.normalize_q_loss", &c->normalize_q_loss, "divide the Q loss by mean |Q|"));
    ADD(CFG_INT("agent.flow_num_ensembles", &c->flow_num_ensembles, 1, AGENT_MAX_E, "flow critic members (FQL: critic members)"));
    ADD(CFG_INT("agent.value_num_ensembles", &c->flow_num_ensembles, 1, AGENT_MAX_E, "FQL critic members"));
    ADD(CFG_INT("agent.distill_num_ensembles", &c->distill_num_ensembles, 1, AGENT_MAX_E, "distilled critic members"));
    ADD(CFG_INT("agent.noise_samples", &c->noise_samples, 1, 1024, "R noise samples per transition"));
    ADD(CFG_FLOAT("agent.noise_coverage", &c->noise_coverage, 0, 1e6, "initial noise interval, in units of r/(1-gamma)"));
    ADD(CFG_INT("agent.critic_flow_steps", &c->critic_flow_steps, 1, 4096, "K Euler steps of the flow critic"));
    ADD(CFG_BOOL("agent.train_at_zero_only", &c->train_at_zero_only, "train the flow field at t = 0 only"));
    ADD(CFG_BOOL("agent.embed_time", &c->embed_time, "embed t (cos t) instead of raw t"));
    ADD(CFG_CHOICE("agent.time_embed", &c->time_embed, "cos|fourier", "time embedding (cos: released code; fourier: 64 cos(k pi t))"));
    ADD(CFG_INT("agent.time_embed_dim", &g_time_embed_dim, 1, 4096, "accepted; unused by the released code"));
    ADD(CFG_BOOL("agent.use_prob_embed", &c->use_prob_embed, "HL-Gauss embedding of the interpolant"));
    ADD(CFG_INT("agent.num_bins", &c->num_bins, 2, HLGAUSS_MAX_BINS, "HL-Gauss bin edges (features = num_bins - 1)"));
    ADD(CFG_FLOAT("agent.sigma", &c->sigma, 1e-6, 1e6, "HL-Gauss sigma in bin widths"));
    ADD(CFG_FLOAT("agent.reward_offset", &c->reward_offset, 0, 1e6, "support margin"));
    ADD(CFG_INT("agent.block_width", &c->block_width, 1, 8192, "flow critic width"));
    ADD(CFG_INT("agent.block_depth", &c->block_depth, 1, MLP_MAX_HIDDEN, "flow critic depth"));
    ADD(CFG_BOOL("agent.use_resnets", &g_use_resnets, "ResNet flow critic: not implemented (off in the paper's runs)"));
    ADD(CFG_INT("agent.num_transformations", &g_num_transformations, 1, 64, "ResNet blocks (unused)"));
    ADD(CFG_BOOL("agent.activate_before_layernorm", &c->activate_before_layernorm, "GELU before LayerNorm (only true)"));
    ADD(CFG_BOOL("agent.gelu_exact", &c->gelu_exact, "exact erf GELU instead of the tanh approximation"));
    ADD(CFG_STR("agent.agent_name", g_agent_name, sizeof g_agent_name, "accepted; --agent selects the agent"));
    ADD(CFG_STR("agent.encoder", g_encoder, sizeof g_encoder, "accepted; only state-based (no encoder)"));
#undef ADD
#ifdef FLOQ_FAULT_INJECTION
    n += fault_opts(o + n); /* the test build's --test_bad_actor, --test_fault */
#endif
    FLOQ_ASSERT(n <= NOPT);
    return n;
}

static void usage_train(FILE *f, struct cfg_opt *o, int n) {
    fprintf(f, "usage: floq train --env_name NAME --dataset FILE [flags]\n"
               "       mpirun -np N floq train ... --online_steps S   (rank 0 learner, 1..N-1 actors)\n"
               "Offline floq (or --agent=fql) training, then online fine-tuning. Flags:\n");
    cfg_help(f, o, n);
}

/* parses flags into tc: defaults -> preset -> task table -> flags (flags win) */
static int parse_train(struct train_cfg *tc, int argc, char **argv, char *err, size_t errsz) {
    struct cfg_opt o[NOPT];
    train_defaults(tc, AGENT_FLOQ);
    int n = train_opts(tc, o);
    if (cfg_parse(o, n, argc, argv, err, errsz)) {
        return -1;
    }
    int kind;
    if (strcmp(tc->agent, "floq") == 0 || strcmp(tc->agent, "agents/floq.py") == 0) {
        kind = AGENT_FLOQ;
    } else if (strcmp(tc->agent, "fql") == 0 || strcmp(tc->agent, "agents/fql.py") == 0) {
        kind = AGENT_FQL;
    } else {
        snprintf(err, errsz, "--agent=%s: expected floq or fql", tc->agent);
        return -1;
    }
    struct train_cfg first = *tc;
    train_defaults(tc, kind);
    snprintf(tc->preset, sizeof tc->preset, "%s", first.preset);
    snprintf(tc->env_name, sizeof tc->env_name, "%s", first.env_name);
    if (apply_preset(tc, err, errsz)) {
        return -1;
    }
    apply_task_table(tc);
    n = train_opts(tc, o);
    if (cfg_parse(o, n, argc, argv, err, errsz)) {
        return -1;
    }
    snprintf(tc->agent, sizeof tc->agent, "%s", kind == AGENT_FQL ? "fql" : "floq");
    if (g_use_resnets) {
        snprintf(err, errsz, "--agent.use_resnets=true: the ResNet flow critic is not implemented "
                             "(the paper's floq runs use the plain MLP); drop the flag");
        return -1;
    }
    if (tc->lockstep) {
        tc->sync_interval = 1;
    }
    if (tc->start_online_after > tc->online_steps) {
        snprintf(err, errsz, "--start_online_after=%ld exceeds --online_steps=%ld; no online "
                             "update could run",
                 tc->start_online_after, tc->online_steps);
        return -1;
    }
    if (tc->p_aug[0] || tc->frame_stack[0]) {
        snprintf(err, errsz, "--p_aug / --frame_stack: visual observations are not supported "
                             "(floq C is state-based); drop the flag");
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* checkpoints */

static int write_config_json(const struct train_cfg *tc, char **out) {
    struct train_cfg copy = *tc;
    struct cfg_opt o[NOPT];
    int n = train_opts(&copy, o);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        return -1;
    }
    cfg_write_json(f, o, n);
    fclose(f);
    *out = buf;
    return 0;
}

static int save_checkpoint(const struct train_cfg *tc, const struct agent *a,
                           const struct rng *sampler, const struct rng *draws, uint64_t step,
                           char *err, size_t errsz) {
    char dir[TRAIN_PATH_MAX + 32], path[TRAIN_PATH_MAX + 64];
    snprintf(dir, sizeof dir, "%s/checkpoints", tc->run_dir);
    mkdir(dir, 0777);
    if (ckpt_path(path, sizeof path, dir, step)) {
        snprintf(err, errsz, "checkpoint path too long under %.200s", dir);
        return -1;
    }
    char *json = NULL;
    if (write_config_json(tc, &json)) {
        snprintf(err, errsz, "checkpoint: cannot format the config");
        return -1;
    }
    struct ckpt_writer w;
    ckpt_writer_init(&w);
    size_t np = a->pb.n, nt = a->critic_end;
    int rc = ckpt_put_str(&w, "config", json) || ckpt_put_str(&w, "agent", tc->agent) ||
             ckpt_put_u64(&w, "step", step) || ckpt_put_u64(&w, "update", (uint64_t)a->step) ||
             ckpt_put_u64(&w, "adam_count", (uint64_t)a->opt.count) ||
             ckpt_put_u64(&w, "obs_dim", (uint64_t)a->c.obs_dim) ||
             ckpt_put_u64(&w, "act_dim", (uint64_t)a->c.act_dim) ||
             ckpt_put_f64(&w, "r_min", a->c.r_min) || ckpt_put_f64(&w, "r_max", a->c.r_max) ||
             ckpt_put_f32(&w, "params", 1, &np, a->pb.w) ||
             ckpt_put_f32(&w, "adam_m", 1, &np, a->pb.m) ||
             ckpt_put_f32(&w, "adam_v", 1, &np, a->pb.v) ||
             ckpt_put_f32(&w, "target", 1, &nt, a->target) ||
             ckpt_put_bytes(&w, "rng_sampler", sampler, sizeof *sampler) ||
             ckpt_put_bytes(&w, "rng_draws", draws, sizeof *draws);
    if (rc) {
        snprintf(err, errsz, "checkpoint: cannot build the entries");
    } else {
        rc = ckpt_save(&w, path, err, errsz);
    }
    ckpt_writer_free(&w);
    free(json);
    if (rc == 0) {
        log_info("checkpoint %s", path);
    }
    return rc ? -1 : 0;
}

int train_load_agent(struct agent *a, struct train_cfg *tc, const char *path, int max_rows,
                     uint64_t *step, char *err, size_t errsz) {
    struct ckpt ck;
    if (ckpt_load(&ck, path, err, errsz)) {
        return -1;
    }
    const char *json, *agent;
    uint64_t od, ad, st = 0, cnt = 0, upd = 0;
    double rmin, rmax;
    int rc = -1;
    if (ckpt_get_str(&ck, "config", &json, err, errsz) ||
        ckpt_get_str(&ck, "agent", &agent, err, errsz) ||
        ckpt_get_u64(&ck, "obs_dim", &od, err, errsz) ||
        ckpt_get_u64(&ck, "act_dim", &ad, err, errsz) ||
        ckpt_get_f64(&ck, "r_min", &rmin, err, errsz) ||
        ckpt_get_f64(&ck, "r_max", &rmax, err, errsz) ||
        ckpt_get_u64(&ck, "step", &st, err, errsz) ||
        ckpt_get_u64(&ck, "update", &upd, err, errsz) ||
        ckpt_get_u64(&ck, "adam_count", &cnt, err, errsz)) {
        goto out;
    }
    train_defaults(tc, strcmp(agent, "fql") == 0 ? AGENT_FQL : AGENT_FLOQ);
    struct cfg_opt o[NOPT];
    int n = train_opts(tc, o);
    if (cfg_read_json(o, n, json, 1, err, errsz)) {
        goto out;
    }
    tc->ac.kind = strcmp(agent, "fql") == 0 ? AGENT_FQL : AGENT_FLOQ;
    if (od < 1 || od > 65536 || ad < 1 || ad > 65536) {
        snprintf(err, errsz, "%.300s: obs_dim %llu / act_dim %llu out of range; the checkpoint is "
                             "damaged",
                 path, (unsigned long long)od, (unsigned long long)ad);
        goto out;
    }
    tc->ac.obs_dim = (int)od, tc->ac.act_dim = (int)ad;
    tc->ac.r_min = (float)rmin, tc->ac.r_max = (float)rmax;
    struct agent_cfg ac = tc->ac;
    {
        /* the stored parameter count must match the config before anything big is allocated */
        int nd = 0;
        size_t shape[4];
        const float *pp;
        size_t want = agent_param_count(&ac);
        if (ckpt_get_f32(&ck, "params", &nd, shape, &pp, err, errsz)) {
            goto out;
        }
        if (want == 0 || nd != 1 || shape[0] != want) {
            snprintf(err, errsz, "%.300s: params hold %zu floats but its config needs %zu; the "
                                 "checkpoint is damaged or from another version",
                     path, nd == 1 ? shape[0] : 0, want);
            goto out;
        }
    }
    int R = ac.kind == AGENT_FLOQ ? ac.noise_samples : 1;
    if (max_rows > ac.batch_size * R) {
        ac.batch_size = (max_rows + R - 1) / R;
    }
    if (agent_init(a, &ac, 0, err, errsz)) {
        goto out;
    }
    if (ckpt_get_f32_exact(&ck, "params", a->pb.n, a->pb.w, err, errsz) ||
        ckpt_get_f32_exact(&ck, "adam_m", a->pb.n, a->pb.m, err, errsz) ||
        ckpt_get_f32_exact(&ck, "adam_v", a->pb.n, a->pb.v, err, errsz) ||
        ckpt_get_f32_exact(&ck, "target", a->critic_end, a->target, err, errsz)) {
        agent_free(a);
        goto out;
    }
    a->opt.count = (long)cnt;
    a->step = (long)upd;
    if (step) {
        *step = st;
    }
    rc = 0;
out:
    ckpt_free(&ck);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* evaluation: eval_episodes episodes of the one-step policy, success / return per episode */

struct eval_result {
    int episodes;
    double ret_mean, ret_se, succ_mean, succ_se, score_mean, score_se;
    int has_success, has_score;
};

static int run_eval(struct agent *a, const char *env_name, int episodes, uint64_t seed,
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
    int E = episodes, O = v.O, A = v.A;
    float *eps = mem_alloc(sizeof(float) * (size_t)E * A), *act = mem_alloc(sizeof(float) * (size_t)E * A);
    double *ret = mem_alloc(sizeof(double) * (size_t)E), *succ = mem_alloc(sizeof(double) * (size_t)E);
    uint8_t *fin = mem_alloc((size_t)E);
    struct rng r;
    rng_seed(&r, seed);
    r = rng_split(&r, RNG_STREAM_EVAL);
    vecenv_reset(&v);
    int left = E;
    while (left > 0) {
        rng_fill_normal(&r, eps, (size_t)E * A);
        agent_act(a, v.obs, eps, E, act);
        vecenv_step(&v, act);
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
    (void)O;
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
    mem_free(eps), mem_free(act), mem_free(ret), mem_free(succ), mem_free(fin);
    vecenv_free(&v);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* the training loop */

static int mkdirs(const char *path) {
    char tmp[TRAIN_PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0777) && errno != EEXIST) {
                return -1;
            }
            *p = '/';
        }
    }
    if (mkdir(tmp, 0777) && errno != EEXIST) {
        return -1;
    }
    return 0;
}

static const char *METRIC_HEADER =
    "step,phase,wall_time,updates_per_s,total_loss,critic_loss,floq_loss,distilled_critic_loss,"
    "critic_q,q_min,q_max,var_flow_returns,td_error,actor_loss,bc_flow_loss,distill_loss,q_loss,"
    "actor_q,mse,val_critic_loss,val_actor_loss,env_steps,online_updates,env_steps_per_s,"
    "received_per_s,queue_depth,learner_wait_s,actor_wait_s,lag_min,lag_mean,lag_max,"
    "online_return,online_success,online_episodes,bad_messages,actors\n";

struct progress {
    int tty;
    double t0, last_print;
    long total;
};

static void progress_print(struct progress *p, long step, double rate, const struct agent *a,
                           const struct online_stats *os, int force) {
    double now = now_sec();
    if (!force && now - p->last_print < (p->tty ? 0.5 : 30.0)) {
        return;
    }
    p->last_print = now;
    double eta = rate > 0 && !os ? (double)(p->total - step) / rate : 0;
    if (os && os->env_steps_per_s > 0) {
        eta = (double)(p->total - step) / os->env_steps_per_s;
    }
    int h = (int)(eta / 3600), mi = (int)(fmod(eta, 3600) / 60), s = (int)fmod(eta, 60);
    char extra[160] = "";
    if (os) {
        snprintf(extra, sizeof extra, "  env %.0f/s  lag %.1f  return %.3g  success %.2f",
                 os->env_steps_per_s, os->lag_mean, os->ep_return, os->ep_success);
    }
    fprintf(stderr,
            "%sstep %ld/%ld  %.1f upd/s  ETA %d:%02d:%02d  critic %.4g  actor %.4g  q %.4g%s%s",
            p->tty ? "\r\033[K" : "", step, p->total, rate, h, mi, s, a->metrics.critic_loss,
            a->metrics.actor_loss, a->metrics.critic_q, extra, p->tty ? "" : "\n");
    fflush(stderr);
}

struct run_ctx {
    struct train_cfg *tc;
    struct agent *ag;
    FILE *mf, *ef;
    struct progress pr;
    int can_eval;
    struct rng *sampler, *drng;
    struct replay *vrb;
    struct rng *vrng;
    double t_start;
    long next_eval, next_save, last_eval;
    FILE *af; /* actors.csv, opened on the first row */
};

/* one metrics.csv row; os is NULL offline */
static void run_row(struct run_ctx *R, long step, const char *phase, double rate,
                    const struct online_stats *os) {
    struct agent *ag = R->ag;
    int B = ag->c.batch_size;
    double qmin = INFINITY, qmax = -INFINITY;
    for (int i = 0; i < ag->Ed * B; i++) {
        qmin = fmin(qmin, ag->critic_q[i]);
        qmax = fmax(qmax, ag->critic_q[i]);
    }
    struct agent_metrics m = ag->metrics;
    double vcl = NAN, val = NAN;
    if (R->vrb) {
        struct agent_batch vb;
        replay_sample(R->vrb, R->vrng, B, &vb);
        struct agent_draws vd;
        agent_draws_alloc(&vd, &ag->c);
        agent_draws_sample(&vd, &ag->c, R->vrng);
        agent_evaluate(ag, &vb, &vd);
        vcl = ag->metrics.critic_loss, val = ag->metrics.actor_loss;
        agent_draws_free(&vd);
        ag->metrics = m;
    }
    fprintf(R->mf,
            "%ld,%s,%.3f,%.3f,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,"
            "%.6g,%.6g,%.6g,%.6g",
            step, phase, now_sec() - R->t_start, rate, m.total_loss, m.critic_loss, m.floq_loss,
            m.distilled_critic_loss, m.critic_q, qmin, qmax, m.var_flow_returns, m.td_error,
            m.actor_loss, m.bc_flow_loss, m.distill_loss, m.q_loss, m.actor_q, m.mse, vcl, val);
    if (os) {
        fprintf(R->mf,
                ",%llu,%llu,%.1f,%.1f,%.4g,%.3f,%.3f,%.3f,%.4g,%.4g,%.6g,%.4g,%llu,%llu,%d\n",
                (unsigned long long)os->env_steps, (unsigned long long)os->updates,
                os->env_steps_per_s, os->received_per_s, os->queue_depth, os->learner_wait_s,
                os->actor_wait_s, os->lag_min, os->lag_mean, os->lag_max, os->ep_return,
                os->ep_success, (unsigned long long)os->episodes,
                (unsigned long long)os->bad_messages, os->actors);
    } else {
        fputs(",,,,,,,,,,,,,,,\n", R->mf);
    }
    fflush(R->mf);
    if (!R->pr.tty) {
        progress_print(&R->pr, step, rate, ag, os, 1);
    }
}

static void run_tick_eval(struct run_ctx *R, long step, int force) {
    if (!R->can_eval || (!force && (R->next_eval <= 0 || step < R->next_eval))) {
        return;
    }
    while (R->next_eval > 0 && R->next_eval <= step) {
        R->next_eval += R->tc->eval_interval;
    }
    char err[512];
    struct eval_result er;
    if (run_eval(R->ag, R->tc->env_name, R->tc->eval_episodes, R->tc->seed + (uint64_t)step, &er,
                 err, sizeof err) == 0) {
        fprintf(R->ef, "%ld,%d,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g\n", step, er.episodes, er.ret_mean,
                er.ret_se, er.succ_mean, er.succ_se, er.score_mean, er.score_se);
        fflush(R->ef);
        if (R->pr.tty) {
            fputc('\n', stderr);
        }
        log_info("eval at %ld: return %.3f +- %.3f, success %.3f +- %.3f", step, er.ret_mean,
                 er.ret_se, er.succ_mean, er.succ_se);
        R->last_eval = step;
    } else {
        log_warn("evaluation disabled: %s", err);
        R->can_eval = 0;
    }
}

static void run_tick(struct run_ctx *R, long step) {
    run_tick_eval(R, step, 0);
    if (R->next_save > 0 && step >= R->next_save) {
        while (R->next_save <= step) {
            R->next_save += R->tc->save_interval;
        }
        char err[512];
        if (step != R->tc->offline_steps + R->tc->online_steps &&
            save_checkpoint(R->tc, R->ag, R->sampler, R->drng, (uint64_t)step, err, sizeof err)) {
            log_error("%s", err);
        }
    }
}

static void online_log_hook(void *ctx, long step, const struct online_stats *s) {
    struct run_ctx *R = ctx;
    run_row(R, step, "online", s->updates_per_s, s);
    progress_print(&R->pr, step, s->updates_per_s, R->ag, s, 0);
}

static void online_actor_hook(void *ctx, long step, int rank, uint64_t env_steps,
                              double env_steps_per_s, double received_per_s, double wait_s) {
    struct run_ctx *R = ctx;
    if (!R->af) {
        char path[TRAIN_PATH_MAX + 32];
        snprintf(path, sizeof path, "%s/actors.csv", R->tc->run_dir);
        int fresh = access(path, F_OK) != 0;
        R->af = fopen(path, "a");
        if (!R->af) {
            return;
        }
        if (fresh) {
            fputs("step,rank,env_steps,env_steps_per_s,received_per_s,wait_s\n", R->af);
        }
    }
    fprintf(R->af, "%ld,%d,%llu,%.1f,%.1f,%.3f\n", step, rank, (unsigned long long)env_steps,
            env_steps_per_s, received_per_s, wait_s);
    fflush(R->af);
}

static void online_tick_hook(void *ctx, long step) {
    run_tick(ctx, step);
}

static int find_val_dataset(const char *path, char *out, size_t n) {
    const char *dot = strrchr(path, '.');
    if (!dot || strcmp(dot, ".npz") != 0) {
        return -1;
    }
    snprintf(out, n, "%.*s-val.npz", (int)(dot - path), path);
    return access(out, R_OK) == 0 ? 0 : -1;
}

static int learner_main(int argc, char **argv) {
    char err[1024];
    struct train_cfg tc;
    if (cfg_wants_help(argc, argv)) {
        struct cfg_opt o[NOPT];
        train_defaults(&tc, AGENT_FLOQ);
        usage_train(stdout, o, train_opts(&tc, o));
        return 0;
    }
    if (parse_train(&tc, argc, argv, err, sizeof err)) {
        fprintf(stderr, "floq train: %s\n", err);
        return 2;
    }
    uint64_t start_step = 0;
    struct agent ag;
    memset(&ag, 0, sizeof ag);
    int resumed = 0;
    if (tc.resume[0]) {
        char cpath[TRAIN_PATH_MAX + 64], cdir[TRAIN_PATH_MAX + 32];
        snprintf(cdir, sizeof cdir, "%s/checkpoints", tc.resume);
        if (ckpt_latest(cdir, cpath, sizeof cpath, &start_step, err, sizeof err)) {
            fprintf(stderr, "floq train: --resume %s: %s\n", tc.resume, err);
            return 1;
        }
        struct train_cfg saved;
        if (train_load_agent(&ag, &saved, cpath, 0, &start_step, err, sizeof err)) {
            fprintf(stderr, "floq train: %s\n", err);
            return 1;
        }
        /* the run's config, with this command line's flags on top (e.g. more steps) */
        struct cfg_opt o[NOPT];
        int n = train_opts(&saved, o);
        struct agent_cfg built = saved.ac;
        if (cfg_parse(o, n, argc, argv, err, sizeof err)) {
            fprintf(stderr, "floq train: %s\n", err);
            agent_free(&ag);
            return 2;
        }
        /* the networks and the optimiser were built from the checkpoint: agent flags cannot
         * change on --resume (steps, intervals and online settings can) */
        for (int i = 0; i < n; i++) {
            if (o[i].set && strncmp(o[i].name, "agent", 5) == 0 &&
                memcmp(&built, &saved.ac, sizeof built) != 0) {
                fprintf(stderr, "floq train: --%s cannot change on --resume (the run was built "
                                "with its checkpoint's agent settings); start a new run with "
                                "--restore_path FILE instead\n",
                        o[i].name);
                agent_free(&ag);
                return 2;
            }
        }
        if (memcmp(&built, &saved.ac, sizeof built) != 0) {
            fprintf(stderr, "floq train: --batch_size/--preset cannot change on --resume; start "
                            "a new run with --restore_path FILE instead\n");
            agent_free(&ag);
            return 2;
        }
        saved.ac.obs_dim = ag.c.obs_dim, saved.ac.act_dim = ag.c.act_dim;
        saved.ac.r_min = ag.c.r_min, saved.ac.r_max = ag.c.r_max;
        snprintf(saved.run_dir, sizeof saved.run_dir, "%s", tc.resume);
        snprintf(saved.resume, sizeof saved.resume, "%s", tc.resume);
        tc = saved;
        resumed = 1;
        log_info("resuming %s from %s (step %llu)", tc.run_dir, cpath,
                 (unsigned long long)start_step);
    }
    if (!tc.dataset[0]) {
        fprintf(stderr, "floq train: no --dataset given; make one with `floq collect --env_name "
                        "%s --policy expert --out data.npz` or pass an OGBench/D4RL file\n",
                tc.env_name);
        agent_free(&ag);
        return 2;
    }
    /* dataset (with singletask relabelling from the env name) */
    struct dataset_opts dop;
    dataset_opts_default(&dop);
    double goal[2], tol;
    char gerr[256];
    if (maze_env_goal(tc.env_name, goal, &tol, gerr, sizeof gerr) == 0) {
        dop.relabel = 1;
        dop.goal_xy[0] = (float)goal[0], dop.goal_xy[1] = (float)goal[1];
        dop.goal_tol = (float)tol;
    }
    struct dataset ds;
    double tl = now_sec();
    if (dataset_load(&ds, tc.dataset, &dop, err, sizeof err)) {
        fprintf(stderr, "floq train: %s\n", err);
        agent_free(&ag);
        return 1;
    }
    log_info("dataset %s: %zu transitions, obs %d, action %d, rewards [%g, %g] (%.1fs)",
             tc.dataset, ds.n, ds.obs_dim, ds.act_dim, ds.r_min, ds.r_max, now_sec() - tl);
    if (!resumed) {
        tc.ac.obs_dim = ds.obs_dim, tc.ac.act_dim = ds.act_dim;
        tc.ac.r_min = ds.r_min, tc.ac.r_max = ds.r_max;
        if (agent_init(&ag, &tc.ac, tc.seed, err, sizeof err)) {
            fprintf(stderr, "floq train: %s\n", err);
            dataset_free(&ds);
            return 2;
        }
        if (tc.restore_path[0]) {
            struct agent tmp;
            struct train_cfg tcr;
            if (train_load_agent(&tmp, &tcr, tc.restore_path, 0, NULL, err, sizeof err)) {
                fprintf(stderr, "floq train: --restore_path: %s\n", err);
                agent_free(&ag);
                dataset_free(&ds);
                return 1;
            }
            if (tmp.pb.n != ag.pb.n) {
                fprintf(stderr, "floq train: --restore_path %s holds a different network "
                                "(%zu parameters vs %zu); use the same --preset/--agent.* flags\n",
                        tc.restore_path, tmp.pb.n, ag.pb.n);
                agent_free(&tmp), agent_free(&ag), dataset_free(&ds);
                return 2;
            }
            memcpy(ag.pb.w, tmp.pb.w, sizeof(float) * ag.pb.n);
            memcpy(ag.pb.m, tmp.pb.m, sizeof(float) * ag.pb.n);
            memcpy(ag.pb.v, tmp.pb.v, sizeof(float) * ag.pb.n);
            memcpy(ag.target, tmp.target, sizeof(float) * ag.critic_end);
            ag.opt.count = tmp.opt.count;
            agent_free(&tmp);
        }
    } else if (ds.obs_dim != ag.c.obs_dim || ds.act_dim != ag.c.act_dim) {
        fprintf(stderr, "floq train: dataset %s has obs %d / action %d but the run has %d / %d\n",
                tc.dataset, ds.obs_dim, ds.act_dim, ag.c.obs_dim, ag.c.act_dim);
        agent_free(&ag), dataset_free(&ds);
        return 2;
    }
    /* run directory */
    if (!tc.run_dir[0]) {
        char ts[32];
        time_t now = time(NULL);
        strftime(ts, sizeof ts, "%Y%m%d-%H%M%S", localtime(&now));
        snprintf(tc.run_dir, sizeof tc.run_dir, "%.700s/%.100s.%.8s.s%llu.%.20s", tc.save_dir,
                 tc.env_name, tc.agent, (unsigned long long)tc.seed, ts);
    }
    if (mkdirs(tc.run_dir)) {
        fprintf(stderr, "floq train: cannot create run directory %s: %s\n", tc.run_dir,
                strerror(errno));
        agent_free(&ag), dataset_free(&ds);
        return 1;
    }
    char path[TRAIN_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/config.json", tc.run_dir);
    {
        char *json;
        if (write_config_json(&tc, &json) == 0) {
            FILE *f = fopen(path, "w");
            if (f) {
                fputs(json, f);
                fclose(f);
            }
            free(json);
        }
    }
    /* replay and random streams */
    size_t cap = (size_t)FLOQ_MAX((size_t)tc.buffer_size, ds.n + 1);
    if (tc.online_steps == 0) {
        cap = ds.n; /* offline only: the dataset is the replay */
    }
    struct replay rb;
    int B = ag.c.batch_size;
    replay_init(&rb, ag.c.obs_dim, ag.c.act_dim, cap, B);
    if (replay_add_dataset(&rb, &ds, err, sizeof err)) {
        fprintf(stderr, "floq train: %s\n", err);
        replay_free(&rb), agent_free(&ag), dataset_free(&ds);
        return 1;
    }
    /* optional validation split (OGBench "-val.npz") for validation losses */
    struct dataset vds;
    memset(&vds, 0, sizeof vds);
    struct replay vrb;
    memset(&vrb, 0, sizeof vrb);
    char vpath[TRAIN_PATH_MAX + 16];
    int have_val = 0;
    if (find_val_dataset(tc.dataset, vpath, sizeof vpath) == 0) {
        if (dataset_load(&vds, vpath, &dop, err, sizeof err) != 0) {
            log_warn("ignoring validation split: %s", err);
        } else if (vds.obs_dim != ag.c.obs_dim || vds.act_dim != ag.c.act_dim) {
            log_warn("ignoring validation split %s: obs %d / action %d, the run has %d / %d",
                     vpath, vds.obs_dim, vds.act_dim, ag.c.obs_dim, ag.c.act_dim);
            dataset_free(&vds);
        } else {
            replay_init(&vrb, ag.c.obs_dim, ag.c.act_dim, vds.n, B);
            have_val = replay_add_dataset(&vrb, &vds, err, sizeof err) == 0;
            if (have_val) {
                log_info("validation split %s: %zu transitions", vpath, vds.n);
            } else {
                log_warn("ignoring validation split: %s", err);
                replay_free(&vrb);
                dataset_free(&vds);
            }
        }
    }
    dataset_free(&ds);
    struct rng root, sampler, drng, vrng;
    rng_seed(&root, tc.seed);
    sampler = rng_split(&root, RNG_STREAM_SAMPLER);
    drng = rng_split(&root, RNG_STREAM_DRAWS);
    vrng = rng_split(&root, RNG_STREAM_SAMPLER + 100);
    if (resumed) {
        struct ckpt ck;
        char cdir[TRAIN_PATH_MAX + 32], cpath[TRAIN_PATH_MAX + 64];
        snprintf(cdir, sizeof cdir, "%s/checkpoints", tc.run_dir);
        uint64_t s2;
        if (ckpt_latest(cdir, cpath, sizeof cpath, &s2, err, sizeof err) == 0 &&
            ckpt_load(&ck, cpath, err, sizeof err) == 0) {
            ckpt_get_bytes_exact(&ck, "rng_sampler", &sampler, sizeof sampler, err, sizeof err);
            ckpt_get_bytes_exact(&ck, "rng_draws", &drng, sizeof drng, err, sizeof err);
            ckpt_free(&ck);
        }
    }
    struct agent_draws dr;
    agent_draws_alloc(&dr, &ag.c);
    /* metrics files */
    snprintf(path, sizeof path, "%s/metrics.csv", tc.run_dir);
    int fresh = access(path, F_OK) != 0;
    FILE *mf = fopen(path, "a");
    snprintf(path, sizeof path, "%s/eval.csv", tc.run_dir);
    int efresh = access(path, F_OK) != 0;
    FILE *ef = fopen(path, "a");
    if (!mf || !ef) {
        fprintf(stderr, "floq train: cannot write metrics in %s: %s\n", tc.run_dir,
                strerror(errno));
        return 1;
    }
    if (fresh) {
        fputs(METRIC_HEADER, mf);
    }
    if (efresh) {
        fputs("step,episodes,return_mean,return_se,success_mean,success_se,score_mean,score_se\n",
              ef);
    }
    struct env_info probe;
    int can_eval = tc.eval_interval > 0 && tc.eval_episodes > 0;
    if (can_eval) {
        if (env_lookup(tc.env_name, &probe, err, sizeof err)) {
            log_warn("no evaluation: %s", err);
            can_eval = 0;
        }
    }
    log_info("run %s: agent %s, %zu parameters, batch %d, R %d, K %d; %ld offline steps, %ld "
             "online steps",
             tc.run_dir, tc.agent, ag.pb.n, B, ag.R, ag.K, tc.offline_steps, tc.online_steps);
    struct run_ctx rc_ = {&tc, &ag, mf, ef, {isatty(2), now_sec(), 0, 0}, can_eval, &sampler,
                          &drng, have_val ? &vrb : NULL, &vrng, now_sec(), 0, 0, 0, NULL};
    struct run_ctx *R = &rc_;
    R->pr.total = tc.offline_steps + tc.online_steps;
    R->next_eval = tc.eval_interval > 0 ? ((long)start_step / tc.eval_interval + 1) * tc.eval_interval : 0;
    R->next_save = tc.save_interval > 0 ? ((long)start_step / tc.save_interval + 1) * tc.save_interval : 0;
    double flops = agent_update_flops(&ag);
    double t_start = now_sec(), t_win = t_start;
    long win_steps = 0;
    int rc = 0;
    long step = (long)start_step;
    for (; step < tc.offline_steps; step++) {
        struct agent_batch b;
        replay_sample(&rb, &sampler, B, &b);
        agent_draws_sample(&dr, &ag.c, &drng);
        agent_update(&ag, &b, &dr);
        win_steps++;
        long done = step + 1;
        if (!isfinite(ag.metrics.total_loss)) {
            fprintf(stderr, "\nfloq train: the loss became %g at step %ld; lower --agent.lr or "
                            "check the dataset's rewards\n",
                    ag.metrics.total_loss, done);
            rc = 1;
            break;
        }
        double now = now_sec();
        double rate = win_steps / fmax(now - t_win, 1e-9);
        if (done % tc.log_interval == 0 || done == tc.offline_steps || done == 1) {
            run_row(R, done, "offline", rate, NULL);
            t_win = now, win_steps = 0;
        }
        progress_print(&R->pr, done, rate, &ag, NULL, 0);
        if (done == 1) {
            run_tick_eval(R, 1, 1); /* as the reference: at step 1, then every eval_interval */
        }
        run_tick(R, done);
    }
    if (R->pr.tty) {
        fputc('\n', stderr);
    }
    double el = now_sec() - t_start;
    long ran = step - (long)start_step;
    if (ran > 0) {
        log_info("%ld updates in %.1fs: %.2f updates/s, %.2f GFLOP/s (analytic matmul FLOPs)",
                 ran, el, ran / el, flops * ran / el * 1e-9);
    }
    if (rc == 0 && tc.online_steps > 0) {
        if (tc.offline_steps > 0 && ran > 0 &&
            save_checkpoint(&tc, &ag, &sampler, &drng, (uint64_t)step, err, sizeof err)) {
            log_error("%s", err);
        }
        struct online_hooks hooks = {R, online_log_hook, online_actor_hook, online_tick_hook};
        /* resuming inside the online phase continues its step count (the online replay
         * contents are not checkpointed: the buffer restarts from the dataset) */
        long ostep = FLOQ_MAX((long)start_step, tc.offline_steps);
        struct train_cfg otc = tc;
        otc.online_steps = tc.offline_steps + tc.online_steps - ostep;
        if (otc.online_steps <= 0) {
            online_release_actors(); /* resumed after the online phase was complete */
        } else if (online_learn(&otc, &ag, &rb, &sampler, &drng, &dr, &ostep, &hooks, err,
                                sizeof err)) {
            fprintf(stderr, "floq train: %s\n", err);
            rc = 1;
        }
        step = ostep;
        if (R->pr.tty) {
            fputc('\n', stderr);
        }
    } else {
        online_release_actors();
    }
    if (rc == 0 && save_checkpoint(&tc, &ag, &sampler, &drng, (uint64_t)step, err, sizeof err)) {
        log_error("%s", err);
        rc = 1;
    }
    if (rc == 0 && can_eval && R->last_eval != step) {
        run_tick_eval(R, step, 1);
    }
    fclose(mf);
    fclose(ef);
    if (R->af) {
        fclose(R->af);
    }
    agent_draws_free(&dr);
    replay_free(&rb);
    if (have_val) {
        replay_free(&vrb);
        dataset_free(&vds);
    }
    agent_free(&ag);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* floq q */

static int read_rows(const char *path, int width, float **out, int *n, char *err, size_t errsz) {
    const char *dot = strrchr(path, '.');
    if (dot && strcmp(dot, ".npy") == 0) {
        struct npy_array a;
        if (npy_load(&a, path, err, errsz)) {
            return -1;
        }
        if (a.ndim != 2 || a.shape[1] != width || a.shape[0] < 1) {
            snprintf(err, errsz, "%.300s: expected shape (n, %d) = obs then action per row, got %d-d",
                     path, width, a.ndim);
            npy_free(&a);
            return -1;
        }
        *n = (int)a.shape[0];
        *out = mem_alloc(sizeof(float) * a.count);
        if (npy_to_f32(&a, *out)) {
            snprintf(err, errsz, "%.300s: not a numeric array", path);
            npy_free(&a);
            mem_free(*out);
            return -1;
        }
        npy_free(&a);
        if (!all_finite(*out, (size_t)*n * width)) {
            snprintf(err, errsz, "%.300s: holds NaN or Inf", path);
            mem_free(*out);
            return -1;
        }
        return 0;
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errsz, "cannot open %.300s: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 1024, cnt = 0;
    float *v = mem_alloc(sizeof(float) * cap * width);
    char line[65536];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *p = line;
        while (*p == ' ' || *p == '\t') {
            p++;
        }
        if (*p == '#' || *p == '\n' || *p == 0) {
            continue;
        }
        if (cnt == cap) {
            float *nv = mem_alloc(sizeof(float) * cap * 2 * width);
            memcpy(nv, v, sizeof(float) * cap * width);
            mem_free(v);
            v = nv;
            cap *= 2;
        }
        int k = 0;
        while (k < width) {
            while (*p == ' ' || *p == '\t' || *p == ',') {
                p++;
            }
            char *end;
            float x = strtof(p, &end);
            if (end == p) {
                break;
            }
            if (!isfinite(x)) {
                snprintf(err, errsz, "%.300s:%d: value %d is not finite", path, lineno, k + 1);
                fclose(f);
                mem_free(v);
                return -1;
            }
            v[cnt * width + k++] = x;
            p = end;
        }
        while (*p == ' ' || *p == '\t' || *p == ',' || *p == '\r' || *p == '\n') {
            p++;
        }
        if (k != width || *p) {
            snprintf(err, errsz, "%.300s:%d: expected %d numbers (obs then action), got %d%s", path,
                     lineno, width, k, *p ? " and trailing text" : "");
            fclose(f);
            mem_free(v);
            return -1;
        }
        cnt++;
    }
    fclose(f);
    if (cnt == 0) {
        snprintf(err, errsz, "%.300s: no rows (each row: obs then action, %d numbers)", path, width);
        mem_free(v);
        return -1;
    }
    *out = v;
    *n = (int)cnt;
    return 0;
}

int q_main(int argc, char **argv) {
    char ckpt[TRAIN_PATH_MAX] = "", input[TRAIN_PATH_MAX] = "", err[1024];
    int K = 0, R = 0, members = 0;
    struct cfg_opt o[] = {
        CFG_STR("checkpoint", ckpt, sizeof ckpt, "checkpoint file (floq or fql)"),
        CFG_STR("input", input, sizeof input, "rows of obs then action: text (whitespace/comma "
                                              "separated, # comments) or .npy (n, O+A)"),
        CFG_INT("flow_steps", &K, 0, 100000, "Euler steps of the read-out (0: as trained)"),
        CFG_INT("noise_samples", &R, 0, 100000, "stratified noise quantiles (j+0.5)/R (0: as trained)"),
        CFG_BOOL("members", &members, "also print each ensemble member's value"),
    };
    int n = (int)FLOQ_ARRAY_LEN(o);
    if (cfg_wants_help(argc, argv)) {
        printf("usage: floq q --checkpoint FILE --input FILE [--flow_steps K] [--noise_samples R]\n"
               "Prints Q(s,a) per input row: floq = mean over members and the noise grid of the\n"
               "K-step Euler read-out of the flow critic; fql = mean of the critic members.\n");
        cfg_help(stdout, o, n);
        return 0;
    }
    if (cfg_parse(o, n, argc, argv, err, sizeof err)) {
        fprintf(stderr, "floq q: %s\n", err);
        return 2;
    }
    if (!ckpt[0] || !input[0]) {
        fprintf(stderr, "floq q: --checkpoint FILE and --input FILE are required\n");
        return 2;
    }
    struct agent a;
    struct train_cfg tc;
    if (train_load_agent(&a, &tc, ckpt, 0, NULL, err, sizeof err)) {
        fprintf(stderr, "floq q: %s\n", err);
        return 1;
    }
    int O = a.c.obs_dim, A = a.c.act_dim, rows;
    float *x;
    if (read_rows(input, O + A, &x, &rows, err, sizeof err)) {
        fprintf(stderr, "floq q: %s\n", err);
        agent_free(&a);
        return 2;
    }
    if (K == 0) {
        K = a.K;
    }
    if (R == 0) {
        R = a.R;
    }
    float *obs = mem_alloc(sizeof(float) * (size_t)rows * O);
    float *act = mem_alloc(sizeof(float) * (size_t)rows * A);
    for (int i = 0; i < rows; i++) {
        memcpy(obs + (size_t)i * O, x + (size_t)i * (O + A), sizeof(float) * O);
        memcpy(act + (size_t)i * A, x + (size_t)i * (O + A) + O, sizeof(float) * A);
    }
    int E = a.c.kind == AGENT_FLOQ ? a.E : a.Ed;
    double *q = mem_alloc(sizeof(double) * (size_t)rows * (E + 1));
    if (a.c.kind == AGENT_FLOQ) {
        /* stratified grid: each row repeated R times with ratio (j + 0.5)/R */
        int chunk = 4096;
        float *ro = mem_alloc(sizeof(float) * (size_t)chunk * O);
        float *ra = mem_alloc(sizeof(float) * (size_t)chunk * A);
        float *rr = mem_alloc(sizeof(float) * (size_t)chunk);
        float *out = mem_alloc(sizeof(float) * (size_t)E * chunk);
        int per = chunk / R > 0 ? chunk / R : 1;
        if (R > chunk) {
            per = 1;
        }
        for (int s = 0; s < rows; s += per) {
            int m = FLOQ_MIN(per, rows - s);
            /* process rows s..s+m-1, each with all R quantiles, in pieces of <= chunk */
            for (int i = 0; i < m; i++) {
                double acc[AGENT_MAX_E] = {0};
                for (int j0 = 0; j0 < R; j0 += chunk) {
                    int jm = FLOQ_MIN(chunk, R - j0);
                    for (int j = 0; j < jm; j++) {
                        memcpy(ro + (size_t)j * O, obs + (size_t)(s + i) * O, sizeof(float) * O);
                        memcpy(ra + (size_t)j * A, act + (size_t)(s + i) * A, sizeof(float) * A);
                        rr[j] = ((float)(j0 + j) + 0.5f) / (float)R;
                    }
                    agent_flow_returns(&a, ro, ra, rr, jm, K, out);
                    for (int e = 0; e < E; e++) {
                        for (int j = 0; j < jm; j++) {
                            acc[e] += out[(size_t)e * jm + j];
                        }
                    }
                }
                double tot = 0;
                for (int e = 0; e < E; e++) {
                    q[(size_t)(s + i) * (E + 1) + 1 + e] = acc[e] / R;
                    tot += acc[e] / R;
                }
                q[(size_t)(s + i) * (E + 1)] = tot / E;
            }
        }
        mem_free(ro), mem_free(ra), mem_free(rr), mem_free(out);
    } else {
        float *out = mem_alloc(sizeof(float) * (size_t)E * rows);
        agent_critic_q(&a, obs, act, rows, out);
        for (int i = 0; i < rows; i++) {
            double tot = 0;
            for (int e = 0; e < E; e++) {
                q[(size_t)i * (E + 1) + 1 + e] = out[(size_t)e * rows + i];
                tot += out[(size_t)e * rows + i];
            }
            q[(size_t)i * (E + 1)] = tot / E;
        }
        mem_free(out);
    }
    printf("# floq q: %s, agent %s, %d rows%s", ckpt, tc.agent, rows,
           a.c.kind == AGENT_FLOQ ? "" : "\n");
    if (a.c.kind == AGENT_FLOQ) {
        printf(", flow_steps %d, noise_samples %d\n", K, R);
    }
    for (int i = 0; i < rows; i++) {
        printf("%.7g", q[(size_t)i * (E + 1)]);
        if (members) {
            for (int e = 0; e < E; e++) {
                printf(" %.7g", q[(size_t)i * (E + 1) + 1 + e]);
            }
        }
        printf("\n");
    }
    mem_free(q), mem_free(obs), mem_free(act), mem_free(x);
    agent_free(&a);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* floq eval */

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
    int n = (int)FLOQ_ARRAY_LEN(o);
    if (cfg_wants_help(argc, argv)) {
        printf("usage: floq eval --checkpoint FILE [--env_name NAME] [--episodes N]\n");
        cfg_help(stdout, o, n);
        return 0;
    }
    if (cfg_parse(o, n, argc, argv, err, sizeof err)) {
        fprintf(stderr, "floq eval: %s\n", err);
        return 2;
    }
    if (!ckpt[0]) {
        fprintf(stderr, "floq eval: --checkpoint FILE is required\n");
        return 2;
    }
    struct agent a;
    struct train_cfg tc;
    if (train_load_agent(&a, &tc, ckpt, episodes, NULL, err, sizeof err)) {
        fprintf(stderr, "floq eval: %s\n", err);
        return 1;
    }
    struct eval_result er;
    int rc = run_eval(&a, env[0] ? env : tc.env_name, episodes, seed, &er, err, sizeof err);
    if (rc) {
        fprintf(stderr, "floq eval: %s\n", err);
        agent_free(&a);
        return 2;
    }
    printf("env %s  episodes %d\n", env[0] ? env : tc.env_name, er.episodes);
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

/* ---------------------------------------------------------------------------------------- */
/* floq train: the role comes from the rank */

static int launched_by_mpi(void) {
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"};
    for (size_t i = 0; i < FLOQ_ARRAY_LEN(vars); i++) {
        if (getenv(vars[i])) {
            return 1;
        }
    }
    return 0;
}

int train_main(int argc, char **argv) {
    if (cfg_wants_help(argc, argv) || !launched_by_mpi()) {
        return learner_main(argc, argv); /* one process: the actor runs inline */
    }
    if (comm_init(NULL, NULL)) {
        fprintf(stderr, "floq train: MPI failed to start\n");
        return 1;
    }
    int rc;
    if (comm_rank() == 0) {
        rc = learner_main(argc, argv);
        if (rc != 0 && comm_size() > 1) {
            fprintf(stderr, "floq train: the learner failed (exit %d); stopping every rank\n", rc);
            fflush(stderr);
            comm_abort(rc);
        }
    } else {
        /* actors take what they run from the learner's SETUP message; the test build parses
         * the flags for its faults */
#ifdef FLOQ_FAULT_INJECTION
        struct train_cfg tc;
        char err[512];
        parse_train(&tc, argc, argv, err, sizeof err);
#endif
        rc = actor_rank_main();
    }
    comm_finalize();
    return rc;
}
