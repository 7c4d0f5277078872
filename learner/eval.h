/* eval.h — evaluation of an agent's policy: `episodes` episodes of the one-step policy, one env
 * each, stepped as one batch until every episode ended; and `floq eval` on a checkpoint.
 *
 *   struct eval_result er;
 *   if (eval_run(&agent, "pointmaze-medium-navigate-singletask-task1-v0", 50, seed, &er, err,
 *                sizeof err) == 0)
 *       printf("success %.3f +- %.3f\n", er.succ_mean, er.succ_se);
 */
#ifndef FLOQ_EVAL_H
#define FLOQ_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "learner/agent.h"

/* means and standard errors over the episodes */
struct eval_result {
    int episodes;
    double ret_mean, ret_se, succ_mean, succ_se, score_mean, score_se;
    int has_success, has_score; /* the env has a success flag / D4RL score references */
};

/* runs the episodes (the agent must take batches of `episodes` rows: agent_ckpt_load's
 * max_rows); 0, or -1 with a message when the env is unknown or has other sizes */
int eval_run(struct agent *a, const char *env_name, int episodes, uint64_t seed,
             struct eval_result *res, char *err, size_t errsz);
/* `floq eval --checkpoint FILE [--env_name NAME] [--episodes N] [--seed S]` */
int eval_main(int argc, char **argv);

#endif
