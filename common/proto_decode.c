/* proto_decode.c — the bounded msgpack reader, message validation and bad-message accounting.
 * Received bytes are untrusted: every declared length is checked against the bytes present,
 * nothing is allocated, and outputs are written only after the whole message passed. */
#include "common/proto.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "proto: the wire format stores floats as little-endian bytes; add byte swapping here"
#endif

/* ---- bounded reader: every declared length is checked against the bytes present ------------ */

struct dec {
    const unsigned char *base; /* message start */
    const unsigned char *p;    /* next byte */
    const unsigned char *end;  /* end of the fields (after dec_begin: start of the checksum) */
    size_t len;                /* whole message */
    const char *kind;          /* kind name for messages */
    char *err;
    size_t errsz;
};

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        enum proto_status try_st_ = (expr);                                                        \
        if (try_st_ != PROTO_OK) {                                                                 \
            return try_st_;                                                                        \
        }                                                                                          \
    } while (0)

static enum proto_status dec_fail(struct dec *d, enum proto_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum proto_status dec_fail(struct dec *d, enum proto_status st, const char *fmt, ...) {
    if (d->err && d->errsz) {
        int k = snprintf(d->err, d->errsz, "proto: %s message: ", d->kind);
        if (k >= 0 && (size_t)k < d->errsz) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(d->err + k, d->errsz - (size_t)k, fmt, ap);
            va_end(ap);
        }
    }
    return st;
}

static size_t left(const struct dec *d) {
    return (size_t)(d->end - d->p);
}

static size_t offset(const struct dec *d) {
    return (size_t)(d->p - d->base);
}

static uint64_t load_be(const unsigned char *p, int nb) {
    uint64_t v = 0;
    for (int i = 0; i < nb; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

static enum proto_status rd_truncated(struct dec *d, const char *field) {
    return dec_fail(d, PROTO_ERR_TRUNCATED, "field '%s' at byte %zu runs past the end (%zu bytes)",
                    field, offset(d), d->len);
}

/* an unsigned int in any msgpack width (fixint, uint8..uint64) */
static enum proto_status rd_uint(struct dec *d, const char *field, uint64_t *v) {
    if (left(d) < 1) {
        return rd_truncated(d, field);
    }
    unsigned c = d->p[0];
    int nb;
    if (c <= 0x7f) {
        *v = c;
        d->p++;
        return PROTO_OK;
    }
    switch (c) {
        case 0xcc:
            nb = 1;
            break;
        case 0xcd:
            nb = 2;
            break;
        case 0xce:
            nb = 4;
            break;
        case 0xcf:
            nb = 8;
            break;
        default:
            return dec_fail(d, PROTO_ERR_FORMAT,
                            "field '%s' at byte %zu has msgpack type 0x%02x, expected an unsigned "
                            "int",
                            field, offset(d), c);
    }
    if (left(d) < (size_t)nb + 1) {
        return rd_truncated(d, field);
    }
    *v = load_be(d->p + 1, nb);
    d->p += 1 + nb;
    return PROTO_OK;
}

/* an unsigned int in [lo, hi]; outside gives status st */
static enum proto_status rd_u32(struct dec *d, const char *field, uint64_t lo, uint64_t hi,
                                enum proto_status st, uint32_t *v) {
    uint64_t x;
    TRY(rd_uint(d, field, &x));
    if (x < lo || x > hi) {
        return dec_fail(d, st, "field '%s' is %llu, allowed %llu..%llu", field,
                        (unsigned long long)x, (unsigned long long)lo, (unsigned long long)hi);
    }
    *v = (uint32_t)x;
    return PROTO_OK;
}

/* a bin (is_str = 0) or str (is_str = 1): pointer to its body and its length */
static enum proto_status rd_blob(struct dec *d, const char *field, int is_str,
                                 const unsigned char **body, size_t *n) {
    if (left(d) < 1) {
        return rd_truncated(d, field);
    }
    unsigned c = d->p[0];
    int nb = 0;
    uint64_t len = 0;
    if (is_str && c >= 0xa0 && c <= 0xbf) {
        len = c & 0x1f;
    } else if (!is_str && c >= 0xc4 && c <= 0xc6) {
        nb = 1 << (c - 0xc4);
    } else if (is_str && c >= 0xd9 && c <= 0xdb) {
        nb = 1 << (c - 0xd9);
    } else {
        return dec_fail(d, PROTO_ERR_FORMAT,
                        "field '%s' at byte %zu has msgpack type 0x%02x, "
                        "expected %s",
                        field, offset(d), c, is_str ? "str" : "bin");
    }
    if (left(d) < (size_t)nb + 1) {
        return rd_truncated(d, field);
    }
    if (nb) {
        len = load_be(d->p + 1, nb);
    }
    if (len > left(d) - 1 - (size_t)nb) {
        return dec_fail(d, PROTO_ERR_TRUNCATED,
                        "field '%s' at byte %zu declares %llu bytes, only %zu remain", field,
                        offset(d), (unsigned long long)len, left(d) - 1 - (size_t)nb);
    }
    *body = d->p + 1 + nb;
    *n = (size_t)len;
    d->p += 1 + (size_t)nb + (size_t)len;
    return PROTO_OK;
}

/* a bin of exactly want bytes */
static enum proto_status rd_bin(struct dec *d, const char *field, size_t want,
                                const unsigned char **body) {
    size_t n;
    TRY(rd_blob(d, field, 0, body, &n));
    if (n != want) {
        return dec_fail(d, PROTO_ERR_SIZE, "field '%s' is %zu bytes, its counts say %zu", field, n,
                        want);
    }
    return PROTO_OK;
}

/* array header, version and kind; then the checksum, so fields are read only from intact bytes */
static enum proto_status dec_begin(struct dec *d, const void *msg, size_t len, uint32_t kind,
                                   uint32_t nfields, int any_version, uint32_t *version, char *err,
                                   size_t errsz) {
    d->base = d->p = msg;
    d->end = msg ? d->base + len : d->base;
    d->len = msg ? len : 0;
    d->kind = proto_kind_name(kind);
    d->err = err;
    d->errsz = errsz;
    if (left(d) < 1) {
        return dec_fail(d, PROTO_ERR_TRUNCATED, "empty");
    }
    unsigned c = d->p[0];
    uint64_t count, ver = 0, k = 0;
    if (c >= 0x90 && c <= 0x9f) {
        count = c & 0x0f;
        d->p += 1;
    } else if (c == 0xdc || c == 0xdd) {
        int nb = c == 0xdc ? 2 : 4;
        if (left(d) < (size_t)nb + 1) {
            return rd_truncated(d, "array header");
        }
        count = load_be(d->p + 1, nb);
        d->p += 1 + nb;
    } else {
        return dec_fail(d, PROTO_ERR_FORMAT, "does not start with a msgpack array (byte 0x%02x)",
                        c);
    }
    TRY(rd_uint(d, "version", &ver));
    if (!any_version && ver != PROTO_VERSION) {
        return dec_fail(d, PROTO_ERR_VERSION,
                        "peer speaks protocol version %llu, this build %u; run the same floq "
                        "build on every rank",
                        (unsigned long long)ver, PROTO_VERSION);
    }
    TRY(rd_uint(d, "kind", &k));
    if (k != kind) {
        return dec_fail(d, PROTO_ERR_KIND, "kind is %llu (%s), expected %u", (unsigned long long)k,
                        k <= 0xff ? proto_kind_name((uint32_t)k) : "?", kind);
    }
    if (count != nfields) {
        return dec_fail(d, PROTO_ERR_FORMAT, "has %llu fields, expected %u",
                        (unsigned long long)count, nfields);
    }
    if (left(d) < PROTO_CHECKSUM_BYTES) {
        return dec_fail(d, PROTO_ERR_TRUNCATED, "too short for its fields (%zu bytes)", d->len);
    }
    const unsigned char *cs = d->base + d->len - PROTO_CHECKSUM_BYTES;
    if (cs[0] != 0xcf) {
        return dec_fail(d, PROTO_ERR_CHECKSUM,
                        "does not end with its checksum field (truncated or corrupted)");
    }
    uint64_t want = load_be(cs + 1, 8),
             got = proto_checksum(d->base, d->len - PROTO_CHECKSUM_BYTES);
    if (want != got) {
        return dec_fail(d, PROTO_ERR_CHECKSUM,
                        "checksum mismatch over %zu bytes (corrupted, or the sender reused its "
                        "buffer before the send completed)",
                        d->len);
    }
    d->end = cs;
    if (version) {
        *version = (uint32_t)ver;
    }
    return PROTO_OK;
}

static enum proto_status dec_finish(struct dec *d) {
    if (d->p != d->end) {
        return dec_fail(d, PROTO_ERR_FORMAT, "%zu unexpected bytes after the last field", left(d));
    }
    return PROTO_OK;
}

enum proto_status proto_peek(const void *msg, size_t len, uint32_t *version, uint32_t *kind) {
    struct dec d = {.base = msg,
                    .p = msg,
                    .end = msg ? (const unsigned char *)msg + len : msg,
                    .len = msg ? len : 0,
                    .kind = "?"};
    if (left(&d) < 1) {
        return PROTO_ERR_TRUNCATED;
    }
    unsigned c = d.p[0];
    if (c >= 0x90 && c <= 0x9f) {
        d.p += 1;
    } else if (c == 0xdc || c == 0xdd) {
        size_t nb = c == 0xdc ? 2 : 4;
        if (left(&d) < nb + 1) {
            return PROTO_ERR_TRUNCATED;
        }
        d.p += 1 + nb;
    } else {
        return PROTO_ERR_FORMAT;
    }
    uint64_t v = 0, k = 0;
    TRY(rd_uint(&d, "version", &v));
    TRY(rd_uint(&d, "kind", &k));
    if (version) {
        *version = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
    }
    if (kind) {
        *kind = k > UINT32_MAX ? UINT32_MAX : (uint32_t)k;
    }
    return PROTO_OK;
}

/* ---- value checks on raw little-endian bytes ----------------------------------------------- */

/* index of the first of n floats at p (unaligned) that is NaN, infinite or beyond +-limit, or
 * n. For IEEE floats the magnitude bits order like the values, with Inf and NaN above every
 * finite one, so one integer compare per value does all three; fixed-size blocks so gcc -O2
 * vectorises the OR-reduction */
static size_t find_beyond(const unsigned char *p, size_t n, float limit) {
    uint32_t lim;
    memcpy(&lim, &limit, 4);
    unsigned bad = 0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        uint32_t u[16];
        memcpy(u, p + 4 * i, sizeof u);
        for (int j = 0; j < 16; j++) {
            bad |= (u[j] & 0x7fffffffu) > lim;
        }
    }
    for (; i < n; i++) {
        uint32_t u;
        memcpy(&u, p + 4 * i, 4);
        bad |= (u & 0x7fffffffu) > lim;
    }
    for (i = 0; bad && i < n; i++) {
        uint32_t u;
        memcpy(&u, p + 4 * i, 4);
        if ((u & 0x7fffffffu) > lim) {
            return i;
        }
    }
    return n;
}

/* every value finite and within +-limit (FLT_MAX: finite only); the first one that is not
 * gives nonfinite or magnitude */
static enum proto_status check_bounded(struct dec *d, const char *field, const unsigned char *p,
                                       size_t rows, size_t cols, float limit) {
    size_t i = find_beyond(p, rows * cols, limit);
    if (i == rows * cols) {
        return PROTO_OK;
    }
    float v;
    memcpy(&v, p + 4 * i, 4);
    if (!isfinite(v)) {
        return dec_fail(d, PROTO_ERR_NONFINITE,
                        "%s[%zu][%zu] is %g (row, col); values must be finite", field, i / cols,
                        i % cols, (double)v);
    }
    return dec_fail(d, PROTO_ERR_MAGNITUDE,
                    "%s[%zu][%zu] is %g (row, col); values must be within +-%g", field, i / cols,
                    i % cols, (double)v, (double)limit);
}

static enum proto_status check_finite(struct dec *d, const char *field, const unsigned char *p,
                                      size_t rows, size_t cols) {
    return check_bounded(d, field, p, rows, cols, FLT_MAX);
}

/* index of the first byte > 1 among n, or n */
static size_t find_nonflag(const unsigned char *p, size_t n) {
    unsigned acc = 0;
    for (size_t i = 0; i < n; i++) {
        acc |= p[i];
    }
    if (acc <= 1) {
        return n;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i] > 1) {
            return i;
        }
    }
    return n;
}

static enum proto_status check_flags(struct dec *d, const char *field, const unsigned char *p,
                                     size_t n) {
    size_t i = find_nonflag(p, n);
    if (i == n) {
        return PROTO_OK;
    }
    return dec_fail(d, PROTO_ERR_FLAG, "%s[%zu] is %u, expected 0 or 1", field, i, p[i]);
}

/* ---- decoders ------------------------------------------------------------------------------ */

/* an env name read with rd_blob: 1..PROTO_MAX_NAME-1 printable ASCII bytes, copied into out
 * (NUL-terminated); checked after the other fields, as docs/protocol.md orders the checks */
static enum proto_status check_name(struct dec *d, const char *field, const unsigned char *name,
                                    size_t nl, char *out) {
    if (nl < 1 || nl >= PROTO_MAX_NAME) {
        return dec_fail(d, PROTO_ERR_SIZE, "%s is %zu bytes, allowed 1..%d", field, nl,
                        PROTO_MAX_NAME - 1);
    }
    for (size_t i = 0; i < nl; i++) {
        if (name[i] < 0x20 || name[i] > 0x7e) {
            return dec_fail(d, PROTO_ERR_RANGE, "%s byte %zu is 0x%02x, expected printable ASCII",
                            field, i, name[i]);
        }
    }
    memcpy(out, name, nl);
    out[nl] = 0;
    return PROTO_OK;
}

enum proto_status proto_decode_hello(struct proto_hello *out, const void *msg, size_t len,
                                     char *err, size_t errsz) {
    struct dec d;
    struct proto_hello h;
    memset(&h, 0, sizeof h);
    const unsigned char *name;
    size_t nl;
    TRY(dec_begin(&d, msg, len, PROTO_KIND_HELLO, PROTO_FIELDS_HELLO, 0, NULL, err, errsz));
    TRY(rd_u32(&d, "rank", 1, INT32_MAX, PROTO_ERR_RANGE, &h.rank));
    TRY(rd_blob(&d, "env_name", 1, &name, &nl));
    TRY(rd_u32(&d, "obs_dim", 1, PROTO_MAX_DIM, PROTO_ERR_SIZE, &h.obs_dim));
    TRY(rd_u32(&d, "act_dim", 1, PROTO_MAX_DIM, PROTO_ERR_SIZE, &h.act_dim));
    TRY(rd_u32(&d, "num_envs", 1, PROTO_MAX_ENVS, PROTO_ERR_RANGE, &h.num_envs));
    TRY(rd_u32(&d, "max_batch", 1, PROTO_MAX_BATCH, PROTO_ERR_SIZE, &h.max_batch));
    TRY(rd_uint(&d, "seed", &h.seed));
    TRY(dec_finish(&d));
    TRY(check_name(&d, "env_name", name, nl, h.env_name));
    *out = h;
    return PROTO_OK;
}

enum proto_status proto_check_hello(const struct proto_hello *h, const struct proto_dims *d,
                                    const char *env_name, char *err, size_t errsz) {
    struct dec dc = {.kind = "HELLO", .err = err, .errsz = errsz};
    if ((env_name && strcmp(env_name, h->env_name) != 0) || h->obs_dim != d->obs_dim ||
        h->act_dim != d->act_dim) {
        return dec_fail(&dc, PROTO_ERR_DIMS,
                        "actor rank %u runs env '%s' (obs %u, act %u), the learner '%s' (obs %u, "
                        "act %u); start every rank with the same --env_name",
                        h->rank, h->env_name, h->obs_dim, h->act_dim, env_name ? env_name : "?",
                        d->obs_dim, d->act_dim);
    }
    if (h->max_batch > d->max_batch) {
        return dec_fail(&dc, PROTO_ERR_DIMS,
                        "actor rank %u sends up to %u transitions per message, the learner "
                        "accepts %u; use the same batch settings on every rank",
                        h->rank, h->max_batch, d->max_batch);
    }
    return PROTO_OK;
}

/* values of a structurally sound TRANSITIONS message */
static enum proto_status check_transitions(struct dec *d, struct proto_transitions *t,
                                           const struct proto_dims *dm) {
    size_t n = t->n, k = t->n_episodes, O = t->obs_dim, A = t->act_dim;
    TRY(check_bounded(d, "obs", t->obs, n, O, PROTO_MAX_ABS));
    TRY(check_bounded(d, "act", t->act, n, A, PROTO_MAX_ABS));
    TRY(check_bounded(d, "rew", t->rew, n, 1, PROTO_MAX_ABS));
    TRY(check_bounded(d, "next_obs", t->next_obs, n, O, PROTO_MAX_ABS));
    TRY(check_bounded(d, "ep_return", t->ep_ret, k, 1, PROTO_MAX_RETURN));
    TRY(check_flags(d, "terminal", t->terminal, n));
    TRY(check_flags(d, "mask", t->mask, n));
    TRY(check_flags(d, "ep_success", t->ep_success, k));
    // mask = 1 - terminated and terminal = terminated or truncated, so mask 0 needs terminal 1
    unsigned bad = 0, nterm = 0;
    for (size_t i = 0; i < n; i++) {
        bad |= (unsigned)(t->mask[i] | t->terminal[i]) ^ 1u;
        nterm += t->terminal[i];
    }
    if (bad) {
        for (size_t i = 0; i < n; i++) {
            if (!t->mask[i] && !t->terminal[i]) {
                return dec_fail(d, PROTO_ERR_FLAG, "row %zu has mask 0 (terminated) but terminal 0",
                                i);
            }
        }
    }
    t->n_terminal = nterm;
    if (k > nterm) {
        return dec_fail(d, PROTO_ERR_SIZE, "%zu episode records for %u terminal rows", k, nterm);
    }
    uint32_t lo = UINT32_MAX, hi = 0;
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t v;
        memcpy(&v, t->wver + 4 * i, 4);
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        sum += v;
    }
    if (hi > dm->wver_max) {
        return dec_fail(d, PROTO_ERR_RANGE, "claims weight version %u, newest published is %u", hi,
                        dm->wver_max);
    }
    t->wver_min = lo;
    t->wver_max = hi;
    t->wver_sum = sum;
    for (size_t i = 0; i < k; i++) {
        uint32_t v;
        memcpy(&v, t->ep_len + 4 * i, 4);
        if (v < 1) {
            return dec_fail(d, PROTO_ERR_RANGE, "ep_length[%zu] is 0, episodes last >= 1 step", i);
        }
    }
    return PROTO_OK;
}

enum proto_status proto_decode_transitions(struct proto_transitions *out, const void *msg,
                                           size_t len, const struct proto_dims *dm, char *err,
                                           size_t errsz) {
    struct dec d;
    struct proto_transitions t;
    memset(&t, 0, sizeof t);
    uint32_t max_batch = FLOQ_MIN(dm->max_batch, PROTO_MAX_BATCH);
    TRY(dec_begin(&d, msg, len, PROTO_KIND_TRANSITIONS, PROTO_FIELDS_TRANSITIONS, 0, NULL, err,
                  errsz));
    TRY(rd_u32(&d, "rank", 1, INT32_MAX, PROTO_ERR_RANGE, &t.rank));
    TRY(rd_uint(&d, "seq", &t.seq));
    TRY(rd_uint(&d, "env_steps", &t.env_steps));
    TRY(rd_uint(&d, "wait_us", &t.wait_us));
    TRY(rd_u32(&d, "n", 1, max_batch, PROTO_ERR_SIZE, &t.n));
    TRY(rd_u32(&d, "obs_dim", 0, UINT32_MAX, PROTO_ERR_DIMS, &t.obs_dim));
    if (t.obs_dim != dm->obs_dim) {
        return dec_fail(&d, PROTO_ERR_DIMS, "obs_dim is %u, the env's is %u", t.obs_dim,
                        dm->obs_dim);
    }
    TRY(rd_u32(&d, "act_dim", 0, UINT32_MAX, PROTO_ERR_DIMS, &t.act_dim));
    if (t.act_dim != dm->act_dim) {
        return dec_fail(&d, PROTO_ERR_DIMS, "act_dim is %u, the env's is %u", t.act_dim,
                        dm->act_dim);
    }
    TRY(rd_u32(&d, "n_episodes", 0, t.n, PROTO_ERR_SIZE, &t.n_episodes));
    size_t n = t.n, k = t.n_episodes, O = t.obs_dim, A = t.act_dim;
    TRY(rd_bin(&d, "obs", 4 * n * O, &t.obs));
    TRY(rd_bin(&d, "act", 4 * n * A, &t.act));
    TRY(rd_bin(&d, "rew", 4 * n, &t.rew));
    TRY(rd_bin(&d, "terminal", n, &t.terminal));
    TRY(rd_bin(&d, "mask", n, &t.mask));
    TRY(rd_bin(&d, "next_obs", 4 * n * O, &t.next_obs));
    TRY(rd_bin(&d, "wver", 4 * n, &t.wver));
    TRY(rd_bin(&d, "ep_return", 4 * k, &t.ep_ret));
    TRY(rd_bin(&d, "ep_length", 4 * k, &t.ep_len));
    TRY(rd_bin(&d, "ep_success", k, &t.ep_success));
    TRY(dec_finish(&d));
    TRY(check_transitions(&d, &t, dm));
    *out = t;
    return PROTO_OK;
}

void proto_transitions_copy(const struct proto_transitions *t, uint32_t first, uint32_t count,
                            const struct proto_rows *dst) {
    FLOQ_ASSERT(first <= t->n && count <= t->n - first);
    size_t f = first, c = count, O = t->obs_dim, A = t->act_dim;
    if (dst->obs) {
        memcpy(dst->obs, t->obs + 4 * f * O, 4 * c * O);
    }
    if (dst->act) {
        memcpy(dst->act, t->act + 4 * f * A, 4 * c * A);
    }
    if (dst->rew) {
        memcpy(dst->rew, t->rew + 4 * f, 4 * c);
    }
    if (dst->terminal) {
        for (size_t i = 0; i < c; i++) {
            dst->terminal[i] = (float)t->terminal[f + i];
        }
    }
    if (dst->mask) {
        for (size_t i = 0; i < c; i++) {
            dst->mask[i] = (float)t->mask[f + i];
        }
    }
    if (dst->next_obs) {
        memcpy(dst->next_obs, t->next_obs + 4 * f * O, 4 * c * O);
    }
    if (dst->wver) {
        memcpy(dst->wver, t->wver + 4 * f, 4 * c);
    }
}

struct proto_episode proto_transitions_episode(const struct proto_transitions *t, uint32_t i) {
    FLOQ_ASSERT(i < t->n_episodes);
    struct proto_episode e;
    memcpy(&e.ret, t->ep_ret + 4 * (size_t)i, 4);
    memcpy(&e.length, t->ep_len + 4 * (size_t)i, 4);
    e.success = t->ep_success[i];
    return e;
}

void proto_transitions_read(const struct proto_transitions *t, struct proto_batch *b) {
    FLOQ_ASSERT(b->obs_dim == t->obs_dim && b->act_dim == t->act_dim && b->cap >= t->n);
    size_t n = t->n, O = t->obs_dim, A = t->act_dim;
    b->n = t->n;
    b->rank = t->rank;
    b->seq = t->seq;
    b->env_steps = t->env_steps;
    b->wait_us = t->wait_us;
    memcpy(b->obs, t->obs, 4 * n * O);
    memcpy(b->act, t->act, 4 * n * A);
    memcpy(b->rew, t->rew, 4 * n);
    memcpy(b->terminal, t->terminal, n);
    memcpy(b->mask, t->mask, n);
    memcpy(b->next_obs, t->next_obs, 4 * n * O);
    memcpy(b->wver, t->wver, 4 * n);
    b->n_episodes = t->n_episodes;
    for (uint32_t i = 0; i < t->n_episodes; i++) {
        b->episodes[i] = proto_transitions_episode(t, i);
    }
}

enum proto_status proto_decode_weights(uint32_t *wver, float *params, const void *msg, size_t len,
                                       const struct proto_dims *dm, char *err, size_t errsz) {
    struct dec d;
    uint32_t v = 0, n = 0;
    const unsigned char *body;
    TRY(dec_begin(&d, msg, len, PROTO_KIND_WEIGHTS, PROTO_FIELDS_WEIGHTS, 0, NULL, err, errsz));
    TRY(rd_u32(&d, "wver", 0, UINT32_MAX, PROTO_ERR_RANGE, &v));
    TRY(rd_u32(&d, "n_params", 1, PROTO_MAX_PARAMS, PROTO_ERR_SIZE, &n));
    if (n != dm->n_params) {
        return dec_fail(&d, PROTO_ERR_DIMS, "has %u params, the policy has %u", n, dm->n_params);
    }
    TRY(rd_bin(&d, "params", 4 * (size_t)n, &body));
    TRY(dec_finish(&d));
    TRY(check_finite(&d, "params", body, n, 1));
    memcpy(params, body, 4 * (size_t)n);
    *wver = v;
    return PROTO_OK;
}

enum proto_status proto_decode_control(struct proto_control *out, const void *msg, size_t len,
                                       char *err, size_t errsz) {
    struct dec d;
    struct proto_control c = {0, 0, 0};
    TRY(dec_begin(&d, msg, len, PROTO_KIND_CONTROL, PROTO_FIELDS_CONTROL, 0, NULL, err, errsz));
    TRY(rd_u32(&d, "cmd", PROTO_CTRL_ACCEPT, PROTO_CTRL_END, PROTO_ERR_RANGE, &c.cmd));
    TRY(rd_u32(&d, "credits", 0, UINT32_MAX, PROTO_ERR_RANGE, &c.credits));
    TRY(rd_u32(&d, "wver", 0, UINT32_MAX, PROTO_ERR_RANGE, &c.wver));
    TRY(dec_finish(&d));
    *out = c;
    return PROTO_OK;
}

enum proto_status proto_decode_error(struct proto_error *out, const void *msg, size_t len,
                                     char *err, size_t errsz) {
    struct dec d;
    struct proto_error e;
    memset(&e, 0, sizeof e);
    const unsigned char *text;
    size_t tl;
    TRY(dec_begin(&d, msg, len, PROTO_KIND_ERROR, PROTO_FIELDS_ERROR, 1, &e.version, err, errsz));
    TRY(rd_u32(&d, "code", 0, UINT32_MAX, PROTO_ERR_RANGE, &e.code));
    TRY(rd_blob(&d, "text", 1, &text, &tl));
    TRY(dec_finish(&d));
    if (tl >= PROTO_MAX_TEXT) {
        return dec_fail(&d, PROTO_ERR_SIZE, "text is %zu bytes, allowed %d", tl,
                        PROTO_MAX_TEXT - 1);
    }
    for (size_t i = 0; i < tl; i++) {
        e.text[i] = text[i] >= 0x20 && text[i] <= 0x7e ? (char)text[i] : '?';
    }
    *out = e;
    return PROTO_OK;
}

enum proto_status proto_decode_bye(struct proto_bye *out, const void *msg, size_t len, char *err,
                                   size_t errsz) {
    struct dec d;
    struct proto_bye b = {0, 0, 0, 0};
    TRY(dec_begin(&d, msg, len, PROTO_KIND_BYE, PROTO_FIELDS_BYE, 0, NULL, err, errsz));
    TRY(rd_u32(&d, "rank", 1, INT32_MAX, PROTO_ERR_RANGE, &b.rank));
    TRY(rd_uint(&d, "env_steps", &b.env_steps));
    TRY(rd_uint(&d, "sent", &b.sent));
    TRY(rd_uint(&d, "episodes", &b.episodes));
    TRY(dec_finish(&d));
    *out = b;
    return PROTO_OK;
}

enum proto_status proto_decode_setup(struct proto_setup *out, const void *msg, size_t len,
                                     char *err, size_t errsz) {
    struct dec d;
    struct proto_setup s;
    memset(&s, 0, sizeof s);
    uint32_t obs_dim = 0, act_dim = 0, ln = 0, gelu = 0;
    const unsigned char *name, *hidden;
    size_t nl, hl;
    TRY(dec_begin(&d, msg, len, PROTO_KIND_SETUP, PROTO_FIELDS_SETUP, 0, NULL, err, errsz));
    TRY(rd_blob(&d, "env_name", 1, &name, &nl));
    TRY(rd_u32(&d, "num_envs", 1, PROTO_MAX_ENVS, PROTO_ERR_RANGE, &s.num_envs));
    TRY(rd_uint(&d, "seed", &s.seed));
    TRY(rd_u32(&d, "max_batch", 1, PROTO_MAX_BATCH, PROTO_ERR_SIZE, &s.max_batch));
    TRY(rd_u32(&d, "n_params", 1, PROTO_MAX_PARAMS, PROTO_ERR_SIZE, &s.n_params));
    TRY(rd_u32(&d, "obs_dim", 1, PROTO_MAX_DIM, PROTO_ERR_SIZE, &obs_dim));
    TRY(rd_u32(&d, "act_dim", 1, PROTO_MAX_DIM, PROTO_ERR_SIZE, &act_dim));
    TRY(rd_blob(&d, "hidden", 0, &hidden, &hl));
    if (hl % 4 != 0 || hl < 4 || hl > 4 * MLP_MAX_HIDDEN) {
        return dec_fail(&d, PROTO_ERR_SIZE, "field 'hidden' is %zu bytes, expected 1..%d uint32",
                        hl, MLP_MAX_HIDDEN);
    }
    TRY(rd_u32(&d, "layer_norm", 0, 1, PROTO_ERR_FLAG, &ln));
    TRY(rd_u32(&d, "gelu_exact", 0, 1, PROTO_ERR_FLAG, &gelu));
    TRY(dec_finish(&d));
    TRY(check_name(&d, "env_name", name, nl, s.env_name));
    struct policy_cfg *p = &s.policy;
    p->obs_dim = (int)obs_dim, p->act_dim = (int)act_dim;
    p->layer_norm = (int)ln, p->gelu_exact = (int)gelu;
    p->n_hidden = (int)(hl / 4);
    for (int i = 0; i < p->n_hidden; i++) {
        uint32_t w;
        memcpy(&w, hidden + 4 * (size_t)i, 4);
        if (w < 1 || w > POLICY_MAX_WIDTH) {
            return dec_fail(&d, PROTO_ERR_RANGE, "hidden[%d] is %u, allowed 1..%d", i, w,
                            POLICY_MAX_WIDTH);
        }
        p->hidden[i] = (int)w;
    }
    *out = s;
    return PROTO_OK;
}

/* ---- bad-message accounting ---------------------------------------------------------------- */

void proto_stats_count(struct proto_stats *s, enum proto_status st, int rank, const char *err) {
    if (st == PROTO_OK) {
        s->ok++;
        return;
    }
    if ((unsigned)st >= PROTO_STATUS_COUNT) {
        st = PROTO_ERR_FORMAT;
    }
    s->bad[st]++;
    s->bad_total++;
    double now = now_sec(), every = s->log_interval > 0 ? s->log_interval : 2.0;
    if (s->last_log != 0 && now - s->last_log < every) {
        s->suppressed++;
        return;
    }
    log_warn("dropped a message from rank %d (%s, %llu dropped in all, %llu not logged since the "
             "last line): %s",
             rank, proto_status_name(st), (unsigned long long)s->bad_total,
             (unsigned long long)s->suppressed, err && err[0] ? err : "(no detail)");
    s->last_log = now;
    s->suppressed = 0;
}
