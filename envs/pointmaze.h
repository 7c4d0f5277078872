/* pointmaze.h — inside envs/: hooks into the point-maze family for dataset generation.
 *
 * The vecenv names are pointmaze-{medium,large,giant,teleport}-navigate-singletask-task{1..5}-v0
 * (OGBench singletask: fixed start/goal cells, success timing 'pre', reward success - 1,
 * terminate on success), ...-navigate-singletask-v0 (= task1) and ...-navigate-v0 (OGBench's
 * goal-conditioned env: random task per episode, noisy goal, timing 'post', reward = success).
 * collect.c drives the navigate-v0 form itself through these calls (no auto-reset).
 */
#ifndef FLOQ_POINTMAZE_H
#define FLOQ_POINTMAZE_H

#include "envs/env_impl.h"
#include "envs/maze.h"

/* the maze of a pointmaze vecenv's shared state */
const struct maze *pointmaze_maze(const struct env_shared *s);
/* starts an episode at init_xy (exact) with the given goal; qvel noise from e->rng; obs (2) */
void pointmaze_reset_to(const struct env_shared *s, struct env *e, const double init_xy[2],
                        const double goal[2], float *obs);
/* replaces the current goal */
void pointmaze_set_goal(struct env *e, const double goal[2]);
/* the current goal */
void pointmaze_goal(const struct env *e, double goal[2]);

#endif
