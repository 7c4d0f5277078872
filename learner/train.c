/* train.c — `floq train` on the learner: load the run, the offline loop, the online phase,
 * the final save; evaluations and checkpoints on the way. */
#include "learner/train.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/ckpt.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/sig.h"
#include "common/util.h"
#include "envs/env.h"
#include "envs/maze.h"
#include "learner/agent_ckpt.h"
#include "learner/dataset.h"
#include "learner/eval.h"
#include "learner/lgroup.h"
#include "learner/online.h"
#include "learner/replay.h"
#include "learner/runlog.h"

/* everything a training run holds */
struct trainer {
    struct train_cfg tc;
    struct agent ag;
    struct replay rb;          /* the dataset, then the online transitions */
    struct replay val;         /* the validation split; val.cap 0 without one */
    struct rng sampler, draws; /* batch indices; the update's noise (struct agent_draws) */
    struct rng val_rng;        /* validation batches */
    struct agent_draws dr;
    struct runlog log;
    uint64_t start_step; /* where a resumed run continues */
    int resumed, can_eval;
    long next_eval, next_save, last_eval;
    long last_save; /* step of the newest checkpoint this process wrote (0: none) */
    struct agent_ckpt_state saved; /* the generators of a resumed run's checkpoint */
};

/* ---- load: the agent (resumed, restored or new), the dataset into the replay ------------ */

/* --resume DIR: the newest checkpoint's agent and config, with this command line's flags on
 * top; returns the exit code (0: go on) */
static int resume(struct trainer *t, int argc, char **argv) {
    char err[1024], cdir[TRAIN_PATH_MAX + 32];
    snprintf(cdir, sizeof cdir, "%s/checkpoints", t->tc.resume);
    struct ckpt_file *files;
    size_t nf, k = 0;
    if (ckpt_list(cdir, &files, &nf, err, sizeof err)) {
        fprintf(stderr, "floq train: --resume %s: %s\n", t->tc.resume, err);
        return 1;
    }
    if (nf == 0) {
        fprintf(stderr,
                "floq train: --resume %s: %s has no checkpoint (no ckpt-<step>.ckpt file); check "
                "the path or start without --resume\n",
                t->tc.resume, cdir);
        ckpt_list_free(files, nf);
        return 1;
    }
    /* the newest checkpoint that loads: a damaged one (torn copy, bit rot, a non-finite value)
     * is left where it is, and the one before it is tried */
    struct train_cfg saved;
    for (; k < nf; k++) {
        if (agent_ckpt_load(&t->ag, &saved, files[k].path, 0, &t->saved, err, sizeof err) == 0) {
            break;
        }
        log_warn("--resume: %s; %s", err,
                 k + 1 < nf ? "falling back to the previous checkpoint" : "no older checkpoint");
    }
    if (k == nf) {
        fprintf(stderr, "floq train: --resume %s: none of its %zu checkpoint(s) loads (%s)\n",
                t->tc.resume, nf, err);
        ckpt_list_free(files, nf);
        return 1;
    }
    char cpath[TRAIN_PATH_MAX + 64];
    snprintf(cpath, sizeof cpath, "%s", files[k].path);
    ckpt_list_free(files, nf);
    t->start_step = t->saved.step;
    if (train_cfg_resume(&saved, argc, argv, err, sizeof err)) {
        fprintf(stderr, "floq train: %s\n", err);
        return 2;
    }
    snprintf(saved.run_dir, sizeof saved.run_dir, "%s", t->tc.resume);
    snprintf(saved.resume, sizeof saved.resume, "%s", t->tc.resume);
    /* how the job is launched is this command line's (every rank reads L from it) */
    saved.learner_ranks = t->tc.learner_ranks;
    t->tc = saved;
    t->resumed = 1;
    log_info("resuming %s from %s (step %llu)", t->tc.run_dir, cpath,
             (unsigned long long)t->start_step);
    return 0;
}

/* a new agent for the dataset's sizes, optionally with --restore_path's weights and optimiser */
static int new_agent(struct trainer *t, const struct dataset *ds) {
    struct train_cfg *tc = &t->tc;
    char err[1024];
    tc->ac.obs_dim = ds->obs_dim, tc->ac.act_dim = ds->act_dim;
    tc->ac.r_min = ds->r_min, tc->ac.r_max = ds->r_max;
    if (agent_init(&t->ag, &tc->ac, tc->seed, err, sizeof err)) {
        fprintf(stderr, "floq train: %s\n", err);
        return 2;
    }
    int rc =
        tc->restore_path[0] ? agent_ckpt_restore(&t->ag, tc->restore_path, err, sizeof err) : 0;
    if (rc == -1) {
        fprintf(stderr, "floq train: --restore_path: %s\n", err);
        return 1;
    }
    if (rc == -2) {
        fprintf(stderr, "floq train: --restore_path %s; use the same --preset/--agent.* flags\n",
                err);
        return 2;
    }
    return 0;
}

/* the validation split next to an OGBench dataset (X.npz -> X-val.npz), when there is one,
 * for validation losses; any problem with it is a warning */
static void load_validation(struct trainer *t, const struct dataset_opts *dop) {
    const char *path = t->tc.dataset, *dot = strrchr(path, '.');
    char vpath[TRAIN_PATH_MAX + 16], err[1024];
    if (!dot || strcmp(dot, ".npz") != 0) {
        return;
    }
    snprintf(vpath, sizeof vpath, "%.*s-val.npz", (int)(dot - path), path);
    struct dataset vds;
    if (access(vpath, R_OK) != 0) {
        return;
    }
    if (dataset_load(&vds, vpath, dop, err, sizeof err) != 0) {
        log_warn("ignoring validation split: %s", err);
        return;
    }
    const struct agent_cfg *c = &t->ag.c;
    if (vds.obs_dim != c->obs_dim || vds.act_dim != c->act_dim) {
        log_warn("ignoring validation split %s: obs %d / action %d, the run has %d / %d", vpath,
                 vds.obs_dim, vds.act_dim, c->obs_dim, c->act_dim);
    } else {
        replay_init(&t->val, c->obs_dim, c->act_dim, vds.n, c->batch_size);
        if (replay_add_dataset(&t->val, &vds, err, sizeof err) == 0) {
            log_info("validation split %s: %zu transitions", vpath, vds.n);
        } else {
            log_warn("ignoring validation split: %s", err);
            replay_free(&t->val);
        }
    }
    dataset_free(&vds);
}

/* the agent and the replay holding the dataset (and its validation split); the exit code */
static int load(struct trainer *t, int argc, char **argv) {
    struct train_cfg *tc = &t->tc;
    char err[1024];
    int rc = tc->resume[0] ? resume(t, argc, argv) : 0;
    if (rc) {
        return rc;
    }
    if (!tc->dataset[0]) {
        fprintf(stderr,
                "floq train: no --dataset given; make one with `floq collect --env_name "
                "%s --policy expert --out data.npz` or pass an OGBench/D4RL file\n",
                tc->env_name);
        return 2;
    }
    /* the dataset, relabelled for a singletask env name */
    struct dataset_opts dop;
    dataset_opts_default(&dop);
    double goal[2], tol;
    if (maze_env_goal(tc->env_name, goal, &tol, err, sizeof err) == 0) {
        dop.relabel = 1;
        dop.goal_xy[0] = (float)goal[0], dop.goal_xy[1] = (float)goal[1];
        dop.goal_tol = (float)tol;
    }
    struct dataset ds;
    double t0 = now_sec();
    if (dataset_load(&ds, tc->dataset, &dop, err, sizeof err)) {
        fprintf(stderr, "floq train: %s\n", err);
        return 1;
    }
    log_info("dataset %s: %zu transitions, obs %d, action %d, rewards [%g, %g] (%.1fs)",
             tc->dataset, ds.n, ds.obs_dim, ds.act_dim, ds.r_min, ds.r_max, now_sec() - t0);
    if (!t->resumed) {
        rc = new_agent(t, &ds);
    } else if (ds.obs_dim != t->ag.c.obs_dim || ds.act_dim != t->ag.c.act_dim) {
        fprintf(stderr, "floq train: dataset %s has obs %d / action %d but the run has %d / %d\n",
                tc->dataset, ds.obs_dim, ds.act_dim, t->ag.c.obs_dim, t->ag.c.act_dim);
        rc = 2;
    }
    if (rc == 0) {
        /* offline only, the dataset is the replay; online, it also keeps the new transitions */
        size_t cap = tc->online_steps == 0 ? ds.n : FLOQ_MAX((size_t)tc->buffer_size, ds.n + 1);
        replay_init(&t->rb, t->ag.c.obs_dim, t->ag.c.act_dim, cap, t->ag.c.batch_size);
        if (replay_add_dataset(&t->rb, &ds, err, sizeof err)) {
            fprintf(stderr, "floq train: %s\n", err);
            rc = 1;
        }
    }
    dataset_free(&ds);
    if (rc == 0) {
        load_validation(t, &dop);
    }
    return rc;
}

/* the random streams, the run directory and the schedule of evaluations and checkpoints */
static int start(struct trainer *t) {
    struct train_cfg *tc = &t->tc;
    char err[1024];
    struct rng root;
    rng_seed(&root, tc->seed);
    t->sampler = rng_split(&root, RNG_STREAM_SAMPLER);
    t->draws = rng_split(&root, RNG_STREAM_DRAWS);
    t->val_rng = rng_split(&root, RNG_STREAM_SAMPLER + 100);
    if (t->saved.has_sampler) {
        t->sampler = t->saved.sampler; /* a resumed run continues its streams */
    }
    if (t->saved.has_draws) {
        t->draws = t->saved.draws;
    }
    agent_draws_alloc(&t->dr, &t->ag.c);
    int threads = tc->learner_threads > 0 ? tc->learner_threads : pool_cores();
    if (agent_set_threads(&t->ag, threads, err, sizeof err)) {
        fprintf(stderr, "floq train: --learner_threads=%d: %s\n", threads, err);
        return 2;
    }
    lgroup_lead(&t->ag);
    if (runlog_open(&t->log, tc, t->resumed ? (long)t->start_step : -1, err, sizeof err)) {
        fprintf(stderr, "floq train: %s\n", err);
        return 1;
    }
    struct env_info probe;
    t->can_eval = tc->eval_interval > 0 && tc->eval_episodes > 0;
    if (t->can_eval && env_lookup(tc->env_name, &probe, err, sizeof err)) {
        log_warn("no evaluation: %s", err);
        t->can_eval = 0;
    }
    log_info("run %s: agent %s, %zu parameters, batch %d, R %d, K %d, %d update thread%s%s; "
             "%ld offline steps, %ld online steps",
             tc->run_dir, tc->agent, t->ag.pb.n, t->ag.c.batch_size, t->ag.R, t->ag.K,
             t->ag.nthreads, t->ag.nthreads == 1 ? "" : "s",
             tc->learner_threads > 0 ? "" : " (the cores this process may use)", tc->offline_steps,
             tc->online_steps);
    long s0 = (long)t->start_step;
    t->next_eval = tc->eval_interval > 0 ? (s0 / tc->eval_interval + 1) * tc->eval_interval : 0;
    t->next_save = tc->save_interval > 0 ? (s0 / tc->save_interval + 1) * tc->save_interval : 0;
    return 0;
}

/* ---- on the way: metrics rows, evaluations, checkpoints ------------------------------------ */

/* one metrics.csv row: the last update's metrics, its Q range, validation losses; os NULL
 * offline */
static void metrics_row(struct trainer *t, long step, const char *phase, double rate,
                        const struct online_stats *os) {
    struct agent *ag = &t->ag;
    int B = ag->c.batch_size;
    struct runlog_row r = {.step = step,
                           .phase = phase,
                           .rate = rate,
                           .q_min = INFINITY,
                           .q_max = -INFINITY,
                           .val_critic_loss = NAN,
                           .val_actor_loss = NAN,
                           .os = os};
    for (int i = 0; i < ag->Ed * B; i++) {
        r.q_min = fmin(r.q_min, ag->critic_q[i]);
        r.q_max = fmax(r.q_max, ag->critic_q[i]);
    }
    struct agent_metrics m = ag->metrics;
    if (t->val.cap) {
        struct agent_batch vb;
        replay_sample(&t->val, &t->val_rng, B, &vb);
        struct agent_draws vd;
        agent_draws_alloc(&vd, &ag->c);
        agent_draws_sample(&vd, &ag->c, &t->val_rng);
        agent_evaluate(ag, &vb, &vd);
        r.val_critic_loss = ag->metrics.critic_loss, r.val_actor_loss = ag->metrics.actor_loss;
        agent_draws_free(&vd);
        ag->metrics = m;
    }
    r.m = &m;
    runlog_metrics(&t->log, &r);
}

/* evaluates when one is due (or now, with force). The last step's evaluation is left to the
 * forced one after the final save: online, the step counts env steps and the learner may still
 * owe updates when the last one arrives, so only then are the parameters the saved ones */
static void eval_tick(struct trainer *t, long step, int force) {
    const struct train_cfg *tc = &t->tc;
    if (!t->can_eval || (!force && (t->next_eval <= 0 || step < t->next_eval ||
                                    step >= tc->offline_steps + tc->online_steps))) {
        return;
    }
    while (t->next_eval > 0 && t->next_eval <= step) {
        t->next_eval += tc->eval_interval;
    }
    char err[512];
    struct eval_result er;
    if (eval_run(&t->ag, tc->env_name, tc->eval_episodes, tc->seed + (uint64_t)step, &er, err,
                 sizeof err) == 0) {
        runlog_eval(&t->log, step, &er);
        t->last_eval = step;
    } else {
        log_warn("evaluation disabled: %s", err);
        t->can_eval = 0;
    }
}

static int save(struct trainer *t, long step) {
    char err[1024];
    if (agent_ckpt_save(&t->tc, &t->ag, &t->sampler, &t->draws, (uint64_t)step, err, sizeof err)) {
        log_error("%s", err);
        return -1;
    }
    t->last_save = step;
    char dir[TRAIN_PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s/checkpoints", t->tc.run_dir);
    if (ckpt_prune(dir, (size_t)t->tc.keep_checkpoints, err, sizeof err)) {
        log_warn("%s", err);
    }
    return 0;
}

/* the update of step `step` was refused (agent_update): nothing after it is saved or sent */
static void diverged(struct trainer *t, long step) {
    char last[64] = "none was written";
    if (t->last_save > 0 || (t->resumed && t->start_step > 0)) {
        snprintf(last, sizeof last, "the newest, step %ld, holds the last good state",
                 t->last_save > 0 ? t->last_save : (long)t->start_step);
    }
    if (lgroup_mismatch()) {
        fprintf(stderr,
                "floq train: step %ld: %s: a learner rank's memory or link corrupted them; the "
                "run stops without saving (checkpoints: %s)\n",
                step, t->ag.bad_term, last);
        return;
    }
    fprintf(stderr,
            "floq train: step %ld: %s; the update was not applied and the run stops without "
            "saving (checkpoints: %s); lower --agent.lr or check the dataset's rewards\n",
            step, t->ag.bad_term, last);
}

/* after every update: an evaluation or a checkpoint when one is due (the last step's checkpoint
 * is the final save) */
static void tick(struct trainer *t, long step) {
    eval_tick(t, step, 0);
    if (t->next_save > 0 && step >= t->next_save) {
        while (t->next_save <= step) {
            t->next_save += t->tc.save_interval;
        }
        if (step != t->tc.offline_steps + t->tc.online_steps) {
            save(t, step);
        }
    }
}

/* ---- the offline loop ------------------------------------------------------------------- */

/* updates on the replay up to offline_steps; *step advances; 0, 1 when an update was refused
 * (non-finite), or TRAIN_EXIT_INTERRUPTED when a signal asked to stop (after that update) */
static int offline(struct trainer *t, long *step) {
    struct train_cfg *tc = &t->tc;
    struct agent *ag = &t->ag;
    double t0 = now_sec(), t_win = t0;
    long win_steps = 0, s0 = *step, bad = 0;
    int rc = 0;
    for (; *step < tc->offline_steps; (*step)++) {
        struct agent_batch b;
        replay_sample(&t->rb, &t->sampler, ag->c.batch_size, &b);
        agent_draws_sample(&t->dr, &ag->c, &t->draws);
        long done = *step + 1;
        if (lgroup_update(ag, &b, &t->dr)) {
            bad = done;
            rc = 1;
            break;
        }
        win_steps++;
        double now = now_sec(), rate = win_steps / fmax(now - t_win, 1e-9);
        if (done % tc->log_interval == 0 || done == tc->offline_steps || done == 1) {
            metrics_row(t, done, "offline", rate, NULL);
            t_win = now, win_steps = 0;
        }
        runlog_progress(&t->log, done, rate, &ag->metrics, NULL, 0);
        if (done == 1) {
            eval_tick(t, 1, 1); /* as the reference: at step 1, then every eval_interval */
        }
        tick(t, done);
        if (sig_stop_requested()) {
            (*step)++;
            rc = TRAIN_EXIT_INTERRUPTED; /* the update is done; the caller saves */
            break;
        }
    }
    runlog_progress_end(&t->log);
    double el = now_sec() - t0;
    long ran = *step - s0;
    if (ran > 0) {
        log_info("%ld updates in %.1fs: %.2f updates/s, %.2f GFLOP/s (analytic matmul FLOPs)", ran,
                 el, ran / el, agent_update_flops(ag) * ran / el * 1e-9);
    }
    if (bad) {
        diverged(t, bad);
    }
    if (rc == 0 && tc->online_steps > 0 && tc->offline_steps > 0 && ran > 0) {
        save(t, *step); /* the offline phase's checkpoint */
    }
    return rc;
}

/* ---- the online phase (online.h) -------------------------------------------------------- */

static void on_log(void *ctx, long step, const struct online_stats *s) {
    struct trainer *t = ctx;
    metrics_row(t, step, "online", s->updates_per_s, s);
    runlog_progress(&t->log, step, s->updates_per_s, &t->ag.metrics, s, 0);
}

static void on_actor(void *ctx, long step, int rank, uint64_t env_steps, double env_steps_per_s,
                     double received_per_s, double wait_s) {
    struct trainer *t = ctx;
    runlog_actor(&t->log, step, rank, env_steps, env_steps_per_s, received_per_s, wait_s);
}

static void on_tick(void *ctx, long step) {
    tick(ctx, step);
}

static void on_save(void *ctx, long step) {
    save(ctx, step);
}

/* online fine-tuning for what remains of online_steps; *step advances; 0 or 1 */
static int online(struct trainer *t, long *step) {
    const struct train_cfg *tc = &t->tc;
    /* resuming inside the online phase continues its step count (the online replay contents
     * are not checkpointed: the buffer restarts from the dataset) */
    *step = FLOQ_MAX(*step, tc->offline_steps);
    struct train_cfg phase = *tc;
    phase.online_steps = tc->offline_steps + tc->online_steps - *step;
    if (phase.online_steps <= 0) {
        online_release_actors(t->tc.peer_timeout); /* resumed after the online phase was complete */
        return 0;
    }
    struct online_hooks hooks = {t, on_log, on_actor, on_tick, on_save};
    char err[1024];
    int rc = online_learn(&phase, &t->ag, &t->rb, &t->sampler, &t->draws, &t->dr, step, &hooks, err,
                          sizeof err);
    runlog_progress_end(&t->log);
    if (rc == -4) {
        return TRAIN_EXIT_INTERRUPTED; /* the actors were stopped; the caller saves */
    }
    if (rc == -2) {
        diverged(t, *step);
    } else if (rc == -3) {
        /* the actors are gone before the budget: keep what was learned, say why, exit 1 */
        if (save(t, *step) == 0) {
            fprintf(stderr,
                    "floq train: %s; the checkpoint at step %ld keeps what was learned "
                    "(resume with --resume %s once the actors are fixed)\n",
                    err, *step, tc->run_dir);
        } else {
            fprintf(stderr, "floq train: %s\n", err);
        }
    } else if (rc) {
        fprintf(stderr, "floq train: %s\n", err);
    }
    return rc ? 1 : 0;
}

/* ---- floq train ------------------------------------------------------------------------- */

int train_main(int argc, char **argv) {
    if (cfg_wants_help(argc, argv)) {
        train_cfg_usage(stdout);
        return 0;
    }
    struct trainer tr;
    struct trainer *t = &tr;
    memset(t, 0, sizeof *t);
    char err[1024];
    if (train_cfg_parse(&t->tc, argc, argv, err, sizeof err)) {
        fprintf(stderr, "floq train: %s\n", err);
        return 2;
    }
    int rc = load(t, argc, argv);
    if (rc == 0) {
        rc = start(t);
    }
    if (rc != 0) {
        goto done;
    }
    long step = (long)t->start_step;
    rc = offline(t, &step);
    if (rc == 0 && t->tc.online_steps > 0) {
        rc = online(t, &step);
    } else {
        online_release_actors(t->tc.peer_timeout); /* no online phase: the actor ranks exit */
    }
    if ((rc == 0 || (rc == TRAIN_EXIT_INTERRUPTED && t->last_save != step)) && save(t, step)) {
        rc = 1;
    }
    if (rc == TRAIN_EXIT_INTERRUPTED) {
        fprintf(stderr,
                "floq train: stopped by %s at step %ld with a checkpoint; continue with floq "
                "train --resume %s (exit %d)\n",
                sig_name(sig_stop_requested()), step, t->tc.run_dir, rc);
    }
    if (rc == 0 && t->can_eval && t->last_eval != step) {
        eval_tick(t, step, 1);
    }
done:
    runlog_close(&t->log);
    agent_draws_free(&t->dr);
    replay_free(&t->rb);
    replay_free(&t->val);
    agent_free(&t->ag);
    return rc;
}
