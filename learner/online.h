/* online.h — online fine-tuning: the learner's side of the actor-learner (rank 0 with actor
 * ranks over MPI, which learner/fleet.h holds to the rules, or one inline actor when the job has
 * one rank), pacing, weights out and the statistics it logs. See docs/online.md.
 */
#ifndef FLOQ_ONLINE_H
#define FLOQ_ONLINE_H

#include <stddef.h>
#include <stdint.h>

#include "common/proto.h"
#include "learner/agent.h"
#include "learner/replay.h"
#include "learner/train_cfg.h"

/* statistics of one logging interval */
struct online_stats {
    uint64_t env_steps;          /* online transitions received so far */
    uint64_t updates;            /* online updates so far */
    double env_steps_per_s, received_per_s, updates_per_s;
    double queue_depth;          /* utd * received - updates (transitions not yet learned from) */
    double learner_wait_s;       /* learner waiting for data in the interval */
    double actor_wait_s;         /* actors waiting for credits/weights (sum, from their reports) */
    double lag_min, lag_mean, lag_max; /* policy lag in updates over the interval's transitions */
    double ep_return, ep_success; /* mean over episodes finished in the interval (NAN: none) */
    uint64_t episodes;
    uint64_t bad_messages;               /* dropped so far, every reason */
    uint64_t bad_by[PROTO_STATUS_COUNT]; /* dropped so far by reason ([PROTO_OK] = total) */
    int actors;
    int actors_lost; /* refused or cut off so far */
};

struct online_hooks {
    void *ctx;
    /* one metrics row (step = offline + online env steps) */
    void (*log)(void *ctx, long step, const struct online_stats *s);
    /* one row per actor rank per logging interval (actors.csv); may be NULL */
    void (*actor)(void *ctx, long step, int rank, uint64_t env_steps, double env_steps_per_s,
                  double received_per_s, double wait_s);
    /* periodic evaluation / checkpoint checks, called after every update */
    void (*tick)(void *ctx, long step);
    /* a checkpoint now (a signal asked to stop: it goes first, before the actors are stopped,
     * in case they cannot be); may be NULL */
    void (*save)(void *ctx, long step);
};

/* runs tc->online_steps environment steps with tc->utd updates per step. *step advances. 0;
 * -1 with err; -2 when the agent refused an update (ag->bad_term): the phase stopped before
 * any checkpoint or weights left, *step is the step of that update; -3 when no actor rank was
 * left to deliver the rest of the budget (err names the ranks and why): what was learned so
 * far is sound and may be saved; -4 when a signal asked to stop (sig.h): the actors were
 * stopped after the current update, and the caller saves */
int online_learn(struct train_cfg *tc, struct agent *ag, struct replay *rb, struct rng *sampler,
                 struct rng *drng, struct agent_draws *dr, long *step,
                 const struct online_hooks *h, char *err, size_t errsz);

/* on an MPI job with actors: tells them there is no online phase (END: they answer BYE and
 * exit), waiting at most timeout_s for the answers */
void online_release_actors(double timeout_s);
/* after online_learn or online_release_actors: why some actor rank may never reach
 * MPI_Finalize (it did not answer the learner's END), or NULL when every rank will; the run's
 * --peer_timeout into *deadline_s */
const char *online_unfinished(double *deadline_s);

#endif
