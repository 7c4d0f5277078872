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

struct train_cfg;
struct vecenv;
/* `floq CMD --checkpoint PATH [--env_name ENV]`: loads the agent and its config for batches of
 * max_rows and, when env is empty, puts the checkpoint's env name there (envsz bytes). 0; 2
 * after printing "floq CMD: --checkpoint FILE is required" when path is empty; 1 after printing
 * "floq CMD: <why>" when it cannot be loaded */
int eval_open_checkpoint(struct agent *a, struct train_cfg *tc, const char *path, int max_rows,
                         char *env, size_t envsz, const char *cmd);
/* one step of every env of v with the agent's one-step policy: noise eps from r, then act
 * (eps and act hold v->E * v->A floats) */
void eval_policy_step(struct agent *a, struct vecenv *v, struct rng *r, float *eps, float *act);

#endif
