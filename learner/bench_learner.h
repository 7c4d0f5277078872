/* bench_learner.h — benchmark sections run by `floq bench`: the MLP against same-shape sgemm,
 * and learner updates/s for the small and paper presets, floq and fql. */
#ifndef FLOQ_BENCH_LEARNER_H
#define FLOQ_BENCH_LEARNER_H

void bench_nn(double seconds);
void bench_learner(double seconds);

#endif
