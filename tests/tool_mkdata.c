/* tool_mkdata — writes small datasets for the CLI tests.
 *   tool_mkdata chain OUT.npz [N_STATES] [ROWS] [SEED]   deterministic chain s -> s+1, r = -1,
 *       terminal at the last state: Q*(s, a) = -(1 - gamma^(N - s)) / (1 - gamma) for every a
 *   tool_mkdata bad-nan|bad-dtype|bad-len|bad-missing OUT.npz   broken variants
 *   tool_mkdata chain-zero|chain-huge OUT.npz ...            the chain with every reward 0, or
 *       +-1e30 (finite, but the losses overflow float32 at once)
 *   tool_mkdata qinput OUT.txt [N_STATES]                   rows "obs action" for floq q
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/npz.h"
#include "common/rng.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: tool_mkdata chain|bad-nan|bad-dtype|bad-len|bad-missing|qinput OUT "
                        "[N] [ROWS] [SEED]\n");
        return 2;
    }
    const char *mode = argv[1], *out = argv[2];
    int N = argc > 3 ? atoi(argv[3]) : 5;
    int rows = argc > 4 ? atoi(argv[4]) : 4000;
    struct rng r;
    rng_seed(&r, argc > 5 ? strtoull(argv[5], NULL, 10) : 1);
    if (strcmp(mode, "qinput") == 0) {
        FILE *f = fopen(out, "w");
        if (!f) {
            return 1;
        }
        fprintf(f, "# obs (1) action (1)\n");
        for (int s = 0; s < N; s++) {
            fprintf(f, "%.6f %.3f\n", (double)s / N, s % 2 ? 0.5 : -0.5);
        }
        fclose(f);
        return 0;
    }
    float *obs = calloc((size_t)rows, sizeof(float)), *nobs = calloc((size_t)rows, sizeof(float));
    float *act = calloc((size_t)rows, sizeof(float)), *rew = calloc((size_t)rows, sizeof(float));
    float *mask = calloc((size_t)rows, sizeof(float));
    uint8_t *term = calloc((size_t)rows, 1);
    int8_t *rew_i8 = calloc((size_t)rows, 1);
    for (int i = 0; i < rows; i++) {
        int s = (int)rng_below(&r, (uint64_t)N);
        obs[i] = (float)s / N;
        nobs[i] = (float)(s + 1) / N;
        act[i] = 2 * rng_uniform(&r) - 1;
        rew[i] = -1;
        mask[i] = s == N - 1 ? 0.0f : 1.0f;
        term[i] = s == N - 1;
        rew_i8[i] = -1;
    }
    int64_t s2[2] = {rows, 1}, s1[1] = {rows}, sbad[1] = {rows - 1};
    if (strcmp(mode, "bad-nan") == 0) {
        rew[rows / 2] = NAN;
    }
    for (int i = 0; i < rows && strncmp(mode, "chain-", 6) == 0; i++) {
        rew[i] = strcmp(mode, "chain-huge") == 0 ? (i % 2 ? 1e30f : -1e30f) : 0.0f;
    }
    char err[512];
    struct npz_writer *w;
    if (npz_writer_open(&w, out, 1, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int rc = npz_writer_add(w, "observations", NPY_F4, 2, s2, obs, err, sizeof err) ||
             npz_writer_add(w, "actions", NPY_F4, 2, s2, act, err, sizeof err) ||
             npz_writer_add(w, "next_observations", NPY_F4, 2, s2, nobs, err, sizeof err) ||
             (strcmp(mode, "bad-missing") != 0 &&
              npz_writer_add(w, "terminals", NPY_B1, 1, s1, term, err, sizeof err)) ||
             npz_writer_add(w, "masks", NPY_F4, 1, s1, mask, err, sizeof err);
    if (!rc) {
        if (strcmp(mode, "bad-dtype") == 0) {
            /* a string member where rewards should be */
            static char txt[4 * 8192];
            memset(txt, 'x', sizeof txt);
            int64_t st[1] = {1};
            rc = npz_writer_add(w, "rewards", NPY_U1, 1, st, txt, err, sizeof err);
        } else if (strcmp(mode, "bad-len") == 0) {
            rc = npz_writer_add(w, "rewards", NPY_F4, 1, sbad, rew, err, sizeof err);
        } else {
            rc = npz_writer_add(w, "rewards", NPY_F4, 1, s1, rew, err, sizeof err);
        }
    }
    if (rc || npz_writer_close(w, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    (void)rew_i8;
    free(obs), free(nobs), free(act), free(rew), free(mask), free(term), free(rew_i8);
    return 0;
}
