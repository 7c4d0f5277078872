/* test_nn — Linear, GELU, LayerNorm, fused hidden layer and whole MLPs: forward against plain
 * loops and closed forms, every backward against central finite differences (loss in double). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "common/nn.h"
#include "common/rng.h"
#include "tests/check.h"

/* MuJoCo-style relative error with an absolute floor */
static double relerr(double a, double b, double atol) {
    double d = fabs(a - b) - atol;
    return d <= 0 ? 0 : d / (fabs(a) + fabs(b) + atol);
}

static void fill(struct rng *r, float *x, size_t n, float scale) {
    for (size_t i = 0; i < n; i++) {
        x[i] = scale * (2.0f * rng_uniform(r) - 1.0f);
    }
}

/* sum out * R in double */
static double dot_r(const float *out, const float *R, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        s += (double)out[i] * R[i];
    }
    return s;
}

/* a layer of three inputs (Linear: x, W, b; LayerNorm: x, scale, bias) and its loss sum(y * R),
 * y (B, N) = the layer of x (B, K) (LayerNorm: K = N) */
struct layer3 {
    int ln;
    float *in[3];
    const float *R;
    int B, K, N;
};

static double layer3_loss(const struct layer3 *l) {
    float *y = mem_alloc(sizeof(float) * (size_t)l->B * l->N);
    if (l->ln) {
        kern_layernorm_fwd(y, NULL, NULL, NULL, l->in[0], l->in[1], l->in[2], l->B, l->N);
    } else {
        linear_forward(y, l->in[0], l->in[1], l->in[2], l->B, l->K, l->N);
    }
    double s = dot_r(y, l->R, (size_t)l->B * l->N);
    mem_free(y);
    return s;
}

/* worst relative error of the gradients g[p] (n[p] floats) of the three inputs against central
 * differences of step h */
static double layer3_fd_worst(const struct layer3 *l, float *const g[3], const size_t n[3], float h,
                              double atol) {
    double worst = 0;
    for (int p = 0; p < 3; p++) {
        for (size_t i = 0; i < n[p]; i++) {
            float keep = l->in[p][i];
            l->in[p][i] = keep + h;
            double lp = layer3_loss(l);
            l->in[p][i] = keep - h;
            double lm = layer3_loss(l);
            l->in[p][i] = keep;
            worst = fmax(worst, relerr((lp - lm) / (2 * h), g[p][i], atol));
        }
    }
    return worst;
}

/* ---- Linear ---- */
static void test_linear(void) {
    struct rng r;
    rng_seed(&r, 11);
    int shapes[][3] = {{1, 1, 1}, {3, 17, 5}, {17, 3, 1}, {4, 8, 17}};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        int B = shapes[si][0], K = shapes[si][1], N = shapes[si][2];
        float *x = mem_alloc(sizeof(float) * B * K), *W = mem_alloc(sizeof(float) * K * N);
        float *b = mem_alloc(sizeof(float) * N), *R = mem_alloc(sizeof(float) * B * N);
        float *out = mem_alloc(sizeof(float) * B * N);
        fill(&r, x, (size_t)B * K, 1);
        fill(&r, W, (size_t)K * N, 1);
        fill(&r, b, (size_t)N, 1);
        fill(&r, R, (size_t)B * N, 1);
        linear_forward(out, x, W, b, B, K, N);
        double maxd = 0;
        for (int i = 0; i < B; i++) {
            for (int j = 0; j < N; j++) {
                double s = b[j];
                for (int k = 0; k < K; k++) {
                    s += (double)x[i * K + k] * W[k * N + j];
                }
                maxd = fmax(maxd, fabs(s - out[i * N + j]));
            }
        }
        CHECK(maxd < 1e-5, "linear forward %dx%dx%d vs loops: max diff %g", B, K, N, maxd);
        float *dx = mem_alloc(sizeof(float) * B * K), *dW = mem_alloc(sizeof(float) * K * N);
        float *db = mem_alloc(sizeof(float) * N);
        linear_backward(dx, dW, db, R, x, W, B, K, N);
        struct layer3 l = {.ln = 0, .in = {x, W, b}, .R = R, .B = B, .K = K, .N = N};
        float *gs[3] = {dx, dW, db};
        size_t ns[3] = {(size_t)B * K, (size_t)K * N, (size_t)N};
        double worst = layer3_fd_worst(&l, gs, ns, 1e-2f, 1e-4);
        CHECK(worst < 1e-2, "linear backward %dx%dx%d finite differences: worst rel err %g", B, K,
              N, worst);
        mem_free(x), mem_free(W), mem_free(b), mem_free(R), mem_free(out);
        mem_free(dx), mem_free(dW), mem_free(db);
    }
}

/* ---- GELU ---- */
static void test_gelu(void) {
    float xs[] = {1, -1, 2, -3};
    float want[] = {0.8411920f, -0.1588080f, 1.9545977f, -0.0036374f};
    float y[4];
    kern_act_fwd(y, xs, 4, KERN_GELU_TANH);
    for (int i = 0; i < 4; i++) {
        CHECK_NEAR(y[i], want[i], 5e-7, "gelu_tanh(%g) (spec oracle 9)", xs[i]);
    }
    CHECK(fabsf(y[0] - 0.8413447f) > 1e-4f, "tanh GELU must not equal the erf form at 1");
    float ye;
    float one = 1;
    kern_act_fwd(&ye, &one, 1, KERN_GELU_ERF);
    CHECK_NEAR(ye, 0.8413447f, 5e-7, "gelu_erf(1)");
    /* vectorised form against the tanhf reference over a grid, incl. large |x| */
    double maxd = 0;
    enum { NG = 4001 };
    static float g[NG], gy[NG];
    for (int i = 0; i < NG; i++) {
        g[i] = -20.0f + 40.0f * (float)i / (NG - 1);
    }
    kern_act_fwd(gy, g, NG, KERN_GELU_TANH);
    for (int i = 0; i < NG; i++) {
        double ref = kern_gelu_tanh_ref(g[i]);
        maxd = fmax(maxd, fabs(gy[i] - ref) / fmax(1.0, fabs(ref)));
    }
    CHECK(maxd < 2e-6, "gelu_tanh vs tanhf reference on [-20,20]: max rel diff %g", maxd);
    /* backward by central differences in double through the float forward */
    for (int act = 0; act < 2; act++) {
        double worst = 0;
        for (int i = 0; i < 200; i++) {
            float x = -6.0f + 12.0f * (float)i / 199.0f, dx, dy = 1, xp, xm, yp, ym;
            kern_act_bwd(&dx, &x, &dy, 1, act);
            float h = 1e-2f;
            xp = x + h, xm = x - h;
            kern_act_fwd(&yp, &xp, 1, act);
            kern_act_fwd(&ym, &xm, 1, act);
            double fd = ((double)yp - ym) / (2.0 * h);
            worst = fmax(worst, relerr(fd, dx, 1e-3));
        }
        CHECK(worst < 1e-3, "gelu (%s) backward finite differences: worst %g",
              act ? "erf" : "tanh", worst);
    }
}

/* ---- LayerNorm ---- */
/* mean and (biased) variance of n floats, in double */
static void mean_var(const float *x, int n, double *mean, double *var) {
    double m = 0, v = 0;
    for (int j = 0; j < n; j++) {
        m += x[j];
    }
    m /= n;
    for (int j = 0; j < n; j++) {
        double d = x[j] - m;
        v += d * d;
    }
    *mean = m;
    *var = v / n;
}

static void test_layernorm(void) {
    struct rng r;
    rng_seed(&r, 12);
    int B = 3, H = 37;
    float *x = mem_alloc(sizeof(float) * B * H), *y = mem_alloc(sizeof(float) * B * H);
    float *g = mem_alloc(sizeof(float) * H), *c = mem_alloc(sizeof(float) * H);
    float *xh = mem_alloc(sizeof(float) * B * H), mean[3], rstd[3];
    fill(&r, x, (size_t)B * H, 2);
    for (int j = 0; j < H; j++) {
        g[j] = 1, c[j] = 0;
    }
    kern_layernorm_fwd(y, xh, mean, rstd, x, g, c, B, H);
    for (int b = 0; b < B; b++) {
        double m, v, m0, v0;
        mean_var(x + b * H, H, &m0, &v0);
        mean_var(y + b * H, H, &m, &v);
        CHECK_NEAR(m, 0, 1e-6, "layernorm row %d mean (oracle 11)", b);
        CHECK_NEAR(v, v0 / (v0 + 1e-6), 1e-5, "layernorm row %d variance (oracle 11)", b);
    }
    fill(&r, g, (size_t)H, 1);
    fill(&r, c, (size_t)H, 1);
    float *R = mem_alloc(sizeof(float) * B * H);
    fill(&r, R, (size_t)B * H, 1);
    kern_layernorm_fwd(y, xh, mean, rstd, x, g, c, B, H);
    float *dx = mem_alloc(sizeof(float) * B * H), *dg = mem_alloc(sizeof(float) * H),
          *dc = mem_alloc(sizeof(float) * H);
    kern_layernorm_bwd(dx, dg, dc, R, xh, rstd, g, B, H);
    struct layer3 l = {.ln = 1, .in = {x, g, c}, .R = R, .B = B, .K = H, .N = H};
    float *gs[3] = {dx, dg, dc};
    size_t ns[3] = {(size_t)B * H, (size_t)H, (size_t)H};
    double worst = layer3_fd_worst(&l, gs, ns, 1e-2f, 1e-3);
    CHECK(worst < 1e-2, "layernorm backward finite differences (x, scale, bias): worst %g", worst);
    mem_free(x), mem_free(y), mem_free(g), mem_free(c), mem_free(xh), mem_free(R);
    mem_free(dx), mem_free(dg), mem_free(dc);
}

/* ---- MLP ---- */
struct mlp_case {
    struct mlp net;
    struct param_block pb;
    struct mlp_tape t;
    float *x, *R;
    int B;
};

static double mlp_loss(struct mlp_case *m, int e) {
    mlp_infer(&m->net, m->pb.w, e, &m->t, m->x, m->B);
    return dot_r(m->t.out, m->R, (size_t)m->B * m->net.c.out);
}

static void test_mlp(int ln, int E, int act) {
    struct mlp_case m;
    memset(&m, 0, sizeof m);
    struct mlp_cfg c = {.in = 5, .out = 3, .nhidden = 2, .hidden = {7, 6}, .ln = ln, .act = act,
                        .E = E};
    param_init(&m.pb);
    mlp_register(&m.net, &c, &m.pb, "net");
    param_alloc(&m.pb, 1);
    struct rng r;
    rng_seed(&r, 13 + ln);
    mlp_init_weights(&m.net, m.pb.w, &r);
    /* perturb LN params / biases away from their init so every gradient is exercised */
    for (size_t i = 0; i < m.pb.n; i++) {
        m.pb.w[i] += 0.3f * (2.0f * rng_uniform(&r) - 1.0f);
    }
    m.B = 4;
    mlp_tape_init(&m.t, &m.net, m.B);
    m.x = mem_alloc(sizeof(float) * m.B * c.in);
    m.R = mem_alloc(sizeof(float) * m.B * c.out);
    fill(&r, m.x, (size_t)m.B * c.in, 1.5f);
    fill(&r, m.R, (size_t)m.B * c.out, 1);
    float *dx = mem_alloc(sizeof(float) * m.B * c.in);
    double worst = 0, worst_x = 0;
    for (int e = 0; e < E; e++) {
        param_zero_grad(&m.pb);
        mlp_forward(&m.net, m.pb.w, e, &m.t, m.x, m.B);
        /* tape forward == infer */
        float out0[64];
        memcpy(out0, m.t.out, sizeof(float) * m.B * c.out);
        mlp_backward(&m.net, m.pb.w, m.pb.g, e, &m.t, m.R, dx, m.B);
        mlp_infer(&m.net, m.pb.w, e, &m.t, m.x, m.B);
        CHECK(memcmp(out0, m.t.out, sizeof(float) * m.B * c.out) == 0,
              "mlp_forward and mlp_infer agree bitwise");
        for (size_t i = 0; i < m.pb.n; i++) {
            float keep = m.pb.w[i], h = 1e-2f;
            m.pb.w[i] = keep + h;
            double lp = mlp_loss(&m, e);
            m.pb.w[i] = keep - h;
            double lm = mlp_loss(&m, e);
            m.pb.w[i] = keep;
            worst = fmax(worst, relerr((lp - lm) / (2 * h), m.pb.g[i], 1e-3));
        }
        for (int i = 0; i < m.B * c.in; i++) {
            float keep = m.x[i], h = 1e-2f;
            m.x[i] = keep + h;
            double lp = mlp_loss(&m, e);
            m.x[i] = keep - h;
            double lm = mlp_loss(&m, e);
            m.x[i] = keep;
            worst_x = fmax(worst_x, relerr((lp - lm) / (2 * h), dx[i], 1e-3));
        }
    }
    CHECK(worst < 2e-2, "mlp (ln=%d, E=%d, act=%d) parameter grads vs finite differences: %g", ln,
          E, act, worst);
    CHECK(worst_x < 2e-2, "mlp (ln=%d, E=%d, act=%d) input grads vs finite differences: %g", ln, E,
          act, worst_x);
    /* kann-style whole-network directional check: (L(w+hd) - L(w-hd))/2h == g.d */
    {
        param_zero_grad(&m.pb);
        mlp_forward(&m.net, m.pb.w, 0, &m.t, m.x, m.B);
        mlp_backward(&m.net, m.pb.w, m.pb.g, 0, &m.t, m.R, NULL, m.B);
        float *d = mem_alloc(sizeof(float) * m.pb.n), *w0 = mem_alloc(sizeof(float) * m.pb.n);
        memcpy(w0, m.pb.w, sizeof(float) * m.pb.n);
        double gd = 0;
        for (size_t i = 0; i < m.pb.n; i++) {
            d[i] = 2.0f * rng_uniform(&r) - 1.0f;
            gd += (double)d[i] * m.pb.g[i];
        }
        float h = 1e-3f;
        for (size_t i = 0; i < m.pb.n; i++) {
            m.pb.w[i] = w0[i] + h * d[i];
        }
        double lp = mlp_loss(&m, 0);
        for (size_t i = 0; i < m.pb.n; i++) {
            m.pb.w[i] = w0[i] - h * d[i];
        }
        double lm = mlp_loss(&m, 0);
        memcpy(m.pb.w, w0, sizeof(float) * m.pb.n);
        double e = relerr((lp - lm) / (2 * h), gd, 1e-3);
        CHECK(e < 1e-2, "mlp (ln=%d) random-direction check: fd %g vs g.d %g", ln,
              (lp - lm) / (2 * h), gd);
        mem_free(d), mem_free(w0);
    }
    /* without dx and without param grads nothing is written to g */
    param_zero_grad(&m.pb);
    mlp_forward(&m.net, m.pb.w, 0, &m.t, m.x, m.B);
    mlp_backward(&m.net, m.pb.w, NULL, 0, &m.t, m.R, dx, m.B);
    int zero = 1;
    for (size_t i = 0; i < m.pb.n; i++) {
        zero &= m.pb.g[i] == 0;
    }
    CHECK(zero, "mlp_backward with g=NULL leaves gradients untouched");
    mem_free(dx), mem_free(m.x), mem_free(m.R);
    mlp_tape_free(&m.t);
    param_free(&m.pb);
}

/* the fused hidden kernel equals bias + activation + LayerNorm done separately */
static void test_fused(void) {
    struct rng r;
    rng_seed(&r, 14);
    int B = 5, H = 515;
    size_t n = (size_t)B * H;
    float *a = mem_alloc(sizeof(float) * n), *a2 = mem_alloc(sizeof(float) * n);
    float *y = mem_alloc(sizeof(float) * n), *y2 = mem_alloc(sizeof(float) * n);
    float *b = mem_alloc(sizeof(float) * H), *g = mem_alloc(sizeof(float) * H),
          *c = mem_alloc(sizeof(float) * H);
    fill(&r, a, n, 3);
    fill(&r, b, (size_t)H, 1);
    fill(&r, g, (size_t)H, 1);
    fill(&r, c, (size_t)H, 1);
    memcpy(a2, a, sizeof(float) * n);
    kern_hidden_fwd(a, y, NULL, NULL, NULL, b, g, c, B, H, KERN_GELU_TANH, 1);
    kern_add_bias(a2, b, B, H);
    kern_act_fwd(y2, a2, n, KERN_GELU_TANH);
    kern_layernorm_fwd(y2, NULL, NULL, NULL, y2, g, c, B, H);
    CHECK(memcmp(a, a2, sizeof(float) * n) == 0, "fused kernel keeps the pre-activation");
    CHECK(memcmp(y, y2, sizeof(float) * n) == 0, "fused hidden forward == composition (bitwise)");
    /* in place (y aliases a) gives the same output */
    memcpy(a2, a, sizeof(float) * n);
    for (size_t i = 0; i < n; i++) {
        a2[i] -= b[i % H];
    }
    kern_hidden_fwd(a2, a2, NULL, NULL, NULL, b, g, c, B, H, KERN_GELU_TANH, 1);
    CHECK(memcmp(a2, y, sizeof(float) * n) == 0, "fused hidden forward in place == out of place");
    mem_free(a), mem_free(a2), mem_free(y), mem_free(y2), mem_free(b), mem_free(g), mem_free(c);
}

static void test_init(void) {
    struct param_block pb;
    param_init(&pb);
    struct mlp net;
    struct mlp_cfg c = {.in = 512, .out = 512, .nhidden = 1, .hidden = {512}, .ln = 1, .E = 2};
    mlp_register(&net, &c, &pb, "x");
    param_alloc(&pb, 0);
    struct rng r;
    rng_seed(&r, 1);
    mlp_init_weights(&net, pb.w, &r);
    float lim = sqrtf(6.0f / 1024.0f);
    CHECK_NEAR(lim, 0.0765466, 1e-7, "512->512 Glorot limit (oracle 10)");
    const float *W = pb.w + net.off_w[0];
    size_t nW = 2 * 512 * 512;
    double s = 0, s2 = 0, mx = 0;
    for (size_t i = 0; i < nW; i++) {
        s += W[i], s2 += (double)W[i] * W[i];
        mx = fmax(mx, fabs(W[i]));
    }
    CHECK(mx <= lim, "kernel entries within the Glorot limit (max %g)", mx);
    CHECK(mx > 0.99 * lim, "kernel entries reach the limit (max %g)", mx);
    CHECK_NEAR(s / nW, 0, 5e-4, "kernel mean");
    CHECK_NEAR(s2 / nW, lim * lim / 3, 2e-5, "kernel variance = L^2/3");
    CHECK(memcmp(W, W + 512 * 512, 100 * sizeof(float)) != 0,
          "ensemble members drawn independently");
    int ok = 1;
    for (int j = 0; j < 2 * 512; j++) {
        ok &= pb.w[net.off_b[0] + j] == 0 && pb.w[net.off_g[0] + j] == 1 &&
              pb.w[net.off_c[0] + j] == 0;
    }
    CHECK(ok, "biases 0, LN scale 1, LN bias 0");
    CHECK(param_find(&pb, "x/dense0/kernel") && param_find(&pb, "x/ln0/scale") &&
              param_find(&pb, "x/dense1/bias") && !param_find(&pb, "x/ln1/scale"),
          "named views: dense<i>/kernel, ln<i>/scale; no LN on the output layer");
    CHECK(param_find(&pb, "x/dense0/kernel")->shape[0] == 2 &&
              param_find(&pb, "x/dense0/kernel")->shape[1] == 512,
          "ensemble kernel view shape [E,in,out]");
    param_free(&pb);
}

int main(void) {
    test_linear();
    test_gelu();
    test_layernorm();
    test_fused();
    test_mlp(0, 1, KERN_GELU_TANH);
    test_mlp(1, 1, KERN_GELU_TANH);
    test_mlp(1, 2, KERN_GELU_TANH);
    test_mlp(1, 1, KERN_GELU_ERF);
    test_init();
    return check_report("test_nn");
}
