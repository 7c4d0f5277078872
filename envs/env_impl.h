/* env_impl.h — inside envs/: the family interface behind env.h, struct env, MuJoCo helpers.
 *
 * A family is one file (tiny.c, pointmaze.c, locomotion.c) that defines one
 *   const struct env_family env_family_NAME = {"NAME", names, lookup, init, free, reset, step};
 * and is listed in env_families[] (env.c). env.c owns everything generic:
 *   - name resolution (first family whose lookup() matches), the "valid: ..." message;
 *   - struct env_shared: fam->init() loads the model into s->m (mjutil_load_xml) and may put
 *     family state in s->data; env.c makes one mjData per env (e->d) when s->m != NULL, deletes
 *     the mjData and the model after fam->free();
 *   - per-env rng (rng_split(root, RNG_STREAM_ENV + i)), step counter, return, truncation at
 *     info.max_steps, action clipping to [-1,1] (the family sees clipped actions), auto-reset,
 *     and the instability check (MuJoCo warning counters BADQPOS/BADQVEL/BADQACC moved, or a
 *     non-finite qpos/qvel/obs/reward: the episode ends as unstable, not terminal).
 * So a family's step() only advances the physics and writes obs, reward, term, success of the
 * new state; reset() draws the initial state from e->rng and writes the first obs. Neither may
 * allocate. obs rows are float (E,O) rows of the vecenv (borrowed).
 *
 * Locomotion (locomotion.c, another author) is referenced here as env_family_locomotion.
 */
#ifndef FLOQ_ENV_IMPL_H
#define FLOQ_ENV_IMPL_H

#include <stdint.h>

#include <mujoco/mujoco.h>

#include "envs/env.h"
#include "common/rng.h"

#define ENV_FS_N 8 /* doubles of small per-env family state */
#define ENV_FI_N 4 /* ints of small per-env family state */

/* one environment of a vecenv */
struct env {
    struct rng rng;      /* this env's stream; families draw reset noise from it */
    mjData *d;           /* owned by env.c; NULL for non-MuJoCo families */
    int t;               /* steps taken in the current episode (env.c) */
    double ret;          /* return of the current episode (env.c) */
    double fs[ENV_FS_N]; /* family state (tiny: x, v; pointmaze: goal x, y; ...) */
    int fi[ENV_FI_N];    /* family state (integers) */
};

/* state shared by the E envs of one vecenv (v->impl points to it) */
struct env_shared {
    const struct env_family *fam; /* borrowed (static) */
    struct env_info info;         /* as resolved by fam->lookup */
    int variant;                  /* family-private code from fam->lookup (model, maze, task) */
    mjModel *m;                   /* set by fam->init for MuJoCo families; deleted by env.c */
    void *data;                   /* family-private shared state, owned by the family */
    float *act;                   /* (E,A) clipped actions of the current step (env.c) */
};

/* what a family's step reports about the new state */
struct env_step {
    float reward;
    uint8_t term;  /* true termination (mask = 1 - term) */
    float success; /* success flag of the new state (0 when the task has none) */
};

struct env_family {
    const char *name;         /* "pointmaze", for messages */
    const char *const *names; /* NULL-terminated canonical env names (static) */
    /* 1 if name belongs to this family: fills info (all fields) and *variant; else 0 */
    int (*lookup)(const char *name, struct env_info *info, int *variant);
    /* shared init for s->variant: s->m (MuJoCo families, via mjutil_load_xml), s->data;
     * 0, or -1 with one line in err (env.c then calls free). NULL = nothing to do */
    int (*init)(struct env_shared *s, char *err, size_t errsz);
    /* frees s->data (not s->m); safe on a half-built s. NULL = nothing to do */
    void (*free)(struct env_shared *s);
    /* new episode: state from e->rng (e->d already made, not reset), first obs (O) */
    void (*reset)(const struct env_shared *s, struct env *e, float *obs);
    /* one env step with a clipped action (A): advance, write obs (O) of the new state, *out */
    void (*step)(const struct env_shared *s, struct env *e, const float *action, float *obs,
                 struct env_step *out);
};

/* the registry (env.c): every family, in name-listing order */
extern const struct env_family *const env_families[];
extern const int env_n_families;

extern const struct env_family env_family_tiny;
extern const struct env_family env_family_pointmaze;
extern const struct env_family env_family_locomotion; /* locomotion.c */

/* the vecenv's shared state (v->impl) */
static inline const struct env_shared *env_shared_of(const struct vecenv *v) {
    return (const struct env_shared *)v->impl;
}

/* ---- MuJoCo helpers (mjutil.c) ----------------------------------------------------------- */

/* installs the error/warning handlers once per process (idempotent; called by every load) and
 * checks the header version against the library: 0, or -1 with a message */
int mjutil_init(char *err, size_t errsz);
/* compiles MJCF text held in memory through a heap-allocated mjVFS ("name.xml"); NULL with
 * "model NAME: <MuJoCo's message>" in err */
mjModel *mjutil_load_xml(const char *name, const char *xml, char *err, size_t errsz);
/* mj_makeData; NULL with a message if MuJoCo raised an error (the error handler longjmps back) */
mjData *mjutil_make_data(const mjModel *m, const char *name, char *err, size_t errsz);

/* the three instability counters before a step */
struct mjutil_warn {
    int n[3]; /* d->warning[mjWARN_BADQPOS, BADQVEL, BADQACC].number */
};
void mjutil_warn_save(const mjData *d, struct mjutil_warn *w);
/* 1 if a counter moved since w (MuJoCo silently reset the data) or qpos/qvel is not finite */
int mjutil_unstable(const mjModel *m, const mjData *d, const struct mjutil_warn *w);
/* 1 if every qpos and qvel is finite */
int mjutil_finite(const mjModel *m, const mjData *d);
/* MuJoCo warnings seen by the handler so far in this process */
uint64_t mjutil_warning_count(void);

/* doubles → floats */
static inline void env_copy_obs(float *dst, const double *src, int n) {
    for (int i = 0; i < n; i++) {
        dst[i] = (float)src[i];
    }
}

#endif
