/* fuzz_proto — every wire decoder on the same bytes (common/proto_decode.c). A decoder must
 * return a status and write nothing on failure; on success the values must be within the
 * documented bounds (checked here, so a bound the decoder forgot is a finding). Input byte 0
 * even: the rest is a message whose last 9 bytes are replaced by its valid checksum (mutations
 * would otherwise rarely get past it); odd: the rest as it is. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/proto.h"

static void check_transitions(const struct proto_transitions *t, const struct proto_dims *d) {
    if (t->n < 1 || t->n > d->max_batch || t->obs_dim != d->obs_dim || t->act_dim != d->act_dim ||
        t->n_episodes > t->n_terminal || t->wver_max > d->wver_max) {
        abort();
    }
    static float obs[64 * 4], act[64 * 2], rew[64], term[64], mask[64], nobs[64 * 4];
    static uint32_t wv[64];
    struct proto_rows r = {obs, act, rew, term, mask, nobs, wv};
    proto_transitions_copy(t, 0, t->n, &r);
    for (uint32_t i = 0; i < t->n * d->obs_dim; i++) {
        if (!(fabsf(obs[i]) <= PROTO_MAX_ABS) || !(fabsf(nobs[i]) <= PROTO_MAX_ABS)) {
            abort();
        }
    }
    for (uint32_t i = 0; i < t->n; i++) {
        if (!(fabsf(rew[i]) <= PROTO_MAX_ABS) || (term[i] != 0 && term[i] != 1) ||
            (mask[i] == 0 && term[i] == 0)) {
            abort();
        }
    }
    for (uint32_t e = 0; e < t->n_episodes; e++) {
        struct proto_episode ep = proto_transitions_episode(t, e);
        if (ep.length < 1 || ep.success > 1 || !(fabsf(ep.ret) <= PROTO_MAX_RETURN)) {
            abort();
        }
    }
}

static int decode_all(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) {
        return 0;
    }
    if ((data[0] & 1) || size < 1 + PROTO_CHECKSUM_BYTES) {
        return decode_all(data + 1, size - 1);
    }
    size_t n = size - 1;
    uint8_t *m = malloc(n);
    memcpy(m, data + 1, n);
    uint64_t h = proto_checksum(m, n - PROTO_CHECKSUM_BYTES);
    m[n - 9] = 0xcf;
    for (int i = 0; i < 8; i++) {
        m[n - 8 + i] = (uint8_t)(h >> (56 - 8 * i));
    }
    decode_all(m, n);
    free(m);
    return 0;
}

static int decode_all(const uint8_t *data, size_t size) {
    static const struct proto_dims d = {
        .obs_dim = 4, .act_dim = 2, .max_batch = 64, .n_params = 8, .wver_max = 1000};
    char err[256];
    uint32_t v, k;
    proto_peek(data, size, &v, &k);
    struct proto_transitions t;
    if (proto_decode_transitions(&t, data, size, &d, err, sizeof err) == PROTO_OK) {
        check_transitions(&t, &d);
    }
    struct proto_hello h;
    if (proto_decode_hello(&h, data, size, err, sizeof err) == PROTO_OK) {
        proto_check_hello(&h, &d, "tiny-v0", err, sizeof err);
        if (strlen(h.env_name) < 1 || h.num_envs < 1 || h.num_envs > PROTO_MAX_ENVS) {
            abort();
        }
    }
    float params[8];
    if (proto_decode_weights(&v, params, data, size, &d, err, sizeof err) == PROTO_OK) {
        for (int i = 0; i < 8; i++) {
            if (!isfinite(params[i])) {
                abort();
            }
        }
    }
    struct proto_control c;
    if (proto_decode_control(&c, data, size, err, sizeof err) == PROTO_OK &&
        (c.cmd < PROTO_CTRL_ACCEPT || c.cmd > PROTO_CTRL_END)) {
        abort();
    }
    struct proto_error e;
    if (proto_decode_error(&e, data, size, err, sizeof err) == PROTO_OK &&
        strlen(e.text) >= PROTO_MAX_TEXT) {
        abort();
    }
    struct proto_bye b;
    proto_decode_bye(&b, data, size, err, sizeof err);
    struct proto_setup s;
    if (proto_decode_setup(&s, data, size, err, sizeof err) == PROTO_OK &&
        (s.policy.n_hidden < 1 || s.policy.n_hidden > MLP_MAX_HIDDEN)) {
        abort();
    }
    return 0;
}
