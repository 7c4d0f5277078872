/* fault.h — test-only faults of actor rank 1, so tests/mpi_test.sh can check that the learner
 * survives a misbehaving actor. Compiled only into the test build (-DFLOQ_FAULT_INJECTION:
 * build/floq-faults); the user's build/floq has none of it, not even the flags.
 *
 *   --test_bad_actor N   rank 1 first sends N rounds of malformed TRANSITIONS (truncated, wrong
 *                        version, corrupted, a size bomb, oversized, NaN, wrong width)
 *   --test_fault KIND    rank 1: drop_batch (its batch seq 2 is corrupted after encoding: the
 *                        learner drops it as checksum) or bad_hello (obs_dim + 1: refused);
 *                        flip_learner: learner rank 1 (--learner_ranks >= 2) flips one bit
 *                        of its weights after update FAULT_FLIP_STEP (the checksum's test)
 */
#ifndef FLOQ_FAULT_H
#define FLOQ_FAULT_H

#ifdef FLOQ_FAULT_INJECTION

#include <stdint.h>

#include "common/cfg.h"
#include "common/proto.h"

#define FAULT_MAX_OPTS 2

/* the two flags above, into o[0..FAULT_MAX_OPTS); returns how many */
int fault_opts(struct cfg_opt *o);
/* bad_hello on rank 1: makes h a HELLO the learner must refuse */
void fault_on_hello(int rank, struct proto_hello *h);
/* drop_batch on rank 1: corrupts the encoded batch with sequence number 2 */
void fault_on_encoded(int rank, uint64_t seq, struct proto_buf *msg);
/* rounds of malformed messages this rank sends before its first real batch (0: none) */
int fault_garbage_rounds(int rank);
/* sends them to rank 0, built from a real batch as the template */
void fault_send_garbage(int rank, const struct proto_batch *good, int rounds);
/* flip_learner: 1 when learner rank 1 flips a bit of its weights after update `step` */
#define FAULT_FLIP_STEP 50
int fault_flip_learner(long step);

#else

#define fault_on_hello(rank, h)          ((void)0)
#define fault_on_encoded(rank, seq, msg) ((void)0)
#define fault_flip_learner(step)         0

#endif

#endif
