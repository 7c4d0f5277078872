/* sig.h — stopping on request: SIGTERM, SIGUSR1 and SIGINT ask the program to stop at the next
 * safe point (floq train: after the current update, with a checkpoint); a second one ends the
 * process at once with exit code 128 + signal number. SLURM sends SIGTERM at a time limit or a
 * preemption, and `--signal=USR1@T` T seconds before the limit; mpirun forwards SIGUSR1.
 *
 *   sig_install();                 // once, after MPI_Init (so these handlers are the ones)
 *   while (...) { update(); if (sig_stop_requested()) break; }
 */
#ifndef FLOQ_SIG_H
#define FLOQ_SIG_H

/* installs the handlers for SIGTERM, SIGUSR1 and SIGINT */
void sig_install(void);
/* the process has finished (MPI_Finalize returned) and will exit with code: from now on any of
 * these signals ends it at once with that code, not 128 + N. A launcher that kills the other
 * ranks when one exits non-zero (srun --kill-on-bad-exit) then cannot turn a rank's clean end
 * into a failure while it is still exiting */
void sig_done(int code);
/* the signal that asked to stop (SIGTERM, SIGUSR1, SIGINT), or 0 */
int sig_stop_requested(void);
/* "SIGTERM", "SIGUSR1", "SIGINT" or "signal" */
const char *sig_name(int sig);

#endif
