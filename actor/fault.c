/* fault.c — the test build's faults of actor rank 1 (fault.h). Compiled only with
 * -DFLOQ_FAULT_INJECTION. */
#include "actor/fault.h"

#include <math.h>
#include <stdio.h>

#include "common/comm.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/rng.h"

enum fault_kind { FAULT_NONE = 0, FAULT_DROP_BATCH = 1, FAULT_BAD_HELLO = 2, FAULT_FLIP_LEARNER = 3 };

static int g_bad_rounds, g_kind;

int fault_opts(struct cfg_opt *o) {
    struct cfg_opt opts[FAULT_MAX_OPTS] = {
        CFG_INT("test_bad_actor", &g_bad_rounds, 0, 1000,
                "tests only: actor rank 1 first sends this many rounds of malformed messages"),
        CFG_CHOICE("test_fault", &g_kind, "none|drop_batch|bad_hello|flip_learner",
                   "tests only: a fault of actor rank 1 (flip_learner: of learner rank 1)"),
    };
    for (int i = 0; i < FAULT_MAX_OPTS; i++) {
        o[i] = opts[i];
    }
    return FAULT_MAX_OPTS;
}

void fault_on_hello(int rank, struct proto_hello *h) {
    if (rank == 1 && g_kind == FAULT_BAD_HELLO) {
        h->obs_dim += 1;
    }
}

void fault_on_encoded(int rank, uint64_t seq, struct proto_buf *msg) {
    if (rank == 1 && g_kind == FAULT_DROP_BATCH && seq == 2) {
        msg->data[msg->size / 2] ^= 0x55; /* the learner must drop it (checksum) */
        log_info("actor: corrupting batch %llu (test)", (unsigned long long)seq);
    }
}

int fault_garbage_rounds(int rank) {
    return rank == 1 ? g_bad_rounds : 0;
}

/* malformed messages of every kind the learner must survive, 7 per round */
void fault_send_garbage(int rank, const struct proto_batch *good, int count) {
    struct proto_buf pb;
    proto_buf_init(&pb, 0);
    char err[256];
    struct comm_req r = {0};
    struct rng g;
    rng_seed(&g, (uint64_t)rank);
    for (int k = 0; k < count; k++) {
        for (int kind = 0; kind < 7; kind++) {
            struct proto_batch b = *good;
            float nanv[1024];
            unsigned char *msg;
            size_t len;
            if (kind == 5) {
                /* NaN observations */
                if (b.obs_dim * b.n > 1024) {
                    continue;
                }
                for (uint32_t i = 0; i < b.obs_dim * b.n; i++) {
                    nanv[i] = NAN;
                }
                b.obs = nanv;
            }
            if (proto_encode_transitions(&pb, &b, err, sizeof err)) {
                continue;
            }
            msg = pb.data;
            len = pb.size;
            if (kind == 0) {
                len = len / 2; /* truncated */
            } else if (kind == 1) {
                /* wrong version with a valid checksum: array16 header (3 bytes), then version */
                msg[3] = 2;
                uint64_t h = proto_checksum(msg, len - PROTO_CHECKSUM_BYTES);
                for (int q = 0; q < 8; q++) {
                    msg[len - 8 + q] = (unsigned char)(h >> (56 - 8 * q));
                }
            } else if (kind == 2) {
                for (int t = 0; t < 8; t++) {
                    msg[rng_below(&g, len)] ^= 0x5a; /* corrupt */
                }
            } else if (kind == 3) {
                static const unsigned char bomb[] = {0xdd, 0x12, 0x12, 0x12, 0x12};
                msg = (unsigned char *)bomb;
                len = sizeof bomb;
            } else if (kind == 6) {
                /* wrong size: an obs width the env does not have */
                struct proto_batch w;
                if (good->obs_dim + 3 <= 64 && good->act_dim <= 64 &&
                    proto_batch_init(&w, good->obs_dim + 3, good->act_dim, good->n, err,
                                     sizeof err) == 0) {
                    for (uint32_t i = 0; i < good->n; i++) {
                        float o[64] = {0}, a[64] = {0};
                        proto_batch_push(&w, o, a, 0, 0, 1, o, good->wver[i]);
                    }
                    w.rank = good->rank;
                    proto_encode_transitions(&pb, &w, err, sizeof err);
                    proto_batch_free(&w);
                    msg = pb.data;
                    len = pb.size;
                }
            }
            /* kind 4: an oversized message (bigger than any bound) */
            unsigned char *big = NULL;
            if (kind == 4) {
                len = (size_t)1 << 22;
                big = msg = mem_alloc(len);
            }
            comm_isend(&r, COMM_MSG, 0, PROTO_TAG_TRANSITIONS, msg, len);
            comm_wait(&r);
            mem_free(big);
        }
    }
    comm_req_free(&r);
    proto_buf_free(&pb);
    log_info("actor %d: sent %d malformed messages (test)", rank, 7 * count);
}

int fault_flip_learner(long step) {
    return g_kind == FAULT_FLIP_LEARNER && step == FAULT_FLIP_STEP;
}
