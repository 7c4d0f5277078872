#include "common/policy.h"

#include <string.h>

#include "common/util.h"

int policy_check(const struct policy_cfg *p, char *err, size_t errsz) {
    if (p->obs_dim < 1 || p->obs_dim > 65536 || p->act_dim < 1 || p->act_dim > 65536) {
        seterr(err, errsz, "policy: obs %d / action %d outside 1..65536", p->obs_dim, p->act_dim);
        return -1;
    }
    if (p->n_hidden < 1 || p->n_hidden > MLP_MAX_HIDDEN) {
        seterr(err, errsz, "policy: %d hidden layers, allowed 1..%d", p->n_hidden, MLP_MAX_HIDDEN);
        return -1;
    }
    for (int i = 0; i < p->n_hidden; i++) {
        if (p->hidden[i] < 1 || p->hidden[i] > POLICY_MAX_WIDTH) {
            seterr(err, errsz, "policy: hidden layer %d is %d wide, allowed 1..%d", i, p->hidden[i],
                   POLICY_MAX_WIDTH);
            return -1;
        }
    }
    if ((p->layer_norm != 0 && p->layer_norm != 1) || (p->gelu_exact != 0 && p->gelu_exact != 1)) {
        seterr(err, errsz, "policy: layer_norm %d / gelu_exact %d must be 0 or 1", p->layer_norm,
               p->gelu_exact);
        return -1;
    }
    return 0;
}

struct mlp_cfg policy_mlp_cfg(const struct policy_cfg *p) {
    struct mlp_cfg c = {.in = p->obs_dim + p->act_dim,
                        .out = p->act_dim,
                        .nhidden = p->n_hidden,
                        .ln = p->layer_norm,
                        .act = p->gelu_exact ? KERN_GELU_ERF : KERN_GELU_TANH,
                        .E = 1};
    memcpy(c.hidden, p->hidden, sizeof c.hidden);
    return c;
}

void policy_register(struct mlp *net, const struct policy_cfg *p, struct param_block *pb) {
    struct mlp_cfg c = policy_mlp_cfg(p);
    mlp_register(net, &c, pb, POLICY_NET_NAME);
}

size_t policy_param_count(const struct policy_cfg *p) {
    struct param_block pb;
    struct mlp net;
    param_init(&pb);
    policy_register(&net, p, &pb);
    size_t n = param_mark(&pb);
    param_free(&pb);
    return n;
}
