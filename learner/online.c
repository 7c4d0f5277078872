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

struct learner {
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

static void lag_add(struct learner *L, double lmin, double lmax, double sum, uint64_t n) {
    if (n == 0) {
        return;
    }
    L->lag_min = fmin(L->lag_min, lmin);
    L->lag_max = fmax(L->lag_max, lmax);
    L->lag_sum += sum;
    L->lag_n += n;
}

static void emit(struct learner *L, int actors, double actor_wait, uint64_t env_total) {
    double now = now_sec(), dt = fmax(now - L->t_last, 1e-9);
    struct online_stats s = {0};
    s.env_steps = L->received;
    s.updates = L->updates;
    s.env_steps_per_s = (double)(env_total - L->env_last) / dt;
    s.received_per_s = (double)(L->received - L->recv_last) / dt;
    s.updates_per_s = (double)(L->updates - L->upd_last) / dt;
    s.queue_depth = L->tc->utd * (double)L->received - (double)L->updates;
    s.learner_wait_s = L->wait_s;
    s.actor_wait_s = actor_wait;
    s.lag_min = L->lag_n ? L->lag_min : NAN;
    s.lag_max = L->lag_n ? L->lag_max : NAN;
    s.lag_mean = L->lag_n ? L->lag_sum / (double)L->lag_n : NAN;
    s.episodes = L->ep_n;
    s.ep_return = L->ep_n ? L->ep_ret / (double)L->ep_n : NAN;
    s.ep_success = L->ep_n ? L->ep_succ / (double)L->ep_n : NAN;
    s.bad_messages = L->ps.bad_total;
    s.actors = actors;
    L->h->log(L->h->ctx, *L->step, &s);
    L->t_last = now;
    L->wait_s = 0;
    L->lag_sum = 0, L->lag_n = 0, L->lag_min = INFINITY, L->lag_max = -INFINITY;
    L->ep_n = 0, L->ep_ret = 0, L->ep_succ = 0;
    L->recv_last = L->received, L->upd_last = L->updates, L->env_last = env_total;
}

/* floor(utd n) for a utd given as decimal text (0.7 * 1000 = 700, not 699) */
static uint64_t utd_updates(float utd, uint64_t n) {
    double u = round((double)utd * 1e6) / 1e6;
    return (uint64_t)floor(u * (double)n * (1.0 + 1e-9) + 1e-9);
}

/* one update if the data allows it; returns 1 if it ran */
static int maybe_update(struct learner *L) {
    uint64_t allowed = utd_updates(L->tc->utd, L->received);
    if (allowed > L->target_updates) {
        allowed = L->target_updates;
    }
    if (L->received < (uint64_t)L->tc->start_online_after || L->updates >= allowed) {
        return 0;
    }
    struct agent_batch b;
    replay_sample(L->rb, L->sampler, L->ag->c.batch_size, &b);
    agent_draws_sample(L->dr, &L->ag->c, L->drng);
    agent_update(L->ag, &b, L->dr);
    L->updates++;
    L->t_update = now_sec();
    if (!isfinite(L->ag->metrics.total_loss)) {
        L->bad_update = 1;
    }
    *L->step = L->step0 + (long)L->received;
    if (L->updates % (uint64_t)L->tc->log_interval == 0) {
        return 2;
    }
    L->h->tick(L->h->ctx, *L->step);
    return 1;
}

/* ---- inline: one process, the actor steps between updates with the current weights ---- */

static void inline_transition(void *ctx, const float *obs, const float *act, float rew,
                              int terminal, int mask, const float *next_obs, uint32_t wver) {
    struct learner *L = ctx;
    replay_push(L->rb, obs, act, rew, (float)mask, (float)terminal, next_obs);
    L->received++;
    double lag = (double)L->published - (double)wver;
    lag_add(L, lag, lag, lag, 1);
}

static void inline_episode(void *ctx, double ret, int len, int success) {
    (void)len;
    struct learner *L = ctx;
    L->ep_n++;
    L->ep_ret += ret;
    L->ep_succ += success;
}

static int run_inline(struct learner *L, char *err, size_t errsz) {
    struct train_cfg *tc = L->tc;
    struct agent *ag = L->ag;
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
    struct actor_sink sink = {inline_transition, inline_episode, L};
    log_info("online: inline actor (one process), %d env(s) of %s, utd %g, lag 0 by construction",
             tc->num_envs, tc->env_name, tc->utd);
    while (L->received < (uint64_t)tc->online_steps && !L->bad_update) {
        L->published = (uint32_t)ag->step;
        actor_set_weights(&a, ag->pb.w + ag->policy_begin, L->published);
        actor_step(&a, &sink);
        int r;
        while ((r = maybe_update(L)) != 0) {
            if (r == 2) {
                emit(L, 1, 0, L->received);
                L->h->tick(L->h->ctx, *L->step);
            }
        }
    }
    /* the last updates the data allows (utd x received, at most the target) */
    L->target_updates = FLOQ_MIN(L->target_updates, utd_updates(tc->utd, L->received));
    while (maybe_update(L)) {
    }
    *L->step = L->step0 + (long)L->received;
    if (L->updates != L->upd_last || L->received != L->recv_last) {
        emit(L, 1, 0, L->received);
    }
    actor_free(&a);
    return L->bad_update ? -1 : 0;
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

struct mpi_state {
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

static void publish(struct learner *L, struct mpi_state *M) {
    if (L->tc->lockstep) {
        comm_wait(&M->bc); /* lock-step: every update's weights reach the actor */
    }
    if (!comm_test(&M->bc)) {
        return; /* the previous broadcast is still moving; the next check sends the newest */
    }
    struct agent *ag = L->ag;
    uint32_t v = (uint32_t)ag->step;
    char err[256];
    if (proto_encode_weights(&M->wmsg, v, ag->pb.w + ag->policy_begin,
                             ag->policy_end - ag->policy_begin, err, sizeof err)) {
        log_error("online: %s", err);
        comm_abort(1);
    }
    proto_frame_put(M->wframe, M->wframe_bytes, &M->wmsg);
    comm_ibcast(&M->bc, M->wframe, M->wframe_bytes);
    L->published = v;
}

static void ingest_one(struct learner *L, struct mpi_state *M, int from, int tag, size_t n) {
    (void)n;
    struct train_cfg *tc = L->tc;
    int O = L->ag->c.obs_dim, A = L->ag->c.act_dim;
    char err[512];
    size_t got;
    if (from <= 0 || from >= M->n) {
        comm_recv(M->sbuf, PROTO_SMALL_BYTES, from, tag, &got);
        return;
    }
    struct peer *p = &M->p[from];
    if (tag == PROTO_TAG_TRANSITIONS) {
        if (comm_recv(M->tbuf, M->tcap, from, tag, &got)) {
            snprintf(err, sizeof err, "TRANSITIONS of %zu bytes exceeds the bound %zu", got,
                     M->tcap);
            proto_stats_count(&L->ps, PROTO_ERR_SIZE, from, err);
            return;
        }
        if (!p->accepted) {
            proto_stats_count(&L->ps, PROTO_ERR_KIND, from, "TRANSITIONS before an accepted HELLO");
            return;
        }
        struct proto_dims d = {.obs_dim = (uint32_t)O, .act_dim = (uint32_t)A,
                               .max_batch = p->max_batch, .wver_max = L->published};
        struct proto_transitions t;
        enum proto_status st = proto_decode_transitions(&t, M->tbuf, got, &d, err, sizeof err);
        if (st == PROTO_OK && t.rank != (uint32_t)from) {
            snprintf(err, sizeof err, "TRANSITIONS claims rank %u but came from rank %d", t.rank,
                     from);
            st = PROTO_ERR_RANGE;
        }
        proto_stats_count(&L->ps, st, from, err);
        if (st != PROTO_OK) {
            return;
        }
        /* copy into the ring, in two pieces at the wrap */
        struct replay *rb = L->rb;
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
        L->received += t.n;
        p->received += t.n;
        p->env_steps = FLOQ_MAX(p->env_steps, t.env_steps);
        p->last_msg = now_sec();
        *L->step = L->step0 + (long)L->received;
        p->wait_us = t.wait_us;
        double cur = L->published;
        lag_add(L, cur - t.wver_max, cur - t.wver_min, cur * t.n - (double)t.wver_sum, t.n);
        for (uint32_t e = 0; e < t.n_episodes; e++) {
            struct proto_episode ep = proto_transitions_episode(&t, e);
            L->ep_n++;
            L->ep_ret += ep.ret;
            L->ep_succ += ep.success;
        }
        (void)tc;
    } else if (tag == PROTO_TAG_HELLO) {
        if (comm_recv(M->sbuf, PROTO_SMALL_BYTES, from, tag, &got)) {
            proto_stats_count(&L->ps, PROTO_ERR_SIZE, from, "HELLO over 512 bytes");
            return;
        }
        struct proto_hello h;
        struct proto_dims d = {.obs_dim = (uint32_t)O, .act_dim = (uint32_t)A,
                               .max_batch = M->max_batch, .wver_max = UINT32_MAX};
        enum proto_status st = proto_decode_hello(&h, M->sbuf, got, err, sizeof err);
        if (st == PROTO_OK) {
            st = proto_check_hello(&h, &d, tc->env_name, err, sizeof err);
        }
        if (st == PROTO_OK && h.rank != (uint32_t)from) {
            snprintf(err, sizeof err, "HELLO claims rank %u from rank %d", h.rank, from);
            st = PROTO_ERR_RANGE;
        }
        if (st != PROTO_OK) {
            proto_stats_count(&L->ps, st, from, err);
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
        if (M->stopping) {
            send_control(from, PROTO_CTRL_ACCEPT, 0, L->published);
            send_control(from, PROTO_CTRL_STOP, 0, L->published);
            p->stopped = 1;
            return;
        }
        /* the credit window: enough for a few batches of all envs, in whole env steps */
        uint64_t w = tc->lockstep ? (uint64_t)p->E
                                  : (uint64_t)FLOQ_MAX(4 * p->E, (int)FLOQ_MIN(h.max_batch, 256u));
        p->window = (w + (uint64_t)p->E - 1) / (uint64_t)p->E * (uint64_t)p->E;
        uint64_t remaining = (uint64_t)tc->online_steps > M->granted_total
                                 ? (uint64_t)tc->online_steps - M->granted_total
                                 : 0;
        uint64_t g = FLOQ_MIN(p->window, (remaining + (uint64_t)p->E - 1) / (uint64_t)p->E *
                                             (uint64_t)p->E);
        p->granted = g;
        M->granted_total += g;
        send_control(from, PROTO_CTRL_ACCEPT, (uint32_t)g, L->published);
        log_info("online: actor %d accepted: %u env(s), batches of %u, seed %llu", from,
                 h.num_envs, h.max_batch, (unsigned long long)h.seed);
        proto_stats_count(&L->ps, PROTO_OK, from, NULL);
    } else if (tag == PROTO_TAG_BYE) {
        if (comm_recv(M->sbuf, PROTO_SMALL_BYTES, from, tag, &got) == 0) {
            struct proto_bye by;
            if (proto_decode_bye(&by, M->sbuf, got, err, sizeof err) == PROTO_OK) {
                p->bye = 1;
                p->env_steps = by.env_steps;
            }
        }
    } else {
        comm_recv(M->sbuf, PROTO_SMALL_BYTES, from, tag, &got);
        snprintf(err, sizeof err, "unexpected tag %d", tag);
        proto_stats_count(&L->ps, PROTO_ERR_KIND, from, err);
    }
}

static void drain(struct learner *L, struct mpi_state *M) {
    int from, tag;
    size_t n;
    int k = 0;
    while (k++ < 1000 && comm_poll(-1, -1, &from, &tag, &n)) {
        ingest_one(L, M, from, tag, n);
    }
    comm_test(&M->bc);
}

static void grant(struct learner *L, struct mpi_state *M) {
    struct train_cfg *tc = L->tc;
    /* backlog the learner would have if every credit already out came back now */
    uint64_t wtot = 0, owed = 0;
    for (int r = 1; r < M->n; r++) {
        struct peer *p = &M->p[r];
        wtot += p->window;
        if (p->accepted && !p->stopped) {
            owed += p->granted - FLOQ_MIN(p->granted, peer_consumed(p));
        }
    }
    double backlog = tc->utd * (double)(L->received + owed) - (double)L->updates;
    int filling = L->received < (uint64_t)tc->start_online_after;
    double limit = tc->lockstep ? 0.0 : tc->utd * (double)wtot;
    if (!filling && backlog > limit) {
        return; /* backpressure: the learner is behind, actors wait */
    }
    /* transitions that may still be granted without the projected backlog passing the limit:
     * received - updates / utd stays within the sum of the windows */
    double room = filling || tc->lockstep ? 1e18 : (limit - backlog) / tc->utd;
    for (int r = 1; r < M->n; r++) {
        struct peer *p = &M->p[r];
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
        uint64_t remaining = (uint64_t)tc->online_steps > M->granted_total
                                 ? (uint64_t)tc->online_steps - M->granted_total
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
        M->granted_total += g;
        send_control(r, PROTO_CTRL_CREDIT, (uint32_t)g, L->published);
    }
}

/* per-actor rows (actors.csv through the hook) and the summed actor wait of the interval */
static double actor_interval(struct learner *L, struct mpi_state *M) {
    double now = now_sec(), dt = fmax(now - L->t_last, 1e-9), wait = 0;
    for (int r = 1; r < M->n; r++) {
        struct peer *p = &M->p[r];
        if (!p->accepted) {
            continue;
        }
        double w = (double)(p->wait_us - p->last_wait_us) * 1e-6;
        wait += w;
        if (L->h->actor) {
            L->h->actor(L->h->ctx, *L->step, r, p->env_steps,
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
static int budget_done(struct learner *L, struct mpi_state *M) {
    if (M->granted_total < (uint64_t)L->tc->online_steps) {
        return 0;
    }
    for (int r = 1; r < M->n; r++) {
        struct peer *p = &M->p[r];
        if (p->accepted && peer_consumed(p) < p->granted) {
            return 0;
        }
    }
    uint64_t want = FLOQ_MIN(L->target_updates, utd_updates(L->tc->utd, L->received));
    return L->updates >= want;
}

/* an accepted actor that owes env steps and has said nothing for 20 s: its last batch was
 * lost (dropped as malformed) or it hangs; give its credits up so the run can end */
static void write_off_silent(struct learner *L, struct mpi_state *M) {
    double now = now_sec();
    for (int r = 1; r < M->n; r++) {
        struct peer *p = &M->p[r];
        uint64_t consumed = peer_consumed(p);
        if (p->accepted && !p->stopped && consumed < p->granted && now - p->last_msg > 20) {
            log_warn("online: actor %d owes %llu env steps and has been silent for 20 s; "
                     "writing them off",
                     r, (unsigned long long)(p->granted - consumed));
            p->written_off = p->granted;
            p->last_msg = now;
        }
    }
    (void)L;
}

static uint64_t env_total(struct mpi_state *M) {
    uint64_t s = 0;
    for (int r = 1; r < M->n; r++) {
        s += M->p[r].env_steps;
    }
    return s;
}

static int run_mpi(struct learner *L, char *err, size_t errsz) {
    struct train_cfg *tc = L->tc;
    struct agent *ag = L->ag;
    struct mpi_state M;
    memset(&M, 0, sizeof M);
    M.n = comm_size();
    int O = ag->c.obs_dim, A = ag->c.act_dim;
    uint64_t np = ag->policy_end - ag->policy_begin;
    /* what every actor rank runs */
    M.max_batch = (uint32_t)FLOQ_MAX(tc->num_envs, FLOQ_MIN(256, 8 * tc->num_envs));
    struct proto_setup setup = {.num_envs = (uint32_t)tc->num_envs,
                                .seed = tc->seed,
                                .max_batch = M.max_batch,
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
    M.p = mem_alloc(sizeof(struct peer) * (size_t)M.n);
    M.tcap = proto_transitions_max_bytes((uint32_t)O, (uint32_t)A, M.max_batch);
    M.tbuf = mem_alloc(M.tcap);
    M.sbuf = mem_alloc(PROTO_SMALL_BYTES);
    M.wframe_bytes = proto_frame_bytes(proto_weights_bytes(np));
    M.wframe = mem_alloc(M.wframe_bytes);
    proto_buf_init(&M.wmsg, proto_weights_bytes(np));
    publish(L, &M);
    log_info("online: %d actor rank(s) x %d env(s) of %s, utd %g, weights every %ld update(s)",
             M.n - 1, tc->num_envs, tc->env_name, tc->utd, tc->sync_interval);
    long last_sync = ag->step;
    double t_log = now_sec();
    while (!L->bad_update) {
        drain(L, &M);
        grant(L, &M);
        int r = maybe_update(L);
        if (r) {
            if (ag->step - last_sync >= tc->sync_interval) {
                publish(L, &M);
                if ((uint32_t)ag->step == L->published) {
                    last_sync = ag->step;
                }
            }
            if (r == 2) {
                double aw = actor_interval(L, &M);
                emit(L, M.n - 1, aw, env_total(&M));
                L->h->tick(L->h->ctx, *L->step);
            }
            continue;
        }
        if (budget_done(L, &M)) {
            break;
        }
        double tw = now_sec();
        sleep_us(100);
        L->wait_s += now_sec() - tw;
        if (now_sec() - t_log > 30 && now_sec() - L->t_update > 30) {
            log_info("online: waiting for actors (%llu of %lld transitions received)",
                     (unsigned long long)L->received, (long long)tc->online_steps);
            t_log = now_sec();
        }
        write_off_silent(L, &M);
    }
    if (L->updates != L->upd_last || L->received != L->recv_last) {
        double aw = actor_interval(L, &M);
        emit(L, M.n - 1, aw, env_total(&M));
    }
    /* stop the actors: STOP, their last transitions and BYE, then the end-of-run broadcast */
    M.stopping = 1;
    for (int r = 1; r < M.n; r++) {
        if (M.p[r].accepted && !M.p[r].stopped) {
            send_control(r, PROTO_CTRL_STOP, 0, L->published);
            M.p[r].stopped = 1;
        }
    }
    double t0 = now_sec();
    for (;;) {
        drain(&*L, &M);
        int all = 1;
        for (int r = 1; r < M.n; r++) {
            all &= !M.p[r].accepted || M.p[r].bye;
        }
        if (all || now_sec() - t0 > 60) {
            if (!all) {
                log_warn("online: some actors sent no BYE within 60 s");
            }
            break;
        }
        sleep_us(200);
    }
    *L->step = L->step0 + (long)L->received;
    comm_wait(&M.bc);
    proto_frame_close(M.wframe);
    comm_ibcast(&M.bc, M.wframe, M.wframe_bytes);
    comm_wait(&M.bc);
    uint64_t et = env_total(&M);
    log_info("online: %llu transitions received (%llu env steps), %llu updates, %llu bad "
             "messages dropped",
             (unsigned long long)L->received, (unsigned long long)et,
             (unsigned long long)L->updates, (unsigned long long)L->ps.bad_total);
    for (int k = 1; k < PROTO_STATUS_COUNT; k++) {
        if (L->ps.bad[k]) {
            log_info("online:   dropped as %s: %llu", proto_status_name((enum proto_status)k),
                     (unsigned long long)L->ps.bad[k]);
        }
    }
    comm_req_free(&M.bc);
    proto_buf_free(&M.wmsg);
    MEM_FREE_ALL(M.p, M.tbuf, M.sbuf, M.wframe);
    return L->bad_update ? -1 : 0;
}

int online_learn(struct train_cfg *tc, struct agent *ag, struct replay *rb, struct rng *sampler,
                 struct rng *drng, struct agent_draws *dr, long *step,
                 const struct online_hooks *h, char *err, size_t errsz) {
    struct learner L;
    memset(&L, 0, sizeof L);
    L.tc = tc, L.ag = ag, L.rb = rb, L.sampler = sampler, L.drng = drng, L.dr = dr, L.h = h;
    L.step = step;
    L.step0 = *step;
    L.target_updates = (uint64_t)floor(tc->utd * (double)tc->online_steps);
    L.t_last = L.t_update = now_sec();
    L.lag_min = INFINITY, L.lag_max = -INFINITY;
    L.published = (uint32_t)ag->step;
    int rc = comm_initialized() && comm_size() > 1 ? run_mpi(&L, err, errsz)
                                                   : run_inline(&L, err, errsz);
    if (rc && L.bad_update) {
        snprintf(err, errsz, "online: the loss became non-finite at update %llu; lower "
                             "--agent.lr or check the rewards",
                 (unsigned long long)L.updates);
    }
    return rc;
}
