#include "learner/agent_ckpt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/ckpt.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"

/* the "layout" entry: one line "name offset shape" per view, e.g. "floq/dense0/kernel 0 2x88x512"
 */
static char *layout_text(const struct param_block *pb) {
    size_t cap = (size_t)pb->nviews * (PARAM_NAME_MAX + 24 * (PARAM_MAX_DIMS + 1)) + 1, k = 0;
    char *s = mem_alloc(cap);
    for (int i = 0; i < pb->nviews; i++) {
        const struct param_view *v = &pb->views[i];
        k += (size_t)snprintf(s + k, cap - k, "%s %zu ", v->name, v->off);
        for (int d = 0; d < v->ndim; d++) {
            k += (size_t)snprintf(s + k, cap - k, d ? "x%d" : "%d", v->shape[d]);
        }
        k += (size_t)snprintf(s + k, cap - k, "\n");
    }
    return s;
}

/* 0 when the layouts are the same; else -1 with "<first differing line of a> vs <of b>" */
static int layout_diff(const char *a, const char *b, char *why, size_t whysz) {
    while (*a || *b) {
        size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
        if (la != lb || memcmp(a, b, la) != 0) {
            seterr(why, whysz, "view \"%.*s\" vs \"%.*s\"", (int)FLOQ_MIN(la, 120), a,
                   (int)FLOQ_MIN(lb, 120), b);
            return -1;
        }
        a += la + (a[la] == '\n');
        b += lb + (b[lb] == '\n');
    }
    return 0;
}

/* the first non-finite value among the agent's arrays: 0, or -1 with "<array>[i] (<view>) is
 * <value>" in why */
static int agent_nonfinite(const struct agent *a, char *why, size_t whysz) {
    const struct {
        const char *name;
        const float *x;
        size_t n;
    } arr[] = {{"params", a->pb.w, a->pb.n},
               {"adam_m", a->pb.m, a->pb.n},
               {"adam_v", a->pb.v, a->pb.n},
               {"target", a->target, a->critic_end}};
    for (size_t k = 0; k < FLOQ_ARRAY_LEN(arr); k++) {
        size_t i = first_beyond(arr[k].x, arr[k].n, INFINITY);
        if (i < arr[k].n) {
            const struct param_view *v = param_view_at(&a->pb, i);
            seterr(why, whysz, "%s[%zu] (%s) is %g", arr[k].name, i, v ? v->name : "padding",
                   (double)arr[k].x[i]);
            return -1;
        }
    }
    return 0;
}

int agent_ckpt_save(const struct train_cfg *tc, const struct agent *a, const struct rng *sampler,
                    const struct rng *draws, uint64_t step, char *err, size_t errsz) {
    char why[256];
    if (agent_nonfinite(a, why, sizeof why)) {
        seterr(err, errsz,
               "checkpoint: not saving step %llu of %.300s: %s; the checkpoints already there "
               "are kept",
               (unsigned long long)step, tc->run_dir, why);
        return -1;
    }
    char dir[TRAIN_PATH_MAX + 32], path[TRAIN_PATH_MAX + 64];
    snprintf(dir, sizeof dir, "%s/checkpoints", tc->run_dir);
    mkdir(dir, 0777);
    if (ckpt_path(path, sizeof path, dir, step)) {
        seterr(err, errsz, "checkpoint path too long under %.200s", dir);
        return -1;
    }
    char *json = train_cfg_json(tc);
    if (!json) {
        seterr(err, errsz, "checkpoint: cannot format the config");
        return -1;
    }
    char *layout = layout_text(&a->pb);
    struct ckpt_writer w;
    ckpt_writer_init(&w);
    size_t np = a->pb.n, nt = a->critic_end;
    int rc = ckpt_put_str(&w, "config", json) || ckpt_put_str(&w, "agent", tc->agent) ||
             ckpt_put_u64(&w, "step", step) || ckpt_put_u64(&w, "update", (uint64_t)a->step) ||
             ckpt_put_u64(&w, "adam_count", (uint64_t)a->opt.count) ||
             ckpt_put_u64(&w, "obs_dim", (uint64_t)a->c.obs_dim) ||
             ckpt_put_u64(&w, "act_dim", (uint64_t)a->c.act_dim) ||
             ckpt_put_f64(&w, "r_min", a->c.r_min) || ckpt_put_f64(&w, "r_max", a->c.r_max) ||
             ckpt_put_str(&w, "layout", layout) || ckpt_put_f32(&w, "params", 1, &np, a->pb.w) ||
             ckpt_put_f32(&w, "adam_m", 1, &np, a->pb.m) ||
             ckpt_put_f32(&w, "adam_v", 1, &np, a->pb.v) ||
             ckpt_put_f32(&w, "target", 1, &nt, a->target) ||
             ckpt_put_bytes(&w, "rng_sampler", sampler, sizeof *sampler) ||
             ckpt_put_bytes(&w, "rng_draws", draws, sizeof *draws);
    if (rc) {
        seterr(err, errsz, "checkpoint: cannot build the entries");
    } else {
        rc = ckpt_save(&w, path, err, errsz);
    }
    ckpt_writer_free(&w);
    mem_free(layout);
    free(json);
    if (rc == 0) {
        log_info("checkpoint %s", path);
    }
    return rc ? -1 : 0;
}

/* the stored parameters must be the network the config builds: view by view when the file has
 * a layout, by count otherwise; checked before anything big is allocated */
static int check_layout(const struct ckpt *ck, const struct agent_cfg *ac, const char *path,
                        char *err, size_t errsz) {
    struct param_block pb;
    char why[512];
    if (agent_layout(ac, &pb, why, sizeof why)) {
        seterr(err, errsz, "%.300s: its config is not valid (%s); the checkpoint is damaged", path,
               why);
        return -1;
    }
    size_t want = param_mark(&pb);
    char *mine = layout_text(&pb);
    param_free(&pb);
    const char *stored;
    int rc = 0;
    if (ckpt_find(ck, "layout") && ckpt_get_str(ck, "layout", &stored, err, errsz) == 0 &&
        layout_diff(stored, mine, why, sizeof why)) {
        seterr(err, errsz,
               "%.300s: its parameters are not the network its config builds (%s: file vs "
               "config); the checkpoint is damaged or from another version",
               path, why);
        rc = -1;
    }
    mem_free(mine);
    int nd = 0;
    size_t shape[CKPT_MAX_DIMS];
    const float *pp;
    if (rc == 0 && ckpt_get_f32(ck, "params", &nd, shape, &pp, err, errsz)) {
        rc = -1;
    } else if (rc == 0 && (nd != 1 || shape[0] != want)) {
        seterr(err, errsz,
               "%.300s: params hold %zu floats but its config needs %zu; the checkpoint is "
               "damaged or from another version",
               path, nd == 1 ? shape[0] : 0, want);
        rc = -1;
    }
    return rc;
}

/* the training generators: an entry that is missing (a checkpoint of an older build) leaves
 * the run to fresh streams, with a warning; one that is present but not a generator state is
 * damage, and the load fails */
static int read_state(const struct ckpt *ck, uint64_t step, const char *path,
                      struct agent_ckpt_state *st, char *err, size_t errsz) {
    memset(st, 0, sizeof *st);
    st->step = step;
    static const char *const keys[2] = {"rng_sampler", "rng_draws"};
    struct rng *dst[2] = {&st->sampler, &st->draws};
    int *has[2] = {&st->has_sampler, &st->has_draws};
    for (int i = 0; i < 2; i++) {
        if (!ckpt_find(ck, keys[i])) {
            log_warn("%s has no %s entry (an older build wrote it): the resumed run draws from "
                     "fresh streams and is not bit-for-bit the uninterrupted one",
                     path, keys[i]);
            continue;
        }
        if (ckpt_get_bytes_exact(ck, keys[i], dst[i], sizeof *dst[i], err, errsz)) {
            return -1;
        }
        *has[i] = 1;
    }
    return 0;
}

int agent_ckpt_load(struct agent *a, struct train_cfg *tc, const char *path, int max_rows,
                    struct agent_ckpt_state *st, char *err, size_t errsz) {
    struct ckpt ck;
    if (ckpt_load(&ck, path, err, errsz)) {
        return -1;
    }
    const char *json, *agent;
    uint64_t od, ad, step = 0, cnt = 0, upd = 0;
    double rmin, rmax;
    int rc = -1;
    if (ckpt_get_str(&ck, "config", &json, err, errsz) ||
        ckpt_get_str(&ck, "agent", &agent, err, errsz) ||
        ckpt_get_u64(&ck, "obs_dim", &od, err, errsz) ||
        ckpt_get_u64(&ck, "act_dim", &ad, err, errsz) ||
        ckpt_get_f64(&ck, "r_min", &rmin, err, errsz) ||
        ckpt_get_f64(&ck, "r_max", &rmax, err, errsz) ||
        ckpt_get_u64(&ck, "step", &step, err, errsz) ||
        ckpt_get_u64(&ck, "update", &upd, err, errsz) ||
        ckpt_get_u64(&ck, "adam_count", &cnt, err, errsz) ||
        train_cfg_from_json(tc, json, err, errsz)) {
        goto out;
    }
    if (strcmp(agent, tc->agent) != 0) {
        seterr(err, errsz,
               "%.300s: the agent entry says %.20s, its config %.20s; the checkpoint "
               "is damaged",
               path, agent, tc->agent);
        goto out;
    }
    if (od < 1 || od > 65536 || ad < 1 || ad > 65536) {
        seterr(err, errsz,
               "%.300s: obs_dim %llu / act_dim %llu out of range; the checkpoint is damaged", path,
               (unsigned long long)od, (unsigned long long)ad);
        goto out;
    }
    tc->ac.obs_dim = (int)od, tc->ac.act_dim = (int)ad;
    tc->ac.r_min = (float)rmin, tc->ac.r_max = (float)rmax;
    struct agent_cfg ac = tc->ac;
    if (check_layout(&ck, &ac, path, err, errsz)) {
        goto out;
    }
    /* the parameters match the file, but batch and noise sizes could still ask for any amount
     * of scratch: bound what the config allocates by what a real checkpoint of that size needs */
    struct stat fst;
    uint64_t fbytes = stat(path, &fst) == 0 ? (uint64_t)fst.st_size : 0;
    uint64_t need = agent_init_bytes(&ac), cap = ((uint64_t)1 << 30) + 1024 * fbytes;
    if (need > cap) {
        seterr(err, errsz,
               "%.300s: its config (batch_size %d, noise_samples %d) would allocate %llu MiB, more "
               "than a %llu-byte checkpoint can need (at most %llu MiB); the checkpoint is "
               "damaged",
               path, ac.batch_size, ac.noise_samples, (unsigned long long)(need >> 20),
               (unsigned long long)fbytes, (unsigned long long)(cap >> 20));
        goto out;
    }
    int R = ac.kind == AGENT_FLOQ ? ac.noise_samples : 1;
    if (max_rows > ac.batch_size * R) {
        ac.batch_size = (max_rows + R - 1) / R;
    }
    if (agent_init(a, &ac, 0, err, errsz)) {
        goto out;
    }
    if (ckpt_get_f32_exact(&ck, "params", a->pb.n, a->pb.w, err, errsz) ||
        ckpt_get_f32_exact(&ck, "adam_m", a->pb.n, a->pb.m, err, errsz) ||
        ckpt_get_f32_exact(&ck, "adam_v", a->pb.n, a->pb.v, err, errsz) ||
        ckpt_get_f32_exact(&ck, "target", a->critic_end, a->target, err, errsz)) {
        agent_free(a);
        goto out;
    }
    char why[256];
    if (agent_nonfinite(a, why, sizeof why)) {
        seterr(err, errsz, "%.300s holds a non-finite value: %s; the checkpoint is damaged", path,
               why);
        agent_free(a);
        goto out;
    }
    a->opt.count = (long)cnt;
    a->step = (long)upd;
    if (st && read_state(&ck, step, path, st, err, errsz)) {
        agent_free(a);
        goto out;
    }
    rc = 0;
out:
    ckpt_free(&ck);
    return rc;
}

int agent_ckpt_restore(struct agent *a, const char *path, char *err, size_t errsz) {
    struct agent src;
    struct train_cfg tc;
    if (agent_ckpt_load(&src, &tc, path, 0, NULL, err, errsz)) {
        return -1;
    }
    char *mine = layout_text(&a->pb), *theirs = layout_text(&src.pb), why[512];
    int rc = 0;
    if (src.pb.n != a->pb.n) {
        seterr(err, errsz, "%s holds a different network (%zu parameters vs %zu)", path, src.pb.n,
               a->pb.n);
        rc = -2;
    } else if (layout_diff(theirs, mine, why, sizeof why)) {
        seterr(err, errsz, "%s holds a different network (%s: file vs this run)", path, why);
        rc = -2;
    } else {
        memcpy(a->pb.w, src.pb.w, sizeof(float) * a->pb.n);
        memcpy(a->pb.m, src.pb.m, sizeof(float) * a->pb.n);
        memcpy(a->pb.v, src.pb.v, sizeof(float) * a->pb.n);
        memcpy(a->target, src.target, sizeof(float) * a->critic_end);
        a->opt.count = src.opt.count;
    }
    MEM_FREE_ALL(mine, theirs);
    agent_free(&src);
    return rc;
}
