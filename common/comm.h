/* comm.h — the only module that calls MPI. Roles come from the rank: 0 learner, 1..N-1 actors.
 * After MPI_Init every rank duplicates MPI_COMM_WORLD three times, in this order (a collective:
 * every rank of the job must do the same, docs/protocol.md "Communicators"):
 *   COMM_MSG      every protocol message but WEIGHTS (point to point, tags in proto.h)
 *   COMM_WEIGHTS  WEIGHTS, learner -> each actor (point to point)
 *   progress      private: the progress thread's probes; nobody sends on it
 * There is no collective after that (until MPI_Finalize), so no peer can stall another by not
 * taking part. Errors are returned, not fatal (MPI_ERRORS_RETURN). A message over the
 * receiver's bound is consumed without being stored. Waiting never spins: every wait is
 * MPI_Test + a short sleep (platform.md §0.5).
 *
 *   comm_init(&argc, &argv);                 // MPI_Init_thread; a singleton without mpirun works
 *   if (comm_rank() == 0) learner(); else actor();
 *   comm_finalize();
 */
#ifndef FLOQ_COMM_H
#define FLOQ_COMM_H

#include <stddef.h>
#include <stdint.h>

/* the channels a message can travel on: the two protocol communicators, and two that carry no
 * protocol message (anything found there is a peer's mistake, to be discarded) */
enum comm_chan { COMM_MSG = 0, COMM_WEIGHTS = 1, COMM_WORLD = 2, COMM_PROGRESS = 3, COMM_NCHAN };

/* 1 when a launcher (mpirun, srun) started this process, so it is one rank of a job; without
 * one, floq runs as a single process and never starts MPI */
int comm_launched(void);
/* initialises MPI (once); returns 0, or -1 when MPI cannot start */
int comm_init(int *argc, char ***argv);
int comm_initialized(void);
/* MPI_Finalize. MPI_Finalize waits for every rank to call it, and a rank that stopped making
 * MPI calls never will: with deadline_s > 0, when it has not returned after that many seconds,
 * `why` is printed and the whole job ends with MPI_Abort(code) */
void comm_finalize(double deadline_s, int code, const char *why);
int comm_rank(void);
int comm_size(void);
/* ends the whole job with code (all ranks) */
_Noreturn void comm_abort(int code);

/* ---- requests: a nonblocking send in flight ---- */
struct comm_req {
    void *mpi; /* MPI_Request, opaque here */
    int active;
};
/* 1 when the request completed (or none was active), 0 while in flight */
int comm_test(struct comm_req *r);
/* waits (sleep-polling) until done */
void comm_wait(struct comm_req *r);
/* waits at most seconds; 1 when done, 0 when still in flight */
int comm_wait_for(struct comm_req *r, double seconds);
/* frees the request handle (after completion); a zeroed request is fine. A request still in
 * flight is left to MPI (its buffer must then stay valid until the process ends). */
void comm_req_free(struct comm_req *r);

/* ---- point to point ---- */
/* nonblocking send of n bytes on chan; buf must stay untouched until comm_test says done */
int comm_isend(struct comm_req *r, enum comm_chan chan, int dest, int tag, const void *buf,
               size_t n);
/* is a message waiting on chan? from src (-1: any) with tag (-1: any); fills its source, tag,
 * size */
int comm_poll(enum comm_chan chan, int src, int tag, int *from, int *tag_out, size_t *n);
/* receives the waiting message (from, tag) on chan into buf: 0 with its size in *n. A message
 * larger than cap is consumed without being stored (whatever Open MPI's single-copy
 * mechanism): -1 with *n = its size. -1 with *n = 0 when no such message is waiting. */
int comm_recv(enum comm_chan chan, void *buf, size_t cap, int from, int tag, size_t *n);
/* takes one waiting message of any source and tag off chan without storing it: 1 with its
 * source in *from, 0 when none is waiting */
int comm_discard(enum comm_chan chan, int *from);

/* ---- broadcast (rank 0 is the root; every rank calls it in the same order). The protocol
 * does not use it (a rank that never joins would stall the others); floq bench does, as the
 * reference for the weights' fan-out ---- */
int comm_ibcast(struct comm_req *r, void *buf, size_t n);

/* ---- the learner ranks (floq train --learner_ranks L): ranks 0..L-1 of the job share the
 * update on a communicator of their own, made with MPI_Comm_create_group, so only they take
 * part (the actors' three communicators and their protocol are untouched). Rank 0 alone talks
 * to the actors, which are ranks L..N-1. Every call below is blocking and collective over the
 * learner ranks; errors are returned (-1) ---- */
/* on ranks 0..L-1 only (every one of them): builds the learner communicator; 0 or -1 */
int comm_learn_init(int L);
/* L (1 when there is no learner communicator), and this rank's place in it (0: the leader) */
int comm_learn_size(void);
int comm_learn_rank(void);
/* the first actor rank (L; 1 without learner ranks): what the learner's fleet talks to */
int comm_first_actor(void);
/* broadcasts n bytes from learner rank 0 */
int comm_learn_bcast(void *buf, size_t n);
/* sums n floats over the learner ranks in place, in a fixed order, so every rank holds the
 * same bits whatever the timing or MPI's own reduction order: rank l owns slice l of the
 * buffer (64-byte aligned), receives that slice from every rank (MPI_Alltoallv), adds them up
 * in rank order, and MPI_Allgatherv copies the summed slices to every rank. Scratch of n floats
 * is kept between calls */
int comm_learn_sum(float *buf, size_t n);
/* the same for n doubles (an allgather, then each rank adds the L rows in rank order) */
int comm_learn_sum_doubles(double *v, int n);
/* every learner rank's value, in rank order, into all (L entries) */
int comm_learn_allgather_u64(uint64_t v, uint64_t *all);

/* ---- collectives over every rank of the job ---- */
/* sums n floats over all ranks, in place (MPI_Allreduce, blocking; every rank calls it with the
 * same n); 0 or -1 */
int comm_allreduce_sum(float *buf, size_t n);

double comm_wtime(void);

#endif
