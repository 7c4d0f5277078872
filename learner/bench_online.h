/* bench_online.h — `floq bench` sections "actor" (env steps/s with policy inference vs bare
 * env at the same E) and "bcast" (paper-size weight broadcast under mpirun). */
#ifndef FLOQ_BENCH_ONLINE_H
#define FLOQ_BENCH_ONLINE_H

void bench_actor(double seconds);
void bench_bcast(double seconds);

#endif
