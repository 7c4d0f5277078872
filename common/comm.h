/* comm.h — the only module that calls MPI. Roles come from the rank: 0 learner, 1..N-1 actors.
 * Two duplicated communicators: one for point-to-point protocol messages, one for the weight
 * broadcast (a tree MPI_Ibcast, so N actors cost log N hops, not N sends). Errors on both are
 * returned, not fatal (MPI_ERRORS_RETURN): an oversized peer message is consumed and dropped.
 * Waiting never spins: every wait is MPI_Test + a short sleep (platform.md §0.5).
 *
 *   comm_init(&argc, &argv);                 // MPI_Init_thread; a singleton without mpirun works
 *   if (comm_rank() == 0) learner(); else actor();
 *   comm_finalize();
 */
#ifndef FLOQ_COMM_H
#define FLOQ_COMM_H

#include <stddef.h>
#include <stdint.h>

/* 1 when a launcher (mpirun, srun) started this process, so it is one rank of a job; without
 * one, floq runs as a single process and never starts MPI */
int comm_launched(void);
/* initialises MPI (once); returns 0, or -1 when MPI cannot start */
int comm_init(int *argc, char ***argv);
int comm_initialized(void);
void comm_finalize(void);
int comm_rank(void);
int comm_size(void);
/* ends the whole job with code (all ranks) */
_Noreturn void comm_abort(int code);

/* ---- requests: a nonblocking send or broadcast in flight ---- */
struct comm_req {
    void *mpi; /* MPI_Request, opaque here */
    int active;
};
/* 1 when the request completed (or none was active), 0 while in flight */
int comm_test(struct comm_req *r);
/* waits (sleep-polling) until done */
void comm_wait(struct comm_req *r);
/* frees the request handle (after completion); a zeroed request is fine */
void comm_req_free(struct comm_req *r);

/* ---- point to point ---- */
/* nonblocking send of n bytes; buf must stay untouched until comm_test says done */
int comm_isend(struct comm_req *r, int dest, int tag, const void *buf, size_t n);
/* is a message waiting? from src (-1: any) with tag (-1: any); fills its source, tag, size */
int comm_poll(int src, int tag, int *from, int *tag_out, size_t *n);
/* receives the waiting message (from, tag) into buf: 0 with its size in *n. A message larger
 * than cap is consumed without being stored (whatever Open MPI's single-copy mechanism): -1
 * with *n = its size. -1 with *n = 0 when no such message is waiting. */
int comm_recv(void *buf, size_t cap, int from, int tag, size_t *n);

/* ---- broadcast channel (rank 0 is the root) ---- */
/* starts an MPI_Ibcast of n bytes of buf from rank 0; every rank calls it in the same order */
int comm_ibcast(struct comm_req *r, void *buf, size_t n);

double comm_wtime(void);

#endif
