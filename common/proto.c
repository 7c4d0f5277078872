/* proto.c — names, the XXH64 checksum, output buffers, batches and the encoders (msgpack-c's
 * packer writing into a proto_buf). Decoding is in proto_decode.c. */
#include "common/proto.h"

#include <msgpack.h>
#include <stdio.h>
#include <string.h>

#include "common/mem.h"
#include "common/util.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "proto: the wire format stores floats as little-endian bytes; add byte swapping here"
#endif

static const char *const status_names[PROTO_STATUS_COUNT] = {
    "ok",        "truncated", "format", "version",   "kind",   "checksum", "size",  "dims",
    "nonfinite", "flag",      "range",  "magnitude", "credit", "sequence", "state", "channel",
};

const char *proto_status_name(enum proto_status st) {
    return (unsigned)st < PROTO_STATUS_COUNT ? status_names[st] : "?";
}

const char *proto_kind_name(uint32_t kind) {
    static const char *const names[] = {"?",       "HELLO", "TRANSITIONS", "WEIGHTS",
                                        "CONTROL", "ERROR", "BYE",         "SETUP"};
    return kind < FLOQ_ARRAY_LEN(names) ? names[kind] : "?";
}

/* ---- checksum: XXH64 with seed 0 (the published algorithm) ------------------------------- */

#define XXP1 0x9E3779B185EBCA87ULL
#define XXP2 0xC2B2AE3D27D4EB4FULL
#define XXP3 0x165667B19E3779F9ULL
#define XXP4 0x85EBCA77C2B2AE63ULL
#define XXP5 0x27D4EB2F165667C5ULL

static inline uint64_t rotl64(uint64_t x, int r) {
    return (x << r) | (x >> (64 - r));
}

static inline uint64_t xx_round(uint64_t acc, uint64_t in) {
    return rotl64(acc + in * XXP2, 31) * XXP1;
}

static inline uint64_t xx_merge(uint64_t acc, uint64_t v) {
    return (acc ^ xx_round(0, v)) * XXP1 + XXP4;
}

static inline uint64_t load64(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

uint64_t proto_checksum(const void *data, size_t n) {
    const unsigned char *p = data, *end = n ? p + n : p;
    uint64_t h;
    // 32-byte stripes in four lanes
    if (n >= 32) {
        uint64_t v1 = XXP1 + XXP2, v2 = XXP2, v3 = 0, v4 = 0 - XXP1;
        for (; end - p >= 32; p += 32) {
            v1 = xx_round(v1, load64(p));
            v2 = xx_round(v2, load64(p + 8));
            v3 = xx_round(v3, load64(p + 16));
            v4 = xx_round(v4, load64(p + 24));
        }
        h = rotl64(v1, 1) + rotl64(v2, 7) + rotl64(v3, 12) + rotl64(v4, 18);
        h = xx_merge(h, v1);
        h = xx_merge(h, v2);
        h = xx_merge(h, v3);
        h = xx_merge(h, v4);
    } else {
        h = XXP5;
    }
    h += (uint64_t)n;
    // the tail: 8-byte words, one 4-byte word, bytes
    for (; end - p >= 8; p += 8) {
        h = rotl64(h ^ xx_round(0, load64(p)), 27) * XXP1 + XXP4;
    }
    if (end - p >= 4) {
        uint32_t w;
        memcpy(&w, p, 4);
        h = rotl64(h ^ (uint64_t)w * XXP1, 23) * XXP2 + XXP3;
        p += 4;
    }
    for (; p < end; p++) {
        h = rotl64(h ^ (uint64_t)*p * XXP5, 11) * XXP1;
    }
    // avalanche
    h ^= h >> 33;
    h *= XXP2;
    h ^= h >> 29;
    h *= XXP3;
    return h ^ (h >> 32);
}

/* ---- output buffer ------------------------------------------------------------------------- */

static void buf_reserve(struct proto_buf *b, size_t extra) {
    if (b->cap - b->size >= extra) {
        return;
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->size < extra) {
        cap *= 2;
    }
    unsigned char *p = mem_alloc(cap);
    if (b->size) {
        memcpy(p, b->data, b->size);
    }
    mem_free(b->data);
    b->data = p;
    b->cap = cap;
}

static int buf_write(void *data, const char *src, size_t len) {
    struct proto_buf *b = data;
    buf_reserve(b, len);
    memcpy(b->data + b->size, src, len);
    b->size += len;
    return 0;
}

/* space for len bytes the caller fills in place */
static unsigned char *buf_take(struct proto_buf *b, size_t len) {
    buf_reserve(b, len);
    unsigned char *p = b->data + b->size;
    b->size += len;
    return p;
}

void proto_buf_init(struct proto_buf *b, size_t reserve) {
    memset(b, 0, sizeof *b);
    buf_reserve(b, reserve ? reserve : 4096);
}

void proto_buf_free(struct proto_buf *b) {
    if (!b) {
        return;
    }
    mem_free(b->data);
    memset(b, 0, sizeof *b);
}

/* ---- batches ------------------------------------------------------------------------------- */

int proto_batch_init(struct proto_batch *b, uint32_t obs_dim, uint32_t act_dim, uint32_t cap,
                     char *err, size_t errsz) {
    memset(b, 0, sizeof *b);
    if (obs_dim < 1 || obs_dim > PROTO_MAX_DIM || act_dim < 1 || act_dim > PROTO_MAX_DIM) {
        seterr(err, errsz, "proto: batch dims obs %u act %u outside 1..%u", obs_dim, act_dim,
               PROTO_MAX_DIM);
        return -1;
    }
    if (cap < 1 || cap > PROTO_MAX_BATCH) {
        seterr(err, errsz, "proto: batch capacity %u outside 1..%u; lower the batch size", cap,
               PROTO_MAX_BATCH);
        return -1;
    }
    b->obs_dim = obs_dim;
    b->act_dim = act_dim;
    b->cap = cap;
    b->obs = mem_alloc(sizeof(float) * cap * obs_dim);
    b->act = mem_alloc(sizeof(float) * cap * act_dim);
    b->rew = mem_alloc(sizeof(float) * cap);
    b->terminal = mem_alloc(cap);
    b->mask = mem_alloc(cap);
    b->next_obs = mem_alloc(sizeof(float) * cap * obs_dim);
    b->wver = mem_alloc(sizeof(uint32_t) * cap);
    b->episodes = mem_alloc(sizeof(struct proto_episode) * cap);
    return 0;
}

void proto_batch_free(struct proto_batch *b) {
    if (!b) {
        return;
    }
    MEM_FREE_ALL(b->obs, b->act, b->rew, b->terminal, b->mask, b->next_obs, b->wver, b->episodes);
    memset(b, 0, sizeof *b);
}

void proto_batch_clear(struct proto_batch *b) {
    b->n = 0;
    b->n_episodes = 0;
}

int proto_batch_push(struct proto_batch *b, const float *obs, const float *act, float rew,
                     int terminal, int mask, const float *next_obs, uint32_t wver) {
    if (b->n >= b->cap) {
        return -1;
    }
    size_t i = b->n++, O = b->obs_dim, A = b->act_dim;
    memcpy(b->obs + i * O, obs, sizeof(float) * O);
    memcpy(b->act + i * A, act, sizeof(float) * A);
    b->rew[i] = rew;
    b->terminal[i] = terminal != 0;
    b->mask[i] = mask != 0;
    memcpy(b->next_obs + i * O, next_obs, sizeof(float) * O);
    b->wver[i] = wver;
    return 0;
}

int proto_batch_push_episode(struct proto_batch *b, float ret, uint32_t length, int success) {
    if (b->n_episodes >= b->cap) {
        return -1;
    }
    struct proto_episode *e = &b->episodes[b->n_episodes++];
    e->ret = ret;
    e->length = length;
    e->success = success != 0;
    return 0;
}

/* ---- encoding ------------------------------------------------------------------------------ */

static void enc_begin(struct proto_buf *out, msgpack_packer *pk, uint32_t kind, uint32_t nfields,
                      size_t reserve) {
    out->size = 0;
    buf_reserve(out, reserve);
    msgpack_packer_init(pk, out, buf_write);
    msgpack_pack_array(pk, nfields);
    msgpack_pack_uint32(pk, PROTO_VERSION);
    msgpack_pack_uint32(pk, kind);
}

/* the checksum covers every byte before its own field */
static void enc_end(struct proto_buf *out, msgpack_packer *pk) {
    msgpack_pack_fix_uint64(pk, proto_checksum(out->data, out->size));
}

static void enc_bin(struct proto_buf *out, msgpack_packer *pk, const void *p, size_t len) {
    msgpack_pack_bin(pk, len);
    if (len) {
        buf_write(out, p, len);
    }
}

int proto_encode_hello(struct proto_buf *out, const struct proto_hello *h, char *err,
                       size_t errsz) {
    size_t nl = strnlen(h->env_name, PROTO_MAX_NAME);
    if (nl == 0 || nl >= PROTO_MAX_NAME) {
        seterr(err, errsz, "proto: env name must be 1..%d bytes", PROTO_MAX_NAME - 1);
        return -1;
    }
    msgpack_packer pk;
    enc_begin(out, &pk, PROTO_KIND_HELLO, PROTO_FIELDS_HELLO, PROTO_SMALL_BYTES);
    msgpack_pack_uint32(&pk, h->rank);
    msgpack_pack_str_with_body(&pk, h->env_name, nl);
    msgpack_pack_uint32(&pk, h->obs_dim);
    msgpack_pack_uint32(&pk, h->act_dim);
    msgpack_pack_uint32(&pk, h->num_envs);
    msgpack_pack_uint32(&pk, h->max_batch);
    msgpack_pack_uint64(&pk, h->seed);
    enc_end(out, &pk);
    return 0;
}

size_t proto_transitions_max_bytes(uint32_t obs_dim, uint32_t act_dim, uint32_t max_batch) {
    size_t n = max_batch, O = obs_dim, A = act_dim;
    // 3-byte array header, <= 9 bytes per scalar field or bin header, the bodies
    return 3 + 9 * (size_t)PROTO_FIELDS_TRANSITIONS + n * (8 * O + 4 * A + 4 + 1 + 1 + 4) +
           n * (4 + 4 + 1);
}

size_t proto_weights_bytes(size_t n_params) {
    // array, version and kind (1 byte each), wver and n (<= 5), bin32 header, body, checksum
    return 3 + 5 + 5 + 5 + 4 * n_params + PROTO_CHECKSUM_BYTES;
}

int proto_encode_transitions(struct proto_buf *out, const struct proto_batch *b, char *err,
                             size_t errsz) {
    if (b->n < 1 || b->n > b->cap) {
        seterr(err, errsz, "proto: TRANSITIONS needs 1..%u rows, batch has %u", b->cap, b->n);
        return -1;
    }
    if (b->n_episodes > b->n) {
        seterr(err, errsz, "proto: TRANSITIONS has %u episodes for %u rows (at most one each)",
               b->n_episodes, b->n);
        return -1;
    }
    size_t n = b->n, k = b->n_episodes, O = b->obs_dim, A = b->act_dim;
    msgpack_packer pk;
    enc_begin(out, &pk, PROTO_KIND_TRANSITIONS, PROTO_FIELDS_TRANSITIONS,
              proto_transitions_max_bytes(b->obs_dim, b->act_dim, b->n));
    msgpack_pack_uint32(&pk, b->rank);
    msgpack_pack_uint64(&pk, b->seq);
    msgpack_pack_uint64(&pk, b->env_steps);
    msgpack_pack_uint64(&pk, b->wait_us);
    msgpack_pack_uint32(&pk, b->n);
    msgpack_pack_uint32(&pk, b->obs_dim);
    msgpack_pack_uint32(&pk, b->act_dim);
    msgpack_pack_uint32(&pk, b->n_episodes);
    enc_bin(out, &pk, b->obs, 4 * n * O);
    enc_bin(out, &pk, b->act, 4 * n * A);
    enc_bin(out, &pk, b->rew, 4 * n);
    enc_bin(out, &pk, b->terminal, n);
    enc_bin(out, &pk, b->mask, n);
    enc_bin(out, &pk, b->next_obs, 4 * n * O);
    enc_bin(out, &pk, b->wver, 4 * n);
    // episodes: three packed columns
    msgpack_pack_bin(&pk, 4 * k);
    unsigned char *p = buf_take(out, 4 * k);
    for (size_t i = 0; i < k; i++) {
        memcpy(p + 4 * i, &b->episodes[i].ret, 4);
    }
    msgpack_pack_bin(&pk, 4 * k);
    p = buf_take(out, 4 * k);
    for (size_t i = 0; i < k; i++) {
        memcpy(p + 4 * i, &b->episodes[i].length, 4);
    }
    msgpack_pack_bin(&pk, k);
    p = buf_take(out, k);
    for (size_t i = 0; i < k; i++) {
        p[i] = b->episodes[i].success;
    }
    enc_end(out, &pk);
    return 0;
}

int proto_encode_weights(struct proto_buf *out, uint32_t wver, const float *params, size_t n_params,
                         char *err, size_t errsz) {
    if (n_params < 1 || n_params > PROTO_MAX_PARAMS) {
        seterr(err, errsz, "proto: WEIGHTS of %zu params outside 1..%u", n_params,
               PROTO_MAX_PARAMS);
        return -1;
    }
    msgpack_packer pk;
    enc_begin(out, &pk, PROTO_KIND_WEIGHTS, PROTO_FIELDS_WEIGHTS, proto_weights_bytes(n_params));
    msgpack_pack_uint32(&pk, wver);
    msgpack_pack_uint32(&pk, (uint32_t)n_params);
    enc_bin(out, &pk, params, 4 * n_params);
    enc_end(out, &pk);
    return 0;
}

int proto_encode_control(struct proto_buf *out, const struct proto_control *c, char *err,
                         size_t errsz) {
    if (c->cmd < PROTO_CTRL_ACCEPT || c->cmd > PROTO_CTRL_END) {
        seterr(err, errsz, "proto: CONTROL command %u unknown", c->cmd);
        return -1;
    }
    msgpack_packer pk;
    enc_begin(out, &pk, PROTO_KIND_CONTROL, PROTO_FIELDS_CONTROL, PROTO_SMALL_BYTES);
    msgpack_pack_uint32(&pk, c->cmd);
    msgpack_pack_uint32(&pk, c->credits);
    msgpack_pack_uint32(&pk, c->wver);
    enc_end(out, &pk);
    return 0;
}

int proto_encode_error(struct proto_buf *out, uint32_t code, const char *text, char *err,
                       size_t errsz) {
    if (code == PROTO_OK) {
        seterr(err, errsz, "proto: an ERROR needs a failure code, not %u (ok)", code);
        return -1;
    }
    size_t tl = text ? strnlen(text, PROTO_MAX_TEXT - 1) : 0;
    msgpack_packer pk;
    enc_begin(out, &pk, PROTO_KIND_ERROR, PROTO_FIELDS_ERROR, PROTO_SMALL_BYTES);
    msgpack_pack_uint32(&pk, code);
    msgpack_pack_str_with_body(&pk, tl ? text : "", tl);
    enc_end(out, &pk);
    return 0;
}

int proto_encode_bye(struct proto_buf *out, const struct proto_bye *b, char *err, size_t errsz) {
    if (b->rank < 1 || b->rank > INT32_MAX) {
        seterr(err, errsz, "proto: BYE rank %u outside 1..%d", b->rank, INT32_MAX);
        return -1;
    }
    msgpack_packer pk;
    enc_begin(out, &pk, PROTO_KIND_BYE, PROTO_FIELDS_BYE, PROTO_SMALL_BYTES);
    msgpack_pack_uint32(&pk, b->rank);
    msgpack_pack_uint64(&pk, b->env_steps);
    msgpack_pack_uint64(&pk, b->sent);
    msgpack_pack_uint64(&pk, b->episodes);
    enc_end(out, &pk);
    return 0;
}

int proto_encode_setup(struct proto_buf *out, const struct proto_setup *s, char *err,
                       size_t errsz) {
    size_t nl = strnlen(s->env_name, PROTO_MAX_NAME);
    if (nl == 0 || nl >= PROTO_MAX_NAME) {
        seterr(err, errsz, "proto: env name must be 1..%d bytes", PROTO_MAX_NAME - 1);
        return -1;
    }
    const struct policy_cfg *p = &s->policy;
    if (p->n_hidden < 1 || p->n_hidden > MLP_MAX_HIDDEN) {
        seterr(err, errsz, "proto: SETUP policy of %d hidden layers, allowed 1..%d", p->n_hidden,
               MLP_MAX_HIDDEN);
        return -1;
    }
    uint32_t hidden[MLP_MAX_HIDDEN];
    for (int i = 0; i < p->n_hidden; i++) {
        hidden[i] = (uint32_t)p->hidden[i];
    }
    msgpack_packer pk;
    enc_begin(out, &pk, PROTO_KIND_SETUP, PROTO_FIELDS_SETUP, PROTO_SMALL_BYTES);
    msgpack_pack_str_with_body(&pk, s->env_name, nl);
    msgpack_pack_uint32(&pk, s->num_envs);
    msgpack_pack_uint64(&pk, s->seed);
    msgpack_pack_uint32(&pk, s->max_batch);
    msgpack_pack_uint32(&pk, s->n_params);
    msgpack_pack_uint32(&pk, (uint32_t)p->obs_dim);
    msgpack_pack_uint32(&pk, (uint32_t)p->act_dim);
    enc_bin(out, &pk, hidden, 4 * (size_t)p->n_hidden);
    msgpack_pack_uint32(&pk, (uint32_t)p->layer_norm);
    msgpack_pack_uint32(&pk, (uint32_t)p->gelu_exact);
    enc_end(out, &pk);
    return 0;
}
