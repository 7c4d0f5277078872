/* bench.h — `floq bench`: every benchmark section in one place (learner/bench.c), each figure
 * printed beside a reference measured in the same run and their ratio, and appended as one JSON
 * line to $FLOQ_BENCH_JSONL (default build/bench.jsonl):
 *   {"name":..., "value":..., "unit":..., "ref_name":..., "ref_value":..., "ratio":...}
 *
 *   nn       MLP forward+backward (paper critic) vs the same sgemm calls alone; the MLP on the
 *            rows one update thread gets (2048 down to 4) vs sgemm 512^3
 *   learner  floq / fql updates/s, small and paper presets, on 1..N update threads (N: the
 *            usable cores), each vs a 2048x512x512 sgemm of the same thread count; the scaling
 *            curve, the OpenBLAS-threaded update beside it, and where an update's time goes
 *   envs     vecenv steps/s per env vs raw mj_step on the same model
 *   actor    an actor's env steps/s with batched policy inference vs the bare vecenv
 *   proto    learner ingest / validation / actor encode vs memcpy of the same bytes
 *   bcast    the paper-size weights' fan-out (point to point, as online) vs a raw broadcast
 *            (mpirun, >= 2 ranks)
 *   allreduce  the paper preset's gradient summed over all ranks vs the update time (mpirun)
 *
 * Above every other layer (it times them all); nothing includes this header but main.c.
 */
#ifndef FLOQ_BENCH_H
#define FLOQ_BENCH_H

/* `floq bench [--only SECTIONS] [--seconds S]`; returns the exit code */
int bench_main(int argc, char **argv);

#endif
