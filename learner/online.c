#include "learner/online.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/actor.h"
#include "common/comm.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/proto.h"
#include "common/util.h"

/* the SETUP frame every actor rank waits for: what to run, or (s NULL, a closed frame) that no
 * online phase follows; -1 when s cannot be encoded */
static int broadcast_setup(const struct proto_setup *s, char *err, size_t errsz) {
    size_t fb = proto_frame_bytes(PROTO_SMALL_BYTES);
    unsigned char *frame = mem_alloc(fb);
    struct proto_buf msg;
    proto_buf_init(&msg, PROTO_SMALL_BYTES);
    int rc = 0;
    if (!s) {
        proto_frame_close(frame);
    } else if ((rc = proto_encode_setup(&msg, s, err, errsz)) == 0) {
        proto_frame_put(frame, fb, &msg);
    }
    if (rc == 0) {
        struct comm_req req = {0};
        comm_ibcast(&req, frame, fb);
        comm_wait(&req);
        comm_req_free(&req);
    }
    proto_buf_free(&msg);
    mem_free(frame);
    return rc;
}

void online_release_actors(void) {
    if (comm_initialized() && comm_size() > 1) {
        broadcast_setup(NULL, NULL, 0);
    }
}

/* ---------------------------------------------------------------------------------------- */

struct peer {
    int accepted, refused, bye, stopped;
    int E;
    uint32_t max_batch;
    uint64_t granted, received, env_steps, last_env_steps, last_received;
    uint64_t written_off; /* granted env steps given up after the actor fell silent */
    double last_msg;      /* now_sec() of its last accepted message */
    uint64_t wait_us, last_wait_us;
    uint64_t window;
};

/* env steps of its grants the actor has used (reported) or that were written off */
static uint64_t peer_consumed(const struct peer *p) {
    return FLOQ_MAX(p->env_steps, p->written_off);
}

/* the learner during the online phase: what it learns into, pacing counters, interval stats */
struct online_phase {
    struct train_cfg *tc;
    struct agent *ag;
    struct replay *rb;
    struct rng *sampler, *drng;
    struct agent_draws *dr;
    const struct online_hooks *h;
    long *step;
    long step0;
    uint64_t received, updates, target_updates;
    double t_update;     /* now_sec() of the last update (for the stall message) */
    uint32_t published;  /* newest weight version broadcast (= update count at the time) */
    /* interval stats */
    double t_last, wait_s, lag_sum, lag_min, lag_max;
    uint64_t lag_n, ep_n, recv_last, upd_last, env_last;
    double ep_ret, ep_succ;
    struct proto_stats ps;
    int bad_update;
};

static void lag_add(struct online_phase *ph, double lmin, double lmax, double sum, uint64_t n) {
    if (n == 0) {
        return;
    }
    ph->lag_min = fmin(ph->lag_min, lmin);
    ph->lag_max = fmax(ph->lag_max, lmax);
    ph->lag_sum += sum;
    ph->lag_n += n;
}

static void emit(struct online_phase *ph, int actors, double actor_wait, uint64_t env_total) {
    double now = now_sec(), dt = fmax(now - ph->t_last, 1e-9);
    struct online_stats s = {0};
    s.env_steps = ph->received;
    s.updates = ph->updates;
    s.env_steps_per_s = (double)(env_total - ph->env_last) / dt;
    s.received_per_s = (double)(ph->received - ph->recv_last) / dt;
    s.updates_per_s = (double)(ph->updates - ph->upd_last) / dt;
    s.queue_depth = ph->tc->utd * (double)ph->received - (double)ph->updates;
    s.learner_wait_s = ph->wait_s;
    s.actor_wait_s = actor_wait;
    s.lag_min = ph->lag_n ? ph->lag_min : NAN;
    s.lag_max = ph->lag_n ? ph->lag_max : NAN;
    s.lag_mean = ph->lag_n ? ph->lag_sum / (double)ph->lag_n : NAN;
    s.episodes = ph->ep_n;
    s.ep_return = ph->ep_n ? ph->ep_ret / (double)ph->ep_n : NAN;
    s.ep_success = ph->ep_n ? ph->ep_succ / (double)ph->ep_n : NAN;
    s.bad_messages = ph->ps.bad_total;
    s.actors = actors;
    ph->h->log(ph->h->ctx, *ph->step, &s);
    ph->t_last = now;
    ph->wait_s = 0;
    ph->lag_sum = 0, ph->lag_n = 0, ph->lag_min = INFINITY, ph->lag_max = -INFINITY;
    ph->ep_n = 0, ph->ep_ret = 0, ph->ep_succ = 0;
    ph->recv_last = ph->received, ph->upd_last = ph->updates, ph->env_last = env_total;
}

/* floor(utd n) for a utd given as decimal text (0.7 * 1000 = 700, not 699) */
static uint64_t utd_updates(float utd, uint64_t n) {
    double u = round((double)utd * 1e6) / 1e6;
    return (uint64_t)floor(u * (double)n * (1.0 + 1e-9) + 1e-9);
}

/* one update if the data allows it; returns 1 if it ran (2: and a metrics row is due), 0 if
 * not, -1 if the agent refused it (a non-finite loss or gradient): the caller stops at once,
 * before any checkpoint or weights leave */
static int maybe_update(struct online_phase *ph) {
    uint64_t allowed = utd_updates(ph->tc->utd, ph->received);
    if (allowed > ph->target_updates) {
        allowed = ph->target_updates;
    }
    if (ph->received < (uint64_t)ph->tc->start_online_after || ph->updates >= allowed) {
        return 0;
    }
    struct agent_batch b;
    replay_sample(ph->rb, ph->sampler, ph->ag->c.batch_size, &b);
    agent_draws_sample(ph->dr, &ph->ag->c, ph->drng);
    *ph->step = ph->step0 + (long)ph->received;
    if (agent_update(ph->ag, &b, ph->dr)) {
        ph->bad_update = 1;
        return -1;
    }
    ph->updates++;
    ph->t_update = now_sec();
    if (ph->updates % (uint64_t)ph->tc->log_interval == 0) {
        return 2;
    }
    ph->h->tick(ph->h->ctx, *ph->step);
    return 1;
}

/* ---- inline: one process, the actor steps between updates with the current weights ---- */

static void inline_transition(void *ctx, const float *obs, const float *act, float rew,
                              int terminal, int mask, const float *next_obs, uint32_t wver) {
    struct online_phase *ph = ctx;
    replay_push(ph->rb, obs, act, rew, (float)mask, (float)terminal, next_obs);
    ph->received++;
    double lag = (double)ph->published - (double)wver;
    lag_add(ph, lag, lag, lag, 1);
}

static void inline_episode(void *ctx, const struct env_episode *ep) {
    struct online_phase *ph = ctx;
    ph->ep_n++;
    ph->ep_ret += ep->ret;
    ph->ep_succ += ep->success;
}

static int run_inline(struct online_phase *ph, char *err, size_t errsz) {
    struct train_cfg *tc = ph->tc;
    struct agent *ag = ph->ag;
    struct actor_cfg ac = {.num_envs = tc->num_envs,
                           .seed = actor_seed(tc->seed, 0),
                           .rank = 0,
                           .policy = agent_policy(&ag->c)};
    snprintf(ac.env_name, sizeof ac.env_name, "%s", tc->env_name);
    struct actor a;
    if (actor_init(&a, &ac, err, errsz)) {
        return -1;
    }
    if (actor_policy_size(&a) != ag->policy_end - ag->policy_begin) {
        snprintf(err, errsz, "online: policy sizes differ (%zu vs %zu)", actor_policy_size(&a),
                 ag->policy_end - ag->policy_begin);
        actor_free(&a);
        return -1;
    }
    struct actor_sink sink = {inline_transition, inline_episode, ph};
    log_info("online: inline actor (one process), %d env(s) of %s, utd %g, lag 0 by construction",
             tc->num_envs, tc->env_name, tc->utd);
    while (ph->received < (uint64_t)tc->online_steps && !ph->bad_update) {
        ph->published = (uint32_t)ag->step;
        actor_set_weights(&a, ag->pb.w + ag->policy_begin, ph->published);
        actor_step(&a, &sink);
        int r;
        while ((r = maybe_update(ph)) > 0) {
            if (r == 2) {
                emit(ph, 1, 0, ph->received);
                ph->h->tick(ph->h->ctx, *ph->step);
            }
        }
    }
    /* the last updates the data allows (utd x received, at most the target) */
    ph->target_updates = FLOQ_MIN(ph->target_updates, utd_updates(tc->utd, ph->received));
    while (!ph->bad_update && maybe_update(ph) > 0) {
    }
    *ph->step = ph->step0 + (long)ph->received;
    if (ph->updates != ph->upd_last || ph->received != ph->recv_last) {
        emit(ph, 1, 0, ph->received);
    }
    actor_free(&a);
    return ph->bad_update ? -1 : 0;
}

/* ---- MPI: actor ranks stream transitions, weights go out by broadcast ---- */

static void send_small(int dest, int tag, struct proto_buf *b) {
    struct comm_req r = {0};
    comm_isend(&r, dest, tag, b->data, b->size);
    comm_wait(&r);
    comm_req_free(&r);
}

static void send_control(int dest, uint32_t cmd, uint32_t credits, uint32_t wver) {
    struct proto_buf b;
    proto_buf_init(&b, PROTO_SMALL_BYTES);
    struct proto_control c = {cmd, credits, wver};
    char err[128];
    if (proto_encode_control(&b, &c, err, sizeof err) == 0) {
        send_small(dest, PROTO_TAG_CONTROL, &b);
    }
    proto_buf_free(&b);
}

/* the actor ranks as the learner sees them: one peer per rank, receive buffers, the weight
 * broadcast in flight */
struct actor_fleet {
    int n;                   /* ranks */
    struct peer *p;          /* (n) */
    unsigned char *tbuf, *sbuf;
    size_t tcap;
    unsigned char *wframe;   /* weight broadcast frame */
    size_t wframe_bytes;
    struct comm_req bc;
    struct proto_buf wmsg;
    uint64_t granted_total;
    uint32_t max_batch;
    int stopping; /* STOP sent: late HELLOs get STOP at once */
};

static void publish(struct online_phase *ph, struct actor_fleet *fleet) {
    if (ph->tc->lockstep) {
        comm_wait(&fleet->bc); /* lock-step: every update's weights reach the actor */
    }
    if (!comm_test(&fleet->bc)) {
        return; /* the previous broadcast is still moving; the next check sends the newest */
    }
    struct agent *ag = ph->ag;
    uint32_t v = (uint32_t)ag->step;
    char err[256];
    size_t np = ag->policy_end - ag->policy_begin;
    size_t bad = first_beyond(ag->pb.w + ag->policy_begin, np, INFINITY);
    if (bad < np) {
        /* never sent: the run stops like after a refused update */
        const struct param_view *pv = param_view_at(&ag->pb, ag->policy_begin + bad);
        snprintf(ag->bad_term, sizeof ag->bad_term, "parameter %s is %g",
                 pv ? pv->name : "padding", (double)ag->pb.w[ag->policy_begin + bad]);
        ph->bad_update = 1;
        return;
    }
    if (proto_encode_weights(&fleet->wmsg, v, ag->pb.w + ag->policy_begin,
                             ag->policy_end - ag->policy_begin, err, sizeof err)) {
        log_error("online: %s", err);
        comm_abort(1);
    }
    proto_frame_put(fleet->wframe, fleet->wframe_bytes, &fleet->wmsg);
    comm_ibcast(&fleet->bc, fleet->wframe, fleet->wframe_bytes);
    ph->published = v;
}

/* receives and handles one waiting message (TRANSITIONS, HELLO, BYE) from rank `from` */
static void ingest_one(struct online_phase *ph, struct actor_fleet *fleet, int from, int tag) {
    struct train_cfg *tc = ph->tc;
    int O = ph->ag->c.obs_dim, A = ph->ag->c.act_dim;
    char err[512];
    size_t got;
    if (from <= 0 || from >= fleet->n) {
        comm_recv(fleet->sbuf, PROTO_SMALL_BYTES, from, tag, &got);
        return;
    }
    struct peer *p = &fleet->p[from];
    if (tag == PROTO_TAG_TRANSITIONS) {
        if (comm_recv(fleet->tbuf, fleet->tcap, from, tag, &got)) {
            snprintf(err, sizeof err, "TRANSITIONS of %zu bytes exceeds the bound %zu", got,
                     fleet->tcap);
            proto_stats_count(&ph->ps, PROTO_ERR_SIZE, from, err);
            return;
        }
        if (!p->accepted) {
            proto_stats_count(&ph->ps, PROTO_ERR_KIND, from,
                              "TRANSITIONS before an accepted HELLO");
            return;
        }
        struct proto_dims d = {.obs_dim = (uint32_t)O,
                               .act_dim = (uint32_t)A,
                               .max_batch = p->max_batch,
                               .wver_max = ph->published};
        struct proto_transitions t;
        enum proto_status st = proto_decode_transitions(&t, fleet->tbuf, got, &d, err, sizeof err);
        if (st == PROTO_OK && t.rank != (uint32_t)from) {
            snprintf(err, sizeof err, "TRANSITIONS claims rank %u but came from rank %d", t.rank,
                     from);
            st = PROTO_ERR_RANGE;
        }
        proto_stats_count(&ph->ps, st, from, err);
        if (st != PROTO_OK) {
            return;
        }
        /* copy into the ring, in two pieces at the wrap */
        struct replay *rb = ph->rb;
        uint32_t done = 0;
        while (done < t.n) {
            uint32_t k = (uint32_t)FLOQ_MIN((size_t)(t.n - done), rb->cap - rb->pos);
            size_t i = rb->pos;
            struct proto_rows rows = {rb->obs + i * O, rb->act + i * A, rb->rew + i,
                                      rb->term + i, rb->mask + i, rb->next_obs + i * O, NULL};
            proto_transitions_copy(&t, done, k, &rows);
            rb->pos = (i + k) % rb->cap;
            rb->size = FLOQ_MIN(rb->cap, rb->size + k);
            rb->pushed += k;
            done += k;
        }
        ph->received += t.n;
        p->received += t.n;
        p->env_steps = FLOQ_MAX(p->env_steps, t.env_steps);
        p->last_msg = now_sec();
        *ph->step = ph->step0 + (long)ph->received;
        p->wait_us = t.wait_us;
        double cur = ph->published;
        lag_add(ph, cur - t.wver_max, cur - t.wver_min, cur * t.n - (double)t.wver_sum, t.n);
        for (uint32_t e = 0; e < t.n_episodes; e++) {
            struct proto_episode ep = proto_transitions_episode(&t, e);
            ph->ep_n++;
            ph->ep_ret += ep.ret;
            ph->ep_succ += ep.success;
        }
    } else if (tag == PROTO_TAG_HELLO) {
        if (comm_recv(fleet->sbuf, PROTO_SMALL_BYTES, from, tag, &got)) {
            proto_stats_count(&ph->ps, PROTO_ERR_SIZE, from, "HELLO over 512 bytes");
            return;
        }
        struct proto_hello h;
        struct proto_dims d = {.obs_dim = (uint32_t)O,
                               .act_dim = (uint32_t)A,
                               .max_batch = fleet->max_batch,
                               .wver_max = UINT32_MAX};
        enum proto_status st = proto_decode_hello(&h, fleet->sbuf, got, err, sizeof err);
        if (st == PROTO_OK) {
            st = proto_check_hello(&h, &d, tc->env_name, err, sizeof err);
        }
        if (st == PROTO_OK && h.rank != (uint32_t)from) {
            snprintf(err, sizeof err, "HELLO claims rank %u from rank %d", h.rank, from);
            st = PROTO_ERR_RANGE;
        }
        if (st != PROTO_OK) {
            proto_stats_count(&ph->ps, st, from, err);
            struct proto_buf b;
            proto_buf_init(&b, PROTO_SMALL_BYTES);
            char e2[128];
            proto_encode_error(&b, st, err, e2, sizeof e2);
            send_small(from, PROTO_TAG_ERROR, &b);
            proto_buf_free(&b);
            p->refused = 1;
            return;
        }
        p->accepted = 1;
        p->E = (int)h.num_envs;
        p->max_batch = h.max_batch;
        p->last_msg = now_sec();
        if (fleet->stopping) {
            send_control(from, PROTO_CTRL_ACCEPT, 0, ph->published);
            send_control(from, PROTO_CTRL_STOP, 0, ph->published);
            p->stopped = 1;
            return;
        }
        /* the credit window: enough for a few batches of all envs, in whole env steps */
        uint64_t w = tc->lockstep ? (uint64_t)p->E
                                  : (uint64_t)FLOQ_MAX(4 * p->E, (int)FLOQ_MIN(h.max_batch, 256u));
        p->window = (w + (uint64_t)p->E - 1) / (uint64_t)p->E * (uint64_t)p->E;
        uint64_t remaining = (uint64_t)tc->online_steps > fleet->granted_total
                                 ? (uint64_t)tc->online_steps - fleet->granted_total
                                 : 0;
        uint64_t g = FLOQ_MIN(p->window, (remaining + (uint64_t)p->E - 1) / (uint64_t)p->E *
                                             (uint64_t)p->E);
        p->granted = g;
        fleet->granted_total += g;
        send_control(from, PROTO_CTRL_ACCEPT, (uint32_t)g, ph->published);
        log_info("online: actor %d accepted: %u env(s), batches of %u, seed %llu", from,
                 h.num_envs, h.max_batch, (unsigned long long)h.seed);
        proto_stats_count(&ph->ps, PROTO_OK, from, NULL);
    } else if (tag == PROTO_TAG_BYE) {
        if (comm_recv(fleet->sbuf, PROTO_SMALL_BYTES, from, tag, &got) == 0) {
            struct proto_bye by;
            if (proto_decode_bye(&by, fleet->sbuf, got, err, sizeof err) == PROTO_OK) {
                p->bye = 1;
                p->env_steps = by.env_steps;
            }
        }
    } else {
        comm_recv(fleet->sbuf, PROTO_SMALL_BYTES, from, tag, &got);
        snprintf(err, sizeof err, "unexpected tag %d", tag);
        proto_stats_count(&ph->ps, PROTO_ERR_KIND, from, err);
    }
}

static void drain(struct online_phase *ph, struct actor_fleet *fleet) {
    int from, tag;
    size_t n;
    int k = 0;
    while (k++ < 1000 && comm_poll(-1, -1, &from, &tag, &n)) {
        ingest_one(ph, fleet, from, tag);
    }
    comm_test(&fleet->bc);
}

static void grant(struct online_phase *ph, struct actor_fleet *fleet) {
    struct train_cfg *tc = ph->tc;
    /* backlog the learner would have if every credit already out came back now */
    uint64_t wtot = 0, owed = 0;
    for (int r = 1; r < fleet->n; r++) {
        struct peer *p = &fleet->p[r];
        wtot += p->window;
        if (p->accepted && !p->stopped) {
            owed += p->granted - FLOQ_MIN(p->granted, peer_consumed(p));
        }
    }
    double backlog = tc->utd * (double)(ph->received + owed) - (double)ph->updates;
    int filling = ph->received < (uint64_t)tc->start_online_after;
    double limit = tc->lockstep ? 0.0 : tc->utd * (double)wtot;
    if (!filling && backlog > limit) {
        return; /* backpressure: the learner is behind, actors wait */
    }
    /* transitions that may still be granted without the projected backlog passing the limit:
     * received - updates / utd stays within the sum of the windows */
    double room = filling || tc->lockstep ? 1e18 : (limit - backlog) / tc->utd;
    for (int r = 1; r < fleet->n; r++) {
        struct peer *p = &fleet->p[r];
        if (!p->accepted || p->stopped) {
            continue;
        }
        /* outstanding = granted env steps the actor has not consumed yet (its reports count
         * every env step, so a transition lost to instability or a dropped batch does not
         * shrink the window for good) */
        uint64_t consumed = peer_consumed(p);
        uint64_t out = p->granted - FLOQ_MIN(p->granted, consumed);
        if (out + (uint64_t)p->E > p->window) {
            continue;
        }
        uint64_t remaining = (uint64_t)tc->online_steps > fleet->granted_total
                                 ? (uint64_t)tc->online_steps - fleet->granted_total
                                 : 0;
        if (remaining == 0) {
            continue;
        }
        uint64_t g = (p->window - out) / (uint64_t)p->E * (uint64_t)p->E;
        uint64_t cap = (remaining + (uint64_t)p->E - 1) / (uint64_t)p->E * (uint64_t)p->E;
        g = FLOQ_MIN(g, cap);
        if (room < 1e17) {
            g = FLOQ_MIN(g, (uint64_t)(room / (double)p->E) * (uint64_t)p->E);
        }
        if (g == 0) {
            continue;
        }
        room -= (double)g;
        p->granted += g;
        fleet->granted_total += g;
        send_control(r, PROTO_CTRL_CREDIT, (uint32_t)g, ph->published);
    }
}

/* per-actor rows (actors.csv through the hook) and the summed actor wait of the interval */
static double actor_interval(struct online_phase *ph, struct actor_fleet *fleet) {
    double now = now_sec(), dt = fmax(now - ph->t_last, 1e-9), wait = 0;
    for (int r = 1; r < fleet->n; r++) {
        struct peer *p = &fleet->p[r];
        if (!p->accepted) {
            continue;
        }
        double w = (double)(p->wait_us - p->last_wait_us) * 1e-6;
        wait += w;
        if (ph->h->actor) {
            ph->h->actor(ph->h->ctx, *ph->step, r, p->env_steps,
                         (double)(p->env_steps - p->last_env_steps) / dt,
                         (double)(p->received - p->last_received) / dt, w);
        }
        p->last_env_steps = p->env_steps;
        p->last_received = p->received;
        p->last_wait_us = p->wait_us;
    }
    return wait;
}

/* every granted env step consumed (or written off), the whole budget granted, and the updates
 * the received data allows are done */
static int budget_done(struct online_phase *ph, struct actor_fleet *fleet) {
    if (fleet->granted_total < (uint64_t)ph->tc->online_steps) {
        return 0;
    }
    for (int r = 1; r < fleet->n; r++) {
        struct peer *p = &fleet->p[r];
        if (p->accepted && peer_consumed(p) < p->granted) {
            return 0;
        }
    }
    uint64_t want = FLOQ_MIN(ph->target_updates, utd_updates(ph->tc->utd, ph->received));
    return ph->updates >= want;
}

/* an accepted actor that owes env steps and has said nothing for 20 s: its last batch was
 * lost (dropped as malformed) or it hangs; give its credits up so the run can end */
static void write_off_silent(struct actor_fleet *fleet) {
    double now = now_sec();
    for (int r = 1; r < fleet->n; r++) {
        struct peer *p = &fleet->p[r];
        uint64_t consumed = peer_consumed(p);
        if (p->accepted && !p->stopped && consumed < p->granted && now - p->last_msg > 20) {
            log_warn("online: actor %d owes %llu env steps and has been silent for 20 s; "
                     "writing them off",
                     r, (unsigned long long)(p->granted - consumed));
            p->written_off = p->granted;
            p->last_msg = now;
        }
    }
}

static uint64_t env_total(struct actor_fleet *fleet) {
    uint64_t s = 0;
    for (int r = 1; r < fleet->n; r++) {
        s += fleet->p[r].env_steps;
    }
    return s;
}

static int run_mpi(struct online_phase *ph, char *err, size_t errsz) {
    struct train_cfg *tc = ph->tc;
    struct agent *ag = ph->ag;
    struct actor_fleet fleet;
    memset(&fleet, 0, sizeof fleet);
    fleet.n = comm_size();
    int O = ag->c.obs_dim, A = ag->c.act_dim;
    uint64_t np = ag->policy_end - ag->policy_begin;
    /* what every actor rank runs */
    fleet.max_batch = (uint32_t)FLOQ_MAX(tc->num_envs, FLOQ_MIN(256, 8 * tc->num_envs));
    struct proto_setup setup = {.num_envs = (uint32_t)tc->num_envs,
                                .seed = tc->seed,
                                .max_batch = fleet.max_batch,
                                .n_params = (uint32_t)np,
                                .policy = agent_policy(&ag->c)};
    size_t nl = strlen(tc->env_name);
    if (nl < sizeof setup.env_name) {
        memcpy(setup.env_name, tc->env_name, nl + 1);
    }
    if (nl >= sizeof setup.env_name || broadcast_setup(&setup, err, errsz)) {
        snprintf(err, errsz, "online: env name %.80s does not fit the SETUP message (%d bytes)",
                 tc->env_name, PROTO_MAX_NAME - 1);
        return -1;
    }
    fleet.p = mem_alloc(sizeof(struct peer) * (size_t)fleet.n);
    fleet.tcap = proto_transitions_max_bytes((uint32_t)O, (uint32_t)A, fleet.max_batch);
    fleet.tbuf = mem_alloc(fleet.tcap);
    fleet.sbuf = mem_alloc(PROTO_SMALL_BYTES);
    fleet.wframe_bytes = proto_frame_bytes(proto_weights_bytes(np));
    fleet.wframe = mem_alloc(fleet.wframe_bytes);
    proto_buf_init(&fleet.wmsg, proto_weights_bytes(np));
    publish(ph, &fleet);
    log_info("online: %d actor rank(s) x %d env(s) of %s, utd %g, weights every %ld update(s)",
             fleet.n - 1, tc->num_envs, tc->env_name, tc->utd, tc->sync_interval);
    long last_sync = ag->step;
    double t_log = now_sec();
    while (!ph->bad_update) {
        drain(ph, &fleet);
        grant(ph, &fleet);
        int r = maybe_update(ph);
        if (r < 0) {
            break;
        }
        if (r) {
            if (ag->step - last_sync >= tc->sync_interval) {
                publish(ph, &fleet);
                if ((uint32_t)ag->step == ph->published) {
                    last_sync = ag->step;
                }
            }
            if (r == 2) {
                double aw = actor_interval(ph, &fleet);
                emit(ph, fleet.n - 1, aw, env_total(&fleet));
                ph->h->tick(ph->h->ctx, *ph->step);
            }
            continue;
        }
        if (budget_done(ph, &fleet)) {
            break;
        }
        double tw = now_sec();
        sleep_us(100);
        ph->wait_s += now_sec() - tw;
        if (now_sec() - t_log > 30 && now_sec() - ph->t_update > 30) {
            log_info("online: waiting for actors (%llu of %lld transitions received)",
                     (unsigned long long)ph->received, (long long)tc->online_steps);
            t_log = now_sec();
        }
        write_off_silent(&fleet);
    }
    if (ph->updates != ph->upd_last || ph->received != ph->recv_last) {
        double aw = actor_interval(ph, &fleet);
        emit(ph, fleet.n - 1, aw, env_total(&fleet));
    }
    /* stop the actors: STOP, their last transitions and BYE, then the end-of-run broadcast */
    fleet.stopping = 1;
    for (int r = 1; r < fleet.n; r++) {
        if (fleet.p[r].accepted && !fleet.p[r].stopped) {
            send_control(r, PROTO_CTRL_STOP, 0, ph->published);
            fleet.p[r].stopped = 1;
        }
    }
    double t0 = now_sec();
    for (;;) {
        drain(ph, &fleet);
        int all = 1;
        for (int r = 1; r < fleet.n; r++) {
            all &= !fleet.p[r].accepted || fleet.p[r].bye;
        }
        if (all || now_sec() - t0 > 60) {
            if (!all) {
                log_warn("online: some actors sent no BYE within 60 s");
            }
            break;
        }
        sleep_us(200);
    }
    *ph->step = ph->step0 + (long)ph->received;
    comm_wait(&fleet.bc);
    proto_frame_close(fleet.wframe);
    comm_ibcast(&fleet.bc, fleet.wframe, fleet.wframe_bytes);
    comm_wait(&fleet.bc);
    uint64_t et = env_total(&fleet);
    log_info("online: %llu transitions received (%llu env steps), %llu updates, %llu bad "
             "messages dropped",
             (unsigned long long)ph->received, (unsigned long long)et,
             (unsigned long long)ph->updates, (unsigned long long)ph->ps.bad_total);
    for (int k = 1; k < PROTO_STATUS_COUNT; k++) {
        if (ph->ps.bad[k]) {
            log_info("online:   dropped as %s: %llu", proto_status_name((enum proto_status)k),
                     (unsigned long long)ph->ps.bad[k]);
        }
    }
    comm_req_free(&fleet.bc);
    proto_buf_free(&fleet.wmsg);
    MEM_FREE_ALL(fleet.p, fleet.tbuf, fleet.sbuf, fleet.wframe);
    return ph->bad_update ? -1 : 0;
}

int online_learn(struct train_cfg *tc, struct agent *ag, struct replay *rb, struct rng *sampler,
                 struct rng *drng, struct agent_draws *dr, long *step,
                 const struct online_hooks *h, char *err, size_t errsz) {
    struct online_phase ph;
    memset(&ph, 0, sizeof ph);
    ph.tc = tc, ph.ag = ag, ph.rb = rb, ph.sampler = sampler, ph.drng = drng, ph.dr = dr, ph.h = h;
    ph.step = step;
    ph.step0 = *step;
    ph.target_updates = (uint64_t)floor(tc->utd * (double)tc->online_steps);
    ph.t_last = ph.t_update = now_sec();
    ph.lag_min = INFINITY, ph.lag_max = -INFINITY;
    ph.published = (uint32_t)ag->step;
    int rc = comm_initialized() && comm_size() > 1 ? run_mpi(&ph, err, errsz)
                                                   : run_inline(&ph, err, errsz);
    if (ph.bad_update) {
        snprintf(err, errsz, "online update %llu: %s", (unsigned long long)ph.updates + 1,
                 ag->bad_term);
        return -2;
    }
    return rc;
}
