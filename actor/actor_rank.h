/* actor_rank.h — an actor rank's whole life under mpirun (rank >= 1), the actor's side of
 * docs/protocol.md: wait (polling at most every 20 ms) for the learner's SETUP message, build
 * the actor it describes, say HELLO, then step the envs against credits, stream TRANSITIONS,
 * pick up WEIGHTS between steps, and after STOP send the last batch and BYE, and finish at END.
 * Messages from anyone but the learner are taken off the queues unread. Knows nothing of the
 * learner but the protocol.
 *
 *   comm_init(NULL, NULL);
 *   int rc = comm_rank() == 0 ? learner(...) : actor_rank_main();
 */
#ifndef FLOQ_ACTOR_RANK_H
#define FLOQ_ACTOR_RANK_H

/* returns the process exit code: 0, or 1 when the setup was bad or the learner refused this
 * actor; a failure to build the actor ends the whole job (comm_abort) */
int actor_rank_main(void);

#endif
