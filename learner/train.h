/* train.h — `floq train` on the learner (rank 0, or the only process): load the run (a new
 * agent for a dataset, --restore_path, or --resume), the offline loop, the online phase
 * (online.h), the final checkpoint; evaluations and checkpoints on the way. A run is one
 * directory (runlog.h): config.json, metrics.csv, eval.csv, actors.csv, checkpoints/.
 *
 * Under mpirun only rank 0 calls this; the other ranks run actor_rank_main (learner/main.c).
 */
#ifndef FLOQ_TRAIN_H
#define FLOQ_TRAIN_H

/* the exit codes of floq train (README "Exit codes") */
enum train_exit {
    TRAIN_EXIT_OK = 0,          /* the run is complete */
    TRAIN_EXIT_FAILED = 1,      /* it failed: bad data, I/O, a refused update, no actors left */
    TRAIN_EXIT_USAGE = 2,       /* bad flags or inputs */
    TRAIN_EXIT_INTERRUPTED = 3, /* stopped by SIGTERM/SIGUSR1/SIGINT after writing a checkpoint */
    TRAIN_EXIT_UNFINISHED = 4,  /* the run's work is saved, but an actor rank that was cut off
                                   did not finish, so the learner ended the job (MPI_Abort) */
};

/* returns the process exit code (enum train_exit) */
int train_main(int argc, char **argv);

#endif
