/* agent_ckpt.h — checkpoint I/O of the agent: the entries a floq checkpoint holds (the table
 * "What floq train stores" in docs/checkpoint.md) and how an agent comes back from them.
 *
 *   agent_ckpt_save(&tc, &agent, &sampler, &draws, step, err, sizeof err);  // RUN/checkpoints/
 *   struct agent_ckpt_state st;
 *   agent_ckpt_load(&agent, &tc, path, 0, &st, err, sizeof err);  // config, params, Adam, target
 *
 * Loading checks the checkpoint's parameter layout view by view (name, offset, shape) against
 * the network its config builds before anything big is allocated; a checkpoint written before
 * the layout entry existed is checked by its parameter count.
 */
#ifndef FLOQ_AGENT_CKPT_H
#define FLOQ_AGENT_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "common/rng.h"
#include "learner/agent.h"
#include "learner/train_cfg.h"

/* what a checkpoint holds besides the agent: the step and the training generators */
struct agent_ckpt_state {
    uint64_t step;
    int has_sampler, has_draws; /* the entries were present (and of the right size) */
    struct rng sampler, draws;
};

/* writes tc->run_dir/checkpoints/ckpt-<step>.ckpt atomically; 0, or -1 with a message */
int agent_ckpt_save(const struct train_cfg *tc, const struct agent *a, const struct rng *sampler,
                    const struct rng *draws, uint64_t step, char *err, size_t errsz);
/* loads the agent and its config from path. The agent can take batches of max(max_rows / R,
 * the checkpoint's batch size) rows. st may be NULL. 0, or -1 with one line naming the file */
int agent_ckpt_load(struct agent *a, struct train_cfg *tc, const char *path, int max_rows,
                    struct agent_ckpt_state *st, char *err, size_t errsz);
/* --restore_path: a's weights, Adam moments and step count, and target from the checkpoint at
 * path, which must hold the same network; 0, -1 when it cannot be loaded, -2 when it holds
 * another network (err names the first view that differs) */
int agent_ckpt_restore(struct agent *a, const char *path, char *err, size_t errsz);

#endif
