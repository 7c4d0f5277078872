/* fleet.c — the learner's side of the protocol for each actor rank (fleet.h). Every rule here
 * is in docs/online.md "Rules", with what happens to a rank that breaks it. */
#include "learner/fleet.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"

static const char *const state_name[] = {"waiting for HELLO", "active", "stopping", "done",
                                         "refused",           "cut off"};

static int peer_open(const struct peer *p) {
    return p->state == PEER_ACTIVE || p->state == PEER_STOPPING;
}

uint64_t fleet_consumed(const struct peer *p) {
    return FLOQ_MAX(FLOQ_MAX(p->claimed, p->received), p->written_off);
}

/* ---- replies: one small message in flight per rank, the rest pending -------------------- */

/* sends the next pending reply when the previous one has left; never waits */
static void flush(struct fleet *f, int r) {
    struct peer *p = &f->p[r];
    if (!comm_test(&p->creq)) {
        return;
    }
    char err[128];
    struct proto_control c = {0, 0, f->published};
    const struct proto_buf *out = &p->cbuf;
    if (p->setup_pending) {
        p->setup_pending = 0;
        out = &f->setup;
    } else if (p->error_pending) {
        p->error_pending = 0;
        if (proto_encode_error(&p->cbuf, p->error_code, p->why, err, sizeof err)) {
            return;
        }
    } else if (p->state == PEER_REFUSED || p->state == PEER_CUT) {
        /* after an ERROR only END follows (not waiting for weights it may never take) */
        if (!p->end_pending || p->end_sent) {
            return;
        }
        c.cmd = PROTO_CTRL_END;
    } else if (p->accept_pending || p->credit_pending) {
        c.cmd = p->accept_pending ? PROTO_CTRL_ACCEPT : PROTO_CTRL_CREDIT;
        c.credits = (uint32_t)FLOQ_MIN(p->credit_pending, (uint64_t)UINT32_MAX);
        p->credit_pending -= c.credits;
        p->accept_pending = 0;
    } else if (p->stop_pending) {
        c.cmd = PROTO_CTRL_STOP;
        p->stop_pending = 0;
    } else if (p->end_pending && !p->end_sent) {
        c.cmd = PROTO_CTRL_END; /* weights still in flight do not hold it up (nor MPI_Finalize) */
    } else {
        return;
    }
    if (c.cmd && proto_encode_control(&p->cbuf, &c, err, sizeof err)) {
        return;
    }
    p->end_sent |= c.cmd == PROTO_CTRL_END;
    int tag = out == &f->setup ? PROTO_TAG_SETUP : (c.cmd ? PROTO_TAG_CONTROL : PROTO_TAG_ERROR);
    comm_isend(&p->creq, COMM_MSG, r, tag, out->data, out->size);
    p->c_since = now_sec();
}

void fleet_credit(struct fleet *f, int r, uint64_t g) {
    struct peer *p = &f->p[r];
    p->granted += g;
    p->credit_pending += g;
    flush(f, r);
}

void fleet_cut(struct fleet *f, int r, const char *why) {
    struct peer *p = &f->p[r];
    if (p->state == PEER_CUT || p->state == PEER_REFUSED) {
        return;
    }
    log_warn("online: actor %d cut off (%s): %s; the run goes on without it", r,
             state_name[p->state], why);
    snprintf(p->why, sizeof p->why, "cut off: %s", why);
    p->state = PEER_CUT;
    p->since = now_sec();
    p->written_off = p->granted; /* its credits go back to the budget */
    p->credit_pending = 0, p->accept_pending = 0, p->stop_pending = 0;
    p->error_pending = 1, p->error_code = PROTO_ERR_STATE;
    flush(f, r);
}

/* one broken rule: counted by reason (a log line at most every 2 s per rank), and a rank that
 * keeps breaking them is cut off */
static void violate(struct fleet *f, int r, enum proto_status st, const char *what) {
    struct peer *p = &f->p[r];
    proto_stats_count(&p->ps, st, r, what);
    double now = now_sec();
    p->bucket = fmax(0, p->bucket - (now - p->bucket_t) * FLEET_MAX_VIOLATIONS / 60.0) + 1;
    p->bucket_t = now;
    if (p->bucket > FLEET_MAX_VIOLATIONS) {
        char why[200];
        snprintf(why, sizeof why,
                 "more than %d bad messages within a minute (%llu in all; the "
                 "last: %s)",
                 FLEET_MAX_VIOLATIONS, (unsigned long long)p->ps.bad_total, proto_status_name(st));
        fleet_cut(f, r, why);
    }
}

/* ---- weights ---------------------------------------------------------------------------- */

static void send_weights(struct fleet *f, int r) {
    struct peer *p = &f->p[r];
    struct fleet_slot *s = &f->slots[f->newest];
    comm_isend(&p->wreq, COMM_WEIGHTS, r, PROTO_TAG_WEIGHTS, s->msg.data, s->msg.size);
    p->wslot = f->newest;
    p->wver = s->version;
    p->w_since = now_sec();
    s->refs++;
}

/* a rank's weights that arrived free their slot; it gets the newest next */
static void weights_progress(struct fleet *f, int r) {
    struct peer *p = &f->p[r];
    if (p->wslot >= 0 && comm_test(&p->wreq)) {
        f->slots[p->wslot].refs--;
        p->wslot = -1;
    }
    if (p->wslot < 0 && p->state == PEER_ACTIVE && f->newest >= 0 &&
        (p->wver != f->published || p->w_since == 0)) {
        send_weights(f, r);
    }
}

int fleet_publish(struct fleet *f, uint32_t version, const float *params, size_t n) {
    int k = -1;
    for (int i = 0; i < f->nslots && k < 0; i++) {
        if (f->slots[i].refs == 0) {
            k = i;
        }
    }
    if (k < 0 && f->nslots < FLEET_MAX_SLOTS) {
        k = f->nslots++;
        proto_buf_init(&f->slots[k].msg, proto_weights_bytes(n));
    }
    if (k < 0) {
        return 0;
    }
    char err[256];
    if (proto_encode_weights(&f->slots[k].msg, version, params, n, err, sizeof err)) {
        log_error("online: %s", err);
        return 0;
    }
    f->slots[k].version = version;
    f->newest = k;
    f->published = version;
    for (int r = f->lo; r < f->n; r++) {
        weights_progress(f, r);
    }
    return 1;
}

/* ---- messages in ------------------------------------------------------------------------ */

static void on_hello(struct fleet *f, int r, size_t got) {
    struct peer *p = &f->p[r];
    char err[512];
    if (p->state != PEER_WAITING) {
        violate(f, r, PROTO_ERR_STATE, "HELLO again (HELLO is answered once; ignored)");
        return;
    }
    struct proto_hello h;
    struct proto_dims d = {.obs_dim = f->c.obs_dim,
                           .act_dim = f->c.act_dim,
                           .max_batch = f->c.max_batch,
                           .wver_max = UINT32_MAX};
    enum proto_status st = proto_decode_hello(&h, f->sbuf, got, err, sizeof err);
    if (st == PROTO_OK) {
        st = proto_check_hello(&h, &d, f->c.env_name, err, sizeof err);
    }
    if (st == PROTO_OK && h.rank != (uint32_t)r) {
        snprintf(err, sizeof err, "HELLO claims rank %u from rank %d", h.rank, r);
        st = PROTO_ERR_RANGE;
    }
    if (st != PROTO_OK) {
        /* refused, for good: the reason goes back in an ERROR */
        proto_stats_count(&p->ps, st, r, err);
        log_warn("online: actor %d refused: %s", r, err);
        snprintf(p->why, sizeof p->why, "refused: %.220s", err);
        p->state = PEER_REFUSED;
        p->since = now_sec();
        p->error_pending = 1, p->error_code = st;
        flush(f, r);
        return;
    }
    p->E = (int)FLOQ_MIN(h.num_envs, (uint32_t)f->c.E);
    if (h.num_envs > (uint32_t)f->c.E) {
        log_warn("online: actor %d says it steps %u envs; credits are counted for the %d the "
                 "setup asked for",
                 r, h.num_envs, f->c.E);
    }
    p->max_batch = h.max_batch;
    /* the credit window: enough for a few batches of all envs, in whole env steps */
    uint64_t E = (uint64_t)p->E;
    uint64_t w =
        f->c.lockstep ? E : (uint64_t)FLOQ_MAX(4 * E, (uint64_t)FLOQ_MIN(h.max_batch, 256u));
    p->window = (w + E - 1) / E * E;
    p->state = PEER_ACTIVE;
    p->since = p->last_msg = now_sec();
    p->accept_pending = 1;
    if (f->stopping) {
        p->stop_pending = 1;
        p->state = PEER_STOPPING;
    }
    proto_stats_count(&p->ps, PROTO_OK, r, NULL);
    log_info("online: actor %d accepted: %d env(s), batches of %u, seed %llu", r, p->E, h.max_batch,
             (unsigned long long)h.seed);
    flush(f, r);
}

static void on_transitions(struct fleet *f, int r, size_t got, const struct fleet_hooks *h) {
    struct peer *p = &f->p[r];
    char err[512];
    if (!peer_open(p)) {
        violate(f, r, PROTO_ERR_STATE,
                p->state == PEER_WAITING ? "TRANSITIONS before an accepted HELLO"
                                         : "TRANSITIONS after BYE");
        return;
    }
    struct proto_dims d = {.obs_dim = f->c.obs_dim,
                           .act_dim = f->c.act_dim,
                           .max_batch = p->max_batch,
                           .wver_max = f->published};
    struct proto_transitions t;
    enum proto_status st = proto_decode_transitions(&t, f->tbuf, got, &d, err, sizeof err);
    if (st == PROTO_OK && t.rank != (uint32_t)r) {
        snprintf(err, sizeof err, "TRANSITIONS claims rank %u but came from rank %d", t.rank, r);
        st = PROTO_ERR_RANGE;
    }
    if (st == PROTO_OK && (int64_t)t.seq <= p->last_seq) {
        snprintf(err, sizeof err, "TRANSITIONS seq %llu after seq %lld (a replay)",
                 (unsigned long long)t.seq, (long long)p->last_seq);
        st = PROTO_ERR_SEQUENCE;
    }
    if (st == PROTO_OK && t.n > p->granted - p->received) {
        snprintf(err, sizeof err, "%u rows with %llu credits left", t.n,
                 (unsigned long long)(p->granted - p->received));
        st = PROTO_ERR_CREDIT;
    }
    if (st == PROTO_OK && t.env_steps > p->granted) {
        snprintf(err, sizeof err, "claims %llu env steps, %llu were granted",
                 (unsigned long long)t.env_steps, (unsigned long long)p->granted);
        st = PROTO_ERR_CREDIT;
    }
    if (st != PROTO_OK) {
        violate(f, r, st, err);
        return;
    }
    proto_stats_count(&p->ps, PROTO_OK, r, NULL);
    p->received += t.n;
    /* env steps it used: its report, but never fewer than the rows that came */
    p->claimed = FLOQ_MAX(p->claimed, FLOQ_MAX(t.env_steps, p->received));
    p->last_seq = (int64_t)t.seq;
    p->last_msg = now_sec();
    p->wait_us = t.wait_us;
    h->rows(h->ctx, &t);
}

static void on_bye(struct fleet *f, int r, size_t got) {
    struct peer *p = &f->p[r];
    char err[256];
    if (!peer_open(p)) {
        violate(f, r, PROTO_ERR_STATE, "BYE before HELLO or twice");
        return;
    }
    struct proto_bye by;
    enum proto_status st = proto_decode_bye(&by, f->sbuf, got, err, sizeof err);
    if (st != PROTO_OK) {
        violate(f, r, st, err);
        return;
    }
    p->state = PEER_DONE;
    p->since = now_sec();
    p->bye_sent = by.sent;
    if (by.sent != p->received) {
        log_info("online: actor %d says it sent %llu transitions; %llu were accepted", r,
                 (unsigned long long)by.sent, (unsigned long long)p->received);
    }
}

/* one waiting message of rank r on the messages communicator */
static void take_message(struct fleet *f, int r, int tag, const struct fleet_hooks *h) {
    struct peer *p = &f->p[r];
    size_t got;
    int small = tag != PROTO_TAG_TRANSITIONS;
    char err[160];
    if (comm_recv(COMM_MSG, small ? f->sbuf : f->tbuf, small ? PROTO_SMALL_BYTES : f->tcap, r, tag,
                  &got)) {
        if (p->state == PEER_REFUSED || p->state == PEER_CUT) {
            p->ignored++;
        } else {
            snprintf(err, sizeof err, "a message of %zu bytes with tag %d, over its bound of %zu",
                     got, tag, small ? (size_t)PROTO_SMALL_BYTES : f->tcap);
            violate(f, r, PROTO_ERR_SIZE, err);
        }
        return;
    }
    if (p->state == PEER_REFUSED || p->state == PEER_CUT) {
        /* refusal and cut-off are final: read, never looked at; only the BYE answering END
         * counts (the rank is alive and about to finish) */
        p->acked |= p->end_sent && tag == PROTO_TAG_BYE;
        p->ignored++;
        return;
    }
    if (p->state == PEER_WAITING && p->end_sent && tag == PROTO_TAG_BYE) {
        p->acked = 1; /* never said HELLO, but answers END */
        return;
    }
    if (tag == PROTO_TAG_TRANSITIONS) {
        on_transitions(f, r, got, h);
    } else if (tag == PROTO_TAG_HELLO) {
        on_hello(f, r, got);
    } else if (tag == PROTO_TAG_BYE) {
        on_bye(f, r, got);
    } else {
        snprintf(err, sizeof err, "tag %d carries nothing from an actor", tag);
        violate(f, r, PROTO_ERR_CHANNEL, err);
    }
}

/* ---- timeouts ----------------------------------------------------------------------------- */

static void check_timeouts(struct fleet *f, int r) {
    struct peer *p = &f->p[r];
    double now = now_sec(), T = f->c.peer_timeout;
    char why[160];
    if (p->state == PEER_WAITING && now - p->since > T) {
        snprintf(why, sizeof why, "no HELLO within %g s of the setup", T);
        fleet_cut(f, r, why);
    } else if (p->state == PEER_STOPPING && now - p->since > T) {
        snprintf(why, sizeof why, "no BYE within %g s of STOP", T);
        fleet_cut(f, r, why);
    } else if (p->wslot >= 0 && peer_open(p) && now - p->w_since > T) {
        snprintf(why, sizeof why, "it has not taken its weights (version %u) for %g s", p->wver, T);
        fleet_cut(f, r, why);
    } else if (p->creq.active && peer_open(p) && now - p->c_since > T) {
        snprintf(why, sizeof why, "it has not taken the learner's messages for %g s", T);
        fleet_cut(f, r, why);
    } else if (p->state == PEER_ACTIVE && fleet_consumed(p) < p->granted &&
               now - p->last_msg > FLEET_SILENT_S) {
        log_warn("online: actor %d owes %llu env steps and has been silent for %g s; writing them "
                 "off",
                 r, (unsigned long long)(p->granted - fleet_consumed(p)), FLEET_SILENT_S);
        p->written_off = p->granted;
        p->last_msg = now;
    }
}

void fleet_poll(struct fleet *f, const struct fleet_hooks *h) {
    int from, tag;
    size_t n;
    long k = 0;
    while (k++ < FLEET_POLL_MAX && comm_poll(COMM_MSG, -1, -1, &from, &tag, &n)) {
        if (from >= f->lo && from < f->n) {
            take_message(f, from, tag, h);
        } else {
            comm_recv(COMM_MSG, NULL, 0, from, tag, &n);
        }
    }
    /* the communicators that carry nothing from actors: whatever is there is taken off and
     * counted against its sender (a flood there used to grow the learner without bound) */
    static const enum comm_chan foreign[] = {COMM_WEIGHTS, COMM_WORLD, COMM_PROGRESS};
    static const char *const names[] = {"weights", "world", "progress"};
    for (size_t c = 0; c < FLOQ_ARRAY_LEN(foreign); c++) {
        while (k++ < FLEET_POLL_MAX && comm_discard(foreign[c], &from)) {
            if (from < f->lo || from >= f->n) {
                continue;
            }
            if (f->p[from].state == PEER_REFUSED || f->p[from].state == PEER_CUT) {
                f->p[from].ignored++;
                continue;
            }
            char what[96];
            snprintf(what, sizeof what,
                     "a message on the %s communicator, which carries none "
                     "from actors",
                     names[c]);
            violate(f, from, PROTO_ERR_CHANNEL, what);
        }
    }
    for (int r = f->lo; r < f->n; r++) {
        weights_progress(f, r);
        check_timeouts(f, r);
        flush(f, r);
    }
}

/* ---- start and end ------------------------------------------------------------------------ */

int fleet_start(struct fleet *f, const struct fleet_cfg *c, const struct proto_setup *s, char *err,
                size_t errsz) {
    memset(f, 0, sizeof *f);
    f->n = comm_size();
    f->lo = comm_first_actor();
    f->c = *c;
    f->newest = -1;
    proto_buf_init(&f->setup, PROTO_SMALL_BYTES);
    if (proto_encode_setup(&f->setup, s, err, errsz)) {
        proto_buf_free(&f->setup);
        return -1;
    }
    f->p = mem_alloc(sizeof(struct peer) * (size_t)f->n);
    f->tcap = proto_transitions_max_bytes(c->obs_dim, c->act_dim, c->max_batch);
    f->tbuf = mem_alloc(f->tcap);
    f->sbuf = mem_alloc(PROTO_SMALL_BYTES);
    double now = now_sec();
    for (int r = f->lo; r < f->n; r++) {
        struct peer *p = &f->p[r];
        p->last_seq = -1;
        p->wslot = -1;
        p->since = p->last_msg = now;
        proto_buf_init(&p->cbuf, PROTO_SMALL_BYTES);
        p->setup_pending = 1;
        flush(f, r);
    }
    return 0;
}

int fleet_can_deliver(const struct fleet *f) {
    for (int r = f->lo; r < f->n; r++) {
        if (f->p[r].state == PEER_WAITING || f->p[r].state == PEER_ACTIVE) {
            return 1;
        }
    }
    return 0;
}

void fleet_stop(struct fleet *f, const struct fleet_hooks *h) {
    f->stopping = 1;
    for (int r = f->lo; r < f->n; r++) {
        struct peer *p = &f->p[r];
        if (p->state == PEER_ACTIVE) {
            p->state = PEER_STOPPING;
            p->since = now_sec();
            p->stop_pending = 1;
            flush(f, r);
        } else if (p->state == PEER_WAITING) {
            fleet_cut(f, r, "no HELLO before the end of the run");
        }
    }
    for (;;) {
        fleet_poll(f, h);
        int open = 0;
        for (int r = f->lo; r < f->n; r++) {
            open += peer_open(&f->p[r]);
        }
        if (!open) {
            break;
        }
        sleep_us(200);
    }
}

/* END to the ranks that match `done` (0: every rank that never said BYE, which answers END
 * with BYE; 1: the ranks that did) and wait, at most the peer timeout, until each took it (and,
 * for the first kind, answered); returns how many did not, listed in why */
static int end_some(struct fleet *f, int done, const struct fleet_hooks *h, char *why,
                    size_t whysz) {
    for (int r = f->lo; r < f->n; r++) {
        if ((f->p[r].state == PEER_DONE) == done) {
            f->p[r].end_pending = 1;
            flush(f, r);
        }
    }
    double t0 = now_sec();
    int left;
    do {
        if (!done) {
            fleet_poll(f, h); /* the BYEs that answer END */
        }
        left = 0;
        for (int r = f->lo; r < f->n; r++) {
            struct peer *p = &f->p[r];
            if ((p->state == PEER_DONE) == done) {
                flush(f, r);
                left += !p->end_sent || !comm_test(&p->creq) || (!done && !p->acked);
            }
        }
        if (left) {
            sleep_us(1000);
        }
    } while (left && now_sec() - t0 < f->c.peer_timeout);
    int lost = 0;
    size_t k = why ? strlen(why) : 0;
    for (int r = f->lo; r < f->n; r++) {
        struct peer *p = &f->p[r];
        if ((p->state == PEER_DONE) != done ||
            (p->end_sent && comm_test(&p->creq) && (done || p->acked))) {
            continue;
        }
        lost++;
        if (why && k < whysz) {
            int m = snprintf(why + k, whysz - k,
                             "%sactor rank %d (%s) did not answer END within "
                             "%g s",
                             k ? "; " : "", r, p->why[0] ? p->why : state_name[p->state],
                             f->c.peer_timeout);
            k += m > 0 ? (size_t)m : 0;
        }
    }
    return lost;
}

int fleet_end(struct fleet *f, const struct fleet_hooks *h, char *why, size_t whysz) {
    if (why && whysz) {
        why[0] = 0;
    }
    /* first the ranks that never said BYE: if one of them does not answer, the job must end by
     * MPI_Abort, and that has to happen before the others are inside MPI_Finalize (Open MPI's
     * launcher hangs when it aborts a job with a rank in MPI_Finalize) */
    int lost = end_some(f, 0, h, why, whysz);
    if (lost == 0) {
        lost = end_some(f, 1, h, why, whysz);
    }
    return lost;
}

uint64_t fleet_bad(const struct fleet *f, enum proto_status st) {
    uint64_t s = 0;
    for (int r = f->lo; r < f->n; r++) {
        s += st == PROTO_OK ? f->p[r].ps.bad_total : f->p[r].ps.bad[st];
    }
    return s;
}

int fleet_lost(const struct fleet *f) {
    int k = 0;
    for (int r = f->lo; r < f->n; r++) {
        k += f->p[r].state == PEER_REFUSED || f->p[r].state == PEER_CUT;
    }
    return k;
}

void fleet_lost_text(const struct fleet *f, char *buf, size_t n) {
    size_t k = 0;
    buf[0] = 0;
    for (int r = f->lo; r < f->n && k < n; r++) {
        const struct peer *p = &f->p[r];
        if (p->state == PEER_REFUSED || p->state == PEER_CUT) {
            int m = snprintf(buf + k, n - k, "%srank %d %s", k ? "; " : "", r, p->why);
            k += m > 0 ? (size_t)m : 0;
        }
    }
}

/* weights still in flight to a rank that stopped receiving: MPI may read the buffer until the
 * process ends, so it is kept here (reachable, not leaked) instead of freed */
#define FLEET_MAX_ABANDONED 1024
static struct proto_buf g_abandoned[FLEET_MAX_ABANDONED];
static int g_nabandoned;

void fleet_free(struct fleet *f) {
    for (int r = f->lo; f->p && r < f->n; r++) {
        struct peer *p = &f->p[r];
        int busy = !comm_test(&p->creq);
        comm_req_free(&p->creq);
        comm_req_free(&p->wreq);
        if (busy && g_nabandoned < FLEET_MAX_ABANDONED) {
            g_abandoned[g_nabandoned++] = p->cbuf; /* MPI may still read it */
        } else {
            proto_buf_free(&p->cbuf);
        }
    }
    for (int i = 0; i < f->nslots; i++) {
        if (f->slots[i].refs > 0 && g_nabandoned < FLEET_MAX_ABANDONED) {
            g_abandoned[g_nabandoned++] = f->slots[i].msg;
        } else {
            proto_buf_free(&f->slots[i].msg);
        }
    }
    proto_buf_free(&f->setup);
    MEM_FREE_ALL(f->p, f->tbuf, f->sbuf);
    memset(f, 0, sizeof *f);
}

int fleet_release(double timeout_s) {
    int n = comm_size(), lo = comm_first_actor();
    struct proto_buf b;
    proto_buf_init(&b, PROTO_SMALL_BYTES);
    struct proto_control c = {PROTO_CTRL_END, 0, 0};
    char err[128];
    proto_encode_control(&b, &c, err, sizeof err);
    struct comm_req *req = mem_alloc(sizeof *req * (size_t)FLOQ_MAX(n, 1));
    char *answered = mem_alloc((size_t)FLOQ_MAX(n, 1));
    for (int r = lo; r < n; r++) {
        comm_isend(&req[r], COMM_MSG, r, PROTO_TAG_CONTROL, b.data, b.size);
    }
    /* every rank answers END with BYE; anything else it sends is dropped */
    int left = n - lo, busy = 0;
    double t0 = now_sec();
    while (left > 0 && now_sec() - t0 < timeout_s) {
        int from, tag;
        size_t len;
        if (!comm_poll(COMM_MSG, -1, -1, &from, &tag, &len)) {
            sleep_us(1000);
            continue;
        }
        comm_recv(COMM_MSG, NULL, 0, from, tag, &len);
        if (tag == PROTO_TAG_BYE && from >= lo && from < n && !answered[from]) {
            answered[from] = 1;
            left--;
        }
    }
    for (int r = lo; r < n; r++) {
        busy |= !comm_test(&req[r]);
        comm_req_free(&req[r]);
        if (!answered[r]) {
            log_warn("online: actor rank %d did not answer END within %g s", r, timeout_s);
        }
    }
    MEM_FREE_ALL(req, answered);
    if (busy && g_nabandoned < FLEET_MAX_ABANDONED) {
        g_abandoned[g_nabandoned++] = b; /* MPI may still read it */
    } else {
        proto_buf_free(&b);
    }
    return left;
}
