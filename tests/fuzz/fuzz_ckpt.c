/* fuzz_ckpt — checkpoint files (common/ckpt_load.c) on the bytes as a file, every lookup on
 * what loads, and the agent's config and layout check on its entries (learner/agent_ckpt.c
 * reads them so, before it allocates the agent). Input byte 0 even: the rest is a payload,
 * framed here with a valid header and CRCs (mutations would otherwise rarely get past the
 * CRC); odd: the rest is the whole file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/ckpt.h"
#include "learner/agent.h"
#include "learner/train_cfg.h"
#include "tests/fuzz/fuzz.h"

static void put_le(uint8_t *p, uint64_t v, int n) {
    for (int i = 0; i < n; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512];
    struct ckpt c;
    if (size < 1) {
        return 0;
    }
    const uint8_t *file = data + 1;
    size_t n = size - 1;
    uint8_t *framed = NULL;
    if (!(data[0] & 1)) {
        n = CKPT_HEADER_SIZE + (size - 1) + CKPT_TRAILER_SIZE;
        framed = malloc(n);
        memcpy(framed, CKPT_MAGIC, 8);
        put_le(framed + 8, CKPT_VERSION, 4);
        put_le(framed + 12, size - 1, 8);
        put_le(framed + 20, ckpt_crc32(0, framed, 20), 4);
        memcpy(framed + CKPT_HEADER_SIZE, data + 1, size - 1);
        put_le(framed + n - 4, ckpt_crc32(0, framed, n - 4), 4);
        file = framed;
    }
    int rc = ckpt_load(&c, fuzz_file(file, n, ".ckpt"), err, sizeof err);
    free(framed);
    if (rc) {
        return 0;
    }
    for (size_t i = 0; i < c.n; i++) {
        const char *key = c.entries[i].key, *s;
        uint64_t u;
        int64_t v;
        double f;
        int nd;
        size_t shape[CKPT_MAX_DIMS], n;
        const float *x;
        const void *b;
        ckpt_get_str(&c, key, &s, err, sizeof err);
        ckpt_get_u64(&c, key, &u, err, sizeof err);
        ckpt_get_i64(&c, key, &v, err, sizeof err);
        ckpt_get_f64(&c, key, &f, err, sizeof err);
        ckpt_get_bytes(&c, key, &b, &n, err, sizeof err);
        if (ckpt_get_f32(&c, key, &nd, shape, &x, err, sizeof err) == 0 && nd > CKPT_MAX_DIMS) {
            abort();
        }
    }
    const char *json;
    struct train_cfg tc;
    if (ckpt_get_str(&c, "config", &json, err, sizeof err) == 0 &&
        train_cfg_from_json(&tc, json, err, sizeof err) == 0) {
        struct param_block pb;
        tc.ac.obs_dim = 3, tc.ac.act_dim = 2;
        if (agent_layout(&tc.ac, &pb, err, sizeof err) == 0) {
            param_free(&pb);
        }
    }
    ckpt_free(&c);
    return 0;
}
