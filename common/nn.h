/* nn.h — Linear (cblas_sgemm), GELU, LayerNorm and the MLP built from them, forward and
 * backward, llm.c style: outputs first, then inputs, then sizes; row-major, batch-major.
 *
 *   struct mlp net;                       // an ensemble of E identical MLPs
 *   struct mlp_cfg c = {.in = 88, .out = 1, .nhidden = 4, .hidden = {512,512,512,512},
 *                       .ln = 1, .act = KERN_GELU_TANH, .E = 2};
 *   mlp_register(&net, &c, &pb, "floq");  // adds floq/dense0/kernel [E,in,H] ... to the block
 *   param_alloc(&pb, 1);
 *   mlp_init_weights(&net, pb.w, &rng);   // Glorot-uniform kernels, zero biases, LN 1/0
 *   struct mlp_tape t;  mlp_tape_init(&t, &net, maxB);
 *   mlp_forward(&net, pb.w, e, &t, x, B);                 // member e; output t.out (B,out)
 *   mlp_backward(&net, pb.w, pb.g, e, &t, dout, dx, B);   // += into pb.g (NULL: no param grads)
 *
 * A member's layer l kernel is W = w + net.off_w[l] + e * in_l * out_l, shape (in_l, out_l),
 * y = x W + b. Hidden layer: Dense -> act -> LayerNorm (if ln); output layer: Dense only.
 */
#ifndef FLOQ_NN_H
#define FLOQ_NN_H

#include <stddef.h>

#include "common/kern.h"
#include "common/param.h"
#include "common/rng.h"

#define MLP_MAX_HIDDEN 8

/* ---- layers ---- */

/* out (B,N) = inp (B,K) W (K,N) [+ b (N), NULL ok] */
void linear_forward(float *out, const float *inp, const float *W, const float *b, int B, int K,
                    int N);
/* dW (K,N) += inp^T dout; db (N) += sum_rows dout; dinp (B,K) = dout W^T. Any output may be
 * NULL (skipped). */
void linear_backward(float *dinp, float *dW, float *db, const float *dout, const float *inp,
                     const float *W, int B, int K, int N);

/* the BLAS library's own threads (OpenBLAS: openblas_set_num_threads, process-wide): sets n
 * when n >= 1, then returns the count in effect */
int linear_blas_threads(int n);

/* ---- MLP ---- */

struct mlp_cfg {
    int in, out;
    int nhidden;
    int hidden[MLP_MAX_HIDDEN];
    int ln;  /* LayerNorm after the activation of each hidden layer */
    int act; /* enum kern_act */
    int E;   /* ensemble members (1 = a single network, no leading E axis in names) */
};

struct mlp {
    struct mlp_cfg c;
    int nlayers;                          /* nhidden + 1 */
    int din[MLP_MAX_HIDDEN + 1];          /* input width of layer l */
    int dout[MLP_MAX_HIDDEN + 1];         /* output width of layer l */
    size_t off_w[MLP_MAX_HIDDEN + 1];     /* kernel [E, din, dout] */
    size_t off_b[MLP_MAX_HIDDEN + 1];     /* bias [E, dout] */
    size_t off_g[MLP_MAX_HIDDEN];         /* LN scale [E, dout] */
    size_t off_c[MLP_MAX_HIDDEN];         /* LN bias [E, dout] */
    size_t begin, end;                    /* [begin, end) range of the block this net occupies */
};

/* per-member activations kept for backward, sized for up to maxB rows */
struct mlp_tape {
    int maxB, nlayers;
    const float *x;                   /* borrowed: the input of the last forward */
    float *a[MLP_MAX_HIDDEN];         /* (B,H) pre-activations (bias added) */
    float *xh[MLP_MAX_HIDDEN];        /* (B,H) normalised activations (ln only) */
    float *y[MLP_MAX_HIDDEN];         /* (B,H) layer outputs */
    float *mean[MLP_MAX_HIDDEN], *rstd[MLP_MAX_HIDDEN]; /* (B) */
    float *out;                       /* (B,out) */
    float *d0, *d1;                   /* (B,maxwidth) backward scratch */
};

/* registers the views "<name>/dense<l>/kernel", "/bias", "<name>/ln<l>/scale", "/bias" */
void mlp_register(struct mlp *net, const struct mlp_cfg *cfg, struct param_block *pb,
                  const char *name);
/* Glorot-uniform kernels (fan_avg, scale 1), zero biases, LN scale 1 / bias 0; every member
 * and layer independently drawn from r */
void mlp_init_weights(const struct mlp *net, float *w, struct rng *r);
/* floats of one member's parameters */
size_t mlp_member_params(const struct mlp *net);

void mlp_tape_init(struct mlp_tape *t, const struct mlp *net, int maxB);
/* the bytes mlp_tape_init allocates for maxB rows */
size_t mlp_tape_bytes(const struct mlp *net, int maxB);
void mlp_tape_free(struct mlp_tape *t);

/* forward of member e on x (B,in), keeping the tape; output in t->out (B,out) */
void mlp_forward(const struct mlp *net, const float *w, int e, struct mlp_tape *t,
                 const float *x, int B);
/* forward only (the tape's buffers are scratch): output in t->out */
void mlp_infer(const struct mlp *net, const float *w, int e, struct mlp_tape *t, const float *x,
               int B);
/* backward of member e after mlp_forward with the same tape: accumulates into g (NULL: no
 * parameter grads), writes dx (B,in) when not NULL. dout (B,out) is read only. */
void mlp_backward(const struct mlp *net, const float *w, float *g, int e, struct mlp_tape *t,
                  const float *dout, float *dx, int B);

/* matmul FLOPs of a forward / backward pass on B rows (2 per multiply-add) */
double mlp_flops_forward(const struct mlp *net, int B);
double mlp_flops_backward(const struct mlp *net, int B, int with_dw, int with_dx);

#endif
