/* train.h — `floq train` on the learner (rank 0, or the only process): load the run (a new
 * agent for a dataset, --restore_path, or --resume), the offline loop, the online phase
 * (online.h), the final checkpoint; evaluations and checkpoints on the way. A run is one
 * directory (runlog.h): config.json, metrics.csv, eval.csv, actors.csv, checkpoints/.
 *
 * Under mpirun only rank 0 calls this; the other ranks run actor_rank_main (learner/main.c).
 */
#ifndef FLOQ_TRAIN_H
#define FLOQ_TRAIN_H

/* returns the process exit code: 0, 1 (a run that failed), 2 (bad flags or inputs) */
int train_main(int argc, char **argv);

#endif
