/* proto_bench.c — `floq bench` section "proto": learner ingest and actor encode rates. */
#include "common/proto.h"

#include <stdio.h>
#include <string.h>

#include "common/bench.h"
#include "common/mem.h"
#include "common/rng.h"
#include "common/util.h"

enum { BO = 29, BA = 8, BB = 256, RING = 1 << 16, WINDOWS = 5 };
#define WINDOW_SEC 0.1
#define N_POLICY   800000 /* about the paper's 4x512 one-step policy for Ant */

/* everything the timed loops touch */
struct bench_state {
    struct proto_batch batch;
    struct proto_buf msg, enc, wmsg;
    struct proto_dims dims;
    float *obs, *act, *rew, *term, *mask, *next_obs; /* replay-like ring, (RING, .) */
    unsigned char *raw;                              /* memcpy reference ring, same bytes */
    size_t raw_slots, slot;
    float *params;
    int failed;
};

static void ingest_once(struct bench_state *s) {
    struct proto_transitions t;
    if (proto_decode_transitions(&t, s->msg.data, s->msg.size, &s->dims, NULL, 0) != PROTO_OK) {
        s->failed = 1;
        return;
    }
    size_t at = s->slot;
    struct proto_rows rows = {s->obs + at * BO, s->act + at * BA,      s->rew + at, s->term + at,
                              s->mask + at,     s->next_obs + at * BO, NULL};
    proto_transitions_copy(&t, 0, t.n, &rows);
    s->slot = (s->slot + BB) % RING;
}

static void memcpy_once(struct bench_state *s) {
    memcpy(s->raw + s->slot * s->msg.size, s->msg.data, s->msg.size);
    s->slot = (s->slot + 1) % s->raw_slots;
}

static void encode_once(struct bench_state *s) {
    s->failed |= proto_encode_transitions(&s->enc, &s->batch, NULL, 0) != 0;
}

static void validate_once(struct bench_state *s) {
    struct proto_transitions t;
    s->failed |= proto_decode_transitions(&t, s->msg.data, s->msg.size, &s->dims, NULL, 0) != 0;
}

static void weights_once(struct bench_state *s) {
    uint32_t v;
    s->failed |=
        proto_decode_weights(&v, s->params, s->wmsg.data, s->wmsg.size, &s->dims, NULL, 0) != 0;
}

static void weights_memcpy_once(struct bench_state *s) {
    memcpy(s->params, s->wmsg.data, 4 * (size_t)N_POLICY);
}

/* best-of-windows calls per second */
static double rate(struct bench_state *s, void (*fn)(struct bench_state *)) {
    double best = 0;
    s->slot = 0;
    fn(s);
    for (int w = 0; w < WINDOWS; w++) {
        double t0 = now_sec(), t;
        long it = 0;
        do {
            for (int k = 0; k < 16; k++) {
                fn(s);
            }
            it += 16;
            t = now_sec() - t0;
        } while (t < WINDOW_SEC);
        if (it / t > best) {
            best = it / t;
        }
    }
    return best;
}

void bench_proto(void) {
    bench_header("proto");
    struct bench_state s;
    memset(&s, 0, sizeof s);
    char err[256];
    if (proto_batch_init(&s.batch, BO, BA, BB, err, sizeof err) != 0) {
        printf("  proto bench: %s\n", err);
        return;
    }
    // an Ant-like batch: 256 transitions, an episode end every 100 rows
    struct rng r;
    rng_seed(&r, 1);
    for (int i = 0; i < BB; i++) {
        float o[BO], a[BA], no[BO];
        rng_fill_normal(&r, o, BO);
        rng_fill_normal(&r, no, BO);
        for (int j = 0; j < BA; j++) {
            a[j] = rng_uniform(&r) * 2 - 1;
        }
        int term = i % 100 == 99;
        proto_batch_push(&s.batch, o, a, rng_uniform(&r), term, !term, no, 1);
        if (term) {
            proto_batch_push_episode(&s.batch, -50.0f, 100, 0);
        }
    }
    // header values of an actor some way into a run (wait_us: 3 s spent waiting)
    s.batch.rank = 1;
    s.batch.seq = 1000;
    s.batch.env_steps = 1000000;
    s.batch.wait_us = 3000000;
    s.dims = (struct proto_dims){BO, BA, BB, N_POLICY, UINT32_MAX};
    proto_buf_init(&s.msg, proto_transitions_max_bytes(BO, BA, BB));
    proto_buf_init(&s.enc, proto_transitions_max_bytes(BO, BA, BB));
    proto_encode_transitions(&s.msg, &s.batch, err, sizeof err);
    s.obs = mem_alloc(sizeof(float) * RING * BO);
    s.act = mem_alloc(sizeof(float) * RING * BA);
    s.rew = mem_alloc(sizeof(float) * RING);
    s.term = mem_alloc(sizeof(float) * RING);
    s.mask = mem_alloc(sizeof(float) * RING);
    s.next_obs = mem_alloc(sizeof(float) * RING * BO);
    s.raw_slots = RING / BB;
    s.raw = mem_alloc(s.raw_slots * s.msg.size);
    s.params = mem_alloc(sizeof(float) * N_POLICY);
    proto_buf_init(&s.wmsg, proto_weights_bytes(N_POLICY));
    rng_fill_normal(&r, s.params, N_POLICY);
    proto_encode_weights(&s.wmsg, 1, s.params, N_POLICY, err, sizeof err);

    double ref = rate(&s, memcpy_once) * BB;
    double ingest = rate(&s, ingest_once) * BB;
    double validate = rate(&s, validate_once) * BB;
    double encode = rate(&s, encode_once) * BB;
    printf("  (%d transitions/message, %zu bytes/message, replay-like ring of %d rows)\n", BB,
           s.msg.size, RING);
    bench_record("proto_ingest_ant_b256", ingest, "trans/s", "memcpy_msg_bytes", ref);
    bench_record("proto_validate_ant_b256", validate, "trans/s", "memcpy_msg_bytes", ref);
    bench_record("proto_encode_ant_b256", encode, "trans/s", "memcpy_msg_bytes", ref);
    double wref = rate(&s, weights_memcpy_once), wdec = rate(&s, weights_once);
    bench_record("proto_weights_decode_800k_ms", 1e3 / wdec, "ms", "memcpy_3.2MB_ms", 1e3 / wref);
    if (s.failed) {
        printf("  proto bench: a decode failed; the figures above are not valid\n");
    }
    proto_batch_free(&s.batch);
    proto_buf_free(&s.msg);
    proto_buf_free(&s.enc);
    proto_buf_free(&s.wmsg);
    MEM_FREE_ALL(s.obs, s.act, s.rew, s.term, s.mask, s.next_obs, s.raw, s.params);
}
