#include "learner/landscape.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cfg.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/rng.h"
#include "common/util.h"
#include "envs/env.h"
#include "envs/pointmaze.h"
#include "learner/agent.h"
#include "learner/eval.h"
#include "learner/train_cfg.h"

#define LS_FINE     0.05 /* metres per node of the oracle grid */
#define LS_MARGIN   0.66 /* closest approach of the point's centre to a wall face */
#define LS_STEP     0.2  /* the point moves 0.2 a per env step */
#define LS_CHUNK    4096 /* rows per critic / policy call */
#define LS_ENVS     256  /* envs per rollout pass */
#define LS_MAX_STEP 1000

/* ---- geometry and the closed-form optimum ------------------------------------------------ */

struct oracle {
    const struct maze *mz;
    double x0, y0;   /* world coordinates of node (0,0) */
    int nx, ny;
    int *steps;      /* (ny, nx) BFS steps to the goal disc, -1 invalid or unreachable */
    double goal[2], tol, gamma;
};

/* 1 if the point's centre may be at (x, y): its cell is free and it is at least LS_MARGIN
 * from every wall box around it */
static int oracle_valid(const struct maze *mz, double x, double y) {
    int i = (int)floor((y + 6.0) / MAZE_UNIT), j = (int)floor((x + 6.0) / MAZE_UNIT);
    if (!maze_free(mz, i, j)) {
        return 0;
    }
    for (int di = -1; di <= 1; di++) {
        for (int dj = -1; dj <= 1; dj++) {
            if ((di || dj) && !maze_free(mz, i + di, j + dj)) {
                double bx0 = 4.0 * (j + dj) - 6.0, by0 = 4.0 * (i + di) - 6.0;
                double dx = fmax(fmax(bx0 - x, 0.0), x - (bx0 + MAZE_UNIT));
                double dy = fmax(fmax(by0 - y, 0.0), y - (by0 + MAZE_UNIT));
                if (dx * dx + dy * dy < LS_MARGIN * LS_MARGIN) {
                    return 0;
                }
            }
        }
    }
    return 1;
}

/* multi-source BFS from the goal disc over 8-neighbour moves: one move = LS_FINE in the
 * L-infinity metric, which is the point's metric (|a_i| <= 1 per axis) */
static void oracle_build(struct oracle *o) {
    const struct maze *mz = o->mz;
    o->x0 = -6.0 + LS_FINE / 2, o->y0 = -6.0 + LS_FINE / 2;
    o->nx = (int)(mz->W * MAZE_UNIT / LS_FINE), o->ny = (int)(mz->H * MAZE_UNIT / LS_FINE);
    size_t n = (size_t)o->nx * (size_t)o->ny;
    o->steps = mem_alloc(n * sizeof(int));
    int *queue = mem_alloc(n * sizeof(int));
    size_t head = 0, tail = 0;
    for (int r = 0; r < o->ny; r++) {
        for (int c = 0; c < o->nx; c++) {
            double x = o->x0 + c * LS_FINE, y = o->y0 + r * LS_FINE;
            int k = r * o->nx + c;
            o->steps[k] = -1;
            if (!oracle_valid(mz, x, y)) {
                o->steps[k] = -2;
            } else if (hypot(x - o->goal[0], y - o->goal[1]) <= o->tol) {
                o->steps[k] = 0;
                queue[tail++] = k;
            }
        }
    }
    while (head < tail) {
        int k = queue[head++], r = k / o->nx, c = k % o->nx;
        for (int dr = -1; dr <= 1; dr++) {
            for (int dc = -1; dc <= 1; dc++) {
                int rr = r + dr, cc = c + dc;
                if ((dr || dc) && rr >= 0 && rr < o->ny && cc >= 0 && cc < o->nx &&
                    o->steps[rr * o->nx + cc] == -1) {
                    o->steps[rr * o->nx + cc] = o->steps[k] + 1;
                    queue[tail++] = rr * o->nx + cc;
                }
            }
        }
    }
    for (size_t k = 0; k < n; k++) {
        o->steps[k] = o->steps[k] < 0 ? -1 : o->steps[k];
    }
    mem_free(queue);
}

/* geodesic distance (m) from (x, y) to the goal disc: the nearest reachable node within
 * 0.5 m (the point may sit slightly inside the margin); -1 if none */
static double oracle_dist(const struct oracle *o, double x, double y) {
    int c0 = (int)lround((x - o->x0) / LS_FINE), r0 = (int)lround((y - o->y0) / LS_FINE);
    for (int rad = 0; rad <= 10; rad++) {
        int best = -1;
        for (int r = r0 - rad; r <= r0 + rad; r++) {
            for (int c = c0 - rad; c <= c0 + rad; c++) {
                if (r < 0 || r >= o->ny || c < 0 || c >= o->nx ||
                    (abs(r - r0) != rad && abs(c - c0) != rad)) {
                    continue;
                }
                int s = o->steps[r * o->nx + c];
                if (s >= 0 && (best < 0 || s < best)) {
                    best = s;
                }
            }
        }
        if (best >= 0) {
            return (best + rad) * LS_FINE;
        }
    }
    return -1;
}

/* optimal value of a state at geodesic distance d: n = ceil(d / 0.2) steps of reward -1 */
static double oracle_value(const struct oracle *o, double d) {
    if (d < 0) {
        return NAN;
    }
    double n = ceil(d / LS_STEP - 1e-9);
    return -(1.0 - pow(o->gamma, n)) / (1.0 - o->gamma);
}

/* ---- statistics ---------------------------------------------------------------------------- */

static const double *cmp_vals;
static int cmp_by_val(const void *a, const void *b) {
    double x = cmp_vals[*(const int *)a], y = cmp_vals[*(const int *)b];
    return (x > y) - (x < y);
}

/* average ranks (ties share their mean rank) */
static void ranks(const double *v, int n, double *rk) {
    int *idx = mem_alloc(sizeof(int) * (size_t)n);
    for (int i = 0; i < n; i++) {
        idx[i] = i;
    }
    cmp_vals = v;
    qsort(idx, (size_t)n, sizeof(int), cmp_by_val);
    for (int i = 0; i < n;) {
        int j = i;
        while (j + 1 < n && v[idx[j + 1]] == v[idx[i]]) {
            j++;
        }
        for (int k = i; k <= j; k++) {
            rk[idx[k]] = 0.5 * (i + j);
        }
        i = j + 1;
    }
    mem_free(idx);
}

static double pearson(const double *x, const double *y, int n) {
    double mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;
    for (int i = 0; i < n; i++) {
        mx += x[i], my += y[i];
    }
    mx /= n, my /= n;
    for (int i = 0; i < n; i++) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    return sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : 0.0;
}

static double spearman(const double *x, const double *y, int n) {
    double *rx = mem_alloc(sizeof(double) * (size_t)n), *ry = mem_alloc(sizeof(double) * (size_t)n);
    ranks(x, n, rx);
    ranks(y, n, ry);
    double r = pearson(rx, ry, n);
    mem_free(rx), mem_free(ry);
    return r;
}

/* ---- the command ----------------------------------------------------------------------------- */

struct point {
    double x, y;
    double v_pi, q_max, ax, ay, v_star, d_star, v_mc, succ_mc, step_ok;
};

/* mean over members of the actor's critic for n rows */
static void critic_mean(struct agent *a, const float *obs, const float *act, int n, float *tmp,
                        double *out) {
    agent_critic_q(a, obs, act, n, tmp);
    for (int i = 0; i < n; i++) {
        double s = 0;
        for (int e = 0; e < a->Ed; e++) {
            s += tmp[(size_t)e * n + i];
        }
        out[i] = s / a->Ed;
    }
}

static void eval_critic(struct agent *a, struct point *p, int np, int S, struct rng *rng) {
    static const float king[8][2] = {{1, 0}, {-1, 0}, {0, 1}, {0, -1},
                                     {1, 1}, {1, -1}, {-1, 1}, {-1, -1}};
    float *obs = mem_alloc(sizeof(float) * LS_CHUNK * 2), *act = mem_alloc(sizeof(float) * LS_CHUNK * 2);
    float *eps = mem_alloc(sizeof(float) * LS_CHUNK * 2);
    float *tmp = mem_alloc(sizeof(float) * LS_CHUNK * AGENT_MAX_E);
    double *q = mem_alloc(sizeof(double) * LS_CHUNK);
    int per = LS_CHUNK / (S > 8 ? S : 8);
    for (int s = 0; s < np; s += per) {
        int m = FLOQ_MIN(per, np - s);
        /* policy samples */
        int rows = m * S;
        for (int i = 0; i < m; i++) {
            for (int k = 0; k < S; k++) {
                obs[2 * (i * S + k)] = (float)p[s + i].x;
                obs[2 * (i * S + k) + 1] = (float)p[s + i].y;
            }
        }
        rng_fill_normal(rng, eps, (size_t)rows * 2);
        agent_act(a, obs, eps, rows, act);
        critic_mean(a, obs, act, rows, tmp, q);
        for (int i = 0; i < m; i++) {
            double v = 0, ax = 0, ay = 0;
            for (int k = 0; k < S; k++) {
                v += q[i * S + k];
                ax += act[2 * (i * S + k)], ay += act[2 * (i * S + k) + 1];
            }
            p[s + i].v_pi = v / S, p[s + i].ax = ax / S, p[s + i].ay = ay / S;
        }
        /* king moves */
        rows = m * 8;
        for (int i = 0; i < m; i++) {
            for (int k = 0; k < 8; k++) {
                obs[2 * (i * 8 + k)] = (float)p[s + i].x;
                obs[2 * (i * 8 + k) + 1] = (float)p[s + i].y;
                act[2 * (i * 8 + k)] = king[k][0], act[2 * (i * 8 + k) + 1] = king[k][1];
            }
        }
        critic_mean(a, obs, act, rows, tmp, q);
        for (int i = 0; i < m; i++) {
            double best = -INFINITY;
            for (int k = 0; k < 8; k++) {
                best = fmax(best, q[i * 8 + k]);
            }
            p[s + i].q_max = best;
        }
    }
    mem_free(obs), mem_free(act), mem_free(eps), mem_free(tmp), mem_free(q);
}

/* one rollout of the policy from every point (mean-action first step for step_ok) */
static int rollouts(struct agent *a, const char *env_name, const struct oracle *o, struct point *p,
                    int np, uint64_t seed, char *err, size_t errsz) {
    struct vecenv v;
    int E = FLOQ_MIN(LS_ENVS, np);
    if (vecenv_init(&v, env_name, E, seed, err, errsz)) {
        return -1;
    }
    const struct env_shared *sh = env_shared_of(&v);
    struct rng rng;
    rng_seed(&rng, seed);
    rng = rng_split(&rng, RNG_STREAM_EVAL);
    float *eps = mem_alloc(sizeof(float) * (size_t)E * 2), *act = mem_alloc(sizeof(float) * (size_t)E * 2);
    double *ret = mem_alloc(sizeof(double) * (size_t)E), *disc = mem_alloc(sizeof(double) * (size_t)E);
    uint8_t *fin = mem_alloc((size_t)E);
    for (int s = 0; s < np; s += E) {
        int m = FLOQ_MIN(E, np - s);
        /* step_ok: one step of the mean action */
        vecenv_reset(&v);
        for (int i = 0; i < E; i++) {
            const struct point *q = &p[s + (i < m ? i : 0)];
            double xy[2] = {q->x, q->y};
            pointmaze_reset_to(sh, &v.envs[i], xy, o->goal, v.obs + 2 * i);
            act[2 * i] = (float)q->ax, act[2 * i + 1] = (float)q->ay;
        }
        vecenv_step(&v, act);
        for (int i = 0; i < m; i++) {
            double d1 = oracle_dist(o, v.next_obs[2 * i], v.next_obs[2 * i + 1]);
            p[s + i].step_ok = p[s + i].d_star <= 0 || (d1 >= 0 && d1 < p[s + i].d_star - 1e-9);
        }
        /* rollouts */
        vecenv_reset(&v);
        for (int i = 0; i < E; i++) {
            const struct point *q = &p[s + (i < m ? i : 0)];
            double xy[2] = {q->x, q->y};
            pointmaze_reset_to(sh, &v.envs[i], xy, o->goal, v.obs + 2 * i);
            ret[i] = 0, disc[i] = 1, fin[i] = i >= m;
        }
        int left = m;
        for (int t = 0; t < LS_MAX_STEP && left > 0; t++) {
            eval_policy_step(a, &v, &rng, eps, act);
            for (int i = 0; i < m; i++) {
                if (fin[i]) {
                    continue;
                }
                ret[i] += disc[i] * v.rew[i];
                disc[i] *= o->gamma;
                if (v.term[i] || v.trunc[i] || v.unstable[i]) {
                    fin[i] = 1;
                    left--;
                    p[s + i].succ_mc = v.success[i];
                }
            }
        }
        for (int i = 0; i < m; i++) {
            p[s + i].v_mc = ret[i];
        }
    }
    mem_free(eps), mem_free(act), mem_free(ret), mem_free(disc), mem_free(fin);
    vecenv_free(&v);
    return 0;
}

int landscape_main(int argc, char **argv) {
    char ckpt[TRAIN_PATH_MAX] = "", out[TRAIN_PATH_MAX] = "", env[128] = "", err[1024];
    float res = 0.5f;
    int S = 16, mc = 1;
    uint64_t seed = 0;
    struct cfg_opt opts[] = {
        CFG_STR("checkpoint", ckpt, sizeof ckpt, "checkpoint file (floq or fql) of a point-maze run"),
        CFG_STR("out", out, sizeof out, "CSV to write (x, y, v_pi, q_max, a_x, a_y, v_star, d_star, v_mc, succ_mc, step_ok)"),
        CFG_STR("env_name", env, sizeof env, "singletask point-maze env (default: the checkpoint's)"),
        CFG_FLOAT("res", &res, 0.1, 4, "grid spacing in metres"),
        CFG_INT("samples", &S, 1, 512, "policy samples per point for v_pi and the mean action"),
        CFG_BOOL("rollouts", &mc, "also roll the policy out from every point (v_mc, succ_mc)"),
        CFG_U64("seed", &seed, "seed of the policy noise and the env"),
    };
    int n = (int)FLOQ_ARRAY_LEN(opts);
    if (cfg_wants_help(argc, argv)) {
        printf("usage: floq landscape --checkpoint FILE --out FILE.csv [--res M] [--samples S]\n"
               "The value landscape of a point-maze checkpoint on a grid of reachable points,\n"
               "beside the optimal value in closed form and the policy's Monte-Carlo return.\n");
        cfg_help(stdout, opts, n);
        return 0;
    }
    if (cfg_parse(opts, n, argc, argv, err, sizeof err)) {
        fprintf(stderr, "floq landscape: %s\n", err);
        return 2;
    }
    if (!ckpt[0] || !out[0]) {
        fprintf(stderr, "floq landscape: --checkpoint FILE and --out FILE.csv are required\n");
        return 2;
    }
    struct agent a;
    struct train_cfg tc;
    int rc = eval_open_checkpoint(&a, &tc, ckpt, LS_CHUNK, env, sizeof env, "landscape");
    if (rc) {
        return rc;
    }
    int agent_kind, maze, task;
    struct oracle o = {0};
    if (maze_parse_name(env, &agent_kind, &maze, &task) || agent_kind != 0 || task == 0 ||
        maze_env_goal(env, o.goal, &o.tol, err, sizeof err) || a.c.obs_dim != 2 ||
        a.c.act_dim != 2) {
        fprintf(stderr, "floq landscape: %s is not a singletask point maze with a 2-d checkpoint; "
                        "use --env_name pointmaze-MAZE-navigate-singletask-taskN-v0\n",
                env);
        agent_free(&a);
        return 2;
    }
    o.mz = maze_get((enum maze_type)maze);
    o.gamma = a.c.discount;
    oracle_build(&o);

    /* the grid: points whose centre may be there */
    int gx = (int)(o.mz->W * MAZE_UNIT / res), gy = (int)(o.mz->H * MAZE_UNIT / res), np = 0;
    struct point *p = mem_alloc(sizeof(struct point) * (size_t)gx * (size_t)gy);
    for (int r = 0; r < gy; r++) {
        for (int c = 0; c < gx; c++) {
            double x = -6.0 + (c + 0.5) * res, y = -6.0 + (r + 0.5) * res;
            double d = oracle_valid(o.mz, x, y) ? oracle_dist(&o, x, y) : -1;
            if (d >= 0) {
                memset(&p[np], 0, sizeof p[np]);
                p[np].x = x, p[np].y = y, p[np].d_star = d;
                p[np].v_star = oracle_value(&o, d);
                p[np].v_mc = p[np].succ_mc = NAN;
                np++;
            }
        }
    }
    struct rng rng;
    rng_seed(&rng, seed);
    eval_critic(&a, p, np, S, &rng);
    if (mc && rollouts(&a, env, &o, p, np, seed, err, sizeof err)) {
        fprintf(stderr, "floq landscape: %s\n", err);
        mem_free(p), mem_free(o.steps), agent_free(&a);
        return 1;
    }

    FILE *f = fopen(out, "w");
    if (!f) {
        fprintf(stderr, "floq landscape: cannot write %s: %s\n", out, strerror(errno));
        mem_free(p), mem_free(o.steps), agent_free(&a);
        return 1;
    }
    fprintf(f, "# floq landscape: %s, env %s, agent %s, gamma %g\n", ckpt, env, tc.agent,
            (double)a.c.discount);
    fprintf(f, "# goal %g %g %g\n", o.goal[0], o.goal[1], o.tol);
    for (int i = 0; i < o.mz->H; i++) {
        for (int j = 0; j < o.mz->W; j++) {
            if (!maze_free(o.mz, i, j)) {
                fprintf(f, "# wall %g %g %g %g\n", 4.0 * j - 6, 4.0 * i - 6, 4.0 * j - 2,
                        4.0 * i - 2);
            }
        }
    }
    fprintf(f, "x,y,v_pi,q_max,a_x,a_y,v_star,d_star,v_mc,succ_mc,step_ok\n");
    for (int i = 0; i < np; i++) {
        const struct point *q = &p[i];
        fprintf(f, "%g,%g,%.5g,%.5g,%.4f,%.4f,%.5g,%.3f,%.5g,%g,%g\n", q->x, q->y, q->v_pi,
                q->q_max, q->ax, q->ay, q->v_star, q->d_star, q->v_mc, q->succ_mc, q->step_ok);
    }
    int werr = ferror(f);
    if (fclose(f) || werr) {
        fprintf(stderr, "floq landscape: writing %s failed\n", out);
        mem_free(p), mem_free(o.steps), agent_free(&a);
        return 1;
    }

    /* summary */
    double *vp = mem_alloc(sizeof(double) * (size_t)np), *vs = mem_alloc(sizeof(double) * (size_t)np);
    double *vm = mem_alloc(sizeof(double) * (size_t)np);
    double mae_star = 0, mae_mc = 0, bias_mc = 0, ok = 0, succ = 0, mae_mc_star = 0;
    for (int i = 0; i < np; i++) {
        vp[i] = p[i].v_pi, vs[i] = p[i].v_star, vm[i] = mc ? p[i].v_mc : 0;
        mae_star += fabs(vp[i] - vs[i]);
        mae_mc += fabs(vp[i] - vm[i]);
        mae_mc_star += fabs(vm[i] - vs[i]);
        bias_mc += vp[i] - vm[i];
        ok += p[i].step_ok;
        succ += mc ? p[i].succ_mc : 0;
    }
    printf("landscape: %s: %d points (%.2f m grid), gamma %g\n", env, np, res, (double)o.gamma);
    printf("  critic V_pi vs optimal V*: spearman %.3f, mean |diff| %.2f\n", spearman(vp, vs, np),
           mae_star / np);
    if (mc) {
        printf("  critic V_pi vs policy MC return: spearman %.3f, mean |diff| %.2f, mean bias %+.2f\n",
               spearman(vp, vm, np), mae_mc / np, bias_mc / np);
        printf("  policy MC return vs V*: spearman %.3f, mean |diff| %.2f; MC success from the grid %.3f\n",
               spearman(vm, vs, np), mae_mc_star / np, succ / np);
    }
    printf("  policy mean action shortens the geodesic distance at %.3f of points\n", ok / np);
    printf("  wrote %s\n", out);
    mem_free(vp), mem_free(vs), mem_free(vm);
    mem_free(p), mem_free(o.steps);
    agent_free(&a);
    return 0;
}
