/* test_proto — wire format: round trips, corruption, hostile sizes, validation, zero-alloc. */
#include "common/proto.h"

#include <float.h>
#include <malloc.h>
#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/rng.h"
#include "common/util.h"
#include "tests/check.h"

static char err[512];

/* a copy of the bytes in an exact-size malloc block, so ASan sees any overread */
static unsigned char *exact_copy(const void *p, size_t n) {
    unsigned char *q = malloc(n ? n : 1);
    if (n) {
        memcpy(q, p, n);
    }
    return q;
}

/* recomputes the trailing checksum after a test edits a message */
static void reseal(unsigned char *m, size_t len) {
    uint64_t h = proto_checksum(m, len - 9);
    m[len - 9] = 0xcf;
    for (int i = 0; i < 8; i++) {
        m[len - 8 + i] = (unsigned char)(h >> (56 - 8 * i));
    }
}

static long rss_kb(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2) {
            rss = 0;
        }
        fclose(f);
    }
    return rss * 4;
}

static const struct proto_dims DIMS_SMALL = {
    .obs_dim = 3, .act_dim = 2, .max_batch = 8, .n_params = 5, .wver_max = UINT32_MAX};

/* a small batch with awkward floats: -0.0, denormals, the magnitude bound itself */
static void fill_batch(struct proto_batch *b, struct rng *r, uint32_t n) {
    static const float special[] = {-0.0f,         0.0f,           1e-45f,  -1.17549421e-38f,
                                    PROTO_MAX_ABS, -PROTO_MAX_ABS, FLT_MIN, 1.0f,
                                    -1.0f,         3.14159274f};
    proto_batch_clear(b);
    for (uint32_t i = 0; i < n; i++) {
        float obs[64], act[64], nobs[64];
        for (uint32_t j = 0; j < b->obs_dim; j++) {
            obs[j] = rng_uniform(r) < 0.3f ? special[rng_below(r, 10)] : rng_normal(r);
            nobs[j] = rng_uniform(r) < 0.3f ? special[rng_below(r, 10)] : rng_normal(r);
        }
        for (uint32_t j = 0; j < b->act_dim; j++) {
            act[j] = rng_uniform(r) * 2 - 1;
        }
        int term = i % 3 == 2, mask = !(term && i % 2);
        proto_batch_push(b, obs, act, i == 0 ? -0.0f : -rng_uniform(r), term, mask, nobs, 7 + i);
        if (term) {
            proto_batch_push_episode(b, -12.5f - (float)i, 100 + i, i % 2);
        }
    }
    b->rank = 3;
    b->seq = 41;
    b->env_steps = 123456789012ULL;
    b->wait_us = 5000000123ULL; // > 2^32: a uint64 on the wire (0xcf + 8)
}

static int batch_equal(const struct proto_batch *a, const struct proto_batch *b) {
    size_t n = a->n, O = a->obs_dim, A = a->act_dim;
    int ok = a->n == b->n && a->rank == b->rank && a->seq == b->seq &&
             a->env_steps == b->env_steps && a->wait_us == b->wait_us &&
             a->n_episodes == b->n_episodes;
    ok = ok && !memcmp(a->obs, b->obs, 4 * n * O) && !memcmp(a->act, b->act, 4 * n * A) &&
         !memcmp(a->rew, b->rew, 4 * n) && !memcmp(a->terminal, b->terminal, n) &&
         !memcmp(a->mask, b->mask, n) && !memcmp(a->next_obs, b->next_obs, 4 * n * O) &&
         !memcmp(a->wver, b->wver, 4 * n);
    for (uint32_t i = 0; ok && i < a->n_episodes; i++) {
        ok = !memcmp(&a->episodes[i].ret, &b->episodes[i].ret, 4) &&
             a->episodes[i].length == b->episodes[i].length &&
             a->episodes[i].success == b->episodes[i].success;
    }
    return ok;
}

static void test_checksum(void) {
    // published XXH64 (seed 0) vectors; the 39-byte one exercises the 32-byte stripes
    static const struct {
        const char *s;
        uint64_t h;
    } v[] = {
        {"", 0xEF46DB3751D8E999ULL},
        {"a", 0xD24EC4F1A98C6E5BULL},
        {"abc", 0x44BC2CF5AD770999ULL},
        {"asdf", 0x415872F599CEA71EULL},
        {"Call me Ishmael.", 0x6D04390FC9D61A90ULL},
        {"Nobody inspects the spammish repetition", 0xFBCEA83C8A378BF1ULL},
    };
    for (size_t i = 0; i < FLOQ_ARRAY_LEN(v); i++) {
        CHECK(proto_checksum(v[i].s, strlen(v[i].s)) == v[i].h, "XXH64(\"%s\")", v[i].s);
    }
    CHECK(proto_checksum(NULL, 0) == 0xEF46DB3751D8E999ULL, "XXH64 of NULL, 0");
}

static void test_roundtrip_transitions(void) {
    struct rng r;
    rng_seed(&r, 1);
    struct proto_batch b, got;
    CHECK(proto_batch_init(&b, 3, 2, 8, err, sizeof err) == 0, "%s", err);
    CHECK(proto_batch_init(&got, 3, 2, 8, err, sizeof err) == 0, "%s", err);
    struct proto_buf out, again;
    proto_buf_init(&out, 0);
    proto_buf_init(&again, 16);
    for (uint32_t n = 1; n <= 8; n++) {
        fill_batch(&b, &r, n);
        CHECK(proto_encode_transitions(&out, &b, err, sizeof err) == 0, "%s", err);
        CHECK(out.size <= proto_transitions_max_bytes(3, 2, n), "max_bytes bound, n=%u", n);
        struct proto_transitions t;
        enum proto_status st =
            proto_decode_transitions(&t, out.data, out.size, &DIMS_SMALL, err, sizeof err);
        CHECK(st == PROTO_OK, "decode n=%u: %s", n, err);
        if (st != PROTO_OK) {
            continue;
        }
        CHECK(t.n == n && t.n_episodes == b.n_episodes, "counts n=%u", n);
        CHECK(t.wver_min == 7 && t.wver_max == 7 + n - 1, "wver range n=%u", n);
        proto_transitions_read(&t, &got);
        CHECK(batch_equal(&b, &got), "bit-exact round trip n=%u", n);
        // re-encoding the decoded batch gives the same bytes
        proto_encode_transitions(&again, &got, err, sizeof err);
        CHECK(again.size == out.size && !memcmp(again.data, out.data, out.size), "re-encode n=%u",
              n);
    }
    // wait_us: any uint64, in every msgpack width, read back into the batch
    static const uint64_t waits[] = {0, 127, 128, 65535, 65536, UINT32_MAX, 1ULL << 32, UINT64_MAX};
    for (size_t i = 0; i < FLOQ_ARRAY_LEN(waits); i++) {
        fill_batch(&b, &r, 3);
        b.wait_us = waits[i];
        proto_encode_transitions(&out, &b, err, sizeof err);
        struct proto_transitions tw;
        enum proto_status st =
            proto_decode_transitions(&tw, out.data, out.size, &DIMS_SMALL, err, sizeof err);
        CHECK(st == PROTO_OK && tw.wait_us == waits[i] && tw.env_steps == b.env_steps,
              "wait_us %llu: %s", (unsigned long long)waits[i], err);
        got.wait_us = 1;
        if (st == PROTO_OK) {
            proto_transitions_read(&tw, &got);
        }
        CHECK(got.wait_us == waits[i] && batch_equal(&b, &got), "wait_us %llu read",
              (unsigned long long)waits[i]);
    }

    // -0.0 and a denormal survive bit-exactly
    fill_batch(&b, &r, 2);
    b.obs[0] = -0.0f;
    b.obs[1] = 1e-45f;
    b.next_obs[2] = -1e-40f;
    proto_encode_transitions(&out, &b, err, sizeof err);
    struct proto_transitions t;
    CHECK(proto_decode_transitions(&t, out.data, out.size, &DIMS_SMALL, err, sizeof err) == 0, "%s",
          err);
    proto_transitions_read(&t, &got);
    uint32_t u0, u1, u2;
    memcpy(&u0, &got.obs[0], 4);
    memcpy(&u1, &got.obs[1], 4);
    memcpy(&u2, &got.next_obs[2], 4);
    CHECK(u0 == 0x80000000u && u1 == 1u && signbit(got.next_obs[2]) && u2 != 0, "-0.0/denormal");
    CHECK(got.rew[0] == 0.0f && signbit(got.rew[0]), "reward -0.0");

    // copy into replay-like rows, with a wrap (two copies)
    fill_batch(&b, &r, 5);
    proto_encode_transitions(&out, &b, err, sizeof err);
    CHECK(proto_decode_transitions(&t, out.data, out.size, &DIMS_SMALL, err, sizeof err) == 0, "%s",
          err);
    enum { CAP = 7 };
    float obs[CAP * 3], act[CAP * 2], rew[CAP], term[CAP], mask[CAP], nobs[CAP * 3];
    uint32_t wv[CAP];
    size_t slot = 5, first = CAP - slot; // rows 0,1 go to slots 5,6, rows 2..4 to slots 0..2
    struct proto_rows a = {obs + slot * 3, act + slot * 2,  rew + slot, term + slot,
                           mask + slot,    nobs + slot * 3, wv + slot};
    struct proto_rows z = {obs, act, rew, term, mask, nobs, wv};
    proto_transitions_copy(&t, 0, (uint32_t)first, &a);
    proto_transitions_copy(&t, (uint32_t)first, (uint32_t)(5 - first), &z);
    int ok = 1;
    for (size_t i = 0; i < 5; i++) {
        size_t s = (slot + i) % CAP;
        ok &= !memcmp(obs + s * 3, b.obs + i * 3, 12) && !memcmp(act + s * 2, b.act + i * 2, 8);
        ok &= !memcmp(nobs + s * 3, b.next_obs + i * 3, 12) && !memcmp(&rew[s], &b.rew[i], 4);
        ok &= term[s] == (float)b.terminal[i] && mask[s] == (float)b.mask[i] && wv[s] == b.wver[i];
    }
    CHECK(ok, "copy into a wrapping ring");
    struct proto_rows sparse = {.obs = obs}; // NULL fields are skipped
    proto_transitions_copy(&t, 0, 1, &sparse);
    CHECK(!memcmp(obs, b.obs, 12), "sparse copy");

    // episodes
    CHECK(t.n_episodes == b.n_episodes && t.n_terminal >= t.n_episodes, "episode count");
    for (uint32_t i = 0; i < t.n_episodes; i++) {
        struct proto_episode e = proto_transitions_episode(&t, i);
        CHECK(e.ret == b.episodes[i].ret && e.length == b.episodes[i].length &&
                  e.success == b.episodes[i].success,
              "episode %u", i);
    }

    // our bytes are ordinary msgpack: msgpack-c reads them (trusted input here)
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    int rc = msgpack_unpack_next(&up, (const char *)out.data, out.size, &off);
    CHECK(rc == MSGPACK_UNPACK_SUCCESS && off == out.size, "msgpack-c parses it");
    if (rc == MSGPACK_UNPACK_SUCCESS) {
        msgpack_object o = up.data;
        CHECK(o.type == MSGPACK_OBJECT_ARRAY && o.via.array.size == 21, "21-field array");
        CHECK(o.via.array.ptr[0].via.u64 == PROTO_VERSION && o.via.array.ptr[1].via.u64 == 2,
              "version, kind");
        CHECK(o.via.array.ptr[5].via.u64 == b.wait_us, "wait_us is element 5");
        CHECK(o.via.array.ptr[10].type == MSGPACK_OBJECT_BIN &&
                  o.via.array.ptr[10].via.bin.size == 5 * 3 * 4,
              "obs is a bin of n*O*4 bytes");
        CHECK(o.via.array.ptr[20].type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
                  o.via.array.ptr[20].via.u64 == proto_checksum(out.data, out.size - 9),
              "checksum field");
    }
    msgpack_unpacked_destroy(&up);

    proto_buf_free(&out);
    proto_buf_free(&again);
    proto_buf_free(&out); // idempotent
    proto_batch_free(&b);
    proto_batch_free(&got);
    proto_batch_free(&got);
}

static void test_roundtrip_small_kinds(void) {
    struct proto_buf out;
    proto_buf_init(&out, 0);
    struct proto_dims d = DIMS_SMALL;

    struct proto_hello h = {.rank = 2,
                            .obs_dim = 3,
                            .act_dim = 2,
                            .num_envs = 16,
                            .max_batch = 8,
                            .seed = 0xdeadbeefcafef00dULL};
    snprintf(h.env_name, sizeof h.env_name, "antmaze-large-navigate-singletask-v0");
    CHECK(proto_encode_hello(&out, &h, err, sizeof err) == 0, "%s", err);
    CHECK(out.size <= PROTO_SMALL_BYTES, "hello size");
    struct proto_hello hg;
    CHECK(proto_decode_hello(&hg, out.data, out.size, err, sizeof err) == PROTO_OK, "%s", err);
    CHECK(hg.rank == h.rank && !strcmp(hg.env_name, h.env_name) && hg.obs_dim == h.obs_dim &&
              hg.act_dim == h.act_dim && hg.num_envs == h.num_envs && hg.max_batch == h.max_batch &&
              hg.seed == h.seed,
          "hello round trip");
    CHECK(proto_check_hello(&hg, &d, "antmaze-large-navigate-singletask-v0", err, sizeof err) ==
              PROTO_OK,
          "%s", err);
    CHECK(proto_check_hello(&hg, &d, "cube-single-play-singletask-v0", err, sizeof err) ==
              PROTO_ERR_DIMS,
          "hello env name mismatch");
    d.obs_dim = 4;
    CHECK(proto_check_hello(&hg, &d, NULL, err, sizeof err) == PROTO_ERR_DIMS, "hello obs dims");
    d = DIMS_SMALL;
    d.max_batch = 4;
    CHECK(proto_check_hello(&hg, &d, NULL, err, sizeof err) == PROTO_ERR_DIMS, "hello max_batch");
    d = DIMS_SMALL;
    struct proto_hello bad = h;
    memset(bad.env_name, 'x', sizeof bad.env_name); // no NUL in 64 bytes
    CHECK(proto_encode_hello(&out, &bad, err, sizeof err) == -1, "env name too long refused");

    // weights: bit-exact incl. -0.0 and denormals
    float w[5] = {-0.0f, 1e-45f, -3.5f, FLT_MAX, 2.25e-39f}, wg[5] = {9, 9, 9, 9, 9};
    CHECK(proto_encode_weights(&out, 77, w, 5, err, sizeof err) == 0, "%s", err);
    CHECK(out.size <= proto_weights_bytes(5), "weights bound");
    uint32_t wv = 0;
    CHECK(proto_decode_weights(&wv, wg, out.data, out.size, &d, err, sizeof err) == PROTO_OK, "%s",
          err);
    CHECK(wv == 77 && !memcmp(w, wg, sizeof w), "weights round trip");
    d.n_params = 6;
    float w6[6];
    CHECK(proto_decode_weights(&wv, w6, out.data, out.size, &d, err, sizeof err) == PROTO_ERR_DIMS,
          "weights n_params mismatch");
    d = DIMS_SMALL;
    w[2] = NAN;
    float keep[5];
    memcpy(keep, wg, sizeof keep);
    proto_encode_weights(&out, 78, w, 5, err, sizeof err);
    CHECK(proto_decode_weights(&wv, wg, out.data, out.size, &d, err, sizeof err) ==
              PROTO_ERR_NONFINITE,
          "NaN weight");
    CHECK(wv == 77 && !memcmp(keep, wg, sizeof keep), "rejected weights leave params untouched");
    CHECK(proto_encode_weights(&out, 1, w, 0, err, sizeof err) == -1, "0 params refused");

    // a large weights block crosses bin32
    enum { NP = 70000 };
    float *big = mem_alloc(4 * NP), *bigg = mem_alloc(4 * NP);
    for (int i = 0; i < NP; i++) {
        big[i] = (float)i * 0.5f - 100.0f;
    }
    proto_encode_weights(&out, 3, big, NP, err, sizeof err);
    CHECK(out.size <= proto_weights_bytes(NP), "big bound");
    d.n_params = NP;
    CHECK(proto_decode_weights(&wv, bigg, out.data, out.size, &d, err, sizeof err) == PROTO_OK,
          "%s", err);
    CHECK(!memcmp(big, bigg, 4 * NP), "big weights round trip");
    d = DIMS_SMALL;
    mem_free(big);
    mem_free(bigg);

    struct proto_control c = {PROTO_CTRL_CREDIT, 4096, 12}, cg;
    CHECK(proto_encode_control(&out, &c, err, sizeof err) == 0, "%s", err);
    CHECK(proto_decode_control(&cg, out.data, out.size, err, sizeof err) == PROTO_OK, "%s", err);
    CHECK(cg.cmd == c.cmd && cg.credits == c.credits && cg.wver == c.wver, "control");
    c.cmd = 9;
    CHECK(proto_encode_control(&out, &c, err, sizeof err) == -1, "unknown command refused");

    struct proto_bye y = {5, 1ULL << 40, 999, 12}, yg;
    proto_encode_bye(&out, &y, err, sizeof err);
    CHECK(proto_decode_bye(&yg, out.data, out.size, err, sizeof err) == PROTO_OK, "%s", err);
    CHECK(yg.rank == 5 && yg.env_steps == 1ULL << 40 && yg.sent == 999 && yg.episodes == 12, "bye");

    struct proto_error e;
    proto_encode_error(&out, PROTO_ERR_VERSION, "learner speaks v1\n\x01", err, sizeof err);
    CHECK(proto_decode_error(&e, out.data, out.size, err, sizeof err) == PROTO_OK, "%s", err);
    CHECK(e.version == PROTO_VERSION && e.code == PROTO_ERR_VERSION &&
              !strcmp(e.text, "learner speaks v1??"),
          "error text sanitised: '%s'", e.text);
    // ERROR of another protocol version is still readable
    unsigned char *m = exact_copy(out.data, out.size);
    CHECK(m[1] == PROTO_VERSION, "version byte position");
    m[1] = 9;
    reseal(m, out.size);
    CHECK(proto_decode_error(&e, m, out.size, err, sizeof err) == PROTO_OK && e.version == 9,
          "ERROR of version 9 decodes");
    free(m);

    uint32_t ver, kind;
    CHECK(proto_peek(out.data, out.size, &ver, &kind) == PROTO_OK && ver == PROTO_VERSION &&
              kind == PROTO_KIND_ERROR,
          "peek");
    CHECK(proto_peek(out.data, 1, &ver, &kind) == PROTO_ERR_TRUNCATED, "peek truncated");
    CHECK(proto_peek("\xc4", 1, &ver, &kind) == PROTO_ERR_FORMAT, "peek not an array");
    CHECK(!strcmp(proto_status_name(PROTO_ERR_CHECKSUM), "checksum") &&
              !strcmp(proto_kind_name(PROTO_KIND_WEIGHTS), "WEIGHTS") &&
              !strcmp(proto_kind_name(99), "?") &&
              !strcmp(proto_status_name((enum proto_status)99), "?"),
          "names");
    CHECK(PROTO_TAG_TRANSITIONS == PROTO_TAG_BASE + PROTO_KIND_TRANSITIONS, "tags");
    proto_buf_free(&out);
}

/* encodes the standard small message into out; returns the batch's encoded size */
static size_t small_message(struct proto_buf *out, struct proto_batch *b, uint32_t n) {
    struct rng r;
    rng_seed(&r, 7);
    fill_batch(b, &r, n);
    proto_encode_transitions(out, b, err, sizeof err);
    return out->size;
}

static void test_truncation_and_flips(void) {
    struct proto_batch b;
    proto_batch_init(&b, 3, 2, 8, err, sizeof err);
    struct proto_buf out;
    proto_buf_init(&out, 0);
    size_t len = small_message(&out, &b, 4);
    struct proto_transitions t, t0;
    CHECK(proto_decode_transitions(&t0, out.data, out.size, &DIMS_SMALL, err, sizeof err) == 0,
          "%s", err);

    // every prefix is an error (exact-size copies: ASan catches any overread)
    int trunc_ok = 1;
    for (size_t k = 0; k < len; k++) {
        unsigned char *m = exact_copy(out.data, k);
        trunc_ok &= proto_decode_transitions(&t, m, k, &DIMS_SMALL, err, sizeof err) != PROTO_OK;
        free(m);
    }
    CHECK(trunc_ok, "every truncation of a %zu-byte TRANSITIONS is an error", len);
    CHECK(proto_decode_transitions(&t, NULL, 0, &DIMS_SMALL, err, sizeof err) ==
              PROTO_ERR_TRUNCATED,
          "NULL message");
    // one extra byte (the checksum moves) is an error too
    unsigned char *longer = exact_copy(out.data, len + 1);
    longer[len] = 0;
    CHECK(proto_decode_transitions(&t, longer, len + 1, &DIMS_SMALL, err, sizeof err) != 0,
          "trailing byte");
    free(longer);

    // seeded random byte flips: an error, or (never seen, but allowed) the same message
    struct rng r;
    rng_seed(&r, 12345);
    int flips_ok = 1, errors = 0, unchanged = 0, trials = 5000;
    for (int i = 0; i < trials; i++) {
        unsigned char *m = exact_copy(out.data, len);
        int nflip = 1 + (int)rng_below(&r, 3);
        for (int f = 0; f < nflip; f++) {
            m[rng_below(&r, len)] ^= (unsigned char)(1 + rng_below(&r, 255));
        }
        enum proto_status st = proto_decode_transitions(&t, m, len, &DIMS_SMALL, err, sizeof err);
        unchanged += !memcmp(m, out.data, len); // two flips of one byte can cancel
        if (st == PROTO_OK) {
            flips_ok &= t.n == t0.n && !memcmp(m, out.data, len);
        } else {
            errors++;
        }
        free(m);
    }
    CHECK(flips_ok, "byte flips: error or equal");
    CHECK(errors + unchanged == trials,
          "all %d changed messages rejected (%d errors, %d unchanged)", trials, errors, unchanged);

    // the same for the other kinds, each prefix and 500 flips
    struct proto_buf o2;
    proto_buf_init(&o2, 0);
    struct proto_hello h = {.rank = 1, .obs_dim = 3, .act_dim = 2, .num_envs = 1, .max_batch = 8};
    snprintf(h.env_name, sizeof h.env_name, "ant");
    float w[5] = {1, 2, 3, 4, 5};
    struct proto_control c = {PROTO_CTRL_STOP, 0, 1};
    struct proto_bye y = {1, 10, 10, 1};
    int other_ok = 1;
    for (int kind = 0; kind < 5; kind++) {
        switch (kind) {
            case 0:
                proto_encode_hello(&o2, &h, err, sizeof err);
                break;
            case 1:
                proto_encode_weights(&o2, 3, w, 5, err, sizeof err);
                break;
            case 2:
                proto_encode_control(&o2, &c, err, sizeof err);
                break;
            case 3:
                proto_encode_bye(&o2, &y, err, sizeof err);
                break;
            default:
                proto_encode_error(&o2, 1, "no", err, sizeof err);
                break;
        }
        for (size_t k = 0; k <= o2.size + 500; k++) {
            size_t ml = k < o2.size ? k : o2.size;
            unsigned char *m = exact_copy(o2.data, ml);
            if (k >= o2.size) {
                m[rng_below(&r, ml)] ^= (unsigned char)(1 + rng_below(&r, 255));
            }
            struct proto_hello hg;
            struct proto_control cg;
            struct proto_bye yg;
            struct proto_error eg;
            float wg[5];
            uint32_t wv;
            enum proto_status st;
            switch (kind) {
                case 0:
                    st = proto_decode_hello(&hg, m, ml, err, sizeof err);
                    break;
                case 1:
                    st = proto_decode_weights(&wv, wg, m, ml, &DIMS_SMALL, err, sizeof err);
                    break;
                case 2:
                    st = proto_decode_control(&cg, m, ml, err, sizeof err);
                    break;
                case 3:
                    st = proto_decode_bye(&yg, m, ml, err, sizeof err);
                    break;
                default:
                    st = proto_decode_error(&eg, m, ml, err, sizeof err);
                    break;
            }
            other_ok &= st != PROTO_OK;
            free(m);
        }
    }
    CHECK(other_ok, "truncated/flipped HELLO, WEIGHTS, CONTROL, BYE, ERROR all rejected");

    // random garbage of random lengths to every decoder: no crash (ASan/valgrind judge)
    for (int i = 0; i < 3000; i++) {
        size_t ml = rng_below(&r, 96);
        unsigned char *m = malloc(ml ? ml : 1);
        for (size_t j = 0; j < ml; j++) {
            m[j] = (unsigned char)rng_below(&r, 256);
        }
        if (ml > 0 && i % 2) {
            m[0] = (unsigned char)(0x90 + rng_below(&r, 16)); // plausible array header
        }
        struct proto_hello hg;
        float wg[5];
        uint32_t wv, ver, kd;
        (void)proto_peek(m, ml, &ver, &kd);
        (void)proto_decode_hello(&hg, m, ml, err, sizeof err);
        (void)proto_decode_transitions(&t, m, ml, &DIMS_SMALL, err, sizeof err);
        (void)proto_decode_weights(&wv, wg, m, ml, &DIMS_SMALL, err, sizeof err);
        free(m);
    }
    CHECK(1, "garbage survived");
    proto_buf_free(&o2);
    proto_buf_free(&out);
    proto_batch_free(&b);
}

/* edit one byte of the standard message at `at`, reseal, decode, expect `want` */
static enum proto_status edit_decode(const struct proto_buf *out, size_t at, unsigned char v,
                                     const struct proto_dims *d) {
    unsigned char *m = exact_copy(out->data, out->size);
    m[at] = v;
    reseal(m, out->size);
    struct proto_transitions t;
    enum proto_status st = proto_decode_transitions(&t, m, out->size, d, err, sizeof err);
    free(m);
    return st;
}

/* offset of the body of the i-th bin field (0 = obs) in the standard message */
static size_t bin_body(const struct proto_buf *out, int i) {
    // header: dc 00 15, then 10 uints before the first bin; walk msgpack-c's view to be exact
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0, at = 0;
    if (msgpack_unpack_next(&up, (const char *)out->data, out->size, &off) ==
        MSGPACK_UNPACK_SUCCESS) {
        at = (size_t)((const unsigned char *)up.data.via.array.ptr[10 + i].via.bin.ptr - out->data);
    }
    msgpack_unpacked_destroy(&up);
    return at;
}

static void test_validation(void) {
    struct proto_batch b;
    proto_batch_init(&b, 3, 2, 8, err, sizeof err);
    struct proto_buf out;
    proto_buf_init(&out, 0);
    struct proto_dims d = DIMS_SMALL;
    struct proto_transitions t;
    small_message(&out, &b, 4); // rows 0..3; row 2 is terminal with mask 1 (truncated)

    // byte 3 is the version, byte 4 the kind (array16 header first)
    CHECK(out.data[0] == 0xdc && out.data[3] == PROTO_VERSION && out.data[4] == 2, "layout");
    CHECK(edit_decode(&out, 3, 2, &d) == PROTO_ERR_VERSION, "wrong version");
    unsigned char *m = exact_copy(out.data, out.size);
    m[3] = 7; // not resealed: the version is still reported first
    CHECK(proto_decode_transitions(&t, m, out.size, &d, err, sizeof err) == PROTO_ERR_VERSION,
          "version before checksum: %s", err);
    CHECK(strstr(err, "version 7") != NULL, "message names the version: %s", err);
    free(m);
    CHECK(edit_decode(&out, 4, 3, &d) == PROTO_ERR_KIND, "wrong kind");
    CHECK(edit_decode(&out, 4, 0x63, &d) == PROTO_ERR_KIND, "unknown kind");
    CHECK(edit_decode(&out, 2, PROTO_FIELDS_TRANSITIONS - 1, &d) == PROTO_ERR_FORMAT,
          "wrong field count");
    CHECK(edit_decode(&out, 0, 0xc4, &d) == PROTO_ERR_FORMAT, "not an array");
    m = exact_copy(out.data, out.size);
    m[out.size - 9] = 0xce;
    CHECK(proto_decode_transitions(&t, m, out.size, &d, err, sizeof err) == PROTO_ERR_CHECKSUM,
          "no checksum field at the end");
    m[out.size - 9] = 0xcf;
    m[out.size - 1] ^= 1;
    CHECK(proto_decode_transitions(&t, m, out.size, &d, err, sizeof err) == PROTO_ERR_CHECKSUM,
          "checksum bit");
    free(m);
    struct proto_buf w;
    proto_buf_init(&w, 0);
    float wt[5] = {0};
    proto_encode_weights(&w, 1, wt, 5, err, sizeof err);
    CHECK(proto_decode_transitions(&t, w.data, w.size, &d, err, sizeof err) == PROTO_ERR_KIND,
          "WEIGHTS to the TRANSITIONS decoder");
    proto_buf_free(&w);

    // dims: actor obs width 4 vs env 3, act 1 vs 2; n over max_batch
    struct proto_batch b4;
    proto_batch_init(&b4, 4, 2, 8, err, sizeof err);
    struct rng r;
    rng_seed(&r, 3);
    fill_batch(&b4, &r, 2);
    proto_encode_transitions(&out, &b4, err, sizeof err);
    CHECK(proto_decode_transitions(&t, out.data, out.size, &d, err, sizeof err) == PROTO_ERR_DIMS,
          "obs width 4 vs env 3");
    CHECK(strstr(err, "obs_dim is 4") != NULL, "dims message: %s", err);
    proto_batch_free(&b4);
    proto_batch_init(&b4, 3, 1, 8, err, sizeof err);
    fill_batch(&b4, &r, 2);
    proto_encode_transitions(&out, &b4, err, sizeof err);
    CHECK(proto_decode_transitions(&t, out.data, out.size, &d, err, sizeof err) == PROTO_ERR_DIMS,
          "act width 1 vs env 2");
    proto_batch_free(&b4);
    small_message(&out, &b, 4);
    d.max_batch = 3;
    CHECK(proto_decode_transitions(&t, out.data, out.size, &d, err, sizeof err) == PROTO_ERR_SIZE,
          "n over max_batch");
    d = DIMS_SMALL;
    CHECK(out.data[5] == 3 && out.data[6] == 41, "rank, seq positions");
    size_t wait_at = 7 + 9, n_at = wait_at + 9; // env_steps and wait_us are uint64 (0xcf + 8)
    CHECK(out.data[wait_at] == 0xcf, "wait_us position");
    CHECK(out.data[n_at] == 4, "n position");
    CHECK(edit_decode(&out, wait_at + 1, 0xff, &d) == PROTO_OK, "wait_us near 2^64 is valid: %s",
          err);
    CHECK(edit_decode(&out, wait_at, 0xc0, &d) == PROTO_ERR_FORMAT && strstr(err, "wait_us"),
          "wait_us nil: %s", err);
    CHECK(edit_decode(&out, wait_at, 0xd3, &d) == PROTO_ERR_FORMAT, "wait_us int64: %s", err);
    CHECK(edit_decode(&out, n_at, 0, &d) == PROTO_ERR_SIZE, "n = 0");
    CHECK(edit_decode(&out, n_at, 5, &d) == PROTO_ERR_SIZE, "n disagrees with the bins");
    CHECK(edit_decode(&out, n_at + 3, 5, &d) == PROTO_ERR_SIZE, "n_episodes > n");
    CHECK(edit_decode(&out, 5, 0, &d) == PROTO_ERR_RANGE, "rank 0");

    // non-finite values, each field
    const char *fields[] = {"obs", "act", "rew", "next_obs"};
    const int bins[] = {0, 1, 2, 5};
    for (int f = 0; f < 4; f++) {
        for (int kind = 0; kind < 3; kind++) {
            float v = kind == 0 ? NAN : kind == 1 ? INFINITY : -INFINITY;
            unsigned char *mm = exact_copy(out.data, out.size);
            size_t at = bin_body(&out, bins[f]) + 4; // second float
            memcpy(mm + at, &v, 4);
            reseal(mm, out.size);
            CHECK(proto_decode_transitions(&t, mm, out.size, &d, err, sizeof err) ==
                      PROTO_ERR_NONFINITE,
                  "%s %g", fields[f], (double)v);
            free(mm);
        }
    }
    // the encoder lets NaN through (tests and hostile actors need it); the decoder names it
    small_message(&out, &b, 4);
    b.rew[3] = NAN;
    proto_encode_transitions(&out, &b, err, sizeof err);
    CHECK(proto_decode_transitions(&t, out.data, out.size, &d, err, sizeof err) ==
              PROTO_ERR_NONFINITE,
          "NaN reward");
    CHECK(strstr(err, "rew[3][0]") != NULL, "names the row: %s", err);
    small_message(&out, &b, 4);
    b.episodes[0].ret = INFINITY;
    proto_encode_transitions(&out, &b, err, sizeof err);
    CHECK(proto_decode_transitions(&t, out.data, out.size, &d, err, sizeof err) ==
              PROTO_ERR_NONFINITE,
          "Inf episode return");

    // flags
    small_message(&out, &b, 4);
    size_t term = bin_body(&out, 3), mask = bin_body(&out, 4);
    CHECK(out.data[term + 2] == 1 && out.data[mask + 2] == 1 && out.data[term] == 0,
          "terminal/mask layout");
    CHECK(edit_decode(&out, term + 1, 2, &d) == PROTO_ERR_FLAG, "terminal 2");
    CHECK(edit_decode(&out, mask + 1, 0xff, &d) == PROTO_ERR_FLAG, "mask 255");
    CHECK(edit_decode(&out, mask + 0, 0, &d) == PROTO_ERR_FLAG, "mask 0 with terminal 0");
    CHECK(edit_decode(&out, mask + 2, 0, &d) == PROTO_OK, "mask 0 with terminal 1: %s", err);
    CHECK(edit_decode(&out, term + 2, 0, &d) == PROTO_ERR_SIZE, "episode without a terminal");
    size_t succ = bin_body(&out, 9);
    CHECK(edit_decode(&out, succ, 3, &d) == PROTO_ERR_FLAG, "success 3");
    size_t elen = bin_body(&out, 8);
    unsigned char *mm = exact_copy(out.data, out.size);
    memset(mm + elen, 0, 4);
    reseal(mm, out.size);
    CHECK(proto_decode_transitions(&t, mm, out.size, &d, err, sizeof err) == PROTO_ERR_RANGE,
          "episode length 0");
    free(mm);

    // weight versions newer than published
    d.wver_max = 9; // rows carry 7..10
    CHECK(proto_decode_transitions(&t, out.data, out.size, &d, err, sizeof err) == PROTO_ERR_RANGE,
          "future weight version");
    d.wver_max = 10;
    CHECK(proto_decode_transitions(&t, out.data, out.size, &d, err, sizeof err) == PROTO_OK, "%s",
          err);
    CHECK(t.wver_sum == 7 + 8 + 9 + 10, "wver sum");
    d = DIMS_SMALL;

    // hello ranges
    struct proto_hello h = {.rank = 1, .obs_dim = 3, .act_dim = 2, .num_envs = 1, .max_batch = 8},
                       hg;
    snprintf(h.env_name, sizeof h.env_name, "ant");
    proto_encode_hello(&out, &h, err, sizeof err);
    // layout: 9a 01 01 rank=01 a3 'a' 'n' 't' obs ...
    CHECK(out.data[4] == 0xa3, "hello layout");
    unsigned char *hm = exact_copy(out.data, out.size);
    hm[6] = '\n';
    reseal(hm, out.size);
    CHECK(proto_decode_hello(&hg, hm, out.size, err, sizeof err) == PROTO_ERR_RANGE,
          "control char in env name");
    hm[6] = 'n';
    hm[8] = 0;
    reseal(hm, out.size);
    CHECK(proto_decode_hello(&hg, hm, out.size, err, sizeof err) == PROTO_ERR_SIZE, "obs_dim 0");
    hm[1] = 2;
    reseal(hm, out.size);
    CHECK(proto_decode_hello(&hg, hm, out.size, err, sizeof err) == PROTO_ERR_VERSION,
          "HELLO version check");
    free(hm);
    struct proto_control cg;
    struct proto_control c = {PROTO_CTRL_ACCEPT, 10, 0};
    proto_encode_control(&out, &c, err, sizeof err);
    hm = exact_copy(out.data, out.size);
    hm[3] = 5;
    reseal(hm, out.size);
    CHECK(proto_decode_control(&cg, hm, out.size, err, sizeof err) == PROTO_ERR_RANGE,
          "control command 5");
    free(hm);

    proto_buf_free(&out);
    proto_batch_free(&b);
}

static void test_hostile_sizes(void) {
    // declared sizes far beyond the bytes: refused without allocating (msgpack-c would malloc)
    static const unsigned char bombs[][12] = {
        {0xdd, 0x12, 0x12, 0x12, 0x12}, // array32, n = 303M
        {0xdf, 0xff, 0xff, 0xff, 0xff}, // map32
        {0xdc, 0xff, 0xff, 0x01, 0x02}, // array16 65535, version 1, kind 2
        {0xdc, 0x00, 0x15, 0x01, 0x02, 0xc6, 0xff, 0xff, 0xff, 0xff}, // bin32 4 GiB as rank
        {0x9a, 0x01, 0x01, 0x01, 0xdb, 0xff, 0xff, 0xff, 0xff, 0x41}, // str32 4 GiB env name
        {0x96, 0x01, 0x03, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
    };
    static const size_t lens[] = {5, 5, 5, 10, 10, 12};
    struct proto_buf out;
    proto_buf_init(&out, 0);
    struct proto_batch b;
    proto_batch_init(&b, 3, 2, 8, err, sizeof err);
    uint64_t a0 = mem_alloc_count();
    long rss0 = rss_kb();
    struct mallinfo2 mi0 = mallinfo2();
    int ok = 1;
    for (size_t i = 0; i < FLOQ_ARRAY_LEN(lens); i++) {
        unsigned char *m = exact_copy(bombs[i], lens[i]);
        struct proto_transitions t;
        struct proto_hello h;
        float w[5];
        uint32_t wv;
        ok &= proto_decode_transitions(&t, m, lens[i], &DIMS_SMALL, err, sizeof err) != PROTO_OK;
        ok &= proto_decode_hello(&h, m, lens[i], err, sizeof err) != PROTO_OK;
        ok &= proto_decode_weights(&wv, w, m, lens[i], &DIMS_SMALL, err, sizeof err) != PROTO_OK;
        free(m);
    }
    CHECK(ok, "allocation bombs rejected");

    // a well-formed, resealed TRANSITIONS that declares a 4 GiB obs bin
    small_message(&out, &b, 4);
    size_t obs = bin_body(&out, 0);
    struct proto_dims big = DIMS_SMALL;
    big.max_batch = PROTO_MAX_BATCH;
    unsigned char *m = exact_copy(out.data, out.size);
    CHECK(m[obs - 2] == 0xc4, "obs is a bin8");
    m[obs - 2] = 0xc6; // bin32 with length from the next 4 bytes: c6 30 00 00 00 ...
    reseal(m, out.size);
    struct proto_transitions t;
    enum proto_status st = proto_decode_transitions(&t, m, out.size, &big, err, sizeof err);
    CHECK(st == PROTO_ERR_TRUNCATED || st == PROTO_ERR_SIZE, "giant obs bin: %s", err);
    free(m);
    // a hand-built message with wait_us 0, n = 65535, obs_dim 3 act 2, no bodies
    unsigned char hand[64];
    size_t k = 0;
    const unsigned char head[] = {0xdc, 0x00, 0x15, 0x01, 0x02, 0x01, 0x00, 0x00, 0x00, 0xcd,
                                  0xff, 0xff, 0x03, 0x02, 0x00, 0xc6, 0xff, 0xff, 0xff, 0xff};
    memcpy(hand, head, sizeof head);
    k = sizeof head;
    memset(hand + k, 0, 9);
    k += 9;
    reseal(hand, k);
    st = proto_decode_transitions(&t, hand, k, &big, err, sizeof err);
    CHECK(st == PROTO_ERR_SIZE || st == PROTO_ERR_TRUNCATED, "n = 65535 with no bytes: %s", err);
    st = proto_decode_transitions(&t, hand, k, &DIMS_SMALL, err, sizeof err);
    CHECK(st == PROTO_ERR_SIZE, "n = 65535 over max_batch 8: %s", err);
    CHECK(mem_alloc_count() == a0, "nothing allocated (%llu)",
          (unsigned long long)(mem_alloc_count() - a0));
    proto_buf_free(&out);
    proto_batch_free(&b);
    struct mallinfo2 mi1 = mallinfo2();
    CHECK(mi1.hblkhd <= mi0.hblkhd + (1u << 20), "no large mmap'd block");
    CHECK(rss_kb() - rss0 < 8 * 1024, "RSS grew %ld kB", rss_kb() - rss0);
}

static void test_zero_alloc(void) {
    struct proto_batch b, got;
    proto_batch_init(&b, 29, 8, 256, err, sizeof err);
    proto_batch_init(&got, 29, 8, 256, err, sizeof err);
    struct proto_buf out, wout, cout;
    proto_buf_init(&out, proto_transitions_max_bytes(29, 8, 256));
    proto_buf_init(&wout, 0); // grows on the first use, then stays
    proto_buf_init(&cout, 0);
    struct proto_dims d = {29, 8, 256, 1000, UINT32_MAX};
    float *w = mem_alloc(4 * 1000), *wg = mem_alloc(4 * 1000);
    float *obs = mem_alloc(4 * 256 * 29), *act = mem_alloc(4 * 256 * 8);
    float *nobs = mem_alloc(4 * 256 * 29), *rew = mem_alloc(4 * 256);
    float *term = mem_alloc(4 * 256), *mask = mem_alloc(4 * 256);
    struct proto_rows rows = {obs, act, rew, term, mask, nobs, NULL};
    struct rng r;
    rng_seed(&r, 5);
    uint64_t before = 0;
    int ok = 1;
    for (int it = 0; it < 101; it++) {
        if (it == 1) {
            before = mem_alloc_count();
        }
        proto_batch_clear(&b);
        float o[29], a[8];
        rng_fill_normal(&r, o, 29);
        rng_fill_uniform(&r, a, 8);
        for (int i = 0; i < 200 + it % 50; i++) {
            proto_batch_push(&b, o, a, -1.0f, i % 50 == 49, 1, o, (uint32_t)it);
            if (i % 50 == 49) {
                proto_batch_push_episode(&b, -50.0f, 50, 0);
            }
        }
        b.seq = (uint64_t)it;
        b.rank = 1;
        ok &= proto_encode_transitions(&out, &b, err, sizeof err) == 0;
        struct proto_transitions t;
        ok &= proto_decode_transitions(&t, out.data, out.size, &d, err, sizeof err) == PROTO_OK;
        proto_transitions_copy(&t, 0, t.n, &rows);
        proto_transitions_read(&t, &got);
        ok &= proto_encode_weights(&wout, (uint32_t)it, w, 1000, err, sizeof err) == 0;
        uint32_t wv;
        ok &= proto_decode_weights(&wv, wg, wout.data, wout.size, &d, err, sizeof err) == 0;
        struct proto_control c = {PROTO_CTRL_CREDIT, 256, (uint32_t)it}, cg;
        ok &= proto_encode_control(&cout, &c, err, sizeof err) == 0;
        ok &= proto_decode_control(&cg, cout.data, cout.size, err, sizeof err) == 0;
    }
    CHECK(ok, "100 steady-state encode/decode iterations succeed: %s", err);
    CHECK(mem_alloc_count() == before, "no allocation in steady state (%llu)",
          (unsigned long long)(mem_alloc_count() - before));
    mem_free(w);
    mem_free(wg);
    mem_free(obs);
    mem_free(act);
    mem_free(nobs);
    mem_free(rew);
    mem_free(term);
    mem_free(mask);
    proto_buf_free(&out);
    proto_buf_free(&wout);
    proto_buf_free(&cout);
    proto_batch_free(&b);
    proto_batch_free(&got);
}

static void test_batch_and_stats(void) {
    struct proto_batch b;
    CHECK(proto_batch_init(&b, 0, 2, 8, err, sizeof err) == -1, "obs_dim 0 refused");
    proto_batch_free(&b); // safe after a failed init
    CHECK(proto_batch_init(&b, 3, 2, PROTO_MAX_BATCH + 1, err, sizeof err) == -1, "cap refused");
    CHECK(proto_batch_init(&b, 1, 1, 2, err, sizeof err) == 0, "%s", err);
    float x = 1;
    CHECK(proto_batch_push(&b, &x, &x, 0, 0, 1, &x, 0) == 0, "push 1");
    CHECK(proto_batch_push(&b, &x, &x, 0, 1, 1, &x, 0) == 0, "push 2");
    CHECK(proto_batch_push(&b, &x, &x, 0, 0, 1, &x, 0) == -1, "push when full");
    struct proto_buf out;
    proto_buf_init(&out, 0);
    b.n_episodes = 3;
    CHECK(proto_encode_transitions(&out, &b, err, sizeof err) == -1, "more episodes than rows");
    proto_batch_clear(&b);
    CHECK(proto_encode_transitions(&out, &b, err, sizeof err) == -1, "empty batch refused");
    proto_buf_free(&out);
    proto_batch_free(&b);

    struct proto_stats s;
    memset(&s, 0, sizeof s);
    s.log_interval = 3600; // one line, the rest suppressed
    proto_stats_count(&s, PROTO_OK, 1, NULL);
    for (int i = 0; i < 5; i++) {
        proto_stats_count(&s, PROTO_ERR_CHECKSUM, 2, "proto: TRANSITIONS message: test");
    }
    proto_stats_count(&s, PROTO_ERR_NONFINITE, 3, "");
    CHECK(s.ok == 1 && s.bad[PROTO_ERR_CHECKSUM] == 5 && s.bad[PROTO_ERR_NONFINITE] == 1 &&
              s.bad_total == 6 && s.suppressed == 5,
          "stats count and suppress");
}

/* SETUP: round trip, every truncation and byte flip refused, field ranges; broadcast frames */
static void test_setup_and_frames(void) {
    struct proto_buf out;
    proto_buf_init(&out, 0);
    struct proto_setup s = {.env_name = "Hopper-v4",
                            .num_envs = 8,
                            .seed = 1ULL << 40,
                            .max_batch = 64,
                            .n_params = 12345,
                            .policy = {.obs_dim = 11,
                                       .act_dim = 3,
                                       .n_hidden = 3,
                                       .hidden = {512, 256, 7},
                                       .layer_norm = 1,
                                       .gelu_exact = 0}};
    CHECK(proto_encode_setup(&out, &s, err, sizeof err) == 0, "encode setup: %s", err);
    CHECK(out.size <= PROTO_SMALL_BYTES, "setup within the small bound (%zu)", out.size);
    struct proto_setup g;
    CHECK(proto_decode_setup(&g, out.data, out.size, err, sizeof err) == PROTO_OK, "%s", err);
    CHECK(!strcmp(g.env_name, s.env_name) && g.num_envs == 8 && g.seed == s.seed &&
              g.max_batch == 64 && g.n_params == 12345 && g.policy.obs_dim == 11 &&
              g.policy.act_dim == 3 && g.policy.n_hidden == 3 && g.policy.hidden[0] == 512 &&
              g.policy.hidden[1] == 256 && g.policy.hidden[2] == 7 && g.policy.layer_norm == 1 &&
              g.policy.gelu_exact == 0,
          "setup round trip");
    CHECK(policy_check(&g.policy, err, sizeof err) == 0, "decoded policy is valid: %s", err);
    // every truncation and every single-byte flip is refused, and nothing is written
    int refused = 0, total = 0;
    for (size_t n = 0; n < out.size; n++, total++) {
        refused += proto_decode_setup(&g, out.data, n, NULL, 0) != PROTO_OK;
    }
    for (size_t i = 0; i < out.size; i++, total++) {
        unsigned char *m = exact_copy(out.data, out.size);
        m[i] ^= 0x21;
        refused += proto_decode_setup(&g, m, out.size, NULL, 0) != PROTO_OK;
        free(m);
    }
    CHECK(refused == total, "setup: %d of %d truncations and flips refused", refused, total);
    // field ranges, with a valid checksum
    struct proto_setup b = s;
    b.policy.hidden[1] = POLICY_MAX_WIDTH + 1;
    proto_encode_setup(&out, &b, err, sizeof err);
    CHECK(proto_decode_setup(&g, out.data, out.size, err, sizeof err) == PROTO_ERR_RANGE,
          "hidden width over the bound: %s", err);
    b = s;
    b.policy.layer_norm = 2;
    proto_encode_setup(&out, &b, err, sizeof err);
    CHECK(proto_decode_setup(&g, out.data, out.size, err, sizeof err) == PROTO_ERR_FLAG,
          "layer_norm 2: %s", err);
    b = s;
    b.n_params = 0;
    proto_encode_setup(&out, &b, err, sizeof err);
    CHECK(proto_decode_setup(&g, out.data, out.size, err, sizeof err) == PROTO_ERR_SIZE,
          "n_params 0: %s", err);
    b = s;
    b.num_envs = 0;
    proto_encode_setup(&out, &b, err, sizeof err);
    CHECK(proto_decode_setup(&g, out.data, out.size, err, sizeof err) == PROTO_ERR_RANGE,
          "num_envs 0: %s", err);
    b = s;
    snprintf(b.env_name, sizeof b.env_name, "bad\x01name");
    proto_encode_setup(&out, &b, err, sizeof err);
    CHECK(proto_decode_setup(&g, out.data, out.size, err, sizeof err) == PROTO_ERR_RANGE,
          "non-printable env name: %s", err);
    b = s;
    b.policy.n_hidden = MLP_MAX_HIDDEN + 1;
    CHECK(proto_encode_setup(&out, &b, err, sizeof err) == -1, "encoder refuses 9 layers");
    b.policy.n_hidden = 0;
    CHECK(proto_encode_setup(&out, &b, err, sizeof err) == -1, "encoder refuses 0 layers");
    b = s;
    b.env_name[0] = 0;
    CHECK(proto_encode_setup(&out, &b, err, sizeof err) == -1, "encoder refuses an empty name");
    proto_encode_setup(&out, &s, err, sizeof err);
    CHECK(proto_decode_hello(&(struct proto_hello){0}, out.data, out.size, NULL, 0) ==
              PROTO_ERR_KIND,
          "a SETUP is not a HELLO");
    CHECK(!strcmp(proto_kind_name(PROTO_KIND_SETUP), "SETUP"), "SETUP name");

    proto_buf_free(&out);
}

/* finite values beyond the documented bounds are dropped as magnitude, never trained on (an
 * obs of 1e15 and a reward of 2e38 used to pass and make the loss non-finite) */
static void test_magnitude(void) {
    struct rng r;
    rng_seed(&r, 5);
    struct proto_batch b;
    CHECK(proto_batch_init(&b, 3, 2, 8, err, sizeof err) == 0, "%s", err);
    struct proto_buf out;
    proto_buf_init(&out, 0);
    struct proto_transitions t;
    const struct {
        int field; /* 0 obs, 1 act, 2 rew, 3 next_obs, 4 ep_return */
        float v;
        const char *name;
    } cases[] = {{0, 1e15f, "obs"},
                 {1, -2e6f, "act"},
                 {2, 2e38f, "rew"},
                 {3, nextafterf(1e6f, 2e6f), "next_obs"},
                 {4, -1e13f, "ep_return"}};
    for (size_t i = 0; i < FLOQ_ARRAY_LEN(cases); i++) {
        fill_batch(&b, &r, 3);
        float *dst[] = {&b.obs[4], &b.act[1], &b.rew[2], &b.next_obs[8], &b.episodes[0].ret};
        *dst[cases[i].field] = cases[i].v;
        proto_encode_transitions(&out, &b, err, sizeof err);
        CHECK(proto_decode_transitions(&t, out.data, out.size, &DIMS_SMALL, err, sizeof err) ==
                      PROTO_ERR_MAGNITUDE &&
                  strstr(err, cases[i].name) && strstr(err, "within"),
              "%s = %g dropped as magnitude: %s", cases[i].name, (double)cases[i].v, err);
    }
    CHECK(!strcmp(proto_status_name(PROTO_ERR_MAGNITUDE), "magnitude") &&
              !strcmp(proto_status_name(PROTO_ERR_CREDIT), "credit") &&
              !strcmp(proto_status_name(PROTO_ERR_SEQUENCE), "sequence") &&
              !strcmp(proto_status_name(PROTO_ERR_STATE), "state") &&
              !strcmp(proto_status_name(PROTO_ERR_CHANNEL), "channel"),
          "names of the learner's reasons");
    /* END is a CONTROL command */
    struct proto_control c = {PROTO_CTRL_END, 0, 9}, back;
    CHECK(proto_encode_control(&out, &c, err, sizeof err) == 0 &&
              proto_decode_control(&back, out.data, out.size, err, sizeof err) == PROTO_OK &&
              back.cmd == PROTO_CTRL_END && back.wver == 9,
          "CONTROL END round trip: %s", err);
    proto_buf_free(&out);
    proto_batch_free(&b);
}

/* encoders refuse what their decoders would: an ERROR saying ok, a BYE from rank 0 */
static void test_encoder_refusals(void) {
    struct proto_buf out;
    proto_buf_init(&out, 0);
    CHECK(proto_encode_error(&out, PROTO_OK, "fine", err, sizeof err) == -1 &&
              strstr(err, "failure code"),
          "ERROR with code ok refused: %s", err);
    struct proto_bye y = {0, 1, 1, 1};
    CHECK(proto_encode_bye(&out, &y, err, sizeof err) == -1 && strstr(err, "rank"),
          "BYE from rank 0 refused: %s", err);
    y.rank = 1;
    CHECK(proto_encode_bye(&out, &y, err, sizeof err) == 0, "BYE from rank 1: %s", err);
    proto_buf_free(&out);
}

int main(void) {
    test_checksum();
    test_roundtrip_transitions();
    test_roundtrip_small_kinds();
    test_truncation_and_flips();
    test_validation();
    test_hostile_sizes();
    test_zero_alloc();
    test_batch_and_stats();
    test_setup_and_frames();
    test_encoder_refusals();
    test_magnitude();
    return check_report("test_proto");
}
