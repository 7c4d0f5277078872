/* pointmaze.c — OGBench pointmaze (ogbench/locomaze/maze.py + point.py, 1.2.1) on MuJoCo 2.2.2.
 *
 * obs = qpos = (x, y) (O = 2); action (A = 2) clipped to [-1,1] by env.c; one env step:
 * qpos += 0.2 a, qvel = 0, 5 x mj_step (dt 0.1 s; the two motors are never driven).
 * Reset: start = start-cell centre + U(-1,1) per axis, qvel = 0.1 N(0,1) (only visible in the
 * first row's qvel: step zeroes it), mj_forward. success = |qpos[0:2] - goal| <= 1.
 * Singletask (taskN): goal = exact goal-cell centre; success evaluated on the state *before* the
 * action (OGBench >= 1.2.0, success_timing='pre'), reward = success - 1, terminated = success.
 * Navigate (goal-conditioned): random task per episode, goal + U(-1,1), success on the state
 * after the action ('post'), reward = success, terminated = success.
 * Teleport maze: after the physics, within 1.5 of an inbound pad the point moves to a random
 * outbound pad; as in OGBench the obs returned for that step is the pre-teleport qpos.
 * Family state: e->fs[0..1] goal xy, e->fi[0] task id of the episode.
 */
#include "envs/pointmaze.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/mem.h"

#define PM_FRAME_SKIP 5
#define PM_XML_MAX    65536

#define PM_NAMES(m)                                                                                \
    "pointmaze-" m "-navigate-singletask-task1-v0",                                                \
        "pointmaze-" m "-navigate-singletask-task2-v0",                                            \
        "pointmaze-" m "-navigate-singletask-task3-v0",                                            \
        "pointmaze-" m "-navigate-singletask-task4-v0",                                            \
        "pointmaze-" m "-navigate-singletask-task5-v0", "pointmaze-" m "-navigate-singletask-v0",  \
        "pointmaze-" m "-navigate-v0"

static const char *const pm_names[] = {PM_NAMES("medium"), PM_NAMES("large"), PM_NAMES("giant"),
                                       PM_NAMES("teleport"), NULL};

struct pm_shared {
    const struct maze *mz;
    int task; /* 1..5 singletask, 0 navigate (goal-conditioned) */
};

static int pm_lookup(const char *name, struct env_info *info, int *variant) {
    int agent, maze, task;
    if (maze_parse_name(name, &agent, &maze, &task) || agent != 0) {
        return 0;
    }
    memset(info, 0, sizeof *info);
    snprintf(info->name, sizeof info->name, "%s", name);
    info->obs_dim = 2;
    info->act_dim = 2;
    info->max_steps = 1000;
    info->has_success = 1;
    info->dt = 0.02 * PM_FRAME_SKIP;
    info->frame_skip = PM_FRAME_SKIP;
    *variant = maze * 8 + task;
    return 1;
}

static int pm_init(struct env_shared *s, char *err, size_t errsz) {
    struct pm_shared *p = mem_alloc(sizeof *p);
    s->data = p;
    p->mz = maze_get((enum maze_type)(s->variant / 8));
    p->task = s->variant % 8;
    char *xml = mem_alloc(PM_XML_MAX);
    char model[64];
    snprintf(model, sizeof model, "pointmaze-%s", p->mz->name);
    int n = maze_point_xml(p->mz, xml, PM_XML_MAX);
    if (n < 0) {
        mem_free(xml);
        snprintf(err, errsz, "model %s: MJCF text longer than %d bytes", model, PM_XML_MAX);
        return -1;
    }
    s->m = mjutil_load_xml(model, xml, err, errsz);
    mem_free(xml);
    if (!s->m) {
        return -1;
    }
    if (s->m->nq != 2 || s->m->nv != 2) {
        snprintf(err, errsz, "model %s: nq %d nv %d, expected 2 and 2", model, s->m->nq, s->m->nv);
        return -1;
    }
    return 0;
}

static void pm_free(struct env_shared *s) {
    mem_free(s->data);
    s->data = NULL;
}

const struct maze *pointmaze_maze(const struct env_shared *s) {
    return ((const struct pm_shared *)s->data)->mz;
}

void pointmaze_set_goal(struct env *e, const double goal[2]) {
    e->fs[0] = goal[0];
    e->fs[1] = goal[1];
}

void pointmaze_goal(const struct env *e, double goal[2]) {
    goal[0] = e->fs[0];
    goal[1] = e->fs[1];
}

void pointmaze_reset_to(const struct env_shared *s, struct env *e, const double init_xy[2],
                        const double goal[2], float *obs) {
    mjData *d = e->d;
    mj_resetData(s->m, d);
    d->qpos[0] = init_xy[0];
    d->qpos[1] = init_xy[1];
    d->qvel[0] = 0.1 * (double)rng_normal(&e->rng);
    d->qvel[1] = 0.1 * (double)rng_normal(&e->rng);
    mj_forward(s->m, d);
    pointmaze_set_goal(e, goal);
    obs[0] = (float)d->qpos[0];
    obs[1] = (float)d->qpos[1];
}

/* cell centre + U(-1,1) per axis (OGBench add_noise: noise 1 x unit/4) */
static void noisy_centre(struct rng *r, int i, int j, double xy[2]) {
    maze_ij_to_xy(i, j, xy);
    xy[0] += (2.0 * rng_uniform_d(r) - 1.0) * MAZE_UNIT / 4;
    xy[1] += (2.0 * rng_uniform_d(r) - 1.0) * MAZE_UNIT / 4;
}

static void pm_reset(const struct env_shared *s, struct env *e, float *obs) {
    const struct pm_shared *p = s->data;
    int task = p->task ? p->task : 1 + (int)rng_below(&e->rng, MAZE_N_TASKS);
    const int *t = p->mz->task[task - 1];
    double init[2], goal[2];
    noisy_centre(&e->rng, t[0], t[1], init);
    if (p->task) {
        maze_ij_to_xy(t[2], t[3], goal);
    } else {
        noisy_centre(&e->rng, t[2], t[3], goal);
    }
    e->fi[0] = task;
    pointmaze_reset_to(s, e, init, goal, obs);
}

static int at_goal(const struct env *e) {
    double dx = e->d->qpos[0] - e->fs[0], dy = e->d->qpos[1] - e->fs[1];
    return sqrt(dx * dx + dy * dy) <= MAZE_POINT_TOL;
}

static void pm_step(const struct env_shared *s, struct env *e, const float *action, float *obs,
                    struct env_step *out) {
    const struct pm_shared *p = s->data;
    mjData *d = e->d;
    int success = 0;
    if (p->task) {
        success = at_goal(e); /* 'pre' */
    }
    d->qpos[0] += 0.2 * (double)action[0];
    d->qpos[1] += 0.2 * (double)action[1];
    d->qvel[0] = 0.0;
    d->qvel[1] = 0.0;
    for (int k = 0; k < PM_FRAME_SKIP; k++) {
        mj_step(s->m, d);
    }
    obs[0] = (float)d->qpos[0];
    obs[1] = (float)d->qpos[1];
    if (!p->task) {
        success = at_goal(e); /* 'post' */
    }
    /* teleport pads: checked after the step, obs stays pre-teleport (as OGBench) */
    const struct maze *mz = p->mz;
    for (int k = 0; k < mz->n_tele_in; k++) {
        double c[2];
        maze_ij_to_xy(mz->tele_in[k][0], mz->tele_in[k][1], c);
        double dx = d->qpos[0] - c[0], dy = d->qpos[1] - c[1];
        if (sqrt(dx * dx + dy * dy) <= 1.5) {
            int o = (int)rng_below(&e->rng, (uint64_t)mz->n_tele_out);
            maze_ij_to_xy(mz->tele_out[o][0], mz->tele_out[o][1], c);
            d->qpos[0] = c[0];
            d->qpos[1] = c[1];
            mj_forward(s->m, d);
            break;
        }
    }
    out->success = (float)success;
    out->reward = p->task ? (float)success - 1.0f : (float)success;
    out->term = (uint8_t)success;
}

const struct env_family env_family_pointmaze = {
    .name = "pointmaze",
    .names = pm_names,
    .lookup = pm_lookup,
    .init = pm_init,
    .free = pm_free,
    .reset = pm_reset,
    .step = pm_step,
};
