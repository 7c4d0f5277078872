#include "learner/online.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "actor/actor.h"
#include "common/comm.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/proto.h"
#include "common/sig.h"
#include "common/util.h"
#include "learner/fleet.h"
#include "learner/lgroup.h"

/* why some rank may not reach MPI_Finalize (online_unfinished); empty when all will */
static char g_unfinished[1024];

static double g_peer_timeout = 60;

void online_release_actors(double timeout_s) {
    g_peer_timeout = timeout_s;
    if (comm_initialized() && comm_size() > comm_first_actor() && fleet_release(timeout_s) > 0) {
        snprintf(g_unfinished, sizeof g_unfinished, "actor rank(s) did not answer END within %g s",
                 timeout_s);
    }
}

const char *online_unfinished(double *deadline_s) {
    *deadline_s = g_peer_timeout;
    return g_unfinished[0] ? g_unfinished : NULL;
}

/* ---------------------------------------------------------------------------------------- */

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
    double t_update;    /* now_sec() of the last update (for the stall message) */
    uint32_t published; /* newest weight version sent out (= update count at the time) */
    /* interval stats */
    double t_last, wait_s, lag_sum, lag_min, lag_max;
    uint64_t lag_n, ep_n, recv_last, upd_last, env_last;
    double ep_ret, ep_succ;
    uint64_t bad[PROTO_STATUS_COUNT]; /* bad messages by reason so far, over every rank */
    int lost;                         /* ranks refused or cut off */
    int *order;                       /* (ranks) grant()'s scratch */
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
    s.bad_messages = ph->bad[PROTO_OK];
    memcpy(s.bad_by, ph->bad, sizeof s.bad_by);
    s.actors_lost = ph->lost;
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
    if (lgroup_update(ph->ag, &b, ph->dr)) {
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
    while (ph->received < (uint64_t)tc->online_steps && !ph->bad_update &&
           !sig_stop_requested()) {
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
    while (!ph->bad_update && !sig_stop_requested() && maybe_update(ph) > 0) {
    }
    *ph->step = ph->step0 + (long)ph->received;
    if (ph->updates != ph->upd_last || ph->received != ph->recv_last) {
        emit(ph, 1, 0, ph->received);
    }
    actor_free(&a);
    return ph->bad_update ? -1 : 0;
}

/* ---- MPI: actor ranks stream transitions, weights go to each of them -------------------- */

/* a validated TRANSITIONS message within its sender's credits (fleet.c checked the rules):
 * into the replay ring, in two pieces at the wrap */
static void mpi_rows(void *ctx, const struct proto_transitions *t) {
    struct online_phase *ph = ctx;
    struct replay *rb = ph->rb;
    int O = ph->ag->c.obs_dim, A = ph->ag->c.act_dim;
    uint32_t done = 0;
    while (done < t->n) {
        uint32_t k = (uint32_t)FLOQ_MIN((size_t)(t->n - done), rb->cap - rb->pos);
        size_t i = rb->pos;
        struct proto_rows rows = {rb->obs + i * O, rb->act + i * A,      rb->rew + i, rb->term + i,
                                  rb->mask + i,    rb->next_obs + i * O, NULL};
        proto_transitions_copy(t, done, k, &rows);
        rb->pos = (i + k) % rb->cap;
        rb->size = FLOQ_MIN(rb->cap, rb->size + k);
        rb->pushed += k;
        done += k;
    }
    ph->received += t->n;
    *ph->step = ph->step0 + (long)ph->received;
    /* policy lag against the learner's own update count, not the last version it managed to
     * send: weights that do not arrive show up as lag */
    double cur = (double)ph->ag->step;
    lag_add(ph, cur - t->wver_max, cur - t->wver_min, cur * t->n - (double)t->wver_sum, t->n);
    for (uint32_t e = 0; e < t->n_episodes; e++) {
        struct proto_episode ep = proto_transitions_episode(t, e);
        ph->ep_n++;
        ph->ep_ret += ep.ret;
        ph->ep_succ += ep.success;
    }
}

/* the newest weights out to every active rank (the fleet skips ranks whose last weights have
 * not arrived yet; they get the newest when those did). Never sends a non-finite value. */
static void publish(struct online_phase *ph, struct fleet *fleet) {
    struct agent *ag = ph->ag;
    size_t np = ag->policy_end - ag->policy_begin;
    size_t bad = first_beyond(ag->pb.w + ag->policy_begin, np, INFINITY);
    if (bad < np) {
        const struct param_view *pv = param_view_at(&ag->pb, ag->policy_begin + bad);
        snprintf(ag->bad_term, sizeof ag->bad_term, "parameter %s is %g",
                 pv ? pv->name : "padding", (double)ag->pb.w[ag->policy_begin + bad]);
        ph->bad_update = 1;
        return;
    }
    if (fleet_publish(fleet, (uint32_t)ag->step, ag->pb.w + ag->policy_begin, np)) {
        ph->published = (uint32_t)ag->step;
    }
}

/* 1 when rank a comes before rank b for credits: fewer outstanding, then fewer rows */
static int peer_before(const struct fleet *fleet, int a, int b) {
    const struct peer *pa = &fleet->p[a], *pb = &fleet->p[b];
    uint64_t oa = pa->granted - FLOQ_MIN(pa->granted, fleet_consumed(pa));
    uint64_t ob = pb->granted - FLOQ_MIN(pb->granted, fleet_consumed(pb));
    return oa != ob ? oa < ob : pa->received < pb->received;
}

/* credits for the active ranks (backpressure is withholding them) */
static void grant(struct online_phase *ph, struct fleet *fleet) {
    struct train_cfg *tc = ph->tc;
    /* backlog the learner would have if every credit already out came back now */
    uint64_t wtot = 0, owed = 0;
    for (int r = fleet->lo; r < fleet->n; r++) {
        struct peer *p = &fleet->p[r];
        if (p->state == PEER_ACTIVE || p->state == PEER_STOPPING) {
            wtot += p->window;
            owed += p->granted - FLOQ_MIN(p->granted, fleet_consumed(p));
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
    /* the budget counts rows that arrived and credits still out, so rows lost on the way
     * (an unstable env, a dropped batch) are granted again */
    uint64_t budget = (uint64_t)tc->online_steps, used = ph->received + owed;
    /* the room is shared: the ranks holding the fewest credits (then with the fewest rows so
     * far) come first, each gets at most an equal part of what is left, so a fast rank cannot
     * starve a slow one */
    int n = 0;
    int *order = ph->order;
    for (int r = fleet->lo; r < fleet->n; r++) {
        struct peer *p = &fleet->p[r];
        if (p->state == PEER_ACTIVE &&
            p->granted - FLOQ_MIN(p->granted, fleet_consumed(p)) + (uint64_t)p->E <= p->window) {
            order[n++] = r;
        }
    }
    for (int i = 1; i < n; i++) { /* insertion sort: a few ranks, nearly sorted */
        for (int j = i; j > 0 && peer_before(fleet, order[j], order[j - 1]); j--) {
            int t = order[j];
            order[j] = order[j - 1], order[j - 1] = t;
        }
    }
    for (int i = 0; i < n && used < budget; i++) {
        struct peer *p = &fleet->p[order[i]];
        uint64_t E = (uint64_t)p->E, out = p->granted - FLOQ_MIN(p->granted, fleet_consumed(p));
        uint64_t g = (p->window - out) / E * E;
        g = FLOQ_MIN(g, (budget - used + E - 1) / E * E);
        if (room < 1e17) {
            double share = fmax(room / (double)(n - i), (double)E);
            g = FLOQ_MIN(g, (uint64_t)(fmin(share, room) / (double)E) * E);
        }
        if (g == 0) {
            continue;
        }
        room -= (double)g;
        used += g;
        fleet_credit(fleet, order[i], g);
    }
}

/* per-actor rows (actors.csv through the hook) and the summed actor wait of the interval */
static double actor_interval(struct online_phase *ph, struct fleet *fleet) {
    double now = now_sec(), dt = fmax(now - ph->t_last, 1e-9), wait = 0;
    for (int r = fleet->lo; r < fleet->n; r++) {
        struct peer *p = &fleet->p[r];
        if (p->state == PEER_WAITING || p->state == PEER_REFUSED) {
            continue;
        }
        uint64_t used = FLOQ_MAX(p->claimed, p->received);
        double w = (double)(p->wait_us - FLOQ_MIN(p->wait_us, p->last_wait_us)) * 1e-6;
        wait += w;
        if (ph->h->actor) {
            ph->h->actor(ph->h->ctx, *ph->step, r, used,
                         (double)(used - FLOQ_MIN(used, p->last_claimed)) / dt,
                         (double)(p->received - p->last_received) / dt, w);
        }
        p->last_claimed = used;
        p->last_received = p->received;
        p->last_wait_us = p->wait_us;
    }
    return wait;
}

/* env steps the actors used, by the rows that came and their (bounded) reports; credits
 * written off are not steps */
static uint64_t env_total(const struct fleet *fleet) {
    uint64_t s = 0;
    for (int r = fleet->lo; r < fleet->n; r++) {
        s += FLOQ_MAX(fleet->p[r].claimed, fleet->p[r].received);
    }
    return s;
}

static void fleet_emit(struct online_phase *ph, struct fleet *fleet) {
    for (int k = 0; k < PROTO_STATUS_COUNT; k++) {
        ph->bad[k] = fleet_bad(fleet, (enum proto_status)k);
    }
    ph->lost = fleet_lost(fleet);
    double aw = actor_interval(ph, fleet);
    emit(ph, fleet->n - fleet->lo, aw, env_total(fleet));
}

/* the whole budget arrived and the updates it allows are done */
static int budget_done(struct online_phase *ph) {
    if (ph->received < (uint64_t)ph->tc->online_steps) {
        return 0;
    }
    uint64_t want = FLOQ_MIN(ph->target_updates, utd_updates(ph->tc->utd, ph->received));
    return ph->updates >= want;
}

static int run_mpi(struct online_phase *ph, char *err, size_t errsz) {
    struct train_cfg *tc = ph->tc;
    struct agent *ag = ph->ag;
    uint64_t np = ag->policy_end - ag->policy_begin;
    /* what every actor rank runs */
    uint32_t max_batch = (uint32_t)FLOQ_MAX(tc->num_envs, FLOQ_MIN(256, 8 * tc->num_envs));
    struct proto_setup setup = {.num_envs = (uint32_t)tc->num_envs,
                                .seed = tc->seed,
                                .max_batch = max_batch,
                                .n_params = (uint32_t)np,
                                .policy = agent_policy(&ag->c)};
    size_t nl = strlen(tc->env_name);
    if (nl >= sizeof setup.env_name) {
        snprintf(err, errsz, "online: env name %.80s does not fit the SETUP message (%d bytes)",
                 tc->env_name, PROTO_MAX_NAME - 1);
        online_release_actors(tc->peer_timeout);
        return -1;
    }
    memcpy(setup.env_name, tc->env_name, nl + 1);
    struct fleet_cfg fc = {.E = tc->num_envs,
                           .max_batch = max_batch,
                           .obs_dim = (uint32_t)ag->c.obs_dim,
                           .act_dim = (uint32_t)ag->c.act_dim,
                           .n_params = (uint32_t)np,
                           .lockstep = tc->lockstep,
                           .peer_timeout = tc->peer_timeout,
                           .env_name = tc->env_name};
    g_peer_timeout = tc->peer_timeout;
    struct fleet fleet;
    if (fleet_start(&fleet, &fc, &setup, err, errsz)) {
        online_release_actors(tc->peer_timeout);
        return -1;
    }
    ph->order = mem_alloc(sizeof(int) * (size_t)fleet.n);
    struct fleet_hooks fh = {ph, mpi_rows};
    publish(ph, &fleet);
    log_info("online: %d actor rank(s) x %d env(s) of %s, utd %g, weights every %ld update(s)",
             fleet.n - fleet.lo, tc->num_envs, tc->env_name, tc->utd, tc->sync_interval);
    long last_sync = ag->step;
    double t_log = now_sec();
    int short_of = 0;
    while (!ph->bad_update) {
        fleet_poll(&fleet, &fh);
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
                fleet_emit(ph, &fleet);
                ph->h->tick(ph->h->ctx, *ph->step);
            }
            if (sig_stop_requested()) {
                break; /* after this update: stop the actors, the caller saves */
            }
            continue;
        }
        if (sig_stop_requested()) {
            break;
        }
        if (budget_done(ph)) {
            break;
        }
        if (!fleet_can_deliver(&fleet)) {
            short_of = 1; /* every rank refused, cut off or done before the budget */
            break;
        }
        double tw = now_sec();
        sleep_us(100);
        ph->wait_s += now_sec() - tw;
        if (now_sec() - t_log > 30 && now_sec() - ph->t_update > 30) {
            int waiting = 0, active = 0;
            for (int k = 1; k < fleet.n; k++) {
                waiting += fleet.p[k].state == PEER_WAITING;
                active += fleet.p[k].state == PEER_ACTIVE;
            }
            log_info("online: waiting for actors (%llu of %lld transitions received; %d active, "
                     "%d not yet said HELLO, %d refused or cut off)",
                     (unsigned long long)ph->received, (long long)tc->online_steps, active, waiting,
                     fleet_lost(&fleet));
            t_log = now_sec();
        }
    }
    if (!ph->bad_update && (ph->updates != ph->upd_last || ph->received != ph->recv_last)) {
        fleet_emit(ph, &fleet);
    }
    if (sig_stop_requested() && !ph->bad_update) {
        /* asked to stop (a time limit, a preemption, a dead rank): the checkpoint first, then
         * the actors, waiting for them at most 5 s (the launcher kills the job soon) */
        if (ph->h->save) {
            ph->h->save(ph->h->ctx, *ph->step);
        }
        fleet.c.peer_timeout = fmin(fleet.c.peer_timeout, 5.0);
    }
    /* stop the actors: STOP, their last transitions and BYE, then END to every rank */
    fleet_stop(&fleet, &fh);
    *ph->step = ph->step0 + (long)ph->received;
    char why[700];
    int unfinished = fleet_end(&fleet, &fh, why, sizeof why);
    if (unfinished) {
        snprintf(g_unfinished, sizeof g_unfinished, "%.1000s", why);
    }
    log_info("online: %llu transitions received (%llu env steps), %llu updates, %llu bad "
             "messages dropped",
             (unsigned long long)ph->received, (unsigned long long)env_total(&fleet),
             (unsigned long long)ph->updates, (unsigned long long)fleet_bad(&fleet, PROTO_OK));
    for (int k = 1; k < PROTO_STATUS_COUNT; k++) {
        uint64_t c = fleet_bad(&fleet, (enum proto_status)k);
        if (c) {
            log_info("online:   dropped as %s: %llu", proto_status_name((enum proto_status)k),
                     (unsigned long long)c);
        }
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    log_info("online: learner peak memory %ld MB", ru.ru_maxrss / 1024);
    char lost[1024];
    fleet_lost_text(&fleet, lost, sizeof lost);
    if (lost[0]) {
        log_warn("online: without %d actor rank(s): %s", fleet_lost(&fleet), lost);
    }
    int rc = 0;
    if (short_of && !ph->bad_update) {
        snprintf(err, errsz,
                 "online: no actor rank is left to deliver the rest of the %lld env steps "
                 "(%llu arrived): %.700s",
                 (long long)tc->online_steps, (unsigned long long)ph->received,
                 lost[0] ? lost : "every rank said BYE early");
        rc = -3;
    }
    fleet_free(&fleet);
    mem_free(ph->order);
    return rc;
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
    /* actor ranks when the job has any (ranks comm_first_actor().. N-1), else one inline */
    int rc = comm_initialized() && comm_size() > comm_first_actor() ? run_mpi(&ph, err, errsz)
                                                                    : run_inline(&ph, err, errsz);
    if (ph.bad_update) {
        snprintf(err, errsz, "online update %llu: %s", (unsigned long long)ph.updates + 1,
                 ag->bad_term);
        return -2;
    }
    if (rc == 0 && sig_stop_requested() &&
        (ph.received < (uint64_t)tc->online_steps || ph.updates < ph.target_updates)) {
        return -4;
    }
    return rc;
}
