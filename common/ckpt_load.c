/* ckpt_load.c — the read side of ckpt.h: header checks, a bounded msgpack reader for the
 * payload, and lookups. The write side and the file layout constants are in ckpt.c. */
#include "common/ckpt.h"

#include "common/mem.h"
#include "common/util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MIN_FILE     (CKPT_HEADER_SIZE + 1 + CKPT_TRAILER_SIZE)

static uint64_t get_le(const uint8_t *p, int nbytes) {
    uint64_t v = 0;
    for (int i = nbytes - 1; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

/* ---- bounded msgpack reader ---------------------------------------------------------------
 * Reads only the subset ckpt_save writes. Every declared length is checked against the bytes
 * left before anything is allocated or skipped, so allocations never exceed the file size. */

enum mp_type { MP_UINT, MP_NINT, MP_FLOAT, MP_STR, MP_BIN, MP_ARRAY, MP_MAP };

struct mp_head {
    enum mp_type t;
    uint64_t len; /* STR/BIN bytes, ARRAY elements, MAP pairs */
    uint64_t u;   /* UINT */
    int64_t i;    /* NINT */
    double f;     /* FLOAT */
};

struct cur {
    const uint8_t *p;
    size_t n, off;
    const char *path;
    char key[48]; /* printable form of the key being read, for messages */
    char *err;
    size_t errsz;
};

static int bad(struct cur *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct cur *c, const char *fmt, ...) {
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    seterr(c->err, c->errsz,
           "ckpt: %s has a malformed payload at byte %zu%s%s%s: %s; its checksum is right, so a "
           "different program wrote it (re-save it with floq)",
           c->path, c->off, c->key[0] ? " (key \"" : "", c->key, c->key[0] ? "\")" : "", what);
    return -1;
}

/* copies up to 40 bytes of untrusted text, replacing anything unprintable with '?' */
static void show(char *dst, size_t dstsz, const uint8_t *s, size_t n) {
    size_t k = 0;
    for (; k < n && k < 40 && k + 4 < dstsz; k++) {
        dst[k] = (s[k] >= 0x20 && s[k] < 0x7f && s[k] != '"') ? (char)s[k] : '?';
    }
    if (k < n && k + 4 < dstsz) {
        memcpy(dst + k, "...", 3);
        k += 3;
    }
    dst[k] = 0;
}

static int need(struct cur *c, uint64_t k, const char *what) {
    if (k > c->n - c->off) {
        return bad(c, "%s needs %" PRIu64 " bytes but only %zu are left", what, k, c->n - c->off);
    }
    return 0;
}

/* big-endian unsigned of nbytes, after checking the bytes exist */
static int rd_be(struct cur *c, int nbytes, uint64_t *v) {
    if (need(c, (uint64_t)nbytes, "a length or number")) {
        return -1;
    }
    uint64_t x = 0;
    for (int k = 0; k < nbytes; k++) {
        x = (x << 8) | c->p[c->off + (size_t)k];
    }
    c->off += (size_t)nbytes;
    *v = x;
    return 0;
}

/* two's complement of the low nbytes of x, without implementation-defined conversions */
static int64_t to_signed(uint64_t x, int nbytes) {
    if (nbytes < 8 && ((x >> (8 * nbytes - 1)) & 1)) {
        x |= ~0ull << (8 * nbytes);
    }
    return (x >> 63) ? -(int64_t)(~x) - 1 : (int64_t)x;
}

/* reads one msgpack head; STR/BIN lengths are checked against the bytes left, ARRAY/MAP
 * counts against one (two) bytes per element */
static int rd_head(struct cur *c, struct mp_head *h) {
    if (need(c, 1, "a value")) {
        return -1;
    }
    uint8_t b = c->p[c->off++];
    uint64_t x = 0;
    int w = 0;
    memset(h, 0, sizeof *h);
    if (b <= 0x7f) {
        h->t = MP_UINT;
        h->u = b;
        return 0;
    }
    if (b >= 0xe0) {
        h->t = MP_NINT;
        h->i = (int64_t)b - 256;
        return 0;
    }
    if (b <= 0x8f || (b >= 0xde && b <= 0xdf)) {
        h->t = MP_MAP;
        w = b <= 0x8f ? 0 : (b == 0xde ? 2 : 4);
        x = b & 0x0f;
    } else if (b <= 0x9f || (b >= 0xdc && b <= 0xdd)) {
        h->t = MP_ARRAY;
        w = b <= 0x9f ? 0 : (b == 0xdc ? 2 : 4);
        x = b & 0x0f;
    } else if (b <= 0xbf || (b >= 0xd9 && b <= 0xdb)) {
        h->t = MP_STR;
        w = b <= 0xbf ? 0 : 1 << (b - 0xd9);
        x = b & 0x1f;
    } else if (b >= 0xc4 && b <= 0xc6) {
        h->t = MP_BIN;
        w = 1 << (b - 0xc4);
    } else if (b >= 0xcc && b <= 0xcf) {
        h->t = MP_UINT;
        return rd_be(c, 1 << (b - 0xcc), &h->u);
    } else if (b >= 0xd0 && b <= 0xd3) {
        int nb = 1 << (b - 0xd0);
        if (rd_be(c, nb, &x)) {
            return -1;
        }
        int64_t v = to_signed(x, nb);
        h->t = v < 0 ? MP_NINT : MP_UINT;
        h->i = v;
        h->u = v < 0 ? 0 : (uint64_t)v;
        return 0;
    } else if (b == 0xca || b == 0xcb) {
        h->t = MP_FLOAT;
        if (rd_be(c, b == 0xca ? 4 : 8, &x)) {
            return -1;
        }
        if (b == 0xca) {
            uint32_t x32 = (uint32_t)x;
            float f;
            memcpy(&f, &x32, 4);
            h->f = f;
        } else {
            memcpy(&h->f, &x, 8);
        }
        return 0;
    } else {
        c->off--;
        return bad(c, "msgpack type 0x%02x is not used in checkpoints", b);
    }
    if (w && rd_be(c, w, &x)) {
        return -1;
    }
    h->len = x;
    if (h->t == MP_STR || h->t == MP_BIN) {
        return need(c, x, h->t == MP_STR ? "a string" : "a bin");
    }
    uint64_t per = h->t == MP_MAP ? 2 : 1;
    if (x > (c->n - c->off) / per) {
        return bad(c, "%s declares %" PRIu64 " elements but only %zu bytes are left",
                   h->t == MP_MAP ? "a map" : "an array", x, c->n - c->off);
    }
    return 0;
}

/* reads a str head and points *s at its bytes (not NUL-terminated) */
static int rd_str(struct cur *c, const uint8_t **s, size_t *n, const char *what) {
    struct mp_head h;
    if (rd_head(c, &h)) {
        return -1;
    }
    if (h.t != MP_STR) {
        return bad(c, "%s is not a string", what);
    }
    *s = c->p + c->off;
    *n = (size_t)h.len;
    c->off += (size_t)h.len;
    return 0;
}

static int is_word(const uint8_t *s, size_t n, const char *word) {
    return n == strlen(word) && memcmp(s, word, n) == 0;
}

/* the value map {"dtype": "f4", "shape": [d...], "data": bin} of a float32 array */
static int parse_f32(struct cur *c, struct ckpt_entry *e, uint64_t nfields) {
    if (nfields != 3) {
        return bad(c, "a float array has %" PRIu64 " fields, expected dtype, shape and data",
                   nfields);
    }
    int seen[3] = {0, 0, 0}; /* dtype, shape, data */
    const uint8_t *data = NULL;
    uint64_t nbytes = 0;
    size_t count = 1;
    for (int k = 0; k < 3; k++) {
        const uint8_t *name = NULL;
        size_t nlen = 0;
        if (rd_str(c, &name, &nlen, "a float array field name")) {
            return -1;
        }
        int which = is_word(name, nlen, "dtype")   ? 0
                    : is_word(name, nlen, "shape") ? 1
                    : is_word(name, nlen, "data")  ? 2
                                                   : -1;
        char shown[48];
        show(shown, sizeof shown, name, nlen);
        if (which < 0 || seen[which]) {
            return bad(c, "float array field \"%s\" is %s", shown,
                       which < 0 ? "unknown (expected dtype, shape, data)" : "repeated");
        }
        seen[which] = 1;
        struct mp_head h;
        if (which == 0) {
            const uint8_t *dt = NULL;
            size_t dlen = 0;
            if (rd_str(c, &dt, &dlen, "dtype")) {
                return -1;
            }
            if (!is_word(dt, dlen, "f4")) {
                show(shown, sizeof shown, dt, dlen);
                return bad(c, "dtype \"%s\" is not supported; this build reads \"f4\"", shown);
            }
        } else if (which == 1) {
            if (rd_head(c, &h)) {
                return -1;
            }
            if (h.t != MP_ARRAY || h.len > CKPT_MAX_DIMS) {
                return bad(c, "shape must be an array of 0..%d sizes", CKPT_MAX_DIMS);
            }
            e->ndim = (int)h.len;
            for (int d = 0; d < e->ndim; d++) {
                struct mp_head dim;
                if (rd_head(c, &dim)) {
                    return -1;
                }
                if (dim.t != MP_UINT || dim.u > SIZE_MAX) {
                    return bad(c, "shape[%d] is not a size (negative or not an integer)", d);
                }
                if (dim.u != 0 && count > (SIZE_MAX / 4) / dim.u) {
                    return bad(c, "the shape's product overflows");
                }
                count *= (size_t)dim.u;
                e->shape[d] = (size_t)dim.u;
            }
        } else {
            if (rd_head(c, &h)) {
                return -1;
            }
            if (h.t != MP_BIN) {
                return bad(c, "data is not a msgpack bin");
            }
            data = c->p + c->off;
            nbytes = h.len;
            c->off += (size_t)h.len;
        }
    }
    if (nbytes != 4 * (uint64_t)count) {
        return bad(c, "data has %" PRIu64 " bytes, the shape needs %zu floats (%zu bytes)", nbytes,
                   count, 4 * count);
    }
    e->kind = CKPT_F32;
    e->count = count;
    e->owned = mem_alloc(4 * count);
    if (count) {
        memcpy(e->owned, data, 4 * count);
    }
    e->data = e->owned;
    return 0;
}

static int parse_value(struct cur *c, struct ckpt_entry *e) {
    struct mp_head h;
    if (rd_head(c, &h)) {
        return -1;
    }
    switch (h.t) {
        case MP_UINT:
            e->kind = CKPT_UINT;
            e->u = h.u;
            return 0;
        case MP_NINT:
            e->kind = CKPT_INT;
            e->i = h.i;
            return 0;
        case MP_FLOAT:
            e->kind = CKPT_F64;
            e->f = h.f;
            return 0;
        case MP_STR:
        case MP_BIN: {
            const uint8_t *s = c->p + c->off;
            if (h.t == MP_STR && memchr(s, 0, (size_t)h.len)) {
                return bad(c, "the string contains a NUL byte");
            }
            e->kind = h.t == MP_STR ? CKPT_STR : CKPT_BYTES;
            e->count = (size_t)h.len;
            e->owned = mem_alloc((size_t)h.len + 1); /* NUL-terminated for strings */
            memcpy(e->owned, s, (size_t)h.len);
            e->data = e->owned;
            c->off += (size_t)h.len;
            return 0;
        }
        case MP_MAP:
            return parse_f32(c, e, h.len);
        case MP_ARRAY:
            break;
    }
    return bad(c, "an array is not a checkpoint value");
}

/* the payload: one map {key: value}, nothing after it */
static int parse_payload(struct ckpt *ck, struct cur *c) {
    struct mp_head h;
    uint8_t b0 = c->n ? c->p[0] : 0;
    if (c->n && !((b0 >= 0x80 && b0 <= 0x8f) || b0 == 0xde || b0 == 0xdf)) {
        return bad(c, "the payload is not a msgpack map (first byte 0x%02x)", b0);
    }
    if (rd_head(c, &h)) {
        return -1;
    }
    if (h.len > CKPT_MAX_ENTRIES) {
        return bad(c, "%" PRIu64 " entries declared; this build reads at most %d", h.len,
                   CKPT_MAX_ENTRIES);
    }
    ck->entries = mem_alloc((size_t)h.len * sizeof *ck->entries);
    for (uint64_t k = 0; k < h.len; k++) {
        const uint8_t *key = NULL;
        size_t klen = 0;
        c->key[0] = 0;
        if (rd_str(c, &key, &klen, "a key")) {
            return -1;
        }
        show(c->key, sizeof c->key, key, klen);
        if (klen == 0 || klen > CKPT_MAX_KEY || memchr(key, 0, klen)) {
            return bad(c, "keys must be 1..%d bytes without NUL", CKPT_MAX_KEY);
        }
        for (size_t j = 0; j < ck->n; j++) {
            if (is_word(key, klen, ck->entries[j].key)) {
                return bad(c, "the key appears twice");
            }
        }
        struct ckpt_entry *e = &ck->entries[ck->n++];
        e->key = mem_alloc(klen + 1);
        memcpy(e->key, key, klen);
        if (parse_value(c, e)) {
            return -1;
        }
    }
    c->key[0] = 0;
    if (c->off != c->n) {
        return bad(c, "%zu bytes follow the map", c->n - c->off);
    }
    return 0;
}

/* ---- load -------------------------------------------------------------------------------- */

void ckpt_free(struct ckpt *c) {
    if (!c) {
        return;
    }
    ckpt_entries_free(c->entries, c->n);
    mem_free(c->path);
    memset(c, 0, sizeof *c);
}

/* checks the header against the file size; 0 with *plen, or -1 */
static int check_header(const char *path, const uint8_t *h, size_t got, uint64_t size,
                        uint64_t *plen, char *err, size_t errsz) {
    const char *fix = "re-save it or resume from an older checkpoint";
    if (memcmp(h, CKPT_MAGIC, got < 8 ? got : 8) != 0) {
        seterr(err, errsz,
               "ckpt: %s is not a floq checkpoint (it does not start with \"%s\"); pass a "
               "ckpt-<step>.ckpt file written by floq",
               path, CKPT_MAGIC);
        return -1;
    }
    if (got < CKPT_HEADER_SIZE) {
        seterr(err, errsz, "ckpt: %s is truncated (%zu of at least %d bytes); %s", path, got,
               MIN_FILE, fix);
        return -1;
    }
    if (ckpt_crc32(0, h, 20) != (uint32_t)get_le(h + 20, 4)) {
        seterr(err, errsz, "ckpt: %s has a corrupt header (CRC-32 mismatch); %s", path, fix);
        return -1;
    }
    uint32_t version = (uint32_t)get_le(h + 8, 4);
    if (version != CKPT_VERSION) {
        seterr(err, errsz,
               "ckpt: %s has format version %" PRIu32 "; this build reads version %d only; load "
               "it with the floq build that wrote it",
               path, version, CKPT_VERSION);
        return -1;
    }
    uint64_t L = get_le(h + 12, 8);
    if (L > UINT64_MAX - CKPT_HEADER_SIZE - CKPT_TRAILER_SIZE) {
        seterr(err, errsz, "ckpt: %s is corrupt (payload length %" PRIu64 "); %s", path, L, fix);
        return -1;
    }
    uint64_t total = L + CKPT_HEADER_SIZE + CKPT_TRAILER_SIZE;
    if (size < total) {
        seterr(err, errsz, "ckpt: %s is truncated (%" PRIu64 " of %" PRIu64 " bytes); %s", path,
               size, total, fix);
        return -1;
    }
    if (size > total) {
        seterr(err, errsz,
               "ckpt: %s is corrupt (%" PRIu64 " bytes, the header says %" PRIu64 "); %s", path,
               size, total, fix);
        return -1;
    }
    if (L > SIZE_MAX) {
        seterr(err, errsz, "ckpt: %s is too large for this 32-bit build", path);
        return -1;
    }
    *plen = L;
    return 0;
}

int ckpt_load(struct ckpt *c, const char *path, char *err, size_t errsz) {
    memset(c, 0, sizeof *c);
    uint64_t size;
    FILE *f = fopen_regular(path, "ckpt", "pass a ckpt-<step>.ckpt file", &size, err, errsz);
    if (!f) {
        return -1;
    }
    uint8_t head[CKPT_HEADER_SIZE], tail[CKPT_TRAILER_SIZE];
    size_t got = fread(head, 1, sizeof head, f);
    uint64_t L = 0;
    uint8_t *buf = NULL;
    if (check_header(path, head, got, size, &L, err, errsz)) {
        goto fail;
    }
    buf = mem_alloc((size_t)L);
    if (fread(buf, 1, (size_t)L, f) != (size_t)L || fread(tail, 1, sizeof tail, f) != 4) {
        seterr(err, errsz, "ckpt: cannot read %s: %s; check that nothing is writing it", path,
               ferror(f) ? strerror(errno) : "it got shorter while reading");
        goto fail;
    }
    uint32_t crc = ckpt_crc32(ckpt_crc32(0, head, sizeof head), buf, (size_t)L);
    uint32_t stored = (uint32_t)get_le(tail, 4);
    if (crc != stored) {
        seterr(err, errsz,
               "ckpt: %s is corrupt (CRC-32 %08" PRIx32 ", stored %08" PRIx32
               "); re-save it or resume from an older checkpoint",
               path, crc, stored);
        goto fail;
    }
    struct cur cur = {.p = buf, .n = (size_t)L, .path = path, .err = err, .errsz = errsz};
    if (parse_payload(c, &cur)) {
        goto fail;
    }
    c->path = mem_strdup(path);
    mem_free(buf);
    fclose(f);
    return 0;

fail:
    ckpt_free(c);
    mem_free(buf);
    fclose(f);
    return -1;
}

/* ---- lookups ----------------------------------------------------------------------------- */

const struct ckpt_entry *ckpt_find(const struct ckpt *c, const char *key) {
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->entries[i].key, key) == 0) {
            return &c->entries[i];
        }
    }
    return NULL;
}

const char *ckpt_kind_name(enum ckpt_kind kind) {
    switch (kind) {
        case CKPT_STR:
            return "string";
        case CKPT_UINT:
            return "unsigned integer";
        case CKPT_INT:
            return "signed integer";
        case CKPT_F64:
            return "float64";
        case CKPT_F32:
            return "float32 array";
        case CKPT_BYTES:
            return "bytes";
    }
    return "?";
}

static const char *kind_phrase(enum ckpt_kind kind) {
    static const char *const phrase[] = {"a string",  "an unsigned integer", "a signed integer",
                                         "a float64", "a float32 array",     "bytes"};
    return (unsigned)kind < FLOQ_ARRAY_LEN(phrase) ? phrase[kind] : "?";
}

static const char *cpath(const struct ckpt *c) {
    return c->path ? c->path : "checkpoint";
}

/* the entry called key if it is of kind want (or any kind when want < 0); else NULL + message */
static const struct ckpt_entry *lookup(const struct ckpt *c, const char *key, int want,
                                       const char *want_name, char *err, size_t errsz) {
    const struct ckpt_entry *e = ckpt_find(c, key);
    if (!e) {
        char have[200];
        size_t k = 0;
        have[0] = 0;
        for (size_t i = 0; i < c->n && k + 1 < sizeof have; i++) {
            int m = snprintf(have + k, sizeof have - k, "%s%s", i ? ", " : "", c->entries[i].key);
            k = m < 0 ? sizeof have : k + (size_t)m;
        }
        seterr(err, errsz,
               "ckpt: %s has no entry \"%s\" (it has: %s); it was written by another floq "
               "version or for another agent",
               cpath(c), key, c->n ? have : "nothing");
        return NULL;
    }
    if (want >= 0 && e->kind != (enum ckpt_kind)want) {
        seterr(err, errsz,
               "ckpt: %s: \"%s\" holds %s, expected %s; it was written by another floq "
               "version",
               cpath(c), key, kind_phrase(e->kind), want_name);
        return NULL;
    }
    return e;
}

int ckpt_get_str(const struct ckpt *c, const char *key, const char **s, char *err, size_t errsz) {
    const struct ckpt_entry *e = lookup(c, key, CKPT_STR, "a string", err, errsz);
    if (!e) {
        return -1;
    }
    *s = e->data;
    return 0;
}

int ckpt_get_u64(const struct ckpt *c, const char *key, uint64_t *v, char *err, size_t errsz) {
    const struct ckpt_entry *e = lookup(c, key, -1, NULL, err, errsz);
    if (!e) {
        return -1;
    }
    if (e->kind == CKPT_UINT) {
        *v = e->u;
        return 0;
    }
    if (e->kind == CKPT_INT) {
        seterr(err, errsz, "ckpt: %s: \"%s\" is %" PRId64 ", expected an unsigned integer",
               cpath(c), key, e->i);
    } else {
        lookup(c, key, CKPT_UINT, "an unsigned integer", err, errsz);
    }
    return -1;
}

int ckpt_get_i64(const struct ckpt *c, const char *key, int64_t *v, char *err, size_t errsz) {
    const struct ckpt_entry *e = lookup(c, key, -1, NULL, err, errsz);
    if (!e) {
        return -1;
    }
    if (e->kind == CKPT_INT) {
        *v = e->i;
        return 0;
    }
    if (e->kind == CKPT_UINT && e->u <= INT64_MAX) {
        *v = (int64_t)e->u;
        return 0;
    }
    if (e->kind == CKPT_UINT) {
        seterr(err, errsz, "ckpt: %s: \"%s\" is %" PRIu64 ", beyond int64", cpath(c), key, e->u);
    } else {
        lookup(c, key, CKPT_INT, "a signed integer", err, errsz);
    }
    return -1;
}

int ckpt_get_f64(const struct ckpt *c, const char *key, double *v, char *err, size_t errsz) {
    const struct ckpt_entry *e = lookup(c, key, -1, NULL, err, errsz);
    if (!e) {
        return -1;
    }
    switch (e->kind) {
        case CKPT_F64:
            *v = e->f;
            return 0;
        case CKPT_UINT:
            *v = (double)e->u;
            return 0;
        case CKPT_INT:
            *v = (double)e->i;
            return 0;
        default:
            lookup(c, key, CKPT_F64, "a number", err, errsz);
            return -1;
    }
}

int ckpt_get_f32(const struct ckpt *c, const char *key, int *ndim, size_t *shape,
                 const float **data, char *err, size_t errsz) {
    const struct ckpt_entry *e = lookup(c, key, CKPT_F32, "a float32 array", err, errsz);
    if (!e) {
        return -1;
    }
    if (ndim) {
        *ndim = e->ndim;
    }
    if (shape) {
        for (int d = 0; d < CKPT_MAX_DIMS; d++) {
            shape[d] = d < e->ndim ? e->shape[d] : 0;
        }
    }
    *data = e->data;
    return 0;
}

int ckpt_get_f32_exact(const struct ckpt *c, const char *key, size_t count, float *out, char *err,
                       size_t errsz) {
    const struct ckpt_entry *e = lookup(c, key, CKPT_F32, "a float32 array", err, errsz);
    if (!e) {
        return -1;
    }
    if (e->count != count) {
        seterr(err, errsz,
               "ckpt: %s: %s has %zu floats, this config needs %zu; the checkpoint was written "
               "with a different network size",
               cpath(c), key, e->count, count);
        return -1;
    }
    if (count) {
        memcpy(out, e->data, count * sizeof *out);
    }
    return 0;
}

int ckpt_get_bytes(const struct ckpt *c, const char *key, const void **data, size_t *n, char *err,
                   size_t errsz) {
    const struct ckpt_entry *e = lookup(c, key, CKPT_BYTES, "bytes", err, errsz);
    if (!e) {
        return -1;
    }
    *data = e->data;
    if (n) {
        *n = e->count;
    }
    return 0;
}

int ckpt_get_bytes_exact(const struct ckpt *c, const char *key, void *out, size_t n, char *err,
                         size_t errsz) {
    const struct ckpt_entry *e = lookup(c, key, CKPT_BYTES, "bytes", err, errsz);
    if (!e) {
        return -1;
    }
    if (e->count != n) {
        seterr(err, errsz,
               "ckpt: %s: %s has %zu bytes, expected %zu; it was written by a different floq "
               "build",
               cpath(c), key, e->count, n);
        return -1;
    }
    if (n) {
        memcpy(out, e->data, n);
    }
    return 0;
}
