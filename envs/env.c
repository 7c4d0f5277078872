/* env.c — env registry, name resolution and the vectorised env (see env.h, env_impl.h). */
#include "envs/env.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "envs/env_impl.h"

const struct env_family *const env_families[] = {
    &env_family_tiny,
    &env_family_pointmaze,
    &env_family_locomotion,
};
const int env_n_families = (int)FLOQ_ARRAY_LEN(env_families);

#define ENV_MAX_NAMES 256

const char *const *env_names(void) {
    static const char *names[ENV_MAX_NAMES + 1];
    int n = 0;
    for (int f = 0; f < env_n_families; f++) {
        for (const char *const *p = env_families[f]->names; *p && n < ENV_MAX_NAMES; p++) {
            names[n++] = *p;
        }
    }
    names[n] = NULL;
    return names;
}

static const struct env_family *resolve(const char *name, struct env_info *info, int *variant) {
    for (int f = 0; f < env_n_families; f++) {
        if (env_families[f]->lookup(name, info, variant)) {
            return env_families[f];
        }
    }
    return NULL;
}

/* "unknown env NAME (did you mean X?); valid: a, b, ..." */
static void unknown_name(const char *name, char *err, size_t errsz) {
    const char *const *names = env_names();
    int n = 0;
    while (names[n]) {
        n++;
    }
    int c = closest_name(name, names, n);
    size_t len = (size_t)snprintf(err, errsz, "unknown env %s%s%s%s; valid:", name,
                                  c >= 0 ? " (did you mean " : "", c >= 0 ? names[c] : "",
                                  c >= 0 ? "?)" : "");
    for (int i = 0; i < n && len < errsz; i++) {
        len += (size_t)snprintf(err + len, errsz - len, "%s %s", i ? "," : "", names[i]);
    }
}

int env_lookup(const char *name, struct env_info *info, char *err, size_t errsz) {
    int variant;
    if (!name || !resolve(name, info, &variant)) {
        unknown_name(name ? name : "(null)", err, errsz);
        return -1;
    }
    return 0;
}

double env_normalized_score(const struct env_info *info, double ret) {
    if (info->ref_max == info->ref_min) {
        return NAN;
    }
    return 100.0 * (ret - info->ref_min) / (info->ref_max - info->ref_min);
}

int vecenv_init(struct vecenv *v, const char *name, int E, uint64_t seed, char *err, size_t errsz) {
    memset(v, 0, sizeof *v);
    struct env_info info;
    int variant = 0;
    const struct env_family *fam = name ? resolve(name, &info, &variant) : NULL;
    if (!fam) {
        unknown_name(name ? name : "(null)", err, errsz);
        return -1;
    }
    if (E < 1) {
        snprintf(err, errsz, "vecenv %s: E = %d envs; need at least 1", name, E);
        return -1;
    }
    int O = info.obs_dim, A = info.act_dim;
    v->E = E;
    v->O = O;
    v->A = A;
    v->info = info;
    struct env_shared *s = mem_alloc(sizeof *s);
    v->impl = s;
    s->fam = fam;
    s->info = info;
    s->variant = variant;
    s->act = mem_alloc((size_t)E * (size_t)A * sizeof(float));
    v->envs = mem_alloc((size_t)E * sizeof(struct env));
    v->obs = mem_alloc((size_t)E * (size_t)O * sizeof(float));
    v->next_obs = mem_alloc((size_t)E * (size_t)O * sizeof(float));
    v->rew = mem_alloc((size_t)E * sizeof(float));
    v->term = mem_alloc((size_t)E);
    v->trunc = mem_alloc((size_t)E);
    v->unstable = mem_alloc((size_t)E);
    v->success = mem_alloc((size_t)E * sizeof(float));
    v->done = mem_alloc((size_t)E * sizeof(struct env_episode));
    if (fam->init && fam->init(s, err, errsz)) {
        goto fail;
    }
    struct rng root;
    rng_seed(&root, seed);
    for (int i = 0; i < E; i++) {
        struct env *e = &v->envs[i];
        e->rng = rng_split(&root, RNG_STREAM_ENV + (uint64_t)i);
        if (s->m) {
            e->d = mjutil_make_data(s->m, info.name, err, errsz);
            if (!e->d) {
                goto fail;
            }
        }
    }
    return 0;
fail:
    vecenv_free(v);
    return -1;
}

void vecenv_reset(struct vecenv *v) {
    struct env_shared *s = v->impl;
    v->n_done = 0;
    for (int i = 0; i < v->E; i++) {
        struct env *e = &v->envs[i];
        e->t = 0;
        e->ret = 0.0;
        s->fam->reset(s, e, v->obs + (size_t)i * v->O);
    }
}

/* clip to [-1,1]; NaN becomes 0 */
static void clip_actions(float *dst, const float *src, size_t n) {
    for (size_t k = 0; k < n; k++) {
        float a = src[k];
        dst[k] = a != a ? 0.0f : clampf(a, -1.0f, 1.0f);
    }
}

void vecenv_step(struct vecenv *v, const float *actions) {
    struct env_shared *s = v->impl;
    const int O = v->O, A = v->A;
    clip_actions(s->act, actions, (size_t)v->E * (size_t)A);
    v->n_done = 0;
    for (int i = 0; i < v->E; i++) {
        struct env *e = &v->envs[i];
        float *nobs = v->next_obs + (size_t)i * O;
        struct env_step out = {0};
        struct mjutil_warn w;
        if (e->d) {
            mjutil_warn_save(e->d, &w);
        }
        s->fam->step(s, e, s->act + (size_t)i * A, nobs, &out);
        int bad = (e->d && mjutil_unstable(s->m, e->d, &w)) || !isfinite(out.reward) ||
                  !all_finite(nobs, (size_t)O);
        e->t++;
        v->steps++;
        if (bad) {
            /* an unstable transition is no real transition: zero it, end the episode */
            for (int k = 0; k < O; k++) {
                nobs[k] = isfinite(nobs[k]) ? nobs[k] : 0.0f;
            }
            out.reward = isfinite(out.reward) ? out.reward : 0.0f;
            out.term = 0;
            v->n_unstable++;
            if (v->n_unstable <= 10 || v->n_unstable % 1000 == 0) {
                log_warn("env %s[%d]: unstable simulation at episode step %d (%llu so far); "
                         "episode reset",
                         v->info.name, i, e->t, (unsigned long long)v->n_unstable);
            }
        }
        e->ret += (double)out.reward;
        v->rew[i] = out.reward;
        v->term[i] = out.term;
        v->success[i] = out.success;
        v->unstable[i] = (uint8_t)bad;
        v->trunc[i] = (uint8_t)(!bad && e->t >= v->info.max_steps);
        float *obs = v->obs + (size_t)i * O;
        if (bad || out.term || v->trunc[i]) {
            struct env_episode *ep = &v->done[v->n_done++];
            ep->ret = e->ret;
            ep->len = e->t;
            ep->success = out.success != 0.0f;
            ep->unstable = bad;
            e->t = 0;
            e->ret = 0.0;
            s->fam->reset(s, e, obs);
        } else {
            memcpy(obs, nobs, (size_t)O * sizeof(float));
        }
    }
}

void vecenv_free(struct vecenv *v) {
    struct env_shared *s = v->impl;
    if (v->envs) {
        for (int i = 0; i < v->E; i++) {
            if (v->envs[i].d) {
                mj_deleteData(v->envs[i].d);
            }
        }
    }
    if (s) {
        if (s->fam && s->fam->free) {
            s->fam->free(s);
        }
        if (s->m) {
            mj_deleteModel(s->m);
        }
        mem_free(s->act);
        mem_free(s);
    }
    MEM_FREE_ALL(v->envs, v->obs, v->next_obs, v->rew, v->term, v->trunc, v->unstable, v->success,
                 v->done);
    memset(v, 0, sizeof *v);
}

const mjModel *vecenv_model(const struct vecenv *v) {
    return env_shared_of(v)->m;
}
