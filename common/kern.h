/* kern.h — elementwise kernels of the networks, vectorised (AVX2 / AVX-512 clones chosen at
 * load time, identical results on every clone: no FMA contraction, fixed summation order).
 *
 * Shapes: B rows, H features, row-major. "may alias" means the output may be the input.
 *
 *   kern_hidden_fwd(a, y, xh, mean, rstd, b, g, c, B, H, act, ln);  // a := a + b; y := LN(act(a))
 *   kern_hidden_bwd(da, db, dg, dc, dy, a, xh, rstd, g, B, H, act, ln);
 */
#ifndef FLOQ_KERN_H
#define FLOQ_KERN_H

#include <stddef.h>

enum kern_act { KERN_GELU_TANH = 0, KERN_GELU_ERF = 1, KERN_IDENTITY = 2 };

#define KERN_LN_EPS 1e-6f

/* y = act(x), may alias */
void kern_act_fwd(float *y, const float *x, size_t n, int act);
/* dx = dy * act'(x), dx may alias dy */
void kern_act_bwd(float *dx, const float *x, const float *dy, size_t n, int act);

/* LayerNorm over rows: y = g * (x - mean) * rstd + c, rstd = 1/sqrt(var + eps), biased var.
 * xhat, mean, rstd may be NULL (not kept); y may alias x. */
void kern_layernorm_fwd(float *y /*(B,H)*/, float *xhat /*(B,H)*/, float *mean /*(B)*/,
                        float *rstd /*(B)*/, const float *x /*(B,H)*/, const float *g /*(H)*/,
                        const float *c /*(H)*/, int B, int H);
/* accumulates dg, dc (may be NULL); dx may alias dy */
void kern_layernorm_bwd(float *dx /*(B,H)*/, float *dg /*(H)*/, float *dc /*(H)*/,
                        const float *dy /*(B,H)*/, const float *xhat /*(B,H)*/,
                        const float *rstd /*(B)*/, const float *g /*(H)*/, int B, int H);

/* fused hidden layer after the matmul: a += b (a keeps the pre-activation), then
 * y = ln ? LN(act(a)) : act(a). xhat/mean/rstd (when ln) may be NULL; y may alias a (then a is
 * not kept). */
void kern_hidden_fwd(float *a /*(B,H)*/, float *y /*(B,H)*/, float *xhat, float *mean,
                     float *rstd, const float *b /*(H)*/, const float *g /*(H)*/,
                     const float *c /*(H)*/, int B, int H, int act, int ln);
/* fused backward: given dy, writes da (may alias dy) and accumulates db, dg, dc (NULL skips) */
void kern_hidden_bwd(float *da, float *db, float *dg, float *dc, const float *dy,
                     const float *a, const float *xhat, const float *rstd, const float *g, int B,
                     int H, int act, int ln);

/* y[i,:] += b for every row */
void kern_add_bias(float *y, const float *b, int B, int N);
/* db += column sums of dy */
void kern_sum_rows(float *db, const float *dy, int B, int N);

/* Adam (optax semantics): m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * w -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps); t = step count after increment */
void kern_adam(float *w, const float *g, float *m, float *v, size_t n, float lr, double b1,
               double b2, float eps, long t);
/* y += x (n floats): one thread's gradient into the sum */
void kern_add(float *y, const float *x, size_t n);
/* target = tau * online + (1 - tau) * target */
void kern_polyak(float *target, const float *online, size_t n, float tau);

/* y = erf(x), vectorised; max abs error ~1.2e-7 (may alias) */
void kern_erf(float *y, const float *x, size_t n);

/* scalar GELU (tanh form) and its derivative, the reference for tests */
float kern_gelu_tanh_ref(float x);

#endif
