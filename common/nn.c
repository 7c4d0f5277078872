#include "common/nn.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/mem.h"
#include "common/util.h"

void linear_forward(float *out, const float *inp, const float *W, const float *b, int B, int K,
                    int N) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, N, K, 1.0f, inp, K, W, N, 0.0f, out,
                N);
    if (b) {
        kern_add_bias(out, b, B, N);
    }
}

void linear_backward(float *dinp, float *dW, float *db, const float *dout, const float *inp,
                     const float *W, int B, int K, int N) {
    if (dW) {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, N, B, 1.0f, inp, K, dout, N, 1.0f,
                    dW, N);
    }
    if (db) {
        kern_sum_rows(db, dout, B, N);
    }
    if (dinp) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, K, N, 1.0f, dout, N, W, N, 0.0f,
                    dinp, K);
    }
}

int linear_blas_threads(int n) {
    if (n >= 1) {
        openblas_set_num_threads(n);
    }
    return openblas_get_num_threads();
}

void mlp_register(struct mlp *net, const struct mlp_cfg *cfg, struct param_block *pb,
                  const char *name) {
    FLOQ_ASSERT(cfg->nhidden >= 0 && cfg->nhidden <= MLP_MAX_HIDDEN);
    FLOQ_ASSERT(cfg->E >= 1 && cfg->in > 0 && cfg->out > 0);
    memset(net, 0, sizeof *net);
    net->c = *cfg;
    net->nlayers = cfg->nhidden + 1;
    net->begin = param_mark(pb);
    char nm[PARAM_NAME_MAX];
    int E = cfg->E;
    for (int l = 0; l < net->nlayers; l++) {
        int din = l == 0 ? cfg->in : cfg->hidden[l - 1];
        int dout = l < cfg->nhidden ? cfg->hidden[l] : cfg->out;
        FLOQ_ASSERT(dout > 0 && dout <= 8192);
        net->din[l] = din;
        net->dout[l] = dout;
        int s3[3] = {E, din, dout}, s2[2] = {E, dout};
        snprintf(nm, sizeof nm, "%s/dense%d/kernel", name, l);
        net->off_w[l] = E > 1 ? param_add(pb, nm, 3, s3) : param_add(pb, nm, 2, s3 + 1);
        snprintf(nm, sizeof nm, "%s/dense%d/bias", name, l);
        net->off_b[l] = E > 1 ? param_add(pb, nm, 2, s2) : param_add(pb, nm, 1, s2 + 1);
        if (cfg->ln && l < cfg->nhidden) {
            snprintf(nm, sizeof nm, "%s/ln%d/scale", name, l);
            net->off_g[l] = E > 1 ? param_add(pb, nm, 2, s2) : param_add(pb, nm, 1, s2 + 1);
            snprintf(nm, sizeof nm, "%s/ln%d/bias", name, l);
            net->off_c[l] = E > 1 ? param_add(pb, nm, 2, s2) : param_add(pb, nm, 1, s2 + 1);
        }
    }
    net->end = param_mark(pb);
}

size_t mlp_member_params(const struct mlp *net) {
    size_t n = 0;
    for (int l = 0; l < net->nlayers; l++) {
        n += (size_t)net->din[l] * net->dout[l] + (size_t)net->dout[l];
        if (net->c.ln && l < net->c.nhidden) {
            n += 2 * (size_t)net->dout[l];
        }
    }
    return n;
}

void mlp_init_weights(const struct mlp *net, float *w, struct rng *r) {
    int E = net->c.E;
    for (int l = 0; l < net->nlayers; l++) {
        int din = net->din[l], dout = net->dout[l];
        float lim = sqrtf(6.0f / (float)(din + dout));
        for (int e = 0; e < E; e++) {
            float *W = w + net->off_w[l] + (size_t)e * din * dout;
            for (size_t i = 0; i < (size_t)din * dout; i++) {
                W[i] = (2.0f * rng_uniform(r) - 1.0f) * lim;
            }
            memset(w + net->off_b[l] + (size_t)e * dout, 0, sizeof(float) * (size_t)dout);
            if (net->c.ln && l < net->c.nhidden) {
                float *g = w + net->off_g[l] + (size_t)e * dout;
                for (int j = 0; j < dout; j++) {
                    g[j] = 1.0f;
                }
                memset(w + net->off_c[l] + (size_t)e * dout, 0, sizeof(float) * (size_t)dout);
            }
        }
    }
}

size_t mlp_tape_bytes(const struct mlp *net, int maxB) {
    size_t maxw = (size_t)net->c.in, rows = (size_t)maxB, n = 0;
    for (int l = 0; l < net->nlayers; l++) {
        maxw = FLOQ_MAX(maxw, (size_t)net->dout[l]);
    }
    for (int l = 0; l < net->c.nhidden; l++) {
        n += rows * (size_t)net->dout[l] * (net->c.ln ? 3 : 2) + (net->c.ln ? 2 * rows : 0);
    }
    n += rows * (size_t)net->c.out + 2 * rows * maxw;
    return n * sizeof(float);
}

void mlp_tape_init(struct mlp_tape *t, const struct mlp *net, int maxB) {
    memset(t, 0, sizeof *t);
    t->maxB = maxB;
    t->nlayers = net->nlayers;
    int maxw = net->c.in;
    for (int l = 0; l < net->nlayers; l++) {
        maxw = FLOQ_MAX(maxw, net->dout[l]);
    }
    for (int l = 0; l < net->c.nhidden; l++) {
        size_t n = (size_t)maxB * net->dout[l];
        t->a[l] = mem_alloc(sizeof(float) * n);
        t->y[l] = mem_alloc(sizeof(float) * n);
        if (net->c.ln) {
            t->xh[l] = mem_alloc(sizeof(float) * n);
            t->mean[l] = mem_alloc(sizeof(float) * (size_t)maxB);
            t->rstd[l] = mem_alloc(sizeof(float) * (size_t)maxB);
        }
    }
    t->out = mem_alloc(sizeof(float) * (size_t)maxB * net->c.out);
    t->d0 = mem_alloc(sizeof(float) * (size_t)maxB * maxw);
    t->d1 = mem_alloc(sizeof(float) * (size_t)maxB * maxw);
}

void mlp_tape_free(struct mlp_tape *t) {
    for (int l = 0; l < MLP_MAX_HIDDEN; l++) {
        MEM_FREE_ALL(t->a[l], t->y[l], t->xh[l], t->mean[l], t->rstd[l]);
    }
    MEM_FREE_ALL(t->out, t->d0, t->d1);
    memset(t, 0, sizeof *t);
}

static inline const float *member(const float *base, size_t off, int e, size_t per) {
    return base + off + (size_t)e * per;
}

static void forward_impl(const struct mlp *net, const float *w, int e, struct mlp_tape *t,
                         const float *x, int B, int keep) {
    FLOQ_ASSERT(B <= t->maxB && e < net->c.E);
    const float *in = x;
    int ln = net->c.ln;
    for (int l = 0; l < net->c.nhidden; l++) {
        int din = net->din[l], H = net->dout[l];
        const float *W = member(w, net->off_w[l], e, (size_t)din * H);
        float *a = keep ? t->a[l] : t->y[l];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, H, din, 1.0f, in, din, W, H,
                    0.0f, a, H);
        kern_hidden_fwd(a, t->y[l], keep && ln ? t->xh[l] : NULL, keep && ln ? t->mean[l] : NULL,
                        keep && ln ? t->rstd[l] : NULL, member(w, net->off_b[l], e, H),
                        ln ? member(w, net->off_g[l], e, H) : NULL,
                        ln ? member(w, net->off_c[l], e, H) : NULL, B, H, net->c.act, ln);
        in = t->y[l];
    }
    int L = net->nlayers - 1, din = net->din[L], N = net->dout[L];
    linear_forward(t->out, in, member(w, net->off_w[L], e, (size_t)din * N),
                   member(w, net->off_b[L], e, N), B, din, N);
    t->x = x;
}

void mlp_forward(const struct mlp *net, const float *w, int e, struct mlp_tape *t,
                 const float *x, int B) {
    forward_impl(net, w, e, t, x, B, 1);
}

void mlp_infer(const struct mlp *net, const float *w, int e, struct mlp_tape *t, const float *x,
               int B) {
    forward_impl(net, w, e, t, x, B, 0);
}

void mlp_backward(const struct mlp *net, const float *w, float *g, int e, struct mlp_tape *t,
                  const float *dout, float *dx, int B) {
    FLOQ_ASSERT(B <= t->maxB && e < net->c.E);
    int ln = net->c.ln;
    int L = net->nlayers - 1;
    /* output layer: dy -> d0 (input grad of the output layer) */
    const float *dcur = dout;
    float *bufs[2] = {t->d0, t->d1};
    int which = 0;
    for (int l = L; l >= 0; l--) {
        int din = net->din[l], N = net->dout[l];
        const float *inp = l == 0 ? t->x : t->y[l - 1];
        const float *W = member(w, net->off_w[l], e, (size_t)din * N);
        const float *dz = dcur; /* grad w.r.t. this layer's matmul output */
        if (l < L) {
            /* hidden layer: dcur is the grad w.r.t. y[l]; turn it into the grad w.r.t. a[l] */
            float *da = (float *)dcur; /* scratch we own (d0/d1), overwrite in place */
            kern_hidden_bwd(da, g ? g + net->off_b[l] + (size_t)e * N : NULL,
                            g && ln ? g + net->off_g[l] + (size_t)e * N : NULL,
                            g && ln ? g + net->off_c[l] + (size_t)e * N : NULL, dcur, t->a[l],
                            ln ? t->xh[l] : NULL, ln ? t->rstd[l] : NULL,
                            ln ? member(w, net->off_g[l], e, N) : NULL, B, N, net->c.act, ln);
            dz = da;
        } else if (g) {
            kern_sum_rows(g + net->off_b[l] + (size_t)e * N, dz, B, N);
        }
        if (g) {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, din, N, B, 1.0f, inp, din, dz, N,
                        1.0f, g + net->off_w[l] + (size_t)e * din * N, N);
        }
        float *dinp = l == 0 ? dx : bufs[which];
        if (dinp) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, din, N, 1.0f, dz, N, W, N,
                        0.0f, dinp, din);
        }
        dcur = dinp;
        which ^= 1;
    }
}

double mlp_flops_forward(const struct mlp *net, int B) {
    double f = 0;
    for (int l = 0; l < net->nlayers; l++) {
        f += 2.0 * B * net->din[l] * net->dout[l];
    }
    return f;
}

double mlp_flops_backward(const struct mlp *net, int B, int with_dw, int with_dx) {
    double f = 0;
    for (int l = 0; l < net->nlayers; l++) {
        double mm = 2.0 * B * net->din[l] * net->dout[l];
        if (with_dw) {
            f += mm;
        }
        if (l > 0 || with_dx) {
            f += mm;
        }
    }
    return f;
}
