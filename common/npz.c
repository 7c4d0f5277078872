/* npz.c — the .npy / .npz readers of npz.h (writing is in npz_write.c) */
#include "common/npz.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zip.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"

/* largest .npy header we accept (numpy itself refuses more than 10000 bytes by default) */
#define NPY_MAX_HEADER (1u << 20)
/* deflate cannot expand data by more than ~1032x; a bigger claim is a corrupt directory */
#define NPZ_MAX_RATIO 1100u

static const struct {
    const char *descr;
    size_t size;
} dtypes[] = {
    [NPY_F4] = {"<f4", 4}, [NPY_F8] = {"<f8", 8}, [NPY_I4] = {"<i4", 4},
    [NPY_I8] = {"<i8", 8}, [NPY_U1] = {"|u1", 1}, [NPY_B1] = {"|b1", 1},
};

size_t npy_dtype_size(enum npy_dtype t) {
    return (unsigned)t < sizeof dtypes / sizeof dtypes[0] ? dtypes[t].size : 0;
}

const char *npy_dtype_descr(enum npy_dtype t) {
    return (unsigned)t < sizeof dtypes / sizeof dtypes[0] ? dtypes[t].descr : "?";
}

/* ---- header dict parsing ------------------------------------------------------------------ */

struct npy_header {
    char descr[32];
    int have_descr, have_fortran, have_shape, fortran;
    int ndim;
    int64_t shape[NPY_MAX_DIMS];
};

struct cursor {
    const char *s;
    size_t n, i;
};

static void skip_ws(struct cursor *c) {
    while (c->i < c->n &&
           (c->s[c->i] == ' ' || c->s[c->i] == '\t' || c->s[c->i] == '\n' || c->s[c->i] == '\r')) {
        c->i++;
    }
}

static int peek(const struct cursor *c) {
    return c->i < c->n ? (unsigned char)c->s[c->i] : -1;
}

/* a quoted python string without escapes into out[0..cap) */
static int parse_str(struct cursor *c, char *out, size_t cap) {
    int q = peek(c);
    if (q != '\'' && q != '"') {
        return -1;
    }
    c->i++;
    size_t k = 0;
    while (c->i < c->n && c->s[c->i] != q) {
        if (c->s[c->i] == '\\' || k + 1 >= cap) {
            return -1;
        }
        out[k++] = c->s[c->i++];
    }
    if (c->i >= c->n) {
        return -1;
    }
    c->i++;
    out[k] = 0;
    return 0;
}

static int parse_word(struct cursor *c, const char *w) {
    size_t l = strlen(w);
    if (c->n - c->i < l || memcmp(c->s + c->i, w, l) != 0) {
        return -1;
    }
    c->i += l;
    return 0;
}

/* "(a, b, )" or "()" or "(n,)"; ints may carry python 2's "L" */
static int parse_shape(struct cursor *c, struct npy_header *h, const char **why) {
    *why = "shape is not a tuple of non-negative integers";
    if (peek(c) != '(') {
        return -1;
    }
    c->i++;
    h->ndim = 0;
    for (;;) {
        skip_ws(c);
        if (peek(c) == ')') {
            c->i++;
            return 0;
        }
        if (peek(c) < '0' || peek(c) > '9') {
            return -1;
        }
        if (h->ndim >= NPY_MAX_DIMS) {
            *why = "shape has more than 8 dimensions";
            return -1;
        }
        int64_t v = 0;
        while (peek(c) >= '0' && peek(c) <= '9') {
            if (v > (INT64_MAX - 9) / 10) {
                *why = "shape dimension overflows int64";
                return -1;
            }
            v = v * 10 + (peek(c) - '0');
            c->i++;
        }
        if (peek(c) == 'L') {
            c->i++;
        }
        h->shape[h->ndim++] = v;
        skip_ws(c);
        if (peek(c) == ',') {
            c->i++;
        } else if (peek(c) != ')') {
            return -1;
        }
    }
}

static int parse_header(const char *s, size_t n, struct npy_header *h, const char **why) {
    struct cursor c = {s, n, 0};
    memset(h, 0, sizeof *h);
    *why = "header is not a python dict literal";
    skip_ws(&c);
    if (peek(&c) != '{') {
        return -1;
    }
    c.i++;
    for (;;) {
        skip_ws(&c);
        if (peek(&c) == '}') {
            c.i++;
            break;
        }
        char key[32];
        if (parse_str(&c, key, sizeof key)) {
            return -1;
        }
        skip_ws(&c);
        if (peek(&c) != ':') {
            return -1;
        }
        c.i++;
        skip_ws(&c);
        if (strcmp(key, "descr") == 0) {
            if (peek(&c) == '[') {
                *why = "structured dtype (descr is a list); only plain numeric arrays are read";
                return -1;
            }
            if (parse_str(&c, h->descr, sizeof h->descr)) {
                *why = "descr is not a short string";
                return -1;
            }
            h->have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0) {
            if (parse_word(&c, "False") == 0) {
                h->fortran = 0;
            } else if (parse_word(&c, "True") == 0) {
                h->fortran = 1;
            } else {
                *why = "fortran_order is neither True nor False";
                return -1;
            }
            h->have_fortran = 1;
        } else if (strcmp(key, "shape") == 0) {
            if (parse_shape(&c, h, why)) {
                return -1;
            }
            h->have_shape = 1;
        } else {
            *why = "header has a key other than descr, fortran_order, shape";
            return -1;
        }
        skip_ws(&c);
        if (peek(&c) == ',') {
            c.i++;
        } else if (peek(&c) != '}') {
            return -1;
        }
    }
    skip_ws(&c);
    if (c.i != c.n) {
        *why = "junk after the header dict";
        return -1;
    }
    if (!h->have_descr || !h->have_fortran || !h->have_shape) {
        *why = "header lacks one of descr, fortran_order, shape";
        return -1;
    }
    return 0;
}

/* maps a descr to a dtype; -1 with a reason */
static int parse_descr(const char *d, enum npy_dtype *t, char *why, size_t whysz) {
    const char *full = d;
    char order = '|';
    if (*d == '<' || *d == '>' || *d == '|' || *d == '=') {
        order = *d++;
    }
    char kind = d[0];
    if (kind && strchr("USOVaMmc", kind)) {
        snprintf(why, whysz,
                 "dtype '%s' is not numeric (strings, objects, dates and complex "
                 "are not read)",
                 full);
        return -1;
    }
    char *end;
    long size = kind ? strtol(d + 1, &end, 10) : 0;
    if (!kind || end == d + 1 || *end != 0) {
        snprintf(why, whysz, "dtype descr '%s' is not understood", full);
        return -1;
    }
    if (order == '>' && size > 1) {
        snprintf(why, whysz, "dtype '%s' is big-endian; re-save with arr.astype('<%c%ld')", full,
                 kind, size);
        return -1;
    }
    struct {
        char kind;
        long size;
        enum npy_dtype t;
    } map[] = {{'f', 4, NPY_F4}, {'f', 8, NPY_F8}, {'i', 4, NPY_I4},
               {'i', 8, NPY_I8}, {'u', 1, NPY_U1}, {'b', 1, NPY_B1}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (map[i].kind == kind && map[i].size == size) {
            *t = map[i].t;
            return 0;
        }
    }
    snprintf(why, whysz,
             "dtype '%s' is not supported (float32/64, int32/64, uint8, bool are; "
             "convert with arr.astype('<f4'))",
             full);
    return -1;
}

/* ---- streaming .npy reader ---------------------------------------------------------------- */

/* reads exactly n bytes; -1 with a message (not including the source name) */
typedef int (*read_fn)(void *ctx, void *buf, size_t n, char *why, size_t whysz);

struct npy_src {
    read_fn read;
    void *ctx;
    uint64_t len; /* total bytes of the .npy image */
    const char *what;
};

static int npy_read_src(struct npy_array *a, const struct npy_src *s, char *err, size_t errsz) {
    char why[200];
    unsigned char pre[12];
    memset(a, 0, sizeof *a);
    if (s->len < 10) {
        seterr(err, errsz, "%s: not a .npy (only %llu bytes; truncated?)", s->what,
               (unsigned long long)s->len);
        return -1;
    }
    if (s->read(s->ctx, pre, 10, why, sizeof why)) {
        seterr(err, errsz, "%s: %s", s->what, why);
        return -1;
    }
    if (memcmp(pre, "\x93NUMPY", 6) != 0) {
        seterr(err, errsz, "%s: bad magic, not a .npy array (expected \\x93NUMPY)", s->what);
        return -1;
    }
    uint64_t hl, prefix;
    if (pre[6] == 1 && pre[7] == 0) {
        hl = (uint64_t)pre[8] | (uint64_t)pre[9] << 8;
        prefix = 10;
    } else if ((pre[6] == 2 || pre[6] == 3) && pre[7] == 0) {
        if (s->len < 12 || s->read(s->ctx, pre + 10, 2, why, sizeof why)) {
            seterr(err, errsz, "%s: truncated .npy header", s->what);
            return -1;
        }
        hl = (uint64_t)pre[8] | (uint64_t)pre[9] << 8 | (uint64_t)pre[10] << 16 |
             (uint64_t)pre[11] << 24;
        prefix = 12;
    } else {
        seterr(err, errsz, "%s: .npy version %d.%d is not supported (1.0, 2.0, 3.0 are)", s->what,
               pre[6], pre[7]);
        return -1;
    }
    if (hl > NPY_MAX_HEADER || hl > s->len - prefix) {
        seterr(err, errsz, "%s: .npy header length %llu exceeds the %llu bytes present", s->what,
               (unsigned long long)hl, (unsigned long long)(s->len - prefix));
        return -1;
    }
    char *hdr = mem_alloc(hl + 1);
    if (s->read(s->ctx, hdr, hl, why, sizeof why)) {
        mem_free(hdr);
        seterr(err, errsz, "%s: %s", s->what, why);
        return -1;
    }
    struct npy_header h;
    const char *pwhy;
    int rc = parse_header(hdr, hl, &h, &pwhy);
    mem_free(hdr);
    if (rc) {
        seterr(err, errsz, "%s: bad .npy header: %s", s->what, pwhy);
        return -1;
    }
    if (h.fortran) {
        seterr(err, errsz,
               "%s: fortran_order True is not supported; re-save with "
               "np.ascontiguousarray(arr)",
               s->what);
        return -1;
    }
    enum npy_dtype t;
    if (parse_descr(h.descr, &t, why, sizeof why)) {
        seterr(err, errsz, "%s: %s", s->what, why);
        return -1;
    }
    /* element count and byte size, overflow-checked */
    size_t count = 1, isz = npy_dtype_size(t);
    for (int d = 0; d < h.ndim; d++) {
        uint64_t v = (uint64_t)h.shape[d];
        if (v != 0 && count > SIZE_MAX / isz / v) {
            seterr(err, errsz, "%s: shape is absurd (element count overflows)", s->what);
            return -1;
        }
        count *= (size_t)v;
    }
    uint64_t have = s->len - prefix - hl, need = (uint64_t)count * isz;
    if (have != need) {
        seterr(err, errsz, "%s: data is %llu bytes but shape and dtype '%s' need %llu (%s)",
               s->what, (unsigned long long)have, h.descr, (unsigned long long)need,
               have < need ? "truncated" : "trailing bytes");
        return -1;
    }
    a->dtype = t;
    a->ndim = h.ndim;
    memcpy(a->shape, h.shape, sizeof h.shape);
    a->count = count;
    a->data = mem_alloc(need);
    if (s->read(s->ctx, a->data, need, why, sizeof why)) {
        seterr(err, errsz, "%s: %s", s->what, why);
        npy_free(a);
        return -1;
    }
    if (t == NPY_B1) {
        const unsigned char *b = a->data;
        for (size_t i = 0; i < count; i++) {
            if (b[i] > 1) {
                seterr(err, errsz, "%s: bool element %zu holds byte %u (not 0/1)", s->what, i,
                       b[i]);
                npy_free(a);
                return -1;
            }
        }
    }
    return 0;
}

struct mem_ctx {
    const unsigned char *p;
    size_t len, pos;
};

static int mem_read(void *ctx, void *buf, size_t n, char *why, size_t whysz) {
    struct mem_ctx *m = ctx;
    if (n > m->len - m->pos) {
        snprintf(why, whysz, "truncated");
        return -1;
    }
    memcpy(buf, m->p + m->pos, n);
    m->pos += n;
    return 0;
}

static int file_read(void *ctx, void *buf, size_t n, char *why, size_t whysz) {
    if (n && fread(buf, 1, n, ctx) != n) {
        snprintf(why, whysz, "%s", ferror((FILE *)ctx) ? strerror(errno) : "truncated");
        return -1;
    }
    return 0;
}

static int zipf_read(void *ctx, void *buf, size_t n, char *why, size_t whysz) {
    zip_file_t *zf = ctx;
    size_t got = 0;
    while (got < n) {
        zip_int64_t r = zip_fread(zf, (char *)buf + got, n - got);
        if (r < 0) {
            snprintf(why, whysz, "%s (corrupt member; re-download or re-save the file)",
                     zip_file_strerror(zf));
            return -1;
        }
        if (r == 0) {
            snprintf(why, whysz, "member data ends after %zu of %zu bytes", got, n);
            return -1;
        }
        got += (size_t)r;
    }
    return 0;
}

int npy_parse(struct npy_array *a, const void *buf, size_t len, const char *what, char *err,
              size_t errsz) {
    struct mem_ctx m = {buf, len, 0};
    struct npy_src s = {mem_read, &m, len, what ? what : "npy"};
    return npy_read_src(a, &s, err, errsz);
}

int npy_load(struct npy_array *a, const char *path, char *err, size_t errsz) {
    memset(a, 0, sizeof *a);
    uint64_t size;
    FILE *f = fopen_regular(path, "npy", NULL, &size, err, errsz);
    if (!f) {
        return -1;
    }
    struct npy_src s = {file_read, f, size, path};
    int rc = npy_read_src(a, &s, err, errsz);
    fclose(f);
    if (rc == 0) {
        const char *b = strrchr(path, '/');
        b = b ? b + 1 : path;
        size_t l = strlen(b);
        a->name = mem_strdup(b);
        if (l > 4 && strcmp(b + l - 4, ".npy") == 0) {
            a->name[l - 4] = 0;
        }
    }
    return rc;
}

void npy_free(struct npy_array *a) {
    if (!a) {
        return;
    }
    mem_free(a->name);
    mem_free(a->data);
    memset(a, 0, sizeof *a);
}

/* element i of a as a float */
static float npy_elem_f32(const struct npy_array *a, size_t i) {
    switch (a->dtype) {
        case NPY_F4:
            return ((const float *)a->data)[i];
        case NPY_F8:
            return (float)((const double *)a->data)[i];
        case NPY_I4:
            return (float)((const int32_t *)a->data)[i];
        case NPY_I8:
            return (float)((const int64_t *)a->data)[i];
        case NPY_U1:
        case NPY_B1:
            break;
    }
    return (float)((const uint8_t *)a->data)[i];
}

int npy_to_f32(const struct npy_array *a, float *out) {
    if (npy_dtype_size(a->dtype) == 0) {
        return -1;
    }
    if (a->dtype == NPY_F4) {
        memcpy(out, a->data, a->count * sizeof(float));
        return 0;
    }
    for (size_t i = 0; i < a->count; i++) {
        out[i] = npy_elem_f32(a, i);
    }
    return 0;
}

/* ---- .npz reading ------------------------------------------------------------------------- */

static void zip_open_msg(int zerr, const char *path, char *err, size_t errsz) {
    if (zerr == ZIP_ER_NOZIP) {
        seterr(err, errsz,
               "npz: %s is not a ZIP archive or is truncated (no end of central "
               "directory); re-download or re-save it with np.savez",
               path);
    } else if (zerr == ZIP_ER_NOENT || zerr == ZIP_ER_OPEN || zerr == ZIP_ER_READ) {
        seterr(err, errsz, "npz: cannot open %s: %s", path, strerror(errno));
    } else {
        zip_error_t ze;
        zip_error_init_with_code(&ze, zerr);
        seterr(err, errsz,
               "npz: %s is not a valid ZIP archive: %s (corrupt or truncated; "
               "re-download or re-save it)",
               path, zip_error_strerror(&ze));
        zip_error_fini(&ze);
    }
}

static int selected(const char *name, const char *const *names, int n) {
    if (!names) {
        return 1;
    }
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i], name) == 0) {
            return 1;
        }
    }
    return 0;
}

/* reads member i into a (name already stripped of .npy); checks size bounds and the CRC */
static int load_member(zip_t *za, zip_uint64_t i, const zip_stat_t *st, uint64_t fsize,
                       struct npy_array *a, const char *what, char *err, size_t errsz) {
    if (st->comp_size > fsize) {
        seterr(err, errsz, "%s: compressed size %llu exceeds the file size (corrupt directory)",
               what, (unsigned long long)st->comp_size);
        return -1;
    }
    if ((st->comp_method == ZIP_CM_STORE && st->size != st->comp_size) ||
        st->size / NPZ_MAX_RATIO > st->comp_size + 1024) {
        seterr(err, errsz,
               "%s: declared size %llu is impossible for %llu compressed bytes "
               "(corrupt directory)",
               what, (unsigned long long)st->size, (unsigned long long)st->comp_size);
        return -1;
    }
    zip_file_t *zf = zip_fopen_index(za, i, 0);
    if (!zf) {
        seterr(err, errsz, "%s: cannot open member: %s", what, zip_strerror(za));
        return -1;
    }
    struct npy_src s = {zipf_read, zf, st->size, what};
    int rc = npy_read_src(a, &s, err, errsz);
    /* read to the end so libzip checks the size and CRC; a CRC failure explains any error */
    char buf[4096], why[200];
    zip_int64_t r;
    while ((r = zip_fread(zf, buf, sizeof buf)) > 0) {
        if (rc == 0) {
            seterr(err, errsz, "%s: member holds more data than its declared size", what);
            rc = -1;
        }
    }
    if (r < 0) {
        snprintf(why, sizeof why, "%s", zip_file_strerror(zf));
        seterr(err, errsz, "%s: %s (corrupt member; re-download or re-save the file)", what, why);
        rc = -1;
    }
    zip_fclose(zf);
    if (rc) {
        npy_free(a);
    }
    return rc;
}

int npz_load_select(struct npz *z, const char *path, const char *const *names, int n, char *err,
                    size_t errsz) {
    memset(z, 0, sizeof *z);
    struct stat fs;
    if (stat(path, &fs) != 0) {
        seterr(err, errsz, "npz: cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(fs.st_mode)) {
        seterr(err, errsz, "npz: %s is not a regular file", path);
        return -1;
    }
    int zerr = 0;
    zip_t *za = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &zerr);
    if (!za) {
        zip_open_msg(zerr, path, err, errsz);
        return -1;
    }
    zip_int64_t ne = zip_get_num_entries(za, 0);
    if (ne < 0 || (uint64_t)ne > (uint64_t)fs.st_size / 22) {
        seterr(err, errsz, "npz: %s claims %lld entries in %lld bytes (corrupt directory)", path,
               (long long)ne, (long long)fs.st_size);
        zip_discard(za);
        return -1;
    }
    z->path = mem_strdup(path);
    z->arrays = mem_alloc((size_t)(ne > 0 ? ne : 1) * sizeof *z->arrays);
    char what[512];
    for (zip_int64_t i = 0; i < ne; i++) {
        zip_stat_t st;
        if (zip_stat_index(za, (zip_uint64_t)i, 0, &st) != 0) {
            seterr(err, errsz, "npz: %s entry %lld: %s", path, (long long)i, zip_strerror(za));
            goto fail;
        }
        size_t l = st.name ? strlen(st.name) : 0;
        if (l <= 4 || strcmp(st.name + l - 4, ".npy") != 0) {
            log_debug("npz: %s: skipping member '%s' (not .npy)", path, st.name ? st.name : "");
            continue;
        }
        char *name = mem_strdup(st.name);
        name[l - 4] = 0;
        if (!selected(name, names, n) || npz_find(z, name)) {
            mem_free(name);
            continue;
        }
        snprintf(what, sizeof what, "npz: %s member '%s'", path, st.name);
        struct npy_array *a = &z->arrays[z->n];
        if (load_member(za, (zip_uint64_t)i, &st, (uint64_t)fs.st_size, a, what, err, errsz)) {
            mem_free(name);
            goto fail;
        }
        a->name = name;
        z->n++;
    }
    zip_discard(za);
    return 0;
fail:
    zip_discard(za);
    npz_free(z);
    return -1;
}

int npz_load(struct npz *z, const char *path, char *err, size_t errsz) {
    return npz_load_select(z, path, NULL, 0, err, errsz);
}

const struct npy_array *npz_find(const struct npz *z, const char *name) {
    for (int i = 0; i < z->n; i++) {
        if (z->arrays[i].name && strcmp(z->arrays[i].name, name) == 0) {
            return &z->arrays[i];
        }
    }
    return NULL;
}

void npz_free(struct npz *z) {
    if (!z) {
        return;
    }
    for (int i = 0; i < z->n; i++) {
        npy_free(&z->arrays[i]);
    }
    mem_free(z->arrays);
    mem_free(z->path);
    memset(z, 0, sizeof *z);
}
