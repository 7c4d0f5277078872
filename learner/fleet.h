/* fleet.h — the actor ranks as the learner sees them, and the rules it holds them to
 * (docs/online.md "Rules"): one state per rank, everything they send taken off every
 * communicator and checked, credits counted from the rows that arrived, replies queued per rank
 * and never waited for, weights sent to each rank (newest wins), timeouts, and cutting off a
 * rank that breaks the rules. The pacing (how many credits, when to update) is online.c's.
 *
 *   struct fleet f;
 *   fleet_start(&f, &cfg, &setup, err, sizeof err);     // SETUP to every actor rank
 *   for (;;) {
 *       fleet_poll(&f, &hooks);                         // messages in, rules, timeouts, replies
 *       fleet_credit(&f, r, g);                         // pacing: more credits for rank r
 *       fleet_publish(&f, version, params, n);          // weights out (skipped while busy)
 *   }
 *   fleet_stop(&f, &hooks);                             // STOP, the last rows, BYE
 *   fleet_end(&f);                                      // END to every rank
 *   fleet_free(&f);
 */
#ifndef FLOQ_FLEET_H
#define FLOQ_FLEET_H

#include <stddef.h>
#include <stdint.h>

#include "common/comm.h"
#include "common/proto.h"

/* a rank that breaks the rules this often within a minute is cut off (a leaky bucket: the
 * count drains by FLEET_MAX_VIOLATIONS a minute) */
#define FLEET_MAX_VIOLATIONS 64
/* an accepted actor that owes env steps and says nothing for this long has them written off */
#define FLEET_SILENT_S 20.0
/* messages taken off the queues per fleet_poll at most (a flood is drained in pieces) */
#define FLEET_POLL_MAX 100000

enum peer_state {
    PEER_WAITING,  /* SETUP sent, no HELLO yet */
    PEER_ACTIVE,   /* accepted: acting on credits */
    PEER_STOPPING, /* STOP sent: its last rows, then BYE */
    PEER_DONE,     /* BYE received */
    PEER_REFUSED,  /* its HELLO was refused: final */
    PEER_CUT,      /* cut off for breaking a rule: final */
};

struct peer {
    enum peer_state state;
    char why[240];      /* REFUSED / CUT: the reason */
    int E;              /* envs, capped at the configured --actor.num_envs */
    uint32_t max_batch; /* rows per TRANSITIONS */
    uint64_t window;    /* credits it may hold, in env steps */
    uint64_t granted;   /* env steps granted so far */
    uint64_t received;  /* rows accepted */
    uint64_t claimed;   /* env steps it used, by its reports, within [received, granted] */
    uint64_t written_off;
    int64_t last_seq;        /* of the last accepted TRANSITIONS; -1 none */
    double since;            /* now_sec() when the state began */
    double last_msg;         /* now_sec() of its last accepted message */
    uint64_t wait_us;        /* its reported wait for credits or weights, us */
    uint64_t bye_sent;       /* transitions it says it sent (BYE) */
    double bucket, bucket_t; /* violations, leaky */
    uint64_t ignored;        /* messages after a refusal or cut-off, dropped unread */
    struct proto_stats ps;   /* its bad messages by reason; its own log throttle */
    /* replies: one small message in flight, the rest pending (credits add up) */
    struct comm_req creq;
    struct proto_buf cbuf;
    double c_since;
    uint64_t credit_pending;
    int setup_pending, accept_pending, stop_pending, error_pending, end_pending, end_sent;
    int acked; /* answered END with BYE (a rank that had not said BYE before) */
    uint32_t error_code;
    /* weights: one send in flight */
    struct comm_req wreq;
    int wslot;
    uint32_t wver;
    double w_since;
    /* interval statistics (actors.csv) */
    uint64_t last_claimed, last_received, last_wait_us;
};

/* one encoded WEIGHTS message, shared by the sends in flight */
struct fleet_slot {
    struct proto_buf msg;
    uint32_t version;
    int refs; /* sends in flight from it */
};

struct fleet_cfg {
    int E;              /* --actor.num_envs */
    uint32_t max_batch; /* rows per TRANSITIONS the learner accepts */
    uint32_t obs_dim, act_dim, n_params;
    int lockstep;
    double peer_timeout; /* seconds: HELLO, BYE, weights and replies not taken */
    const char *env_name;
};

/* what fleet_poll hands to the learner */
struct fleet_hooks {
    void *ctx;
    /* a validated TRANSITIONS message within its sender's credits */
    void (*rows)(void *ctx, const struct proto_transitions *t);
};

#define FLEET_MAX_SLOTS 16

struct fleet {
    int n;          /* ranks of the job (peers lo..n-1) */
    int lo;         /* the first actor rank (comm_first_actor: 1, or L with learner ranks) */
    struct peer *p; /* (n) */
    struct fleet_cfg c;
    unsigned char *tbuf, *sbuf;
    size_t tcap;
    struct proto_buf setup;
    struct fleet_slot slots[FLEET_MAX_SLOTS];
    int nslots, newest; /* newest: the slot of the newest weights, -1 none */
    uint32_t published; /* newest weight version sent out */
    int stopping;       /* STOP sent to every active rank: a late HELLO gets STOP at once */
};

/* SETUP (encoded from s) queued for every actor rank; 0, or -1 when s cannot be encoded */
int fleet_start(struct fleet *f, const struct fleet_cfg *c, const struct proto_setup *s, char *err,
                size_t errsz);
/* takes every waiting message off every communicator (bounded by FLEET_POLL_MAX), applies the
 * rules, checks the timeouts, moves the weights and replies along. Never blocks. */
void fleet_poll(struct fleet *f, const struct fleet_hooks *h);
/* g more env steps for rank r (sent with its next reply) */
void fleet_credit(struct fleet *f, int r, uint64_t g);
/* env steps of rank r's grants that it used (by the rows that came and its reports) or that
 * were written off */
uint64_t fleet_consumed(const struct peer *p);
/* encodes weights of this version into a free slot and sends it to every active rank whose
 * previous weights arrived; 1, or 0 when every slot is still in flight (try again later). The
 * caller checks the values are finite. */
int fleet_publish(struct fleet *f, uint32_t version, const float *params, size_t n);
/* 1 while some rank can still deliver transitions (waiting for its HELLO, or active) */
int fleet_can_deliver(const struct fleet *f);
/* cuts rank r off: it gets ERROR with the reason, nothing more is read from it */
void fleet_cut(struct fleet *f, int r, const char *why);
/* STOP to every active rank, then polls (rows keep arriving) until each said BYE or timed out */
void fleet_stop(struct fleet *f, const struct fleet_hooks *h);
/* END to every rank: first to those that never said BYE (refused, cut off, no HELLO), which
 * answer it with BYE, then to the rest. Waits at most the peer timeout for each group; returns
 * how many ranks did not take END or answer it (they may never reach MPI_Finalize: the caller
 * ends the job with MPI_Abort before any rank is inside MPI_Finalize), listed in why */
int fleet_end(struct fleet *f, const struct fleet_hooks *h, char *why, size_t whysz);
/* bad messages of reason st over every rank (st PROTO_OK: the total of all reasons) */
uint64_t fleet_bad(const struct fleet *f, enum proto_status st);
/* ranks refused or cut off */
int fleet_lost(const struct fleet *f);
/* "rank 1 refused (...), rank 3 cut off (...)" into buf */
void fleet_lost_text(const struct fleet *f, char *buf, size_t n);
void fleet_free(struct fleet *f);

/* with no online phase: END to every actor rank, which answers with BYE and exits 0; waits at
 * most timeout_s for the answers; returns how many ranks did not answer */
int fleet_release(double timeout_s);

#endif
