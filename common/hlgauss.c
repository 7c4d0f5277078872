#include "common/hlgauss.h"

#include <math.h>

#include "common/kern.h"
#include "common/util.h"

void hlgauss_init(struct hlgauss *h, float q_min, float q_max, int nbins, float sigma) {
    FLOQ_ASSERT(nbins >= 2 && nbins <= HLGAUSS_MAX_BINS && q_max > q_min && sigma > 0);
    h->nbins = nbins;
    h->q_min = q_min;
    h->q_max = q_max;
    h->sigma = sigma;
    float width = (q_max - q_min) / (float)(nbins - 1);
    /* edges as jnp.linspace(q_min, q_max, N) computes them */
    for (int j = 0; j < nbins; j++) {
        h->edge[j] = j == nbins - 1 ? q_max : q_min + (float)j * width;
    }
    h->inv_scale = 1.0f / (sqrtf(2.0f) * (sigma * width));
}

void hlgauss_embed(const struct hlgauss *h, const float *z, int B, float *out, int ld) {
    int N = h->nbins;
    float F[HLGAUSS_MAX_BINS];
    for (int b = 0; b < B; b++) {
        float zb = z[b];
        float *o = out + (long)b * ld;
        for (int j = 0; j < N; j++) {
            F[j] = (h->edge[j] - zb) * h->inv_scale;
        }
        kern_erf(F, F, (size_t)N);
        float denom = F[N - 1] - F[0];
        if (!(fabsf(denom) >= 1e-12f)) {
            /* far outside the support (or z not finite): one-hot on the nearest edge bin */
            int hot = zb > 0.5f * (h->q_min + h->q_max) ? N - 2 : 0;
            for (int j = 0; j < N - 1; j++) {
                o[j] = j == hot ? 1.0f : 0.0f;
            }
            continue;
        }
        for (int j = 0; j < N - 1; j++) {
            o[j] = (F[j + 1] - F[j]) / denom;
        }
    }
}

int time_embed_dim(int kind) {
    return kind == TIME_EMBED_FOURIER ? TIME_FOURIER_DIM : 1;
}

void time_embed(int kind, float t, float *out) {
    if (kind == TIME_EMBED_COS) {
        out[0] = cosf(t);
    } else if (kind == TIME_EMBED_FOURIER) {
        for (int k = 1; k <= TIME_FOURIER_DIM; k++) {
            out[k - 1] = cosf((float)k * 3.14159265358979f * t);
        }
    } else {
        out[0] = t;
    }
}
