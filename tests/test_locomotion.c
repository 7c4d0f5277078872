/* test_locomotion.c — Hopper-v4, Walker2d-v4, HalfCheetah-v4, Ant-v4: models against the golden
 * trajectories (envs-facts.md A.3), obs/action sizes, determinism, rewards and terminations
 * recomputed from mjData, health bounds, reset noise, truncation, normalised score. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/rng.h"
#include "envs/env.h"
#include "envs/env_impl.h"
#include "envs/locomotion.h"
#include "envs/models_loco.h"
#include "tests/check.h"

#define N_LOCO 4

/* everything the test knows independently of locomotion.c (envs-facts.md A.1-A.3) */
struct ref {
    const char *name;
    const char *xml;
    int nq, nv, nu, nbody, obs_dim, frame_skip;
    double dt, ctrl_w, healthy, noise;
    int vel_normal;
    double ref_min, ref_max;
    double golden[3];
    double mass[14]; /* body masses, world first */
};

/* clang-format off */
static const struct ref refs[N_LOCO] = {
    {"Hopper-v4", models_loco_hopper_xml, 6, 6, 3, 5, 11, 4, 0.008, 1e-3, 1.0, 5e-3, 0,
     -20.272305, 3234.3, {1.421082030, 0.568762475, -1.380007277},
     {0, 3.66519, 4.05789, 2.78136, 5.31557}},
    {"Walker2d-v4", models_loco_walker2d_xml, 9, 9, 6, 8, 17, 4, 0.008, 1e-3, 1.0, 5e-3, 0,
     1.629008, 4592.3, {0.425666870, 0.103732338, 1.860322114},
     {0, 3.66519, 4.05789, 2.78136, 3.16673, 4.05789, 2.78136, 3.16673}},
    {"HalfCheetah-v4", models_loco_halfcheetah_xml, 9, 9, 6, 8, 17, 5, 0.05, 0.1, 0.0, 0.1, 1,
     -280.178953, 12135.0, {0.265252308, -0.233078321, -0.079101477},
     {0, 6.25021, 1.54351, 1.58745, 1.0954, 1.43808, 1.20084, 0.884519}},
    {"Ant-v4", models_loco_ant_xml, 15, 14, 8, 14, 27, 5, 0.05, 0.5, 1.0, 0.1, 1, -325.6, 3879.7,
     {-0.142665095, 0.146399300, 0.502328997},
     {0, 0.327249, 0.0391578, 0.0391578, 0.0675922, 0.0391578, 0.0391578, 0.0675922, 0.0391578,
      0.0391578, 0.0675922, 0.0391578, 0.0391578, 0.0675922}},
};
/* clang-format on */

/* Gymnasium's is_healthy, written out again from envs-facts.md A.1 */
static int ref_healthy(int k, const mjModel *m, const mjData *d) {
    const double *q = d->qpos, *v = d->qvel;
    if (k == 0) {
        int ok = q[1] > 0.7 && q[1] < INFINITY && q[2] > -0.2 && q[2] < 0.2;
        for (int i = 2; i < m->nq; i++) {
            ok = ok && fabs(q[i]) < 100.0;
        }
        for (int i = 0; i < m->nv; i++) {
            ok = ok && fabs(v[i]) < 100.0;
        }
        return ok;
    }
    if (k == 1) {
        return q[1] > 0.8 && q[1] < 2.0 && q[2] > -1.0 && q[2] < 1.0;
    }
    if (k == 2) {
        return 1;
    }
    int ok = q[2] >= 0.2 && q[2] <= 1.0;
    for (int i = 0; i < m->nq; i++) {
        ok = ok && isfinite(q[i]);
    }
    for (int i = 0; i < m->nv; i++) {
        ok = ok && isfinite(v[i]);
    }
    return ok;
}

/* raw models: golden trajectories, sizes, masses, integrator, Ant actuator order */
static void test_models(void) {
    char err[512];
    for (int k = 0; k < N_LOCO; k++) {
        const struct ref *r = &refs[k];
        mjModel *m = mjutil_load_xml(r->name, r->xml, err, sizeof err);
        CHECK(m != NULL, "%s loads: %s", r->name, err);
        if (!m) {
            continue;
        }
        CHECK(m->nq == r->nq && m->nv == r->nv && m->nu == r->nu && m->nbody == r->nbody,
              "%s sizes %d %d %d %d", r->name, m->nq, m->nv, m->nu, m->nbody);
        for (int b = 0; b < m->nbody && b < 14; b++) {
            CHECK_NEAR(m->body_mass[b], r->mass[b], 1e-5 * (1.0 + r->mass[b]), "%s mass %d",
                       r->name, b);
        }
        CHECK(m->opt.integrator == (k == 2 ? mjINT_EULER : mjINT_RK4), "%s integrator", r->name);
        CHECK_NEAR(m->opt.timestep * r->frame_skip, r->dt, 1e-15, "%s dt", r->name);
        for (int u = 0; u < m->nu; u++) {
            CHECK(m->actuator_ctrllimited[u] && m->actuator_ctrlrange[2 * u] == -1.0 &&
                      m->actuator_ctrlrange[2 * u + 1] == 1.0,
                  "%s ctrlrange %d", r->name, u);
        }
        mjData *d = mj_makeData(m);
        for (int t = 0; t < 1000; t++) {
            for (int u = 0; u < m->nu; u++) {
                d->ctrl[u] = sin(0.013 * t + 1.7 * u);
            }
            mj_step(m, d);
        }
        for (int i = 0; i < 3; i++) {
            CHECK_NEAR(d->qpos[i], r->golden[i], 1e-8, "%s golden qpos[%d]", r->name, i);
        }
        if (k == 3) {
            static const char *const order[8] = {"hip_4", "ankle_4", "hip_1", "ankle_1",
                                                 "hip_2", "ankle_2", "hip_3", "ankle_3"};
            for (int u = 0; u < 8; u++) {
                const char *j = mj_id2name(m, mjOBJ_JOINT, m->actuator_trnid[2 * u]);
                CHECK(j && strcmp(j, order[u]) == 0, "ant actuator %d drives %s", u, j);
                CHECK(m->actuator_gear[6 * u] == 150.0, "ant gear %d", u);
            }
            CHECK(m->qpos0[2] == 0.75 && m->qpos0[3] == 1.0, "ant qpos0");
        }
        mj_deleteData(d);
        mj_deleteModel(m);
    }
}

static void test_info(void) {
    char err[512];
    const char *const *names = env_names();
    for (int k = 0; k < N_LOCO; k++) {
        const struct ref *r = &refs[k];
        int listed = 0;
        for (int i = 0; names[i]; i++) {
            listed |= strcmp(names[i], r->name) == 0;
        }
        CHECK(listed, "%s listed in env_names", r->name);
        struct env_info info;
        CHECK(env_lookup(r->name, &info, err, sizeof err) == 0, "lookup %s: %s", r->name, err);
        CHECK(info.obs_dim == r->obs_dim && info.act_dim == r->nu, "%s O %d A %d", r->name,
              info.obs_dim, info.act_dim);
        CHECK(info.max_steps == 1000 && !info.has_success, "%s limit/success", r->name);
        CHECK(info.frame_skip == r->frame_skip, "%s frame_skip", r->name);
        CHECK_NEAR(info.dt, r->dt, 1e-15, "%s dt", r->name);
        CHECK(info.ref_min == r->ref_min && info.ref_max == r->ref_max, "%s refs", r->name);
        CHECK_NEAR(env_normalized_score(&info, r->ref_min), 0.0, 1e-12, "%s score min", r->name);
        CHECK_NEAR(env_normalized_score(&info, r->ref_max), 100.0, 1e-9, "%s score max", r->name);
        double mid = 0.5 * (r->ref_min + r->ref_max);
        CHECK_NEAR(env_normalized_score(&info, mid), 50.0, 1e-9, "%s score mid", r->name);
    }
    struct env_info info;
    CHECK(env_lookup("Hopper-v5", &info, err, sizeof err) == -1 && strstr(err, "Hopper-v4"),
          "unknown name lists Hopper-v4: %s", err);
}

/* obs of d recomputed from the documented layout */
static void ref_obs(int k, const mjData *d, float *obs) {
    const struct ref *r = &refs[k];
    int skip = k == 3 ? 2 : 1, o = 0;
    for (int i = skip; i < r->nq; i++) {
        obs[o++] = (float)d->qpos[i];
    }
    for (int i = 0; i < r->nv; i++) {
        double v = d->qvel[i];
        if (k <= 1) {
            v = fmax(-10.0, fmin(10.0, v));
        }
        obs[o++] = (float)v;
    }
}

/* same seed, same actions → bit-identical; a different seed differs */
static void test_determinism(void) {
    char err[512];
    for (int k = 0; k < N_LOCO; k++) {
        const int E = 2, T = 150;
        struct vecenv a, b, c;
        CHECK(vecenv_init(&a, refs[k].name, E, 7, err, sizeof err) == 0, "%s", err);
        CHECK(vecenv_init(&b, refs[k].name, E, 7, err, sizeof err) == 0, "%s", err);
        CHECK(vecenv_init(&c, refs[k].name, E, 8, err, sizeof err) == 0, "%s", err);
        vecenv_reset(&a);
        vecenv_reset(&b);
        vecenv_reset(&c);
        size_t nO = (size_t)E * a.O;
        CHECK(memcmp(a.obs, b.obs, nO * sizeof(float)) == 0, "%s same reset", refs[k].name);
        CHECK(memcmp(a.obs, c.obs, nO * sizeof(float)) != 0, "%s seed matters", refs[k].name);
        struct rng r;
        rng_seed(&r, 99);
        float act[2 * 8];
        int same = 1;
        uint64_t allocs = 0;
        for (int t = 0; t < T; t++) {
            for (int i = 0; i < E * a.A; i++) {
                act[i] = 2.4f * rng_uniform(&r) - 1.2f; /* some out of range: clipped */
            }
            if (t == T - 100) {
                allocs = mem_alloc_count();
            }
            vecenv_step(&a, act);
            vecenv_step(&b, act);
            same = same && memcmp(a.obs, b.obs, nO * sizeof(float)) == 0 &&
                   memcmp(a.next_obs, b.next_obs, nO * sizeof(float)) == 0 &&
                   memcmp(a.rew, b.rew, (size_t)E * sizeof(float)) == 0 &&
                   memcmp(a.term, b.term, (size_t)E) == 0 && a.n_done == b.n_done;
        }
        CHECK(same, "%s bit-identical trajectories", refs[k].name);
        CHECK(mem_alloc_count() == allocs, "%s: step allocates", refs[k].name);
        CHECK(a.n_unstable == 0 && a.steps == (uint64_t)E * T, "%s counters", refs[k].name);
        vecenv_free(&a);
        vecenv_free(&b);
        vecenv_free(&c);
    }
}

/* random states and actions through the family's step; reward, obs, term from mjData */
static void test_reward(void) {
    char err[512];
    struct rng r;
    rng_seed(&r, 5);
    /* qpos spread around qpos0: wide enough that some states are unhealthy */
    static const double spread[N_LOCO] = {0.3, 0.6, 0.3, 0.3};
    for (int k = 0; k < N_LOCO; k++) {
        const struct ref *rf = &refs[k];
        struct vecenv v;
        CHECK(vecenv_init(&v, rf->name, 1, 3, err, sizeof err) == 0, "%s", err);
        vecenv_reset(&v);
        const struct env_shared *s = env_shared_of(&v);
        struct env *e = &v.envs[0];
        const mjModel *m = s->m;
        mjData *d = e->d;
        int n_term = 0, n_ok = 0, obs_ok = 1;
        double max_err = 0.0;
        for (int trial = 0; trial < 40; trial++) {
            mj_resetData(m, d);
            for (int i = 0; i < m->nq; i++) {
                d->qpos[i] = m->qpos0[i] + spread[k] * (2.0 * rng_uniform_d(&r) - 1.0);
            }
            for (int i = 0; i < m->nv; i++) {
                d->qvel[i] = 2.0 * (double)rng_normal(&r);
            }
            mj_forward(m, d);
            float act[8], obs[32], want_obs[32];
            double sumsq = 0.0;
            for (int u = 0; u < m->nu; u++) {
                act[u] = 2.0f * rng_uniform(&r) - 1.0f;
                sumsq += (double)act[u] * act[u];
            }
            double x0 = k == 3 ? d->xpos[3 * 1] : d->qpos[0];
            struct env_step out = {0};
            env_family_locomotion.step(s, e, act, obs, &out);
            double x1 = k == 3 ? d->xpos[3 * 1] : d->qpos[0];
            double want = (x1 - x0) / rf->dt - rf->ctrl_w * sumsq + rf->healthy;
            double tol = 1e-6 * (1.0 + fabs(want));
            max_err = fmax(max_err, fabs(out.reward - want) / (1.0 + fabs(want)));
            n_ok += fabs(out.reward - want) <= tol;
            int healthy = ref_healthy(k, m, d);
            CHECK(out.term == !healthy, "%s trial %d term %d healthy %d", rf->name, trial, out.term,
                  healthy);
            CHECK(locomotion_is_healthy(s, d) == healthy, "%s is_healthy", rf->name);
            n_term += out.term;
            ref_obs(k, d, want_obs);
            obs_ok = obs_ok && memcmp(obs, want_obs, (size_t)rf->obs_dim * sizeof(float)) == 0;
            for (int u = 0; u < m->nu; u++) {
                obs_ok = obs_ok && d->ctrl[u] == (double)act[u];
            }
        }
        CHECK(n_ok == 40, "%s reward recomputed (max rel err %g)", rf->name, max_err);
        CHECK(obs_ok, "%s obs and ctrl recomputed", rf->name);
        if (k != 2) {
            CHECK(n_term > 0 && n_term < 40, "%s: %d of 40 random states terminate", rf->name,
                  n_term);
        } else {
            CHECK(n_term == 0, "HalfCheetah never terminates");
        }
        /* Ant: progress is the torso xpos left by mj_step, which lags qpos (pitfall 7) */
        if (k == 3) {
            CHECK(d->xpos[3] != d->qpos[0], "ant xpos differs from qpos after a step");
        }
        vecenv_free(&v);
    }
}

/* the health predicate at each documented bound */
static void test_bounds(void) {
    char err[512];
    const double eps = 1e-9;
    for (int k = 0; k < N_LOCO; k++) {
        struct vecenv v;
        CHECK(vecenv_init(&v, refs[k].name, 1, 1, err, sizeof err) == 0, "%s", err);
        const struct env_shared *s = env_shared_of(&v);
        const mjModel *m = s->m;
        mjData *d = v.envs[0].d;
        CHECK(locomotion_kind_of(s) == (enum locomotion_kind)k, "kind %d", k);
#define AT(idx, arr, val, want)                                                                    \
    do {                                                                                           \
        mj_resetData(m, d);                                                                        \
        d->arr[idx] = (val);                                                                       \
        CHECK(locomotion_is_healthy(s, d) == (want), "%s %s[%d] = %.12g: healthy %d",              \
              refs[k].name, #arr, idx, (double)(val), want);                                       \
    } while (0)
        mj_resetData(m, d);
        CHECK(locomotion_is_healthy(s, d), "%s healthy at qpos0", refs[k].name);
        if (k == 0) {
            AT(1, qpos, 0.7 + eps, 1);
            AT(1, qpos, 0.7, 0);
            AT(1, qpos, 1e6, 1);
            AT(1, qpos, INFINITY, 0);
            AT(1, qpos, NAN, 0);
            AT(2, qpos, 0.2 - eps, 1);
            AT(2, qpos, 0.2, 0);
            AT(2, qpos, -0.2 + eps, 1);
            AT(2, qpos, -0.2, 0);
            AT(2, qpos, NAN, 0);
            AT(4, qpos, 100.0 - eps, 1);
            AT(4, qpos, 100.0, 0);
            AT(5, qpos, -100.0, 0);
            AT(0, qpos, 1e6, 1); /* x is not part of the state check */
            AT(0, qvel, -100.0 + eps, 1);
            AT(0, qvel, -100.0, 0);
            AT(5, qvel, 100.0, 0);
            AT(5, qvel, NAN, 0);
        } else if (k == 1) {
            AT(1, qpos, 0.8 + eps, 1);
            AT(1, qpos, 0.8, 0);
            AT(1, qpos, 2.0 - eps, 1);
            AT(1, qpos, 2.0, 0);
            AT(1, qpos, NAN, 0);
            AT(2, qpos, 1.0 - eps, 1);
            AT(2, qpos, 1.0, 0);
            AT(2, qpos, -1.0 + eps, 1);
            AT(2, qpos, -1.0, 0);
            AT(5, qpos, 100.0, 1); /* joints and velocities are not checked */
            AT(3, qvel, 1e6, 1);
        } else if (k == 2) {
            AT(1, qpos, -5.0, 1);
            AT(2, qpos, 3.0, 1);
            AT(0, qvel, 1e6, 1);
        } else {
            AT(2, qpos, 0.2, 1); /* inclusive */
            AT(2, qpos, 0.2 - eps, 0);
            AT(2, qpos, 1.0, 1);
            AT(2, qpos, 1.0 + eps, 0);
            AT(2, qpos, NAN, 0);
            AT(7, qpos, NAN, 0);
            AT(0, qpos, INFINITY, 0);
            AT(13, qvel, -INFINITY, 0);
            AT(13, qvel, 1e6, 1);
        }
#undef AT
        vecenv_free(&v);
    }
    /* through the vecenv: a tilted hopper terminates after one step (rewards of terminating
     * steps, healthy reward included, are checked in test_reward) */
    struct vecenv v;
    CHECK(vecenv_init(&v, "Hopper-v4", 1, 1, err, sizeof err) == 0, "%s", err);
    vecenv_reset(&v);
    const struct env_shared *s = env_shared_of(&v);
    mjData *d = v.envs[0].d;
    d->qpos[2] = 0.5;
    mj_forward(s->m, d);
    float act[3] = {0.5f, -1.0f, 1.0f};
    vecenv_step(&v, act);
    CHECK(v.term[0] == 1 && v.trunc[0] == 0 && v.unstable[0] == 0 && v.n_done == 1 &&
              v.done[0].len == 1,
          "hopper tilted: terminated after one step");
    CHECK(fabs(v.done[0].ret - v.rew[0]) < 1e-6, "terminal reward in the return");
    vecenv_free(&v);
}

/* reset: qpos0 + U(-c,c) per coordinate; qvel U(-c,c) or c N(0,1) */
static void test_reset_noise(void) {
    char err[512];
    for (int k = 0; k < N_LOCO; k++) {
        const struct ref *rf = &refs[k];
        struct vecenv v;
        CHECK(vecenv_init(&v, rf->name, 1, 11, err, sizeof err) == 0, "%s", err);
        const mjModel *m = env_shared_of(&v)->m;
        const mjData *d = v.envs[0].d;
        const int R = 300;
        double qmax = 0.0, vmax = 0.0, vsum = 0.0, vsq = 0.0, qnorm_dev = 0.0, qrot = 0.0;
        int obs_ok = 1, t0 = 1;
        for (int rep = 0; rep < R; rep++) {
            vecenv_reset(&v);
            for (int i = 0; i < m->nq; i++) {
                if (k == 3 && i >= 3 && i < 7) {
                    continue; /* quaternion: renormalised by mj_forward, checked below */
                }
                qmax = fmax(qmax, fabs(d->qpos[i] - m->qpos0[i]));
            }
            for (int i = 0; i < m->nv; i++) {
                vmax = fmax(vmax, fabs(d->qvel[i]));
                vsum += d->qvel[i];
                vsq += d->qvel[i] * d->qvel[i];
            }
            if (k == 3) {
                double n2 = 0.0;
                for (int i = 3; i < 7; i++) {
                    n2 += d->qpos[i] * d->qpos[i];
                }
                qnorm_dev = fmax(qnorm_dev, fabs(sqrt(n2) - 1.0));
                qrot = fmax(qrot, fabs(d->qpos[4]) + fabs(d->qpos[5]) + fabs(d->qpos[6]));
            }
            float want[32];
            ref_obs(k, d, want);
            obs_ok = obs_ok && memcmp(v.obs, want, (size_t)rf->obs_dim * sizeof(float)) == 0;
            t0 = t0 && d->time == 0.0;
        }
        double c = rf->noise;
        CHECK(qmax <= c && qmax > 0.95 * c, "%s qpos noise max %g (c %g)", rf->name, qmax, c);
        double n = (double)R * m->nv;
        double mean = vsum / n, sd = sqrt(vsq / n - mean * mean);
        if (rf->vel_normal) {
            CHECK(fabs(sd - c) < 0.1 * c && fabs(mean) < 0.1 * c, "%s qvel N(0,c): sd %g mean %g",
                  rf->name, sd, mean);
            CHECK(vmax > 2.5 * c, "%s qvel normal tails %g", rf->name, vmax);
        } else {
            CHECK(vmax <= c && vmax > 0.95 * c, "%s qvel U: max %g", rf->name, vmax);
            CHECK(fabs(sd - c / sqrt(3.0)) < 0.1 * c, "%s qvel U sd %g", rf->name, sd);
        }
        if (k == 3) {
            /* noise is drawn per coordinate; MuJoCo 2.2.2's mj_kinematics (inside mj_forward)
             * then renormalises the free joint's quaternion in qpos, as under Gymnasium */
            CHECK(qnorm_dev < 1e-12 && qrot > 0.1, "ant quaternion: noisy, unit norm (%g, %g)",
                  qnorm_dev, qrot);
        }
        CHECK(obs_ok && t0, "%s reset obs from the noisy state", rf->name);
        vecenv_free(&v);
    }
}

/* 1000-step truncation (not terminal), clipping, instability */
static void test_episode(void) {
    char err[512];
    struct vecenv v, w;
    CHECK(vecenv_init(&v, "HalfCheetah-v4", 1, 2, err, sizeof err) == 0, "%s", err);
    CHECK(vecenv_init(&w, "HalfCheetah-v4", 1, 2, err, sizeof err) == 0, "%s", err);
    vecenv_reset(&v);
    vecenv_reset(&w);
    int early = 0, ok_clip = 1;
    double ret = 0.0;
    for (int t = 1; t <= 1000; t++) {
        float a[6], b[6];
        for (int u = 0; u < 6; u++) {
            a[u] = (float)(3.0 * sin(0.05 * t + u)); /* mostly outside [-1,1] */
            b[u] = a[u] > 1.0f ? 1.0f : (a[u] < -1.0f ? -1.0f : a[u]);
        }
        vecenv_step(&v, a);
        vecenv_step(&w, b);
        ok_clip = ok_clip && memcmp(v.obs, w.obs, 17 * sizeof(float)) == 0 && v.rew[0] == w.rew[0];
        ret += v.rew[0];
        if (t < 1000) {
            early += v.trunc[0] || v.term[0] || v.n_done;
        }
    }
    CHECK(ok_clip, "actions clipped to [-1,1] before stepping and costing");
    CHECK(early == 0, "no episode end before step 1000");
    CHECK(v.trunc[0] == 1 && v.term[0] == 0 && v.n_done == 1 && v.done[0].len == 1000,
          "truncated at 1000, not terminal");
    CHECK_NEAR(v.done[0].ret, ret, 1e-6 * (1.0 + fabs(ret)), "episode return");
    CHECK(v.envs[0].t == 0 && v.envs[0].d->time == 0.0, "auto-reset after truncation");
    vecenv_free(&v);
    vecenv_free(&w);

    /* instability: a huge velocity makes MuJoCo reset silently; the episode ends as unstable */
    for (int k = 0; k < N_LOCO; k++) {
        CHECK(vecenv_init(&v, refs[k].name, 1, 2, err, sizeof err) == 0, "%s", err);
        vecenv_reset(&v);
        v.envs[0].d->qvel[0] = 1e12;
        float a[8] = {0};
        vecenv_step(&v, a);
        CHECK(v.unstable[0] == 1 && v.term[0] == 0 && v.n_unstable == 1 && v.n_done == 1 &&
                  v.done[0].unstable,
              "%s instability counted and ends the episode", refs[k].name);
        vecenv_step(&v, a);
        CHECK(v.unstable[0] == 0 && v.n_unstable == 1, "%s next step normal", refs[k].name);
        vecenv_free(&v);
    }
}

int main(void) {
    log_set_level(LOG_ERROR); /* the instability test logs MuJoCo warnings */
    test_models();
    test_info();
    test_determinism();
    test_reward();
    test_bounds();
    test_reset_noise();
    test_episode();
    return check_report("test_locomotion");
}
