/* locomotion.c — Gym MuJoCo v4 Hopper, Walker2d, HalfCheetah and Ant on MuJoCo 2.2.2.
 *
 * Per Gymnasium's hopper_v4.py, walker2d_v4.py, half_cheetah_v4.py and ant_v4.py with default
 * kwargs (envs-facts.md A.1; docs/envs-locomotion.md):
 *   step:   ctrl = a (clipped to [-1,1] by env.c), frame_skip x mj_step, then on the new state
 *           reward = (x' - x) / dt - w_ctrl sum(a^2) + healthy_reward, obs, terminated = !healthy.
 *           x is qpos[0], except Ant: torso xpos read straight after the loop (no mj_forward).
 *           v4 pays healthy_reward on every step (is_healthy or terminate_when_unhealthy).
 *   obs:    qpos without x (Ant: without x, y), then qvel (Hopper/Walker: clipped to +-10).
 *   reset:  mj_resetData, qpos = qpos0 + U(-c,c), qvel = U(-c,c) (Hopper/Walker) or c N(0,1)
 *           (HalfCheetah/Ant), mj_forward.
 * env.c does the 1000-step truncation, auto-reset and instability check.
 */
#include "envs/locomotion.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "envs/models_loco.h"

#define LOCO_TORSO 1 /* body id of the torso in all four models (checked at init) */

struct loco_spec {
    const char *name;
    const char *xml;
    double timestep; /* must equal the model's opt.timestep */
    int frame_skip;
    int nq, nv, nu, nbody;
    int obs_dim;
    int pos_skip;    /* leading qpos entries left out of obs */
    double vel_clip; /* |qvel| clip in obs; 0 = none */
    double ctrl_w;   /* ctrl cost weight */
    double healthy;  /* healthy reward, paid every step (0: none) */
    double noise;    /* reset noise scale c */
    int vel_normal;  /* qvel noise c N(0,1) instead of U(-c,c) */
    double ref_min, ref_max;
};

/* indexed by enum locomotion_kind */
static const struct loco_spec specs[] = {
    {"Hopper-v4", models_loco_hopper_xml, 0.002, 4, 6, 6, 3, 5, 11, 1, 10.0, 1e-3, 1.0, 5e-3, 0,
     -20.272305, 3234.3},
    {"Walker2d-v4", models_loco_walker2d_xml, 0.002, 4, 9, 9, 6, 8, 17, 1, 10.0, 1e-3, 1.0, 5e-3, 0,
     1.629008, 4592.3},
    {"HalfCheetah-v4", models_loco_halfcheetah_xml, 0.01, 5, 9, 9, 6, 8, 17, 1, 0.0, 0.1, 0.0, 0.1,
     1, -280.178953, 12135.0},
    {"Ant-v4", models_loco_ant_xml, 0.01, 5, 15, 14, 8, 14, 27, 2, 0.0, 0.5, 1.0, 0.1, 1, -325.6,
     3879.7},
};

static const char *const loco_names[] = {"Hopper-v4", "Walker2d-v4", "HalfCheetah-v4", "Ant-v4",
                                         NULL};

static int loco_lookup(const char *name, struct env_info *info, int *variant) {
    for (int k = 0; k < (int)(sizeof specs / sizeof specs[0]); k++) {
        const struct loco_spec *sp = &specs[k];
        if (strcmp(name, sp->name) != 0) {
            continue;
        }
        memset(info, 0, sizeof *info);
        snprintf(info->name, sizeof info->name, "%s", sp->name);
        info->obs_dim = sp->obs_dim;
        info->act_dim = sp->nu;
        info->max_steps = 1000;
        info->has_success = 0;
        info->ref_min = sp->ref_min;
        info->ref_max = sp->ref_max;
        info->dt = sp->timestep * sp->frame_skip;
        info->frame_skip = sp->frame_skip;
        *variant = k;
        return 1;
    }
    return 0;
}

/* loads the model and checks it is the one the spec describes */
static int loco_init(struct env_shared *s, char *err, size_t errsz) {
    const struct loco_spec *sp = &specs[s->variant];
    s->m = mjutil_load_xml(sp->name, sp->xml, err, errsz);
    if (!s->m) {
        return -1;
    }
    const mjModel *m = s->m;
    if (m->nq != sp->nq || m->nv != sp->nv || m->nu != sp->nu || m->nbody != sp->nbody ||
        m->opt.timestep != sp->timestep || mj_name2id(m, mjOBJ_BODY, "torso") != LOCO_TORSO) {
        snprintf(err, errsz,
                 "model %s: nq %d nv %d nu %d nbody %d timestep %g torso %d; expected %d %d %d %d "
                 "%g %d (envs/models_loco.c is out of step with envs/locomotion.c)",
                 sp->name, m->nq, m->nv, m->nu, m->nbody, m->opt.timestep,
                 mj_name2id(m, mjOBJ_BODY, "torso"), sp->nq, sp->nv, sp->nu, sp->nbody,
                 sp->timestep, LOCO_TORSO);
        return -1;
    }
    return 0;
}

enum locomotion_kind locomotion_kind_of(const struct env_shared *s) {
    return (enum locomotion_kind)s->variant;
}

/* each comparison is written so that NaN fails it */
int locomotion_is_healthy(const struct env_shared *s, const mjData *d) {
    const mjModel *m = s->m;
    switch (locomotion_kind_of(s)) {
        case LOCOMOTION_HOPPER: {
            double z = d->qpos[1], ang = d->qpos[2];
            if (!(z > 0.7 && z < HUGE_VAL && ang > -0.2 && ang < 0.2)) {
                return 0;
            }
            /* state_vector()[2:]: qpos[2..], qvel[..] strictly inside (-100, 100) */
            for (int i = 2; i < m->nq; i++) {
                if (!(d->qpos[i] > -100.0 && d->qpos[i] < 100.0)) {
                    return 0;
                }
            }
            for (int i = 0; i < m->nv; i++) {
                if (!(d->qvel[i] > -100.0 && d->qvel[i] < 100.0)) {
                    return 0;
                }
            }
            return 1;
        }
        case LOCOMOTION_WALKER2D: {
            double z = d->qpos[1], ang = d->qpos[2];
            return z > 0.8 && z < 2.0 && ang > -1.0 && ang < 1.0;
        }
        case LOCOMOTION_HALFCHEETAH:
            return 1;
        case LOCOMOTION_ANT:
            return mjutil_finite(m, d) && d->qpos[2] >= 0.2 && d->qpos[2] <= 1.0;
    }
    return 0;
}

static void loco_obs(const struct loco_spec *sp, const mjData *d, float *obs) {
    int o = 0;
    for (int i = sp->pos_skip; i < sp->nq; i++) {
        obs[o++] = (float)d->qpos[i];
    }
    for (int i = 0; i < sp->nv; i++) {
        double v = d->qvel[i];
        if (sp->vel_clip > 0.0) {
            v = v < -sp->vel_clip ? -sp->vel_clip : (v > sp->vel_clip ? sp->vel_clip : v);
        }
        obs[o++] = (float)v;
    }
}

static void loco_reset(const struct env_shared *s, struct env *e, float *obs) {
    const struct loco_spec *sp = &specs[s->variant];
    const mjModel *m = s->m;
    mjData *d = e->d;
    const double c = sp->noise;
    mj_resetData(m, d);
    for (int i = 0; i < m->nq; i++) {
        d->qpos[i] = m->qpos0[i] + (-c + 2.0 * c * rng_uniform_d(&e->rng));
    }
    for (int i = 0; i < m->nv; i++) {
        d->qvel[i] = sp->vel_normal ? c * (double)rng_normal(&e->rng)
                                    : -c + 2.0 * c * rng_uniform_d(&e->rng);
    }
    mj_forward(m, d);
    loco_obs(sp, d, obs);
}

/* forward position: qpos[0], or Ant's torso xpos as left by mj_step (pitfall 7) */
static double forward_x(const struct env_shared *s, const mjData *d) {
    return locomotion_kind_of(s) == LOCOMOTION_ANT ? d->xpos[3 * LOCO_TORSO] : d->qpos[0];
}

static void loco_step(const struct env_shared *s, struct env *e, const float *action, float *obs,
                      struct env_step *out) {
    const struct loco_spec *sp = &specs[s->variant];
    const mjModel *m = s->m;
    mjData *d = e->d;
    double sumsq = 0.0;
    for (int u = 0; u < sp->nu; u++) {
        double a = (double)action[u];
        d->ctrl[u] = a;
        sumsq += a * a;
    }
    double x0 = forward_x(s, d);
    for (int k = 0; k < sp->frame_skip; k++) {
        mj_step(m, d);
    }
    double x1 = forward_x(s, d);
    double reward = (x1 - x0) / s->info.dt - sp->ctrl_w * sumsq + sp->healthy;
    loco_obs(sp, d, obs);
    out->reward = (float)reward;
    out->term = (uint8_t)!locomotion_is_healthy(s, d);
    out->success = 0.0f;
}

const struct env_family env_family_locomotion = {
    .name = "locomotion",
    .names = loco_names,
    .lookup = loco_lookup,
    .init = loco_init,
    .free = NULL,
    .reset = loco_reset,
    .step = loco_step,
};
