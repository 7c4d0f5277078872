/* collect.c — `floq collect`: OGBench navigate datasets for point mazes, D4RL-style transitions
 * for the other envs (see collect.h). */
#include "envs/collect.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/npz.h"
#include "common/rng.h"
#include "common/util.h"
#include "envs/env_impl.h"
#include "envs/maze.h"
#include "envs/pointmaze.h"

enum policy_kind { POLICY_RANDOM, POLICY_EXPERT, POLICY_EXTERNAL };

static int (*g_ckpt_load)(const char *, const struct env_info *, struct collect_policy *, char *,
                          size_t);
static void (*g_ckpt_release)(struct collect_policy *);

void collect_set_checkpoint_loader(int (*load)(const char *file, const struct env_info *info,
                                               struct collect_policy *pol, char *err, size_t errsz),
                                   void (*release)(struct collect_policy *pol)) {
    g_ckpt_load = load;
    g_ckpt_release = release;
}

/* ---- growable columns ------------------------------------------------------------------- */

struct rows {
    size_t n, cap;
    int O, A, nq, nv; /* nq = nv = 0: no qpos/qvel columns */
    int d4rl;         /* rewards, timeouts and next_observations columns */
    float *obs, *act, *rew, *nobs, *qpos, *qvel;
    uint8_t *term, *tout;
};

static void grow(void **p, size_t old_bytes, size_t new_bytes) {
    void *q = mem_alloc(new_bytes);
    if (*p) {
        memcpy(q, *p, old_bytes);
        mem_free(*p);
    }
    *p = q;
}

static void rows_reserve(struct rows *r, size_t cap) {
    if (cap <= r->cap) {
        return;
    }
    size_t f = sizeof(float), o = (size_t)r->O, a = (size_t)r->A;
    grow((void **)&r->obs, r->n * o * f, cap * o * f);
    grow((void **)&r->act, r->n * a * f, cap * a * f);
    grow((void **)&r->term, r->n, cap);
    if (r->nq) {
        grow((void **)&r->qpos, r->n * (size_t)r->nq * f, cap * (size_t)r->nq * f);
        grow((void **)&r->qvel, r->n * (size_t)r->nv * f, cap * (size_t)r->nv * f);
    }
    if (r->d4rl) {
        grow((void **)&r->rew, r->n * f, cap * f);
        grow((void **)&r->tout, r->n, cap);
        grow((void **)&r->nobs, r->n * o * f, cap * o * f);
    }
    r->cap = cap;
}

/* index of a new zeroed row */
static size_t rows_push(struct rows *r) {
    if (r->n == r->cap) {
        rows_reserve(r, r->cap ? 2 * r->cap : 4096);
    }
    return r->n++;
}

static void rows_free(struct rows *r) {
    MEM_FREE_ALL(r->obs, r->act, r->rew, r->nobs, r->qpos, r->qvel, r->term, r->tout);
    memset(r, 0, sizeof *r);
}

static void store_state(struct rows *r, size_t k, const mjData *d) {
    if (r->nq) {
        env_copy_obs(r->qpos + k * (size_t)r->nq, d->qpos, r->nq);
        env_copy_obs(r->qvel + k * (size_t)r->nv, d->qvel, r->nv);
    }
}

static int rows_write(const struct rows *r, const char *path, char *err, size_t errsz) {
    struct npz_writer *w;
    if (npz_writer_open(&w, path, 1, err, errsz)) {
        return -1;
    }
    int64_t n = (int64_t)r->n;
    int64_t s_obs[2] = {n, r->O}, s_act[2] = {n, r->A}, s_1[1] = {n};
    int64_t s_q[2] = {n, r->nq}, s_v[2] = {n, r->nv};
    int rc = npz_writer_add(w, "observations", NPY_F4, 2, s_obs, r->obs, err, errsz) ||
             npz_writer_add(w, "actions", NPY_F4, 2, s_act, r->act, err, errsz);
    if (!rc && r->d4rl) {
        rc = npz_writer_add(w, "rewards", NPY_F4, 1, s_1, r->rew, err, errsz) ||
             npz_writer_add(w, "terminals", NPY_B1, 1, s_1, r->term, err, errsz) ||
             npz_writer_add(w, "timeouts", NPY_B1, 1, s_1, r->tout, err, errsz) ||
             npz_writer_add(w, "next_observations", NPY_F4, 2, s_obs, r->nobs, err, errsz);
    } else if (!rc) {
        rc = npz_writer_add(w, "terminals", NPY_B1, 1, s_1, r->term, err, errsz);
    }
    if (!rc && r->nq) {
        rc = npz_writer_add(w, "qpos", NPY_F4, 2, s_q, r->qpos, err, errsz) ||
             npz_writer_add(w, "qvel", NPY_F4, 2, s_v, r->qvel, err, errsz);
    }
    if (rc) {
        npz_writer_abort(w);
        return -1;
    }
    return npz_writer_close(w, err, errsz);
}

/* ---- actions ---------------------------------------------------------------------------- */

/* a (A) += N(0, noise^2), clipped to [-1,1] */
static void add_noise_clip(struct rng *r, float *a, int A, double noise) {
    for (int k = 0; k < A; k++) {
        double x = (double)a[k];
        if (noise > 0) {
            x += noise * (double)rng_normal(r);
        }
        a[k] = (float)(x < -1.0 ? -1.0 : (x > 1.0 ? 1.0 : x));
    }
}

static void random_action(struct rng *r, float *a, int A) {
    for (int k = 0; k < A; k++) {
        a[k] = (float)(2.0 * rng_uniform_d(r) - 1.0);
    }
}

struct run {
    enum policy_kind kind;
    const struct collect_policy *pol;
    double noise;
    int rows; /* rows per maze episode / max steps per other episode */
    struct rng rng;
    double t_log, t_start;
    const char *phase; /* what progress() last reported on; its rate restarts with each phase */
};

static void progress(struct run *run, const char *what, int ep, int n) {
    double t = now_sec();
    if (run->phase != what) {
        run->phase = what;
        run->t_start = t;
    }
    if (ep == 0) {
        return; /* the phase's clock starts before its first episode */
    }
    if (t - run->t_log >= 5.0) {
        double rate = ep / fmax(t - run->t_start, 1e-9);
        log_info("collect %s: episode %d / %d, %.1f episodes/s, ETA %.0fs", what, ep, n, rate,
                 rate > 0 ? (n - ep) / rate : 0.0);
        run->t_log = t;
    }
}

/* ---- maze: OGBench navigate recipe ------------------------------------------------------- */

/* cell centre + U(-1,1) per axis */
static void noisy_cell(struct rng *r, const int ij[2], double xy[2]) {
    maze_ij_to_xy(ij[0], ij[1], xy);
    xy[0] += (2.0 * rng_uniform_d(r) - 1.0) * MAZE_UNIT / 4;
    xy[1] += (2.0 * rng_uniform_d(r) - 1.0) * MAZE_UNIT / 4;
}

static void maze_episodes(struct vecenv *v, struct run *run, int episodes, struct rows *r,
                          const char *what) {
    const struct env_shared *s = env_shared_of(v);
    const struct maze *mz = pointmaze_maze(s);
    progress(run, what, 0, episodes);
    struct env *e = &v->envs[0];
    int all[MAZE_MAX_H * MAZE_MAX_W][2], vert[MAZE_MAX_H * MAZE_MAX_W][2];
    int n_all = maze_cells(mz, 0, all), n_vert = maze_cells(mz, 1, vert);
    int dist[MAZE_MAX_H][MAZE_MAX_W];
    float obs[2], nobs[2], a[2];
    rows_reserve(r, r->n + (size_t)episodes * (size_t)run->rows);
    for (int ep = 0; ep < episodes; ep++) {
        double init[2], goal[2];
        noisy_cell(&run->rng, all[rng_below(&run->rng, (uint64_t)n_all)], init);
        const int *g = vert[rng_below(&run->rng, (uint64_t)n_vert)];
        noisy_cell(&run->rng, g, goal);
        maze_bfs(mz, g[0], g[1], dist);
        pointmaze_reset_to(s, e, init, goal, obs);
        for (int t = 0; t < run->rows; t++) {
            size_t k = rows_push(r);
            memcpy(r->obs + 2 * k, obs, sizeof obs);
            store_state(r, k, e->d);
            if (run->kind == POLICY_EXPERT) {
                double dir[2];
                maze_expert_dir(mz, dist, e->d->qpos, dir);
                a[0] = (float)dir[0];
                a[1] = (float)dir[1];
            } else if (run->kind == POLICY_RANDOM) {
                random_action(&run->rng, a, 2);
            } else {
                run->pol->act(run->pol->ctx, obs, 1, a);
            }
            add_noise_clip(&run->rng, a, 2, run->noise);
            memcpy(r->act + 2 * k, a, sizeof a);
            r->term[k] = (uint8_t)(t == run->rows - 1);
            struct mjutil_warn w;
            struct env_step out;
            mjutil_warn_save(e->d, &w);
            s->fam->step(s, e, a, nobs, &out);
            if (mjutil_unstable(s->m, e->d, &w)) {
                log_warn("collect %s: unstable simulation in episode %d step %d", what, ep, t);
            }
            if (out.success != 0.0f) {
                /* navigate: a new goal whenever the current one is reached */
                g = vert[rng_below(&run->rng, (uint64_t)n_vert)];
                noisy_cell(&run->rng, g, goal);
                maze_bfs(mz, g[0], g[1], dist);
                pointmaze_set_goal(e, goal);
            }
            memcpy(obs, nobs, sizeof obs);
        }
        progress(run, what, ep + 1, episodes);
    }
}

/* ---- other envs: D4RL-style transitions --------------------------------------------------- */

static void plain_episodes(struct vecenv *v, struct run *run, int episodes, struct rows *r,
                           const char *what) {
    const int O = v->O, A = v->A;
    float *a = mem_alloc((size_t)A * sizeof(float));
    progress(run, what, 0, episodes);
    int ended = 0, steps = 0;
    vecenv_reset(v);
    while (ended < episodes) {
        size_t k = rows_push(r);
        memcpy(r->obs + k * (size_t)O, v->obs, (size_t)O * sizeof(float));
        if (v->envs[0].d) {
            store_state(r, k, v->envs[0].d);
        }
        if (run->kind == POLICY_RANDOM) {
            random_action(&run->rng, a, A);
        } else {
            run->pol->act(run->pol->ctx, v->obs, 1, a);
        }
        add_noise_clip(&run->rng, a, A, run->noise);
        memcpy(r->act + k * (size_t)A, a, (size_t)A * sizeof(float));
        vecenv_step(v, a);
        steps++;
        int limit = run->rows > 0 && steps >= run->rows;
        r->rew[k] = v->rew[0];
        r->term[k] = v->term[0];
        r->tout[k] = (uint8_t)(!v->term[0] && (v->trunc[0] || v->unstable[0] || limit));
        memcpy(r->nobs + k * (size_t)O, v->next_obs, (size_t)O * sizeof(float));
        if (v->n_done || limit) {
            if (!v->n_done) {
                vecenv_reset(v); /* --rows shorter than the env's own limit */
            }
            ended++;
            steps = 0;
            progress(run, what, ended, episodes);
        }
    }
    mem_free(a);
}

/* ---- driver ------------------------------------------------------------------------------ */

static int val_path(const char *out, char *buf, size_t bufsz) {
    size_t n = strlen(out);
    if (n < 5 || strcmp(out + n - 4, ".npz") != 0 || n + 5 > bufsz) {
        return -1;
    }
    snprintf(buf, bufsz, "%.*s-val.npz", (int)(n - 4), out);
    return 0;
}

int collect_run(const struct collect_cfg *cfg, const struct collect_policy *pol, char *err,
                size_t errsz) {
    struct env_info info;
    char vpath[4096];
    if (!cfg->out || val_path(cfg->out, vpath, sizeof vpath)) {
        snprintf(err, errsz, "collect: --out %s must be a path ending in .npz",
                 cfg->out ? cfg->out : "(missing)");
        return -1;
    }
    if (!cfg->env_name || env_lookup(cfg->env_name, &info, err, errsz)) {
        if (!cfg->env_name) {
            snprintf(err, errsz, "collect: --env_name is required");
        }
        return -1;
    }
    int agent, maze_t, task;
    int is_maze = maze_parse_name(cfg->env_name, &agent, &maze_t, &task) == 0 && agent == 0;
    struct run run = {0};
    const char *pname = cfg->policy ? cfg->policy : "random";
    if (pol) {
        run.kind = POLICY_EXTERNAL;
        run.pol = pol;
    } else if (strcmp(pname, "random") == 0) {
        run.kind = POLICY_RANDOM;
    } else if (strcmp(pname, "expert") == 0 && is_maze) {
        run.kind = POLICY_EXPERT;
    } else if (strcmp(pname, "expert") == 0) {
        snprintf(err, errsz,
                 "collect: no expert policy for %s (only point mazes have one); use --policy "
                 "random or checkpoint:FILE",
                 cfg->env_name);
        return -1;
    } else {
        snprintf(err, errsz, "collect: unknown --policy %s; valid: random, expert, checkpoint:FILE",
                 pname);
        return -1;
    }
    const struct maze *mz = is_maze ? maze_get((enum maze_type)maze_t) : NULL;
    run.noise = cfg->noise >= 0 ? cfg->noise : (is_maze ? 0.5 : 0.0);
    run.rows = cfg->rows > 0 ? cfg->rows : (is_maze ? mz->rows_per_episode : 0);
    int episodes = cfg->episodes > 0 ? cfg->episodes : (is_maze ? mz->episodes : 1000);
    int val = cfg->val_episodes >= 0 ? cfg->val_episodes : (is_maze ? episodes / 10 : 0);
    if (!isfinite(run.noise) || (is_maze && run.rows < 1)) {
        snprintf(err, errsz, "collect: bad --noise %g or --rows %d", run.noise, run.rows);
        return -1;
    }
    struct rng root;
    rng_seed(&root, cfg->seed);
    run.rng = rng_split(&root, RNG_STREAM_DATA);
    run.t_log = run.t_start = now_sec();

    /* the maze recipe drives OGBench's goal-conditioned env (success on s') itself */
    char vname[96];
    if (is_maze) {
        snprintf(vname, sizeof vname, "pointmaze-%s-navigate-v0", mz->name);
    } else {
        snprintf(vname, sizeof vname, "%s", info.name);
    }
    struct vecenv v;
    if (vecenv_init(&v, vname, 1, rng_u64(&run.rng), err, errsz)) {
        return -1;
    }
    const struct env_shared *s = env_shared_of(&v);
    int rc = 0;
    for (int split = 0; split < 2 && !rc; split++) {
        int n = split ? val : episodes;
        if (split && n <= 0) {
            break;
        }
        const char *path = split ? vpath : cfg->out;
        struct rows r = {0};
        r.O = v.O;
        r.A = v.A;
        r.nq = s->m ? s->m->nq : 0;
        r.nv = s->m ? s->m->nv : 0;
        r.d4rl = !is_maze;
        if (is_maze) {
            maze_episodes(&v, &run, n, &r, path);
        } else {
            plain_episodes(&v, &run, n, &r, path);
        }
        rc = rows_write(&r, path, err, errsz);
        if (!rc) {
            log_info("collect: wrote %s (%d episodes, %zu rows, policy %s, noise %g)", path, n, r.n,
                     pname, run.noise);
        }
        rows_free(&r);
    }
    if (!rc && v.n_unstable) {
        log_warn("collect: %llu unstable episodes ended early", (unsigned long long)v.n_unstable);
    }
    vecenv_free(&v);
    return rc;
}

/* ---- command line ------------------------------------------------------------------------ */

static void usage(void) {
    fprintf(stderr,
            "usage: floq collect --env_name NAME --policy {random,expert,checkpoint:FILE}\n"
            "                    [--noise S] [--episodes N] [--val_episodes N] [--rows N]\n"
            "                    --out FILE.npz [--seed S]\n"
            "  maze envs: OGBench navigate recipe (defaults: noise 0.5, 1000 episodes x 1001\n"
            "  rows, giant 500 x 2001, val split FILE-val.npz with episodes/10)\n");
}

static int parse_int(const char *key, const char *s, long lo, long hi, int *out, char *err,
                     size_t errsz) {
    char *end;
    long x = strtol(s, &end, 10);
    if (!*s || *end || x < lo || x > hi) {
        snprintf(err, errsz, "collect: %s %s is not an integer in [%ld, %ld]", key, s, lo, hi);
        return -1;
    }
    *out = (int)x;
    return 0;
}

int collect_main(int argc, char **argv) {
    static const char *const keys[] = {"--env_name",     "--policy", "--noise", "--episodes",
                                       "--val_episodes", "--rows",   "--out",   "--seed"};
    struct collect_cfg cfg = {.policy = "random", .noise = -1, .val_episodes = -1};
    char err[1024] = "";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage();
            return 0;
        }
        char key[64];
        const char *val = NULL;
        const char *eq = strchr(argv[i], '=');
        if (eq && eq - argv[i] < (long)sizeof key) {
            snprintf(key, sizeof key, "%.*s", (int)(eq - argv[i]), argv[i]);
            val = eq + 1;
        } else {
            snprintf(key, sizeof key, "%s", argv[i]);
            val = i + 1 < argc ? argv[++i] : NULL;
        }
        int k = -1;
        for (int j = 0; j < (int)FLOQ_ARRAY_LEN(keys); j++) {
            if (strcmp(key, keys[j]) == 0) {
                k = j;
            }
        }
        if (k < 0) {
            int c = closest_name(key, keys, (int)FLOQ_ARRAY_LEN(keys));
            log_error("collect: unknown flag %s (did you mean %s?)", key, keys[c]);
            usage();
            return 2;
        }
        if (!val) {
            log_error("collect: %s needs a value", key);
            return 2;
        }
        int bad = 0;
        switch (k) {
            case 0:
                cfg.env_name = val;
                break;
            case 1:
                cfg.policy = val;
                break;
            case 2: {
                char *end;
                cfg.noise = strtod(val, &end);
                bad = !*val || *end || !(cfg.noise >= 0 && cfg.noise < 1e6);
                if (bad) {
                    snprintf(err, sizeof err, "collect: --noise %s is not a number >= 0", val);
                }
                break;
            }
            case 3:
                bad = parse_int(key, val, 1, 100000000, &cfg.episodes, err, sizeof err);
                break;
            case 4:
                bad = parse_int(key, val, 0, 100000000, &cfg.val_episodes, err, sizeof err);
                break;
            case 5:
                bad = parse_int(key, val, 1, 100000000, &cfg.rows, err, sizeof err);
                break;
            case 6:
                cfg.out = val;
                break;
            case 7: {
                char *end;
                unsigned long long sd = strtoull(val, &end, 10);
                bad = !*val || *end;
                if (bad) {
                    snprintf(err, sizeof err, "collect: --seed %s is not an integer", val);
                }
                cfg.seed = (uint64_t)sd;
                break;
            }
        }
        if (bad) {
            log_error("%s", err);
            return 2;
        }
    }
    /* checkpoint:FILE goes through the hook main installs */
    struct collect_policy ext = {0};
    int have_ext = 0;
    if (strncmp(cfg.policy, "checkpoint:", 11) == 0) {
        struct env_info info;
        if (!cfg.env_name || env_lookup(cfg.env_name, &info, err, sizeof err)) {
            log_error("%s", cfg.env_name ? err : "collect: --env_name is required");
            return 1;
        }
        if (!g_ckpt_load) {
            log_error("collect: --policy checkpoint:FILE is not available in this build");
            return 1;
        }
        if (g_ckpt_load(cfg.policy + 11, &info, &ext, err, sizeof err)) {
            log_error("%s", err);
            return 1;
        }
        have_ext = 1;
    }
    int rc = collect_run(&cfg, have_ext ? &ext : NULL, err, sizeof err);
    if (have_ext && g_ckpt_release) {
        g_ckpt_release(&ext);
    }
    if (rc) {
        log_error("%s", err);
        return 1;
    }
    return 0;
}
