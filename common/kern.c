#include "common/kern.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "common/util.h"

/* target clones: the loader picks the widest the CPU has; results are bitwise equal on each
 * (no contraction into FMA under -std=c11, fixed reduction order) */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(FLOQ_NO_CLONES)
#define KERN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define KERN_CLONES
#endif

#define LANES 16

static const float GELU_K = 0.7978845608028654f; /* sqrt(2/pi) */
static const float GELU_C = 0.044715f;

/* c[0] x^(n-1) + c[1] x^(n-2) + ... + c[n-1], by Horner's rule in that order (a subtraction
 * of a constant is the addition of its negation, bit for bit); n is a constant at every call,
 * so the loop unrolls into the straight-line polynomial */
static inline float horner(float x, const float *c, int n) {
    float p = c[0];
    for (int i = 1; i < n; i++) {
        p = p * x + c[i];
    }
    return p;
}

/* Cephes coefficients, highest power first: expf's P; ndtrf's T (|x| < 1), P (|x| < 2), R */
static const float EXP_P[] = {1.9875691500E-4f, 1.3981999507E-3f, 8.3334519073E-3f,
                              4.1665795894E-2f, 1.6666665459E-1f, 5.0000001201E-1f};
static const float ERF_T[] = {
    7.853861353153693E-5f, -8.010193625184903E-4f, 5.188327685732524E-3f, -2.685381193529856E-2f,
    1.128358514861418E-1f, -3.761262582423300E-1f, 1.128379165726710E+0f};
static const float ERF_P[] = {
    2.326819970068386E-2f,  -1.387039388740657E-1f, 3.687424674597105E-1f,
    -5.824733027278666E-1f, 6.210004621745983E-1f,  -4.944515323274145E-1f,
    3.404879937665872E-1f,  -2.741127028184656E-1f, 5.638259427386472E-1f};
static const float ERF_R[] = {-1.047766399936249E1f,  1.297719955372516E1f,  -7.495518717768503E0f,
                              2.921019019210786E0f,   -1.015265279202700E0f, 4.218463358204948E-1f,
                              -2.820767439740514E-1f, 5.641895067754075E-1f};

/* exp for x in [-80, 80] (clamped), Cephes polynomial, ~1 ulp; vectorisable */
/* clamp by a bit blend: with ternaries gcc splits the whole exp into masked copies (three
 * divisions per vector in GELU); a blend keeps one straight-line path */
static inline float blend_clamp(float x, float lo, float hi) {
    int32_t xi, li, hi_;
    memcpy(&xi, &x, 4);
    memcpy(&li, &lo, 4);
    memcpy(&hi_, &hi, 4);
    int32_t ml = -(int32_t)(x < lo), mh = -(int32_t)(x > hi);
    xi = (xi & ~ml) | (li & ml);
    xi = (xi & ~mh) | (hi_ & mh);
    memcpy(&x, &xi, 4);
    return x;
}

static inline float vexpf(float x) {
    x = blend_clamp(x, -80.0f, 80.0f);
    float t = x * 1.44269504088896341f;
    float tn = t + 12582912.0f; /* 1.5 * 2^23 + n: the low mantissa bits hold n = round(t) */
    float n = tn - 12582912.0f;
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = horner(r, EXP_P, (int)FLOQ_ARRAY_LEN(EXP_P));
    p = p * r * r + r + 1.0f;
    /* 2^n from tn's bits in unsigned arithmetic (no float-to-int conversion): the same bits
     * for every finite x, and a NaN x (a diverging update) gives NaN instead of undefined
     * behaviour */
    uint32_t bits;
    memcpy(&bits, &tn, sizeof bits);
    bits = (bits - 0x4B400000u + 127u) << 23;
    float s;
    memcpy(&s, &bits, sizeof s);
    return p * s;
}

/* erf for floats, vectorisable (Cephes ndtrf coefficients; both branches computed and blended):
 * |x| < 1: x T(x^2); else 1 - exp(-x^2)/|x| P(1/x^2) (R for |x| >= 2). Max abs error ~1.2e-7 in
 * float (1 - 2 ulp near 1), checked against libm erff in tests/test_core.c. */
static inline float verff(float x) {
    float ax = fabsf(x);
    float x2 = x * x;
    float small = x * horner(x2, ERF_T, (int)FLOQ_ARRAY_LEN(ERF_T));
    float a = ax < 1.0f ? 1.0f : ax; /* keep the large branch finite where it is not used */
    a = a > 10.0f ? 10.0f : a;
    float q = 1.0f / (a * a);
    float p = horner(q, ERF_P, (int)FLOQ_ARRAY_LEN(ERF_P));
    float r = horner(q, ERF_R, (int)FLOQ_ARRAY_LEN(ERF_R));
    float z = vexpf(-a * a) / a;
    float big = 1.0f - z * (a < 2.0f ? p : r);
    big = x < 0 ? -big : big;
    return ax < 1.0f ? small : big;
}

KERN_CLONES
void kern_erf(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        y[i] = verff(x[i]);
    }
}

/* gelu(x) = 0.5 x (1 + tanh(u)) = x * sigmoid(2u), u = k (x + c x^3) */
static inline float gelu_tanh(float x) {
    float u = GELU_K * (x + GELU_C * x * x * x);
    return x / (1.0f + vexpf(-2.0f * u));
}

static inline float gelu_tanh_grad(float x) {
    float u = GELU_K * (x + GELU_C * x * x * x);
    float s = 1.0f / (1.0f + vexpf(-2.0f * u));
    float du = GELU_K * (1.0f + 3.0f * GELU_C * x * x);
    return s + x * s * (1.0f - s) * 2.0f * du;
}

static inline float gelu_erf(float x) {
    return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
}

static inline float gelu_erf_grad(float x) {
    return 0.5f * (1.0f + erff(x * 0.70710678118654752f)) +
           x * 0.39894228040143268f * expf(-0.5f * x * x);
}

float kern_gelu_tanh_ref(float x) {
    return 0.5f * x * (1.0f + tanhf(GELU_K * (x + GELU_C * x * x * x)));
}

KERN_CLONES
static void gelu_tanh_fwd(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        y[i] = gelu_tanh(x[i]);
    }
}

KERN_CLONES
static void gelu_tanh_bwd(float *dx, const float *x, const float *dy, size_t n) {
    for (size_t i = 0; i < n; i++) {
        dx[i] = dy[i] * gelu_tanh_grad(x[i]);
    }
}

void kern_act_fwd(float *y, const float *x, size_t n, int act) {
    if (act == KERN_GELU_TANH) {
        gelu_tanh_fwd(y, x, n);
    } else if (act == KERN_GELU_ERF) {
        for (size_t i = 0; i < n; i++) {
            y[i] = gelu_erf(x[i]);
        }
    } else if (y != x) {
        memcpy(y, x, sizeof(float) * n);
    }
}

void kern_act_bwd(float *dx, const float *x, const float *dy, size_t n, int act) {
    if (act == KERN_GELU_TANH) {
        gelu_tanh_bwd(dx, x, dy, n);
    } else if (act == KERN_GELU_ERF) {
        for (size_t i = 0; i < n; i++) {
            dx[i] = dy[i] * gelu_erf_grad(x[i]);
        }
    } else if (dx != dy) {
        memcpy(dx, dy, sizeof(float) * n);
    }
}

/* sum with 16 independent lanes then a fixed tree: vectorisable and order-deterministic */
static inline float row_sum(const float *x, int H) {
    float acc[LANES] = {0};
    int j = 0;
    for (; j + LANES <= H; j += LANES) {
        for (int l = 0; l < LANES; l++) {
            acc[l] += x[j + l];
        }
    }
    for (int l = 0; j < H; j++, l++) {
        acc[l] += x[j];
    }
    for (int w = LANES / 2; w >= 1; w /= 2) {
        for (int l = 0; l < w; l++) {
            acc[l] += acc[l + w];
        }
    }
    return acc[0];
}

static inline float row_sumsq_dev(const float *x, float mean, int H) {
    float acc[LANES] = {0};
    int j = 0;
    for (; j + LANES <= H; j += LANES) {
        for (int l = 0; l < LANES; l++) {
            float d = x[j + l] - mean;
            acc[l] += d * d;
        }
    }
    for (int l = 0; j < H; j++, l++) {
        float d = x[j] - mean;
        acc[l] += d * d;
    }
    for (int w = LANES / 2; w >= 1; w /= 2) {
        for (int l = 0; l < w; l++) {
            acc[l] += acc[l + w];
        }
    }
    return acc[0];
}

static inline float row_dot(const float *x, const float *y, int H) {
    float acc[LANES] = {0};
    int j = 0;
    for (; j + LANES <= H; j += LANES) {
        for (int l = 0; l < LANES; l++) {
            acc[l] += x[j + l] * y[j + l];
        }
    }
    for (int l = 0; j < H; j++, l++) {
        acc[l] += x[j] * y[j];
    }
    for (int w = LANES / 2; w >= 1; w /= 2) {
        for (int l = 0; l < w; l++) {
            acc[l] += acc[l + w];
        }
    }
    return acc[0];
}

/* one row of LayerNorm in place on y (already holding the input), optionally keeping xhat */
static inline void ln_row(float *y, float *xh, float *mean_out, float *rstd_out, const float *g,
                          const float *c, int H) {
    float mean = row_sum(y, H) / (float)H;
    float var = row_sumsq_dev(y, mean, H) / (float)H;
    float rstd = 1.0f / sqrtf(var + KERN_LN_EPS);
    if (xh) {
        for (int j = 0; j < H; j++) {
            float t = (y[j] - mean) * rstd;
            xh[j] = t;
            y[j] = g[j] * t + c[j];
        }
    } else {
        for (int j = 0; j < H; j++) {
            y[j] = g[j] * ((y[j] - mean) * rstd) + c[j];
        }
    }
    if (mean_out) {
        *mean_out = mean;
    }
    if (rstd_out) {
        *rstd_out = rstd;
    }
}

KERN_CLONES
void kern_layernorm_fwd(float *y, float *xhat, float *mean, float *rstd, const float *x,
                        const float *g, const float *c, int B, int H) {
    for (int r = 0; r < B; r++) {
        float *yr = y + (size_t)r * H;
        if (yr != x + (size_t)r * H) {
            memcpy(yr, x + (size_t)r * H, sizeof(float) * (size_t)H);
        }
        ln_row(yr, xhat ? xhat + (size_t)r * H : NULL, mean ? mean + r : NULL,
               rstd ? rstd + r : NULL, g, c, H);
    }
}

/* LN backward for one row: dx = rstd (dxh - mean(dxh) - xh mean(dxh xh)), dxh = dy g */
static inline void ln_bwd_row(float *dx, float *dg, float *dc, const float *dy, const float *xh,
                              float rstd, const float *g, int H, float *tmp) {
    for (int j = 0; j < H; j++) {
        tmp[j] = dy[j] * g[j];
    }
    if (dg) {
        for (int j = 0; j < H; j++) {
            dg[j] += dy[j] * xh[j];
        }
    }
    if (dc) {
        for (int j = 0; j < H; j++) {
            dc[j] += dy[j];
        }
    }
    float m1 = row_sum(tmp, H) / (float)H;
    float m2 = row_dot(tmp, xh, H) / (float)H;
    for (int j = 0; j < H; j++) {
        dx[j] = rstd * (tmp[j] - m1 - xh[j] * m2);
    }
}

#define KERN_MAX_H 8192

KERN_CLONES
void kern_layernorm_bwd(float *dx, float *dg, float *dc, const float *dy, const float *xhat,
                        const float *rstd, const float *g, int B, int H) {
    float tmp[KERN_MAX_H];
    for (int r = 0; r < B; r++) {
        size_t o = (size_t)r * H;
        ln_bwd_row(dx + o, dg, dc, dy + o, xhat + o, rstd[r], g, H, tmp);
    }
}

KERN_CLONES
void kern_hidden_fwd(float *a, float *y, float *xhat, float *mean, float *rstd, const float *b,
                     const float *g, const float *c, int B, int H, int act, int ln) {
    for (int r = 0; r < B; r++) {
        size_t o = (size_t)r * H;
        float *ar = a + o, *yr = y + o;
        for (int j = 0; j < H; j++) {
            ar[j] += b[j];
        }
        if (act == KERN_GELU_TANH) {
            for (int j = 0; j < H; j++) {
                yr[j] = gelu_tanh(ar[j]);
            }
        } else if (act == KERN_GELU_ERF) {
            for (int j = 0; j < H; j++) {
                yr[j] = gelu_erf(ar[j]);
            }
        } else if (yr != ar) {
            memcpy(yr, ar, sizeof(float) * (size_t)H);
        }
        if (ln) {
            ln_row(yr, xhat ? xhat + o : NULL, mean ? mean + r : NULL, rstd ? rstd + r : NULL, g,
                   c, H);
        }
    }
}

KERN_CLONES
void kern_hidden_bwd(float *da, float *db, float *dg, float *dc, const float *dy, const float *a,
                     const float *xhat, const float *rstd, const float *g, int B, int H, int act,
                     int ln) {
    float tmp[KERN_MAX_H];
    for (int r = 0; r < B; r++) {
        size_t o = (size_t)r * H;
        float *dar = da + o;
        const float *ar = a + o;
        if (ln) {
            ln_bwd_row(dar, dg, dc, dy + o, xhat + o, rstd[r], g, H, tmp);
        } else if (dar != dy + o) {
            memcpy(dar, dy + o, sizeof(float) * (size_t)H);
        }
        if (act == KERN_GELU_TANH) {
            for (int j = 0; j < H; j++) {
                dar[j] *= gelu_tanh_grad(ar[j]);
            }
        } else if (act == KERN_GELU_ERF) {
            for (int j = 0; j < H; j++) {
                dar[j] *= gelu_erf_grad(ar[j]);
            }
        }
        if (db) {
            for (int j = 0; j < H; j++) {
                db[j] += dar[j];
            }
        }
    }
}

KERN_CLONES
void kern_add_bias(float *y, const float *b, int B, int N) {
    for (int r = 0; r < B; r++) {
        for (int j = 0; j < N; j++) {
            y[(size_t)r * N + j] += b[j];
        }
    }
}

KERN_CLONES
void kern_sum_rows(float *db, const float *dy, int B, int N) {
    for (int r = 0; r < B; r++) {
        for (int j = 0; j < N; j++) {
            db[j] += dy[(size_t)r * N + j];
        }
    }
}

KERN_CLONES
void kern_adam(float *w, const float *g, float *m, float *v, size_t n, float lr, double b1,
               double b2, float eps, long t) {
    /* as optax: decay constants are Python doubles, (1 - decay) is formed in double and only
     * then rounded to float32 (1 - 0.999f would be 1.3e-5 off); bias corrections in float32 */
    float b1f = (float)b1, b2f = (float)b2;
    float ob1 = (float)(1.0 - b1), ob2 = (float)(1.0 - b2);
    float bc1 = 1.0f - powf(b1f, (float)t);
    float bc2 = 1.0f - powf(b2f, (float)t);
    for (size_t i = 0; i < n; i++) {
        float mi = ob1 * g[i] + b1f * m[i];
        float vi = ob2 * (g[i] * g[i]) + b2f * v[i];
        m[i] = mi;
        v[i] = vi;
        w[i] += -lr * ((mi / bc1) / (sqrtf(vi / bc2) + eps));
    }
}

KERN_CLONES
void kern_add(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        y[i] += x[i];
    }
}

KERN_CLONES
void kern_polyak(float *target, const float *online, size_t n, float tau) {
    for (size_t i = 0; i < n; i++) {
        target[i] = tau * online[i] + (1.0f - tau) * target[i];
    }
}
