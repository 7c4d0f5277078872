/* policy.h — the one-step policy the actors run, described without the agent that trains it:
 * a = clip(mu([s, eps]), -1, 1), an MLP (O+A) -> hidden... -> A with GELU (tanh approximation,
 * or erf) and optional LayerNorm after each hidden layer (spec §5).
 *
 *   struct policy_cfg pc = {.obs_dim = O, .act_dim = A, .n_hidden = 2, .hidden = {256, 256}};
 *   struct mlp net;
 *   policy_register(&net, &pc, &pb);   // "actor_onestep_flow/dense<l>/..." views in pb
 *
 * The learner registers it as the last network of its parameter block and ships that range in
 * WEIGHTS; an actor registers the same description (it travels in SETUP, docs/protocol.md) into
 * a block of its own, so both layouts agree by construction.
 */
#ifndef FLOQ_POLICY_H
#define FLOQ_POLICY_H

#include <stddef.h>

#include "common/nn.h"
#include "common/param.h"

#define POLICY_NET_NAME  "actor_onestep_flow" /* the reference's name of the network */
#define POLICY_MAX_WIDTH 8192                 /* widest hidden layer accepted */

struct policy_cfg {
    int obs_dim, act_dim;       /* O, A: input [s, eps] is O + A wide, output A */
    int n_hidden;               /* 1..MLP_MAX_HIDDEN hidden layers */
    int hidden[MLP_MAX_HIDDEN]; /* their widths, 1..POLICY_MAX_WIDTH */
    int layer_norm;             /* 1: LayerNorm after each hidden activation */
    int gelu_exact;             /* 1: erf GELU, 0: the tanh approximation (reference) */
};

/* 0, or -1 with one line naming the field that is out of range */
int policy_check(const struct policy_cfg *p, char *err, size_t errsz);
/* the network's MLP description (one member, E = 1) */
struct mlp_cfg policy_mlp_cfg(const struct policy_cfg *p);
/* registers the network's views in pb (before param_alloc) under POLICY_NET_NAME */
void policy_register(struct mlp *net, const struct policy_cfg *p, struct param_block *pb);
/* floats of its parameters, alignment padding included (what WEIGHTS carries) */
size_t policy_param_count(const struct policy_cfg *p);

#endif
