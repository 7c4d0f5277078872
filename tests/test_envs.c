/* test_envs.c — registry, vecenv, tiny-v0, pointmaze, maze tables, collect. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/check.h"
#include "tests/tmpdir.h"

#include "common/mem.h"
#include "common/npz.h"
#include "common/rng.h"
#include "common/util.h"
#include "envs/collect.h"
#include "envs/env.h"
#include "envs/env_impl.h"
#include "envs/maze.h"
#include "envs/pointmaze.h"

static char err[8192];

static int open_env(struct vecenv *v, const char *name, int E, uint64_t seed) {
    int rc = vecenv_init(v, name, E, seed, err, sizeof err);
    CHECK(rc == 0, "vecenv_init %s: %s", name, err);
    if (rc == 0) {
        vecenv_reset(v);
    }
    return rc;
}

static void random_actions(struct rng *r, float *a, size_t n, float scale) {
    for (size_t k = 0; k < n; k++) {
        a[k] = scale * (2.0f * rng_uniform(r) - 1.0f);
    }
}

/* ---- registry ----------------------------------------------------------------------------- */

static void test_registry(void) {
    const char *const *names = env_names();
    int n = 0, has_tiny = 0, n_pm = 0;
    for (; names[n]; n++) {
        struct env_info info;
        int rc = env_lookup(names[n], &info, err, sizeof err);
        CHECK(rc == 0 && strcmp(info.name, names[n]) == 0, "lookup %s", names[n]);
        CHECK(info.obs_dim > 0 && info.act_dim > 0 && info.max_steps > 0 && info.dt > 0,
              "info of %s", names[n]);
        has_tiny += strcmp(names[n], "tiny-v0") == 0;
        n_pm += strncmp(names[n], "pointmaze-", 10) == 0;
    }
    CHECK(has_tiny == 1 && n_pm == 28, "tiny %d, pointmaze names %d", has_tiny, n_pm);

    struct env_info info;
    CHECK(env_lookup("pointmaze-large-navigate-singletask-task3-v0", &info, err, sizeof err) == 0 &&
              info.obs_dim == 2 && info.act_dim == 2 && info.max_steps == 1000 &&
              info.frame_skip == 5 && fabs(info.dt - 0.1) < 1e-12 && info.has_success,
          "pointmaze info");
    CHECK(isnan(env_normalized_score(&info, 0.0)), "no D4RL refs for pointmaze");
    CHECK(env_lookup("tiny-v0", &info, err, sizeof err) == 0 && info.obs_dim == 2 &&
              info.act_dim == 1 && info.max_steps == 50,
          "tiny info");

    /* unknown names: one line, closest name, the list */
    int rc = env_lookup("pointmaze-larg-navigate-v0", &info, err, sizeof err);
    CHECK(rc == -1 && strstr(err, "unknown env pointmaze-larg-navigate-v0") &&
              strstr(err, "did you mean pointmaze-large-navigate-v0") && strstr(err, "valid:") &&
              strstr(err, "tiny-v0") && !strchr(err, '\n'),
          "unknown name message: %s", err);
    struct vecenv v;
    CHECK(vecenv_init(&v, "Hoper-v4", 2, 0, err, sizeof err) == -1 && strstr(err, "valid:"),
          "vecenv_init unknown name");
    CHECK(vecenv_init(&v, "tiny-v0", 0, 0, err, sizeof err) == -1 && strstr(err, "E = 0"),
          "vecenv_init E=0: %s", err);
    char small[40];
    CHECK(env_lookup("nope", &info, small, sizeof small) == -1 && strlen(small) < sizeof small,
          "message truncates safely");
}

/* ---- determinism, allocation, clipping ------------------------------------------------------ */

/* two vecenvs, same seed, same actions: bit-identical; another seed: different */
static void test_determinism_one(const char *name) {
    struct vecenv a, b, c;
    const int E = 2, T = 120;
    if (open_env(&a, name, E, 42) || open_env(&b, name, E, 42) || open_env(&c, name, E, 43)) {
        return;
    }
    int same_init = memcmp(a.obs, b.obs, (size_t)E * a.O * sizeof(float)) == 0;
    int diff_seed = memcmp(a.obs, c.obs, (size_t)E * a.O * sizeof(float)) != 0;
    float *act = mem_alloc((size_t)E * a.A * sizeof(float));
    struct rng r;
    rng_seed(&r, 5);
    int same = 1;
    uint64_t allocs = 0;
    for (int t = 0; t < T; t++) {
        random_actions(&r, act, (size_t)E * a.A, 1.0f);
        if (t == T - 100) {
            allocs = mem_alloc_count();
        }
        vecenv_step(&a, act);
        vecenv_step(&b, act);
        same &= memcmp(a.obs, b.obs, (size_t)E * a.O * sizeof(float)) == 0;
        same &= memcmp(a.next_obs, b.next_obs, (size_t)E * a.O * sizeof(float)) == 0;
        same &= memcmp(a.rew, b.rew, (size_t)E * sizeof(float)) == 0;
        same &= memcmp(a.term, b.term, (size_t)E) == 0 && memcmp(a.trunc, b.trunc, (size_t)E) == 0;
        same &= a.n_done == b.n_done;
    }
    CHECK(mem_alloc_count() == allocs, "%s: vecenv_step allocated %llu times in 100 steps", name,
          (unsigned long long)(mem_alloc_count() - allocs));
    CHECK(same_init && same, "%s: same seed gives identical trajectories", name);
    CHECK(diff_seed, "%s: different seeds give different starts", name);
    CHECK(a.steps == (uint64_t)E * T && a.n_unstable == 0, "%s: step count %llu, unstable %llu",
          name, (unsigned long long)a.steps, (unsigned long long)a.n_unstable);
    mem_free(act);
    vecenv_free(&a);
    vecenv_free(&b);
    vecenv_free(&c);
}

static void test_determinism(void) {
    for (const char *const *p = env_names(); *p; p++) {
        /* one name per model (singletask variants share the navigate model) plus one task */
        if (strstr(*p, "singletask") &&
            strcmp(*p, "pointmaze-medium-navigate-singletask-task3-v0")) {
            continue;
        }
        /* under valgrind leave the locomotion models to test_locomotion (same check there) */
        if (getenv("FLOQ_VALGRIND") && strcmp(*p, "tiny-v0") && strncmp(*p, "pointmaze-", 10)) {
            continue;
        }
        test_determinism_one(*p);
    }
}

static void test_clipping(void) {
    struct vecenv a, b;
    if (open_env(&a, "pointmaze-giant-navigate-singletask-task1-v0", 2, 9) ||
        open_env(&b, "pointmaze-giant-navigate-singletask-task1-v0", 2, 9)) {
        return;
    }
    struct rng r;
    rng_seed(&r, 1);
    int same = 1;
    for (int t = 0; t < 200; t++) {
        float big[4], clipped[4];
        random_actions(&r, big, 4, 3.0f);
        big[3] = NAN;
        for (int k = 0; k < 4; k++) {
            clipped[k] = big[k] > 1 ? 1.0f : (big[k] < -1 ? -1.0f : big[k]);
        }
        clipped[3] = 0.0f; /* NaN acts as 0 */
        vecenv_step(&a, big);
        vecenv_step(&b, clipped);
        same &= memcmp(a.obs, b.obs, sizeof(float) * 4) == 0;
    }
    CHECK(same, "actions are clipped to [-1,1], NaN to 0");
    /* in free space one step moves exactly 0.2 * a */
    mjData *d = a.envs[0].d;
    const struct env_shared *s = env_shared_of(&a);
    mj_resetData(s->m, d);
    mj_forward(s->m, d);
    float act[4] = {5.0f, -0.5f, 0, 0};
    vecenv_step(&a, act);
    CHECK_NEAR(d->qpos[0], 0.2, 1e-9, "clipped step x");
    CHECK_NEAR(d->qpos[1], -0.1, 1e-9, "step y");
    vecenv_free(&a);
    vecenv_free(&b);
}

/* ---- tiny ---------------------------------------------------------------------------------- */

static void test_tiny(void) {
    struct vecenv v;
    if (open_env(&v, "tiny-v0", 4, 3)) {
        return;
    }
    /* a = +1: recompute in double, episode ends by success after 5 or 6 steps */
    double x[4], vel[4];
    for (int i = 0; i < 4; i++) {
        x[i] = v.obs[2 * i];
        vel[i] = 0;
        CHECK(x[i] >= -0.6 && x[i] <= -0.4 && v.obs[2 * i + 1] == 0.0f, "tiny reset %g", x[i]);
    }
    float act[4] = {1, 1, 1, 1};
    int ended[4] = {0};
    for (int t = 1; t <= 6; t++) {
        vecenv_step(&v, act);
        for (int i = 0; i < 4; i++) {
            if (ended[i]) {
                continue;
            }
            vel[i] = 0.5 * vel[i] + 0.1;
            x[i] += vel[i];
            int success = fabs(x[i] - 0.5) <= 0.1;
            CHECK_NEAR(v.next_obs[2 * i], x[i], 1e-6, "tiny x");
            CHECK(v.rew[i] == (float)success - 1.0f && v.term[i] == success &&
                      v.success[i] == (float)success && !v.trunc[i],
                  "tiny reward/term at t=%d", t);
            if (success) {
                ended[i] = t;
            }
        }
    }
    for (int i = 0; i < 4; i++) {
        CHECK(ended[i] == 5 || ended[i] == 6, "tiny env %d ended at %d", i, ended[i]);
    }
    /* a = 0 never reaches the goal: truncation at 50, not terminal */
    vecenv_reset(&v);
    float zero[4] = {0};
    int t = 0;
    while (v.n_done == 0 && t < 100) {
        vecenv_step(&v, zero);
        t++;
    }
    CHECK(t == 50 && v.n_done == 4 && v.trunc[0] && !v.term[0] && v.done[0].len == 50 &&
              v.done[0].ret == -50.0 && !v.done[0].success,
          "tiny truncation at %d", t);
    vecenv_free(&v);
}

/* ---- pointmaze ------------------------------------------------------------------------------ */

static void test_maze_tables(void) {
    const int free_n[MAZE_N] = {26, 46, 86, 45}, vert_n[MAZE_N] = {21, 22, 46, 24};
    for (int t = 0; t < MAZE_N; t++) {
        const struct maze *mz = maze_get((enum maze_type)t);
        CHECK(maze_cells(mz, 0, NULL) == free_n[t] && maze_cells(mz, 1, NULL) == vert_n[t],
              "%s free/vertex cells", mz->name);
        for (int k = 0; k < MAZE_N_TASKS; k++) {
            CHECK(maze_free(mz, mz->task[k][0], mz->task[k][1]) &&
                      maze_free(mz, mz->task[k][2], mz->task[k][3]),
                  "%s task%d cells free", mz->name, k + 1);
        }
    }
    double g[2], tol;
    CHECK(maze_env_goal("pointmaze-large-navigate-singletask-task3-v0", g, &tol, err, sizeof err) ==
                  0 &&
              g[0] == 36 && g[1] == 0 && tol == 1.0,
          "goal of pointmaze-large task3");
    CHECK(maze_env_goal("antmaze-giant-navigate-singletask-v0", g, &tol, err, sizeof err) == 0 &&
              g[0] == 52 && g[1] == 36 && tol == 0.5,
          "goal of antmaze-giant default task");
    CHECK(maze_env_goal("pointmaze-medium-navigate-singletask-task5-v0", g, &tol, err,
                        sizeof err) == 0 &&
              g[0] == 0 && g[1] == 0,
          "goal of pointmaze-medium task5");
    CHECK(maze_env_goal("pointmaze-large-navigate-v0", g, &tol, err, sizeof err) == -1 &&
              strstr(err, "not a singletask"),
          "navigate has no fixed goal");
    CHECK(maze_env_goal("pointmaze-large-navigate-singletask-task6-v0", g, &tol, err, sizeof err) ==
              -1,
          "task6 rejected");
    int i, j;
    double xy[2] = {35.9, -1.9};
    maze_xy_to_ij(xy, &i, &j);
    CHECK(i == 1 && j == 10, "xy to ij");
    char xml[65536];
    CHECK(maze_point_xml(maze_get(MAZE_GIANT), xml, 100) == -1, "xml buffer overflow detected");
    CHECK(maze_point_xml(maze_get(MAZE_GIANT), xml, sizeof xml) > 0, "giant xml fits");
}

/* envs-facts A.3: 300 steps of a_t = (cos 0.05t, sin 0.031t) from the origin, large maze */
static void test_point_golden(void) {
    struct vecenv v;
    if (open_env(&v, "pointmaze-large-navigate-singletask-task1-v0", 1, 0)) {
        return;
    }
    const struct env_shared *s = env_shared_of(&v);
    mjData *d = v.envs[0].d;
    /* the step semantics in double: bit-exact against the reference run */
    mj_resetData(s->m, d);
    for (int t = 0; t < 300; t++) {
        d->qpos[0] += 0.2 * cos(0.05 * t);
        d->qpos[1] += 0.2 * sin(0.031 * t);
        d->qvel[0] = d->qvel[1] = 0;
        for (int k = 0; k < 5; k++) {
            mj_step(s->m, d);
        }
    }
    CHECK_NEAR(d->qpos[0], 2.608885333, 1e-8, "golden x");
    CHECK_NEAR(d->qpos[1], 9.306966361, 1e-8, "golden y");
    /* through vecenv (float actions) */
    mj_resetData(s->m, d);
    int ended = 0;
    for (int t = 0; t < 300; t++) {
        float a[2] = {(float)cos(0.05 * t), (float)sin(0.031 * t)};
        vecenv_step(&v, a);
        ended |= v.n_done;
    }
    CHECK(!ended, "golden run does not end");
    CHECK_NEAR(v.obs[0], 2.608885333, 1e-6, "golden x via vecenv");
    CHECK_NEAR(v.obs[1], 9.306966361, 1e-6, "golden y via vecenv");
    CHECK(s->m->nq == 2 && s->m->nv == 2 && s->m->nu == 2 && s->m->opt.timestep == 0.02 &&
              s->m->opt.integrator == mjINT_RK4,
          "point model");
    int torso = mj_name2id(s->m, mjOBJ_BODY, "torso");
    CHECK(torso == 1 && fabs(s->m->body_mass[torso] - 143.676) < 1e-3, "point mass %g",
          s->m->body_mass[torso]);
    vecenv_free(&v);
}

/* reset: start cell centre + U(-1,1); goal exact (singletask) */
static void test_point_reset(void) {
    struct vecenv v;
    if (open_env(&v, "pointmaze-giant-navigate-singletask-task4-v0", 16, 11)) {
        return;
    }
    double lo[2] = {1e9, 1e9}, hi[2] = {-1e9, -1e9}, qv2 = 0;
    for (int rep = 0; rep < 16; rep++) {
        for (int i = 0; i < v.E; i++) {
            for (int k = 0; k < 2; k++) {
                lo[k] = fmin(lo[k], v.obs[2 * i + k]);
                hi[k] = fmax(hi[k], v.obs[2 * i + k]);
                qv2 += v.envs[i].d->qvel[k] * v.envs[i].d->qvel[k];
            }
            double g[2];
            pointmaze_goal(&v.envs[i], g);
            CHECK(g[0] == 44 && g[1] == 16, "singletask goal exact");
        }
        vecenv_reset(&v);
    }
    /* task4 start (8,3): centre (8, 28) */
    CHECK(lo[0] >= 7 && hi[0] <= 9 && lo[1] >= 27 && hi[1] <= 29, "start noise within +-1");
    CHECK(lo[0] < 7.2 && hi[0] > 8.8 && lo[1] < 27.2 && hi[1] > 28.8, "start noise spans +-1");
    double sd = sqrt(qv2 / (16 * 16 * 2));
    CHECK(sd > 0.08 && sd < 0.12, "reset qvel noise sd %g", sd);
    vecenv_free(&v);
}

/* reward, termination and success recomputed from mjData; both timings */
static void test_point_reward(void) {
    const char *names[2] = {"pointmaze-medium-navigate-singletask-task3-v0",
                            "pointmaze-medium-navigate-v0"};
    for (int pre = 1; pre >= 0; pre--) {
        struct vecenv v;
        if (open_env(&v, names[1 - pre], 1, 21)) {
            return;
        }
        const struct env_shared *s = env_shared_of(&v);
        const struct maze *mz = pointmaze_maze(s);
        struct rng r;
        rng_seed(&r, 2);
        int n_succ = 0, n_fail = 0, ok = 1;
        for (int t = 0; t < 1500; t++) {
            struct env *e = &v.envs[0];
            double g[2], q0[2] = {e->d->qpos[0], e->d->qpos[1]};
            pointmaze_goal(e, g);
            /* expert towards the goal with noise, so both outcomes occur */
            int dist[MAZE_MAX_H][MAZE_MAX_W], gi, gj;
            maze_xy_to_ij(g, &gi, &gj);
            maze_bfs(mz, gi, gj, dist);
            double dir[2];
            maze_expert_dir(mz, dist, q0, dir);
            float a[2] = {(float)dir[0] + 0.8f * rng_normal(&r),
                          (float)dir[1] + 0.8f * rng_normal(&r)};
            vecenv_step(&v, a);
            double q[2];
            if (pre) {
                q[0] = q0[0];
                q[1] = q0[1];
            } else if (v.n_done) {
                q[0] = v.next_obs[0];
                q[1] = v.next_obs[1];
            } else {
                q[0] = e->d->qpos[0];
                q[1] = e->d->qpos[1];
            }
            double dd = hypot(q[0] - g[0], q[1] - g[1]);
            if (!pre && v.n_done && fabs(dd - 1.0) < 1e-5) {
                continue; /* float next_obs too coarse to decide */
            }
            int succ = dd <= 1.0;
            float rew = pre ? (float)succ - 1.0f : (float)succ;
            ok &= v.rew[0] == rew && v.term[0] == succ && v.success[0] == (float)succ;
            ok &= v.n_done == (succ || v.trunc[0]);
            n_succ += succ;
            n_fail += !succ;
        }
        CHECK(ok && n_succ > 3 && n_fail > 100, "%s reward/term/success (%d successes)",
              names[1 - pre], n_succ);
        vecenv_free(&v);
    }
}

/* puts the point of env 0 at (x, y) (its velocity as it is), then steps v with the actions a */
static void step_from(struct vecenv *v, double x, double y, const float *a) {
    mjData *d = v->envs[0].d;
    d->qpos[0] = x;
    d->qpos[1] = y;
    mj_forward(env_shared_of(v)->m, d);
    vecenv_step(v, a);
}

/* the success test fires at the documented radius (1.0) */
static void test_point_radius(void) {
    struct vecenv v;
    if (open_env(&v, "pointmaze-large-navigate-singletask-task1-v0", 1, 4)) {
        return;
    }
    const double goal[2] = {36, 24};
    const double ang[4] = {0.3, 1.9, 3.5, 5.0};
    for (int k = 0; k < 4; k++) {
        for (int in = 0; in < 2; in++) {
            double rad = in ? 1.0 - 1e-9 : 1.0 + 1e-9;
            vecenv_reset(&v);
            float a[2] = {0, 0};
            step_from(&v, goal[0] + rad * cos(ang[k]), goal[1] + rad * sin(ang[k]), a);
            CHECK(v.success[0] == (float)in && v.term[0] == in && v.rew[0] == (float)in - 1.0f,
                  "pre success at radius %.9f: %g", rad, v.success[0]);
        }
    }
    vecenv_free(&v);
    /* goal-conditioned form: success on the state after the step, goal from the episode */
    if (open_env(&v, "pointmaze-large-navigate-v0", 1, 4)) {
        return;
    }
    for (int in = 0; in < 2; in++) {
        double g[2];
        pointmaze_goal(&v.envs[0], g);
        double rad = in ? 1.0 - 1e-4 : 1.0 + 1e-4;
        /* step towards +x from just outside the radius +- one 0.2 step */
        float a[2] = {1, 0};
        step_from(&v, g[0] - rad - 0.2, g[1], a);
        CHECK(v.success[0] == (float)in && v.term[0] == in && v.rew[0] == (float)in,
              "post success at radius %.6f", rad);
        vecenv_reset(&v);
    }
    vecenv_free(&v);
}

/* truncation at 1000 steps, never terminal */
static void test_point_truncation(void) {
    struct vecenv v;
    if (open_env(&v, "pointmaze-medium-navigate-singletask-task1-v0", 1, 8)) {
        return;
    }
    float a[2] = {0, 0};
    int t = 0;
    while (!v.n_done && t < 1200) {
        vecenv_step(&v, a);
        t++;
    }
    CHECK(t == 1000 && v.trunc[0] && !v.term[0] && !v.unstable[0] && v.done[0].len == 1000 &&
              v.done[0].ret == -1000.0 && !v.done[0].success,
          "truncated at %d", t);
    CHECK(v.envs[0].t == 0, "auto-reset after truncation");
    vecenv_free(&v);
}

/* the BFS expert without noise solves every task of medium, large, giant within the limit */
static void test_point_expert(void) {
    const char *mazes[3] = {"medium", "large", "giant"};
    for (int m = 0; m < 3; m++) {
        for (int task = 1; task <= MAZE_N_TASKS; task++) {
            char name[96];
            snprintf(name, sizeof name, "pointmaze-%s-navigate-singletask-task%d-v0", mazes[m],
                     task);
            struct vecenv v;
            if (open_env(&v, name, 1, (uint64_t)task)) {
                return;
            }
            const struct maze *mz = pointmaze_maze(env_shared_of(&v));
            int dist[MAZE_MAX_H][MAZE_MAX_W];
            maze_bfs(mz, mz->task[task - 1][2], mz->task[task - 1][3], dist);
            int t = 0;
            while (!v.n_done && t < 1000) {
                double dir[2];
                maze_expert_dir(mz, dist, v.envs[0].d->qpos, dir);
                float a[2] = {(float)dir[0], (float)dir[1]};
                vecenv_step(&v, a);
                t++;
            }
            CHECK(v.n_done && v.done[0].success && v.term[0] && t < 1000,
                  "expert on %s: %d steps, success %d", name, t, v.n_done ? v.done[0].success : 0);
            vecenv_free(&v);
        }
    }
}

/* a NaN state ends the episode as unstable; the process carries on */
static void test_instability_one(const char *name, int qvel) {
    struct vecenv v;
    if (open_env(&v, name, 2, 3)) {
        return;
    }
    const struct env_shared *s = env_shared_of(&v);
    float *a = mem_alloc((size_t)2 * v.A * sizeof(float));
    vecenv_step(&v, a);
    mjData *d = v.envs[1].d;
    if (qvel) {
        d->qvel[0] = NAN;
    } else {
        d->qpos[0] = NAN;
    }
    uint64_t w0 = mjutil_warning_count();
    vecenv_step(&v, a);
    CHECK(v.unstable[1] && !v.term[1] && !v.trunc[1] && v.n_unstable == 1 && v.n_done == 1 &&
              v.done[0].unstable && v.done[0].len == 2,
          "%s: NaN %s ends the episode as unstable", name, qvel ? "qvel" : "qpos");
    CHECK(!v.unstable[0] && all_finite(v.obs, (size_t)2 * v.O) &&
              all_finite(v.next_obs, (size_t)2 * v.O) && isfinite(v.rew[1]),
          "%s: other env unaffected, outputs finite", name);
    CHECK(mjutil_warning_count() > w0, "%s: MuJoCo warning counted", name);
    CHECK(v.envs[1].t == 0 &&
              !mjutil_unstable(s->m, d,
                               &(struct mjutil_warn){{d->warning[mjWARN_BADQPOS].number,
                                                      d->warning[mjWARN_BADQVEL].number,
                                                      d->warning[mjWARN_BADQACC].number}}),
          "%s: env reset to a finite state", name);
    for (int t = 0; t < 20; t++) {
        vecenv_step(&v, a);
    }
    CHECK(v.n_unstable == 1 && all_finite(v.obs, (size_t)2 * v.O), "%s: steps on", name);
    mem_free(a);
    vecenv_free(&v);
}

/* a model that fails to compile: MuJoCo's message and the model name, no MUJOCO_LOG.TXT */
static void test_bad_model(void) {
    const char *xml = "<mujoco><worldbody><body><joint type=\"hinge\" range=\"0 1\"/>"
                      "<geom size=\".1\"/></body></worldbody></mujoco>";
    mjModel *m = mjutil_load_xml("bad-model", xml, err, sizeof err);
    CHECK(m == NULL && strstr(err, "model bad-model:") && strstr(err, "limited"),
          "bad model message: %s", err);
    m = mjutil_load_xml("not-xml", "this is not xml", err, sizeof err);
    CHECK(m == NULL && strstr(err, "model not-xml:") && strstr(err, "XML") && !strchr(err, '\n'),
          "not xml: %s", err);
    CHECK(access("MUJOCO_LOG.TXT", F_OK) != 0, "no MUJOCO_LOG.TXT written");
    if (m) {
        mj_deleteModel(m);
    }
}

static void test_instability(void) {
    /* the point step zeroes qvel, so poison qpos there */
    test_instability_one("pointmaze-medium-navigate-v0", 0);
    struct env_info info;
    if (env_lookup("Hopper-v4", &info, err, sizeof err) == 0) {
        test_instability_one("Hopper-v4", 1);
    }
}

/* ---- collect ------------------------------------------------------------------------------- */

static const struct npy_array *member(const struct npz *z, const char *name, enum npy_dtype t,
                                      int64_t n, int64_t cols) {
    const struct npy_array *a = npz_find(z, name);
    int ok = a && a->dtype == t && a->shape[0] == n &&
             (cols ? a->ndim == 2 && a->shape[1] == cols : a->ndim == 1);
    CHECK(ok, "member %s: dtype/shape", name);
    return ok ? a : NULL;
}

static void test_collect_maze(void) {
    const char *out = tpath("pm.npz"), *val = tpath("pm-val.npz");
    struct collect_cfg cfg = {.env_name = "pointmaze-medium-navigate-v0",
                              .policy = "expert",
                              .noise = 0.5,
                              .episodes = 3,
                              .val_episodes = 1,
                              .rows = 151,
                              .out = out,
                              .seed = 7};
    int rc = collect_run(&cfg, NULL, err, sizeof err);
    CHECK(rc == 0, "collect maze: %s", err);
    struct npz z;
    if (rc || npz_load(&z, out, err, sizeof err)) {
        CHECK(0, "read back %s: %s", out, err);
        return;
    }
    const int64_t N = 3 * 151;
    CHECK(z.n == 5 && strcmp(z.arrays[0].name, "observations") == 0 &&
              strcmp(z.arrays[1].name, "actions") == 0 &&
              strcmp(z.arrays[2].name, "terminals") == 0 && strcmp(z.arrays[3].name, "qpos") == 0 &&
              strcmp(z.arrays[4].name, "qvel") == 0,
          "OGBench members in order");
    const struct npy_array *obs = member(&z, "observations", NPY_F4, N, 2);
    const struct npy_array *act = member(&z, "actions", NPY_F4, N, 2);
    const struct npy_array *term = member(&z, "terminals", NPY_B1, N, 0);
    const struct npy_array *qpos = member(&z, "qpos", NPY_F4, N, 2);
    const struct npy_array *qvel = member(&z, "qvel", NPY_F4, N, 2);
    if (obs && act && term && qpos && qvel) {
        const float *o = obs->data, *a = act->data, *q = qpos->data, *qv = qvel->data;
        const uint8_t *tm = term->data;
        int ok_term = 1, ok_q = 1, ok_a = 1;
        int64_t still = 0;
        for (int64_t k = 0; k < N; k++) {
            ok_term &= tm[k] == ((k % 151) == 150);
            ok_q &= o[2 * k] == q[2 * k] && o[2 * k + 1] == q[2 * k + 1];
            ok_a &= fabsf(a[2 * k]) <= 1 && fabsf(a[2 * k + 1]) <= 1;
            if (k % 151) {
                still += fabsf(qv[2 * k]) < 1e-6f; /* the step zeroes qvel (contacts aside) */
            }
        }
        CHECK(ok_term, "terminal only on each episode's last row");
        CHECK(ok_q, "observations = qpos of s_t");
        CHECK(ok_a, "actions within [-1,1]");
        CHECK(still > N / 2, "qvel of s_t after a step mostly 0 (%lld of %lld)", (long long)still,
              (long long)N);
        /* consecutive rows move by 0.2 a in free space (most steps) */
        int near = 0;
        for (int64_t k = 0; k + 1 < N; k++) {
            if (k % 151 != 150) {
                near += fabsf(o[2 * k + 2] - o[2 * k] - 0.2f * a[2 * k]) < 1e-5f;
            }
        }
        CHECK(near > N * 8 / 10, "row-to-row motion is 0.2 a (%d of %lld)", near, (long long)N);
    }
    npz_free(&z);
    if (npz_load(&z, val, err, sizeof err) == 0) {
        member(&z, "observations", NPY_F4, 151, 2);
        npz_free(&z);
    } else {
        CHECK(0, "val split: %s", err);
    }
    /* same seed, same bytes */
    const char *out2 = tpath("pm2.npz");
    cfg.out = out2;
    cfg.val_episodes = 0;
    CHECK(collect_run(&cfg, NULL, err, sizeof err) == 0, "collect again: %s", err);
    struct npz z1, z2;
    if (npz_load(&z1, out, err, sizeof err) == 0 && npz_load(&z2, out2, err, sizeof err) == 0) {
        int same = z1.n == z2.n;
        for (int k = 0; same && k < z1.n; k++) {
            same = z1.arrays[k].count == z2.arrays[k].count &&
                   memcmp(z1.arrays[k].data, z2.arrays[k].data,
                          z1.arrays[k].count * npy_dtype_size(z1.arrays[k].dtype)) == 0;
        }
        CHECK(same, "collect is deterministic for a seed");
        npz_free(&z1);
        npz_free(&z2);
    }
    /* numpy reads it, when python3 has numpy */
    if (system("python3 -c 'import numpy' >/dev/null 2>&1") == 0) {
        char cmd[1200];
        snprintf(cmd, sizeof cmd,
                 "python3 -c \"import numpy as np; d=np.load('%s'); "
                 "assert d['observations'].shape==(453,2) and d['terminals'].dtype==bool and "
                 "int(d['terminals'].sum())==3\"",
                 out);
        CHECK(system(cmd) == 0, "numpy reads the collected file");
    }
}

static void test_collect_plain(const char *dir) {
    char out[512];
    snprintf(out, sizeof out, "%s/tiny.npz", dir);
    struct collect_cfg cfg = {.env_name = "tiny-v0",
                              .policy = "random",
                              .noise = 0.1,
                              .episodes = 20,
                              .val_episodes = -1,
                              .out = out,
                              .seed = 1};
    CHECK(collect_run(&cfg, NULL, err, sizeof err) == 0, "collect tiny: %s", err);
    struct npz z;
    if (npz_load(&z, out, err, sizeof err)) {
        CHECK(0, "read back %s: %s", out, err);
        return;
    }
    const struct npy_array *rew = npz_find(&z, "rewards"), *term = npz_find(&z, "terminals");
    const struct npy_array *tout = npz_find(&z, "timeouts"), *obs = npz_find(&z, "observations");
    const struct npy_array *nobs = npz_find(&z, "next_observations");
    CHECK(rew && term && tout && obs && nobs && !npz_find(&z, "qpos") && z.n == 6,
          "D4RL-style members");
    if (rew && term && tout && obs && nobs) {
        int64_t N = rew->shape[0];
        const float *r = rew->data, *o = obs->data, *no = nobs->data;
        const uint8_t *tm = term->data, *to = tout->data;
        int ends = 0, ok = 1;
        for (int64_t k = 0; k < N; k++) {
            ok &= r[k] == (float)tm[k] - 1.0f && !(tm[k] && to[k]);
            ends += tm[k] || to[k];
            if (k + 1 < N && !tm[k] && !to[k]) {
                ok &= no[2 * k] == o[2 * k + 2]; /* next row continues the episode */
            }
        }
        CHECK(ok && ends == 20 && (tm[N - 1] || to[N - 1]), "tiny transitions consistent");
        CHECK(obs->dtype == NPY_F4 && term->dtype == NPY_B1 && obs->shape[1] == 2, "tiny dtypes");
    }
    npz_free(&z);
    unlink(out);

    /* command-line errors */
    char *bad_flag[] = {"collect", "--env_nam", "tiny-v0"};
    CHECK(collect_main(3, bad_flag) == 2, "unknown flag");
    char *no_expert[] = {"collect", "--env_name", "tiny-v0", "--policy", "expert", "--out", out};
    CHECK(collect_main(7, no_expert) == 1, "no expert for tiny");
    char *bad_out[] = {"collect", "--env_name=tiny-v0", "--out=x.txt"};
    CHECK(collect_main(3, bad_out) == 1, "--out must end in .npz");
    char *ckpt[] = {"collect", "--env_name=tiny-v0", "--policy=checkpoint:x.ckpt", "--out", out};
    CHECK(collect_main(5, ckpt) == 1, "checkpoint policy without a loader");
    CHECK(access(out, F_OK) != 0, "nothing written on errors");
}

int main(void) {
    tmpdir_make("test_envs");
    test_registry();
    test_maze_tables();
    test_tiny();
    test_determinism();
    test_clipping();
    test_point_golden();
    test_point_reset();
    test_point_reward();
    test_point_radius();
    test_point_truncation();
    test_point_expert();
    test_instability();
    test_bad_model();
    test_collect_maze();
    test_collect_plain(g_dir);
    tmpdir_remove();
    return check_report("test_envs");
}
