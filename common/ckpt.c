/* ckpt.c — checkpoint files: the layout, the writer and atomic save, run directories.
 * The read side (header checks, bounded msgpack reader, lookups) is in ckpt_load.c. */
#include "common/ckpt.h"

#include "common/afile.h"
#include "common/mem.h"
#include "common/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "ckpt stores float32 data as little-endian bytes; this host is big-endian"
#endif

#define BIN_MAX      UINT32_MAX /* msgpack str/bin lengths are at most 32-bit */

static void put_le32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static void put_le64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

/* zlib's crc32 takes a 32-bit length: fed in 1 GiB pieces */
uint32_t ckpt_crc32(uint32_t crc, const void *data, size_t n) {
    const Bytef *p = data;
    while (n > 0) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = (uint32_t)crc32(crc, p, k);
        p += k;
        n -= k;
    }
    return crc;
}

/* the 24-byte header: magic, version, payload length, CRC-32 of the first 20 bytes */
static void fill_header(uint8_t *h, uint32_t version, uint64_t payload_len) {
    memcpy(h, CKPT_MAGIC, 8);
    put_le32(h + 8, version);
    put_le64(h + 12, payload_len);
    put_le32(h + 20, ckpt_crc32(0, h, 20));
}

/* ---- writer ------------------------------------------------------------------------------ */

void ckpt_writer_init(struct ckpt_writer *w) {
    memset(w, 0, sizeof *w);
}

void ckpt_entries_free(struct ckpt_entry *entries, size_t n) {
    for (size_t i = 0; entries && i < n; i++) {
        MEM_FREE_ALL(entries[i].key, entries[i].owned);
    }
    mem_free(entries);
}

void ckpt_writer_free(struct ckpt_writer *w) {
    if (!w) {
        return;
    }
    ckpt_entries_free(w->entries, w->n);
    memset(w, 0, sizeof *w);
}

static void werr(struct ckpt_writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void werr(struct ckpt_writer *w, const char *fmt, ...) {
    if (w->failed) {
        return; /* keep the first message */
    }
    w->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->err, sizeof w->err, fmt, ap);
    va_end(ap);
}

/* validates key and appends a zeroed entry holding a copy of it; NULL after recording why */
static struct ckpt_entry *writer_add(struct ckpt_writer *w, const char *key) {
    if (w->failed) {
        return NULL;
    }
    size_t klen = key ? strlen(key) : 0;
    if (klen == 0) {
        werr(w, "an entry was put with an empty or NULL key; give every entry a name");
        return NULL;
    }
    if (klen > CKPT_MAX_KEY) {
        werr(w, "key \"%.40s...\" is %zu bytes, longer than the %d allowed; shorten it", key, klen,
             CKPT_MAX_KEY);
        return NULL;
    }
    for (size_t i = 0; i < w->n; i++) {
        if (strcmp(w->entries[i].key, key) == 0) {
            werr(w, "key \"%s\" was put twice; each entry needs its own name", key);
            return NULL;
        }
    }
    if (w->n == CKPT_MAX_ENTRIES) {
        werr(w, "more than %d entries (at \"%s\"); group values into arrays", CKPT_MAX_ENTRIES,
             key);
        return NULL;
    }
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 16;
        struct ckpt_entry *grown = mem_alloc(cap * sizeof *grown);
        if (w->n) {
            memcpy(grown, w->entries, w->n * sizeof *grown);
        }
        mem_free(w->entries);
        w->entries = grown;
        w->cap = cap;
    }
    struct ckpt_entry *e = &w->entries[w->n++];
    memset(e, 0, sizeof *e);
    e->key = mem_strdup(key);
    return e;
}

int ckpt_put_str(struct ckpt_writer *w, const char *key, const char *s) {
    if (!s && !w->failed) {
        werr(w, "string \"%s\" is NULL; put \"\" for an empty string", key ? key : "");
    }
    struct ckpt_entry *e = writer_add(w, key);
    if (!e) {
        return -1;
    }
    size_t n = strlen(s);
    if (n > BIN_MAX) {
        werr(w, "string \"%s\" is %zu bytes, more than msgpack's 4 GiB limit", key, n);
        return -1;
    }
    e->kind = CKPT_STR;
    e->count = n;
    e->owned = mem_alloc(n + 1);
    memcpy(e->owned, s, n + 1);
    e->data = e->owned;
    return 0;
}

int ckpt_put_u64(struct ckpt_writer *w, const char *key, uint64_t v) {
    struct ckpt_entry *e = writer_add(w, key);
    if (e) {
        e->kind = CKPT_UINT;
        e->u = v;
    }
    return e ? 0 : -1;
}

int ckpt_put_i64(struct ckpt_writer *w, const char *key, int64_t v) {
    struct ckpt_entry *e = writer_add(w, key);
    if (e) {
        e->kind = CKPT_INT;
        e->i = v;
    }
    return e ? 0 : -1;
}

int ckpt_put_f64(struct ckpt_writer *w, const char *key, double v) {
    struct ckpt_entry *e = writer_add(w, key);
    if (e) {
        e->kind = CKPT_F64;
        e->f = v;
    }
    return e ? 0 : -1;
}

int ckpt_put_f32(struct ckpt_writer *w, const char *key, int ndim, const size_t *shape,
                 const float *data) {
    struct ckpt_entry *e = writer_add(w, key);
    if (!e) {
        return -1;
    }
    if (ndim < 0 || ndim > CKPT_MAX_DIMS || (ndim > 0 && !shape)) {
        werr(w, "array \"%s\" has %d dimensions; checkpoints hold 0..%d", key, ndim, CKPT_MAX_DIMS);
        return -1;
    }
    size_t count = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] != 0 && count > (BIN_MAX / 4) / shape[d]) {
            werr(w, "array \"%s\" is larger than one msgpack bin holds (4 GiB); split it", key);
            return -1;
        }
        count *= shape[d];
        e->shape[d] = shape[d];
    }
    if (count > 0 && !data) {
        werr(w, "array \"%s\" has %zu floats but its data is NULL", key, count);
        return -1;
    }
    e->kind = CKPT_F32;
    e->ndim = ndim;
    e->count = count;
    e->data = data; /* borrowed until ckpt_save */
    return 0;
}

int ckpt_put_bytes(struct ckpt_writer *w, const char *key, const void *bytes, size_t n) {
    struct ckpt_entry *e = writer_add(w, key);
    if (!e) {
        return -1;
    }
    if (n > BIN_MAX || (n > 0 && !bytes)) {
        werr(w, "bytes \"%s\": %zu bytes at %p cannot be stored (NULL, or over 4 GiB)", key, n,
             bytes);
        return -1;
    }
    e->kind = CKPT_BYTES;
    e->count = n;
    e->owned = mem_alloc(n);
    if (n) {
        memcpy(e->owned, bytes, n);
    }
    e->data = e->owned;
    return 0;
}

/* ---- save -------------------------------------------------------------------------------- */

/* msgpack output: counts bytes, and when f is set also writes them and updates the CRC */
struct sink {
    FILE *f;
    uint32_t crc;
    uint64_t n;
    int err; /* errno of the first failed write */
};

static int sink_write(void *data, const char *buf, size_t len) {
    struct sink *s = data;
    if (s->err) {
        return -1;
    }
    if (s->f) {
        errno = 0;
        if (len > 0 && fwrite(buf, 1, len, s->f) != len) {
            s->err = errno ? errno : EIO;
            return -1;
        }
        s->crc = ckpt_crc32(s->crc, buf, len);
    }
    s->n += len;
    return 0;
}

static int pack_text(msgpack_packer *pk, const char *s, size_t n) {
    return msgpack_pack_str(pk, n) || msgpack_pack_str_body(pk, s, n);
}

static int pack_entry(msgpack_packer *pk, const struct ckpt_entry *e) {
    if (pack_text(pk, e->key, strlen(e->key))) {
        return -1;
    }
    switch (e->kind) {
        case CKPT_STR:
            return pack_text(pk, e->data, e->count);
        case CKPT_UINT:
            return msgpack_pack_uint64(pk, e->u);
        case CKPT_INT:
            return msgpack_pack_int64(pk, e->i);
        case CKPT_F64:
            return msgpack_pack_double(pk, e->f);
        case CKPT_BYTES:
            return msgpack_pack_bin(pk, e->count) || msgpack_pack_bin_body(pk, e->data, e->count);
        case CKPT_F32:
            if (msgpack_pack_map(pk, 3) || pack_text(pk, "dtype", 5) || pack_text(pk, "f4", 2) ||
                pack_text(pk, "shape", 5) || msgpack_pack_array(pk, (size_t)e->ndim)) {
                return -1;
            }
            for (int d = 0; d < e->ndim; d++) {
                if (msgpack_pack_uint64(pk, e->shape[d])) {
                    return -1;
                }
            }
            return pack_text(pk, "data", 4) || msgpack_pack_bin(pk, 4 * e->count) ||
                   msgpack_pack_bin_body(pk, e->data, 4 * e->count);
    }
    return -1;
}

static int pack_all(struct sink *s, const struct ckpt_writer *w) {
    msgpack_packer pk;
    msgpack_packer_init(&pk, s, sink_write);
    if (msgpack_pack_map(&pk, w->n)) {
        return -1;
    }
    for (size_t i = 0; i < w->n; i++) {
        if (pack_entry(&pk, &w->entries[i])) {
            return -1;
        }
    }
    return 0;
}

int ckpt_save(const struct ckpt_writer *w, const char *path, char *err, size_t errsz) {
    if (w->failed) {
        seterr(err, errsz, "ckpt: not saving %s: %s", path, w->err);
        return -1;
    }
    struct sink count = {0};
    FLOQ_ASSERT(pack_all(&count, w) == 0);
    uint8_t head[CKPT_HEADER_SIZE], tail[CKPT_TRAILER_SIZE];
    fill_header(head, CKPT_VERSION, count.n);
    struct afile af;
    FILE *f = afile_open(&af, path);
    if (f) {
        struct sink out = {.f = f};
        if (sink_write(&out, (const char *)head, sizeof head) || pack_all(&out, w)) {
            afile_fail(&af, out.err);
        } else {
            FLOQ_ASSERT(out.n == CKPT_HEADER_SIZE + count.n);
            put_le32(tail, out.crc);
            if (fwrite(tail, 1, sizeof tail, f) != sizeof tail) {
                afile_fail(&af, errno);
            }
        }
    }
    char why[768];
    if (afile_commit(&af, why, sizeof why)) {
        seterr(err, errsz, "ckpt: %s", why);
        return -1;
    }
    return 0;
}

/* ---- run directories --------------------------------------------------------------------- */

int ckpt_path(char *out, size_t n, const char *dir, uint64_t step) {
    size_t dl = strlen(dir);
    const char *sep = (dl == 0 || dir[dl - 1] == '/') ? "" : "/";
    int m = snprintf(out, n, "%s%sckpt-%010" PRIu64 ".ckpt", dir, sep, step);
    return (m < 0 || (size_t)m >= n) ? -1 : 0;
}

/* 1 with *step if name is ckpt-<1..20 digits>.ckpt and the number fits uint64 */
static int parse_name(const char *name, uint64_t *step) {
    if (strncmp(name, "ckpt-", 5) != 0) {
        return 0;
    }
    const char *p = name + 5;
    uint64_t v = 0;
    int nd = 0;
    for (; *p >= '0' && *p <= '9'; p++, nd++) {
        unsigned dig = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - dig) / 10) {
            return 0;
        }
        v = 10 * v + dig;
    }
    if (nd == 0 || strcmp(p, ".ckpt") != 0) {
        return 0;
    }
    *step = v;
    return 1;
}

/* newest first: higher step, then (same step, another spelling) the greater name */
static int newer_first(const void *pa, const void *pb) {
    const struct ckpt_file *a = pa, *b = pb;
    if (a->step != b->step) {
        return a->step > b->step ? -1 : 1;
    }
    return -strcmp(a->path, b->path);
}

int ckpt_list(const char *dir, struct ckpt_file **files, size_t *n, char *err, size_t errsz) {
    *files = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        seterr(err, errsz, "ckpt: cannot open checkpoint directory %s: %s; check the path", dir,
               strerror(errno));
        return -1;
    }
    size_t cap = 0, dl = strlen(dir);
    const char *sep = (dl && dir[dl - 1] == '/') ? "" : "/";
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        uint64_t s;
        if (!parse_name(de->d_name, &s)) {
            continue;
        }
        /* only regular files (a directory with a checkpoint's name is not one) */
        size_t pl = dl + strlen(de->d_name) + 2;
        char *full = mem_alloc(pl);
        snprintf(full, pl, "%s%s%s", dir, sep, de->d_name);
        struct stat st;
        if (stat(full, &st) != 0 || !S_ISREG(st.st_mode)) {
            mem_free(full);
            continue;
        }
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            struct ckpt_file *grown = mem_alloc(cap * sizeof *grown);
            if (*n) {
                memcpy(grown, *files, *n * sizeof *grown);
            }
            mem_free(*files);
            *files = grown;
        }
        (*files)[(*n)++] = (struct ckpt_file){.step = s, .path = full};
    }
    closedir(d);
    if (*n > 1) {
        qsort(*files, *n, sizeof **files, newer_first);
    }
    return 0;
}

void ckpt_list_free(struct ckpt_file *files, size_t n) {
    for (size_t i = 0; files && i < n; i++) {
        mem_free(files[i].path);
    }
    mem_free(files);
}

int ckpt_latest(const char *dir, char *path_out, size_t n, uint64_t *step, char *err,
                size_t errsz) {
    struct ckpt_file *f;
    size_t nf;
    if (ckpt_list(dir, &f, &nf, err, errsz)) {
        return -1;
    }
    int rc = -1;
    if (nf == 0) {
        seterr(err, errsz,
               "ckpt: %s has no checkpoint (no ckpt-<step>.ckpt file); check the path or start "
               "without --resume",
               dir);
    } else if (strlen(f[0].path) >= n) {
        seterr(err, errsz, "ckpt: the path %s is longer than %zu bytes", f[0].path, n);
    } else {
        snprintf(path_out, n, "%s", f[0].path);
        if (step) {
            *step = f[0].step;
        }
        rc = 0;
    }
    ckpt_list_free(f, nf);
    return rc;
}

int ckpt_prune(const char *dir, size_t keep, char *err, size_t errsz) {
    struct ckpt_file *f;
    size_t nf;
    if (keep == 0 || ckpt_list(dir, &f, &nf, err, errsz)) {
        return keep == 0 ? 0 : -1;
    }
    int rc = 0;
    for (size_t i = keep; i < nf; i++) {
        if (unlink(f[i].path) != 0 && rc == 0) {
            seterr(err, errsz, "ckpt: cannot remove the old checkpoint %s: %s", f[i].path,
                   strerror(errno));
            rc = -1;
        }
    }
    ckpt_list_free(f, nf);
    return rc;
}
