/* tool_ckpt — looks into and edits checkpoints for the CLI tests (a valid file comes out:
 * entries are rewritten through common/ckpt, so the CRCs match).
 *   tool_ckpt hash FILE                 one line per float array: "name count crc32" of its
 *                                       bytes (two runs with identical parameters print the
 *                                       same lines)
 *   tool_ckpt diff FILE OTHER           one line per float array of both: "name count maxabs
 *                                       maxrel", the largest |a - b| and the largest
 *                                       |a - b| / max(|a|, |b|, 1e-3); exit 1 when an array
 *                                       is missing from OTHER or differs in size
 *   tool_ckpt poison FILE KEY [I]       float I (default 0) of array KEY becomes NaN
 *   tool_ckpt config FILE KEY VALUE     "KEY": "VALUE" in the stored config JSON
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ckpt.h"
#include "common/mem.h"

/* src's entries into w (the F32 data borrowed from src), with entry `key` replaced by the
 * string s when s is not NULL */
static void copy_entries(struct ckpt_writer *w, const struct ckpt *c, const char *key,
                         const char *s) {
    for (size_t i = 0; i < c->n; i++) {
        const struct ckpt_entry *e = &c->entries[i];
        if (s && strcmp(e->key, key) == 0) {
            ckpt_put_str(w, key, s);
        } else if (e->kind == CKPT_STR) {
            ckpt_put_str(w, e->key, e->data);
        } else if (e->kind == CKPT_UINT) {
            ckpt_put_u64(w, e->key, e->u);
        } else if (e->kind == CKPT_INT) {
            ckpt_put_i64(w, e->key, e->i);
        } else if (e->kind == CKPT_F64) {
            ckpt_put_f64(w, e->key, e->f);
        } else if (e->kind == CKPT_F32) {
            ckpt_put_f32(w, e->key, e->ndim, e->shape, e->data);
        } else {
            ckpt_put_bytes(w, e->key, e->data, e->count);
        }
    }
}

/* the config JSON with "key": "value" replaced (the flat one-pair-per-line form) */
static char *set_json(const char *json, const char *key, const char *value) {
    char pat[300];
    snprintf(pat, sizeof pat, "\"%s\": \"", key);
    const char *p = strstr(json, pat);
    if (!p) {
        return NULL;
    }
    const char *v = p + strlen(pat), *q = strchr(v, '"');
    if (!q) {
        return NULL;
    }
    size_t n = (size_t)(v - json) + strlen(value) + strlen(q) + 1;
    char *out = mem_alloc(n);
    snprintf(out, n, "%.*s%s%s", (int)(v - json), json, value, q);
    return out;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: tool_ckpt hash|diff|poison|config FILE ...\n");
        return 2;
    }
    const char *mode = argv[1], *path = argv[2];
    char err[1024];
    struct ckpt c;
    if (ckpt_load(&c, path, err, sizeof err)) {
        fprintf(stderr, "tool_ckpt: %s\n", err);
        return 1;
    }
    int rc = 0;
    if (strcmp(mode, "hash") == 0) {
        for (size_t i = 0; i < c.n; i++) {
            const struct ckpt_entry *e = &c.entries[i];
            if (e->kind == CKPT_F32) {
                printf("%s %zu %08x\n", e->key, e->count,
                       ckpt_crc32(0, e->data, e->count * sizeof(float)));
            }
        }
        ckpt_free(&c);
        return 0;
    }
    if (strcmp(mode, "diff") == 0 && argc >= 4) {
        struct ckpt o;
        if (ckpt_load(&o, argv[3], err, sizeof err)) {
            fprintf(stderr, "tool_ckpt: %s\n", err);
            ckpt_free(&c);
            return 1;
        }
        for (size_t i = 0; i < c.n; i++) {
            const struct ckpt_entry *e = &c.entries[i], *f = ckpt_find(&o, e->key);
            if (e->kind != CKPT_F32) {
                continue;
            }
            if (!f || f->kind != CKPT_F32 || f->count != e->count) {
                fprintf(stderr, "tool_ckpt: %s: '%s' missing or of another size\n", argv[3],
                        e->key);
                rc = 1;
                continue;
            }
            const float *a = e->data, *b = f->data;
            double mabs = 0, mrel = 0;
            for (size_t k = 0; k < e->count; k++) {
                double d = fabs((double)a[k] - b[k]);
                double m = fmax(fmax(fabs((double)a[k]), fabs((double)b[k])), 1e-3);
                mabs = fmax(mabs, d), mrel = fmax(mrel, d / m);
            }
            printf("%s %zu %.3g %.3g\n", e->key, e->count, mabs, mrel);
        }
        ckpt_free(&o);
        ckpt_free(&c);
        return rc;
    }
    struct ckpt_writer w;
    ckpt_writer_init(&w);
    char *json = NULL;
    if (strcmp(mode, "poison") == 0 && argc >= 4) {
        size_t at = argc > 4 ? strtoull(argv[4], NULL, 10) : 0;
        const struct ckpt_entry *e = ckpt_find(&c, argv[3]);
        if (!e || e->kind != CKPT_F32 || at >= e->count) {
            fprintf(stderr, "tool_ckpt: %s has no float %zu in '%s'\n", path, at, argv[3]);
            rc = 1;
        } else {
            ((float *)e->owned)[at] = NAN;
            copy_entries(&w, &c, NULL, NULL);
        }
    } else if (strcmp(mode, "config") == 0 && argc >= 5) {
        const struct ckpt_entry *e = ckpt_find(&c, "config");
        json = e && e->kind == CKPT_STR ? set_json(e->data, argv[3], argv[4]) : NULL;
        if (!json) {
            fprintf(stderr, "tool_ckpt: %s: no config key '%s'\n", path, argv[3]);
            rc = 1;
        } else {
            copy_entries(&w, &c, "config", json);
        }
    } else {
        fprintf(stderr, "tool_ckpt: unknown mode or missing arguments\n");
        rc = 2;
    }
    if (rc == 0 && ckpt_save(&w, path, err, sizeof err)) {
        fprintf(stderr, "tool_ckpt: %s\n", err);
        rc = 1;
    }
    ckpt_writer_free(&w);
    mem_free(json);
    ckpt_free(&c);
    return rc;
}
