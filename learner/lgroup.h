/* lgroup.h — data-parallel learner ranks (floq train --learner_ranks L, docs/performance.md 5):
 * ranks 0..L-1 of the job share each update. Rank 0 (the leader) keeps everything a learner
 * has: the dataset and replay, the random streams, the actors, evaluations, checkpoints and
 * logs. Each update it sends the batch and its draws to the other learner ranks (the
 * followers); every rank computes transitions [B l/L, B (l+1)/L) on its own threads, the
 * gradients and the loss sums are added over the ranks in a fixed order (comm_learn_sum), and
 * every rank applies the same Adam and Polyak step. So all ranks hold the same bits, L changes
 * the speed and not the algorithm (the global batch stays --batch_size), and a run repeats bit
 * for bit for a given L (and thread count per rank). Every LGROUP_CHECK_EVERY updates the
 * ranks compare a checksum of their parameters, moments and target: a mismatch stops the run.
 *
 *   leader (rank 0):                           followers (ranks 1..L-1):
 *   lgroup_lead(&ag);                          return lgroup_follow(argc, argv);
 *   while (...) lgroup_update(&ag, &b, &d);
 *   lgroup_end();
 *
 * Without learner ranks (L = 1, or no MPI) lgroup_update is agent_update and the rest do
 * nothing. The learner communicator carries raw C structs: every learner rank must run the
 * same floq build (a start message checks the version and the sizes).
 */
#ifndef FLOQ_LGROUP_H
#define FLOQ_LGROUP_H

#include <stddef.h>
#include <stdint.h>

#include "learner/agent.h"

/* updates between parameter checksums (and one at the end) */
#define LGROUP_CHECK_EVERY 100

/* L on this process (1: no learner ranks) */
int lgroup_size(void);
/* the leader, once the agent is built or restored and its threads are set: sends the config
 * and the whole optimiser state to the followers and hooks the agent's cross-rank sums (an MPI
 * failure ends the job) */
void lgroup_lead(struct agent *a);
/* one update over the learner ranks (agent_update when there are none): 0; -1 when the update
 * was refused (a->bad_term, as agent_update); -2 when the ranks' checksums differ (a->bad_term
 * names the ranks and the step; nothing may be saved) */
int lgroup_update(struct agent *a, const struct agent_batch *b, const struct agent_draws *d);
/* 1 after lgroup_update returned -2 */
int lgroup_mismatch(void);
/* the leader: tells the followers to end (once; a no-op without learner ranks) */
void lgroup_end(void);
/* a follower's whole life: waits for the leader's start, then updates until the leader ends.
 * argv: the train flags (for --learner_threads). The exit code */
int lgroup_follow(int argc, char **argv);
/* the checksum the ranks compare: 64-bit words of the weights, moments and target, mixed */
uint64_t lgroup_checksum(const struct agent *a);

#endif
