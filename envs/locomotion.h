/* locomotion.h — inside envs/: hooks into the Gym MuJoCo v4 locomotion family for tests and tools.
 *
 * The vecenv names are Hopper-v4, Walker2d-v4, HalfCheetah-v4 and Ant-v4 (docs/envs-locomotion.md
 * has the observation layout, reward, termination and reset noise of each).
 *
 *   const struct env_shared *s = env_shared_of(&v);      // a locomotion vecenv
 *   int ok = locomotion_is_healthy(s, v.envs[0].d);       // Gymnasium's is_healthy on d
 */
#ifndef FLOQ_LOCOMOTION_H
#define FLOQ_LOCOMOTION_H

#include "envs/env_impl.h"

enum locomotion_kind {
    LOCOMOTION_HOPPER = 0,
    LOCOMOTION_WALKER2D = 1,
    LOCOMOTION_HALFCHEETAH = 2,
    LOCOMOTION_ANT = 3,
};

/* the kind of a locomotion vecenv's shared state (s->variant) */
enum locomotion_kind locomotion_kind_of(const struct env_shared *s);
/* 1 if the state in d is healthy (HalfCheetah: always); reads qpos/qvel only, NaN is unhealthy */
int locomotion_is_healthy(const struct env_shared *s, const mjData *d);

#endif
