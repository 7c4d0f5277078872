/* train_cfg.c — defaults, presets, the per-task table, the flag table and config JSON */
#include "learner/train_cfg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "actor/fault.h"
#include "common/comm.h"
#include "common/pool.h"
#include "common/util.h"

/* spec §8.2: per-environment overrides of the README commands (offline). One table for both
 * agents; a row applies when the env name starts with prefix. -1 / NAN = keep. */
struct task_override {
    const char *prefix;
    int kind; /* AGENT_FLOQ or AGENT_FQL */
    float discount;
    int q_agg;      /* -1 keep */
    int batch_size; /* -1 keep */
    float alpha;
    int block_depth; /* -1 keep */
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

void train_cfg_default(struct train_cfg *tc, int kind) {
    *tc = (struct train_cfg){.env_name = "pointmaze-medium-navigate-singletask-task1-v0",
                             .save_dir = "runs",
                             .project_name = "Debug",
                             .run_group = "Debug",
                             .preset = "paper",
                             .seed = 0,
                             .offline_steps = 2000000,
                             .online_steps = 0,
                             .buffer_size = 2000000,
                             .log_interval = 5000,
                             .eval_interval = 20000,
                             .save_interval = 1000000,
                             .keep_checkpoints = 5,
                             .eval_episodes = 50,
                             .utd = 1.0f,
                             .sync_interval = 1,
                             .num_envs = 1,
                             .start_online_after = 0,
                             .learner_ranks = 1,
                             .peer_timeout = 60.0f};
    snprintf(tc->agent, sizeof tc->agent, "%s", kind == AGENT_FQL ? "fql" : "floq");
    agent_cfg_default(&tc->ac, kind);
}

int train_cfg_opts(struct train_cfg *tc, struct cfg_opt *o) {
    struct agent_cfg *c = &tc->ac;
    int n = 0;
#define ADD(...) o[n++] = (struct cfg_opt)__VA_ARGS__
    ADD(CFG_STR("agent", tc->agent, sizeof tc->agent,
                "agent: floq or fql (the monolithic-critic baseline)"));
    ADD(CFG_STR("env_name", tc->env_name, sizeof tc->env_name, "environment / task name"));
    ADD(CFG_STR("dataset", tc->dataset, sizeof tc->dataset,
                "offline dataset (.npz OGBench/own, .hdf5 D4RL)"));
    ADD(CFG_STR("preset", tc->preset, sizeof tc->preset,
                "network size preset: paper (4x512, R=8, K=8), small (2x256, R=4, K=4), tiny"));
    ADD(CFG_U64("seed", &tc->seed, "seed of every random draw"));
    ADD(CFG_LONG("offline_steps", &tc->offline_steps, 0, 1e12, "gradient updates on the dataset"));
    ADD(CFG_LONG("online_steps", &tc->online_steps, 0, 1e12,
                 "environment steps of online fine-tuning"));
    ADD(CFG_LONG("buffer_size", &tc->buffer_size, 1, 1e10,
                 "replay capacity (at least the dataset + 1)"));
    ADD(CFG_LONG("log_interval", &tc->log_interval, 1, 1e12, "updates between metrics.csv rows"));
    ADD(CFG_LONG("eval_interval", &tc->eval_interval, 0, 1e12,
                 "steps between evaluations (0: off)"));
    ADD(CFG_LONG("save_interval", &tc->save_interval, 0, 1e12,
                 "steps between checkpoints (0: only at the end)"));
    ADD(CFG_INT("keep_checkpoints", &tc->keep_checkpoints, 0, 1000000,
                "newest checkpoints kept in RUN/checkpoints, older ones removed (0: keep all)"));
    ADD(CFG_IGNORED("plot_interval", "the reference's plot interval (no plots)"));
    ADD(CFG_INT("eval_episodes", &tc->eval_episodes, 0, 100000, "episodes per evaluation"));
    ADD(CFG_OFF("video_episodes", "no video in floq C"));
    ADD(CFG_IGNORED("video_frame_skip", "the reference's video frame skip (no video)"));
    ADD(CFG_OFF("balanced_sampling", "half online, half offline sampling is not implemented"));
    ADD(CFG_STR("save_dir", tc->save_dir, sizeof tc->save_dir,
                "directory that holds run directories"));
    ADD(CFG_STR("run_dir", tc->run_dir, sizeof tc->run_dir,
                "exact run directory (default: save_dir/<env>.<agent>.s<seed>.<time>)"));
    ADD(CFG_STR("resume", tc->resume, sizeof tc->resume,
                "continue the run in this directory from its newest checkpoint"));
    ADD(CFG_STR("restore_path", tc->restore_path, sizeof tc->restore_path,
                "start from this checkpoint file (weights and optimiser)"));
    ADD(CFG_IGNORED("restore_epoch", "use --restore_path FILE"));
    ADD(CFG_STR("project_name", tc->project_name, sizeof tc->project_name,
                "label kept in config.json"));
    ADD(CFG_STR("run_group", tc->run_group, sizeof tc->run_group, "label kept in config.json"));
    ADD(CFG_OFF("p_aug", "visual augmentation is not supported (floq C is state-based)"));
    ADD(CFG_OFF("frame_stack", "visual frame stacking is not supported (floq C is state-based)"));
    ADD(CFG_FLOAT("utd", &tc->utd, 1e-3, 1e3, "online updates per environment step"));
    ADD(CFG_LONG("sync_interval", &tc->sync_interval, 1, 1e9,
                 "updates between policy broadcasts to the actors"));
    ADD(CFG_INT("actor.num_envs", &tc->num_envs, 1, 4096, "environments per actor rank"));
    ADD(CFG_BOOL("lockstep", &tc->lockstep,
                 "exact reference parity: each transition waits for the weights of the previous "
                 "update (policy lag 0)"));
    ADD(CFG_LONG("start_online_after", &tc->start_online_after, 0, 1e12,
                 "online transitions to collect before online updates start"));
    ADD(CFG_FLOAT("peer_timeout", &tc->peer_timeout, 0.1, 1e6,
                  "seconds an actor rank may leave its HELLO, BYE, weights or the learner's "
                  "messages untaken before it is cut off"));
    ADD(CFG_INT("learner_threads", &tc->learner_threads, 0, POOL_MAX_THREADS,
                "threads of the learner's update (0: every core this process may use, "
                "sched_getaffinity); results repeat bit for bit for a given count"));
    ADD(CFG_INT("learner_ranks", &tc->learner_ranks, 1, TRAIN_MAX_LEARNER_RANKS,
                "data-parallel learner ranks: ranks 0..L-1 share each update (the global batch "
                "stays --batch_size), actors are ranks L..N-1; results repeat bit for bit for a "
                "given L"));
    /* agent keys (spec §11) */
    ADD(CFG_FLOAT("agent.lr", &c->lr, 1e-12, 10, "Adam learning rate"));
    ADD(CFG_INT("agent.batch_size", &c->batch_size, 1, 1 << 20, "batch size"));
    ADD(CFG_INT("batch_size", &c->batch_size, 1, 1 << 20,
                "batch size (same as --agent.batch_size)"));
    ADD(CFG_INTLIST("agent.actor_hidden_dims", c->actor_hidden, MLP_MAX_HIDDEN, &c->n_actor_hidden,
                    1, 8192, "actor hidden sizes"));
    ADD(CFG_INTLIST("agent.value_hidden_dims", c->value_hidden, MLP_MAX_HIDDEN, &c->n_value_hidden,
                    1, 8192, "distilled / FQL critic hidden sizes"));
    ADD(CFG_BOOL("agent.layer_norm", &c->layer_norm, "LayerNorm in the critics"));
    ADD(CFG_BOOL("agent.actor_layer_norm", &c->actor_layer_norm, "LayerNorm in the actors"));
    ADD(CFG_FLOAT("agent.discount", &c->discount, 0, 0.999999, "discount gamma"));
    ADD(CFG_FLOAT("agent.tau", &c->tau, 0, 1, "Polyak rate of the target critic"));
    ADD(CFG_CHOICE("agent.q_agg", &c->q_agg, "mean|min", "ensemble aggregation of the TD target"));
    ADD(CFG_FLOAT("agent.alpha", &c->alpha, 0, 1e9, "weight of the one-step distillation loss"));
    ADD(CFG_INT("agent.actor_flow_steps", &c->actor_flow_steps, 1, 4096,
                "Euler steps of the BC flow"));
    ADD(CFG_INT("agent.flow_steps", &c->actor_flow_steps, 1, 4096,
                "FQL name of --agent.actor_flow_steps"));
    ADD(CFG_BOOL("agent.normalize_q_loss", &c->normalize_q_loss, "divide the Q loss by mean |Q|"));
    ADD(CFG_INT("agent.flow_num_ensembles", &c->flow_num_ensembles, 1, AGENT_MAX_E,
                "flow critic members (FQL: critic members)"));
    ADD(CFG_INT("agent.value_num_ensembles", &c->flow_num_ensembles, 1, AGENT_MAX_E,
                "FQL critic members"));
    ADD(CFG_INT("agent.distill_num_ensembles", &c->distill_num_ensembles, 1, AGENT_MAX_E,
                "distilled critic members"));
    ADD(CFG_INT("agent.noise_samples", &c->noise_samples, 1, 1024,
                "R noise samples per transition"));
    ADD(CFG_FLOAT("agent.noise_coverage", &c->noise_coverage, 0, 1e6,
                  "initial noise interval, in units of r/(1-gamma)"));
    ADD(CFG_INT("agent.critic_flow_steps", &c->critic_flow_steps, 1, 4096,
                "K Euler steps of the flow critic"));
    ADD(CFG_BOOL("agent.train_at_zero_only", &c->train_at_zero_only,
                 "train the flow field at t = 0 only"));
    ADD(CFG_BOOL("agent.embed_time", &c->embed_time, "embed t (cos t) instead of raw t"));
    ADD(CFG_CHOICE("agent.time_embed", &c->time_embed, "cos|fourier",
                   "time embedding (cos: released code; fourier: 64 cos(k pi t))"));
    ADD(CFG_IGNORED("agent.time_embed_dim", "unused by the released code"));
    ADD(CFG_BOOL("agent.use_prob_embed", &c->use_prob_embed,
                 "HL-Gauss embedding of the interpolant"));
    ADD(CFG_INT("agent.num_bins", &c->num_bins, 2, HLGAUSS_MAX_BINS,
                "HL-Gauss bin edges (features = num_bins - 1)"));
    ADD(CFG_FLOAT("agent.sigma", &c->sigma, 1e-6, 1e6, "HL-Gauss sigma in bin widths"));
    ADD(CFG_FLOAT("agent.reward_offset", &c->reward_offset, 0, 1e6, "support margin"));
    ADD(CFG_INT("agent.block_width", &c->block_width, 1, 8192, "flow critic width"));
    ADD(CFG_INT("agent.block_depth", &c->block_depth, 1, MLP_MAX_HIDDEN, "flow critic depth"));
    ADD(CFG_OFF(
        "agent.use_resnets",
        "the ResNet flow critic is not implemented (the paper's floq runs use the plain MLP)"));
    ADD(CFG_IGNORED("agent.num_transformations", "ResNet blocks (no ResNet critic)"));
    ADD(CFG_BOOL("agent.activate_before_layernorm", &c->activate_before_layernorm,
                 "GELU before LayerNorm (only true)"));
    ADD(CFG_BOOL("agent.gelu_exact", &c->gelu_exact,
                 "exact erf GELU instead of the tanh approximation"));
    ADD(CFG_IGNORED("agent.agent_name", "--agent selects the agent"));
    ADD(CFG_IGNORED("agent.encoder", "state-based only (no encoder)"));
#undef ADD
#ifdef FLOQ_FAULT_INJECTION
    n += fault_opts(o + n); /* the test build's --test_bad_actor, --test_fault */
#endif
    FLOQ_ASSERT(n <= TRAIN_CFG_MAX_OPTS);
    return n;
}

void train_cfg_usage(FILE *f) {
    struct train_cfg tc;
    struct cfg_opt o[TRAIN_CFG_MAX_OPTS];
    train_cfg_default(&tc, AGENT_FLOQ);
    fprintf(f, "usage: floq train --env_name NAME --dataset FILE [flags]\n"
               "       mpirun -np N floq train ... --online_steps S   (rank 0 learner, 1..N-1 "
               "actors)\n"
               "Offline floq (or --agent=fql) training, then online fine-tuning. Flags:\n");
    cfg_help(f, o, train_cfg_opts(&tc, o));
}

/* --agent: floq or fql, also as the reference's file names */
static int agent_kind(const char *name, int *kind) {
    if (strcmp(name, "floq") == 0 || strcmp(name, "agents/floq.py") == 0) {
        *kind = AGENT_FLOQ;
    } else if (strcmp(name, "fql") == 0 || strcmp(name, "agents/fql.py") == 0) {
        *kind = AGENT_FQL;
    } else {
        return -1;
    }
    return 0;
}

int train_cfg_learner_ranks(int argc, char **argv) {
    static const char key[] = "--learner_ranks";
    const size_t kl = sizeof key - 1;
    const char *v = NULL;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], key, kl) == 0 && argv[i][kl] == '=') {
            v = argv[i] + kl + 1;
        } else if (strcmp(argv[i], key) == 0 && i + 1 < argc) {
            v = argv[i + 1];
        }
    }
    char *end;
    long L = v ? strtol(v, &end, 10) : 1;
    int ranks = comm_initialized() ? comm_size() : 1;
    return v && *end == 0 && L >= 1 && L <= ranks && L <= TRAIN_MAX_LEARNER_RANKS ? (int)L : 1;
}

int train_cfg_parse(struct train_cfg *tc, int argc, char **argv, char *err, size_t errsz) {
    struct cfg_opt o[TRAIN_CFG_MAX_OPTS];
    train_cfg_default(tc, AGENT_FLOQ);
    int n = train_cfg_opts(tc, o);
    if (cfg_parse(o, n, argc, argv, err, errsz)) {
        return -1;
    }
    int kind;
    if (agent_kind(tc->agent, &kind)) {
        seterr(err, errsz, "--agent=%s: expected floq or fql", tc->agent);
        return -1;
    }
    /* the agent's defaults, then the preset and the task table, then the flags again */
    struct train_cfg first = *tc;
    train_cfg_default(tc, kind);
    snprintf(tc->preset, sizeof tc->preset, "%s", first.preset);
    snprintf(tc->env_name, sizeof tc->env_name, "%s", first.env_name);
    if (agent_cfg_preset(&tc->ac, tc->preset, err, errsz)) {
        return -1;
    }
    apply_task_table(tc);
    n = train_cfg_opts(tc, o);
    if (cfg_parse(o, n, argc, argv, err, errsz)) {
        return -1;
    }
    snprintf(tc->agent, sizeof tc->agent, "%s", kind == AGENT_FQL ? "fql" : "floq");
    if (tc->lockstep) {
        tc->sync_interval = 1;
    }
    int ranks = comm_initialized() ? comm_size() : 1;
    if (tc->learner_ranks > ranks) {
        seterr(err, errsz,
               "--learner_ranks=%d but the job has %d rank%s; start it with mpirun -np N, N >= "
               "%d (plus the actor ranks)",
               tc->learner_ranks, ranks, ranks == 1 ? "" : "s", tc->learner_ranks);
        return -1;
    }
    if (tc->start_online_after > tc->online_steps) {
        seterr(err, errsz,
               "--start_online_after=%ld exceeds --online_steps=%ld; no online update could run",
               tc->start_online_after, tc->online_steps);
        return -1;
    }
    return 0;
}

int train_cfg_resume(struct train_cfg *saved, int argc, char **argv, char *err, size_t errsz) {
    struct cfg_opt o[TRAIN_CFG_MAX_OPTS];
    int n = train_cfg_opts(saved, o);
    struct agent_cfg built = saved->ac;
    char agent[sizeof saved->agent];
    memcpy(agent, saved->agent, sizeof agent);
    if (cfg_parse(o, n, argc, argv, err, errsz)) {
        return -1;
    }
    int kind;
    if (agent_kind(saved->agent, &kind) || strcmp(kind == AGENT_FQL ? "fql" : "floq", agent) != 0) {
        seterr(err, errsz,
               "--agent=%s cannot change on --resume: the run in this directory is %s (its "
               "checkpoint holds that agent's networks); drop --agent or start a new run",
               saved->agent, agent);
        return -1;
    }
    memcpy(saved->agent, agent, sizeof agent);
    /* the networks and the optimiser were built from the checkpoint: agent flags cannot change
     * on --resume (steps, intervals and online settings can) */
    if (memcmp(&built, &saved->ac, sizeof built) == 0) {
        return 0;
    }
    for (int i = 0; i < n; i++) {
        if (o[i].set && strncmp(o[i].name, "agent", 5) == 0) {
            seterr(err, errsz,
                   "--%s cannot change on --resume (the run was built with its checkpoint's agent "
                   "settings); start a new run with --restore_path FILE instead",
                   o[i].name);
            return -1;
        }
    }
    seterr(err, errsz,
           "--batch_size/--preset cannot change on --resume; start a new run with "
           "--restore_path FILE instead");
    return -1;
}

char *train_cfg_json(const struct train_cfg *tc) {
    struct train_cfg copy = *tc;
    struct cfg_opt o[TRAIN_CFG_MAX_OPTS];
    int n = train_cfg_opts(&copy, o);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        return NULL;
    }
    int rc = cfg_write_json(f, o, n);
    fclose(f);
    if (rc) {
        free(buf);
        return NULL;
    }
    return buf;
}

int train_cfg_from_json(struct train_cfg *tc, const char *json, char *err, size_t errsz) {
    char agent[32] = "floq";
    int kind = AGENT_FLOQ;
    if (cfg_json_get(json, "agent", agent, sizeof agent) == 0 && agent_kind(agent, &kind)) {
        seterr(err, errsz, "config: agent \"%s\" is neither floq nor fql", agent);
        return -1;
    }
    train_cfg_default(tc, kind);
    struct cfg_opt o[TRAIN_CFG_MAX_OPTS];
    int n = train_cfg_opts(tc, o);
    if (cfg_read_json(o, n, json, 1, err, errsz)) {
        return -1;
    }
    /* a key given twice could name another agent than the one its defaults came from */
    int again;
    if (agent_kind(tc->agent, &again) || again != kind) {
        seterr(err, errsz,
               "config: \"agent\" is given as \"%s\" and as \"%.20s\"; the config is damaged",
               agent, tc->agent);
        return -1;
    }
    snprintf(tc->agent, sizeof tc->agent, "%s", kind == AGENT_FQL ? "fql" : "floq");
    tc->ac.kind = kind;
    return 0;
}
