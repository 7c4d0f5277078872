#include "actor/actor_rank.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "actor/actor.h"
#include "actor/fault.h"
#include "common/comm.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/proto.h"
#include "common/util.h"

/* two alternating send buffers: one is encoded while the other may still be in flight */
struct sender {
    struct proto_buf buf[2];
    struct comm_req req[2];
    int next;
    uint64_t seq, sent;
};

struct actor_rank {
    int rank;
    struct actor a;
    struct proto_batch batch; /* transitions not sent yet */
    struct sender snd;
    unsigned char *wbuf; /* a WEIGHTS message */
    size_t wcap;
    struct proto_dims wdims; /* what WEIGHTS must match */
    struct proto_buf small;  /* HELLO and BYE */
    struct comm_req small_req;
    uint64_t credits;   /* env steps the learner allows */
    uint32_t need_wver; /* weight version the learner asked for (lock-step) */
    int accepted, stopping, bye_sent, refused, ended;
    double wait_s; /* cumulative wait for credits or weights */
};

static void to_batch(void *ctx, const float *obs, const float *act, float rew, int terminal,
                     int mask, const float *next_obs, uint32_t wver) {
    struct proto_batch *b = ctx;
    int rc = proto_batch_push(b, obs, act, rew, terminal, mask, next_obs, wver);
    FLOQ_ASSERT(rc == 0);
}

static void ep_to_batch(void *ctx, const struct env_episode *ep) {
    struct proto_batch *b = ctx;
    if (proto_batch_push_episode(b, (float)ep->ret, (uint32_t)ep->len, ep->success) != 0) {
        log_warn("actor: episode record dropped (batch episode list full)");
    }
}

/* messages that are not the learner's (another rank's, or on a communicator that carries
 * none) are taken off the queues unread, so a misbehaving peer cannot fill this rank's memory */
static void discard_strangers(void) {
    static const enum comm_chan chans[] = {COMM_MSG, COMM_WEIGHTS, COMM_WORLD, COMM_PROGRESS};
    for (size_t c = 0; c < FLOQ_ARRAY_LEN(chans); c++) {
        int from, tag;
        size_t n;
        for (int k = 0; k < 1000 && comm_poll(chans[c], -1, -1, &from, &tag, &n); k++) {
            if (from == 0 && (chans[c] == COMM_MSG || chans[c] == COMM_WEIGHTS)) {
                break; /* the learner's: read where it belongs */
            }
            comm_recv(chans[c], NULL, 0, from, tag, &n);
        }
    }
}

/* BYE: after STOP, or as the answer to END when no STOP came (every rank sends one) */
static void send_bye(int rank, uint64_t env_steps, uint64_t sent, uint64_t episodes) {
    struct proto_buf b;
    proto_buf_init(&b, PROTO_SMALL_BYTES);
    struct proto_bye by = {(uint32_t)rank, env_steps, sent, episodes};
    char err[256];
    struct comm_req r = {0};
    if (proto_encode_bye(&b, &by, err, sizeof err) == 0) {
        comm_isend(&r, COMM_MSG, 0, PROTO_TAG_BYE, b.data, b.size);
        comm_wait(&r);
    }
    comm_req_free(&r);
    proto_buf_free(&b);
}

/* 1: the learner's SETUP in *s; 0: no online phase (END); -1: a setup this build cannot read.
 * Waiting costs almost no CPU: the polls back off to one every 20 ms (the learner's offline
 * phase can take hours). */
static int wait_setup(int rank, struct proto_setup *s) {
    double t0 = now_sec(), c0 = cpu_sec();
    unsigned char buf[PROTO_SMALL_BYTES];
    char err[256];
    int got = -2;
    for (long nap = 100; got == -2; nap = FLOQ_MIN(2 * nap, 20000)) {
        discard_strangers();
        int from, tag;
        size_t n;
        while (got == -2 && comm_poll(COMM_MSG, 0, -1, &from, &tag, &n)) {
            if (comm_recv(COMM_MSG, buf, sizeof buf, 0, tag, &n)) {
                continue; /* over the bound: dropped */
            }
            struct proto_control c;
            if (tag == PROTO_TAG_SETUP) {
                got = proto_decode_setup(s, buf, n, err, sizeof err) == PROTO_OK ? 1 : -1;
            } else if (tag == PROTO_TAG_CONTROL &&
                       proto_decode_control(&c, buf, n, err, sizeof err) == PROTO_OK &&
                       c.cmd == PROTO_CTRL_END) {
                got = 0;
            }
        }
        if (got == -2) {
            sleep_us(nap);
        }
    }
    if (got < 0) {
        log_error("actor %d: bad setup message: %s", rank, err);
    }
    if (got == 0) {
        send_bye(rank, 0, 0, 0); /* END answered: no online phase */
    }
    log_info("actor %d: waited %.1f s for the learner's setup (cpu %.3f s)", rank, now_sec() - t0,
             cpu_sec() - c0);
    return got;
}

/* takes the WEIGHTS waiting from the learner; the last one sent is the newest */
static void read_weights(struct actor_rank *ar) {
    int from, tag, got = 0;
    size_t n, len = 0;
    while (comm_poll(COMM_WEIGHTS, 0, PROTO_TAG_WEIGHTS, &from, &tag, &n)) {
        got = comm_recv(COMM_WEIGHTS, ar->wbuf, ar->wcap, 0, tag, &len) == 0;
    }
    if (!got || ar->ended || ar->refused) {
        return;
    }
    char err[256];
    uint32_t wv;
    struct actor *a = &ar->a;
    if (proto_decode_weights(&wv, a->pb.w, ar->wbuf, len, &ar->wdims, err, sizeof err) ==
        PROTO_OK) {
        a->wver = wv;
        a->have_weights = 1;
    } else {
        log_warn("actor %d: weights dropped: %s", ar->rank, err);
    }
}

static void send_small(struct actor_rank *ar, int tag) {
    comm_isend(&ar->small_req, COMM_MSG, 0, tag, ar->small.data, ar->small.size);
    comm_wait(&ar->small_req);
}

static void send_batch(struct actor_rank *ar) {
    struct sender *s = &ar->snd;
    struct proto_batch *b = &ar->batch;
    if (b->n == 0) {
        return;
    }
    int i = s->next;
    comm_wait(&s->req[i]);
    b->seq = s->seq++;
    b->env_steps = ar->a.steps;
    b->wait_us = (uint64_t)(ar->wait_s * 1e6);
    char err[256];
    if (proto_encode_transitions(&s->buf[i], b, err, sizeof err)) {
        log_error("actor: %s", err);
        comm_abort(1);
    }
    fault_on_encoded(ar->rank, b->seq, &s->buf[i]);
    comm_isend(&s->req[i], COMM_MSG, 0, PROTO_TAG_TRANSITIONS, s->buf[i].data, s->buf[i].size);
    s->sent += b->n;
    s->next ^= 1;
    proto_batch_clear(b);
}

#ifdef FLOQ_FAULT_INJECTION
/* the test build's malformed messages, built from one real batch once weights are here */
static void send_garbage_first(struct actor_rank *ar) {
    int rounds = fault_garbage_rounds(ar->rank);
    if (rounds <= 0) {
        return;
    }
    while (!ar->a.have_weights) {
        read_weights(ar);
        sleep_us(100);
    }
    struct actor_sink sink = {to_batch, ep_to_batch, &ar->batch};
    actor_step(&ar->a, &sink);
    fault_send_garbage(ar->rank, &ar->batch, rounds);
    proto_batch_clear(&ar->batch);
    ar->a.steps = 0;
}
#endif

/* CONTROL and ERROR messages from the learner */
static void read_control(struct actor_rank *ar) {
    unsigned char buf[PROTO_SMALL_BYTES];
    char err[512];
    int from, tag;
    size_t n;
    while (comm_poll(COMM_MSG, 0, -1, &from, &tag, &n)) {
        if (comm_recv(COMM_MSG, buf, sizeof buf, from, tag, &n)) {
            continue;
        }
        if (tag == PROTO_TAG_ERROR) {
            /* refused (or cut off): say why, stop acting, and wait for END, so the job ends
             * when the learner is done */
            struct proto_error pe;
            if (proto_decode_error(&pe, buf, n, err, sizeof err) == PROTO_OK) {
                log_error("actor %d: the learner refused this actor: %s", ar->rank, pe.text);
            } else {
                log_error("actor %d: the learner refused this actor", ar->rank);
            }
            ar->refused = 1;
            continue;
        }
        struct proto_control c;
        if (proto_decode_control(&c, buf, n, err, sizeof err) != PROTO_OK) {
            log_warn("actor %d: control message dropped: %s", ar->rank, err);
            continue;
        }
        if (c.cmd == PROTO_CTRL_STOP) {
            ar->stopping = 1;
            continue;
        }
        if (c.cmd == PROTO_CTRL_END) {
            ar->ended = 1;
            continue;
        }
        if (c.cmd == PROTO_CTRL_ACCEPT && !ar->accepted) {
            ar->accepted = 1;
#ifdef FLOQ_FAULT_INJECTION
            send_garbage_first(ar);
#endif
        }
        ar->credits += c.credits;
        ar->need_wver = FLOQ_MAX(ar->need_wver, c.wver);
    }
}

/* after STOP: the last transitions, then BYE with the final counters (once) */
static void say_bye(struct actor_rank *ar) {
    send_batch(ar);
    if (ar->bye_sent) {
        return;
    }
    comm_wait(&ar->snd.req[0]);
    comm_wait(&ar->snd.req[1]);
    send_bye(ar->rank, ar->a.steps, ar->snd.sent, ar->a.episodes);
    ar->bye_sent = 1;
}

/* builds the actor SETUP describes and says HELLO; aborts the job when the actor cannot run */
static void start(struct actor_rank *ar, const struct proto_setup *s) {
    char err[1024];
    struct actor_cfg ac = {.num_envs = (int)s->num_envs,
                           .seed = actor_seed(s->seed, ar->rank),
                           .rank = ar->rank,
                           .policy = s->policy};
    snprintf(ac.env_name, sizeof ac.env_name, "%s", s->env_name);
    if (actor_init(&ar->a, &ac, err, sizeof err)) {
        log_error("actor %d: %s", ar->rank, err);
        comm_abort(1);
    }
    if (actor_policy_size(&ar->a) != s->n_params) {
        log_error("actor %d: policy of %zu floats, the learner ships %u", ar->rank,
                  actor_policy_size(&ar->a), s->n_params);
        comm_abort(1);
    }
    uint32_t E = s->num_envs, O = (uint32_t)ar->a.v.O, A = (uint32_t)ar->a.v.A;
    uint32_t max_batch = FLOQ_MAX(E, s->max_batch);
    proto_buf_init(&ar->small, PROTO_SMALL_BYTES);
    struct proto_hello h = {.rank = (uint32_t)ar->rank,
                            .obs_dim = O,
                            .act_dim = A,
                            .num_envs = E,
                            .max_batch = max_batch,
                            .seed = ac.seed};
    snprintf(h.env_name, sizeof h.env_name, "%.63s", ac.env_name);
    fault_on_hello(ar->rank, &h);
    proto_encode_hello(&ar->small, &h, err, sizeof err);
    send_small(ar, PROTO_TAG_HELLO);
    ar->wcap = proto_weights_bytes(s->n_params);
    ar->wbuf = mem_alloc(ar->wcap);
    ar->wdims = (struct proto_dims){.obs_dim = O,
                                    .act_dim = A,
                                    .max_batch = max_batch,
                                    .n_params = s->n_params,
                                    .wver_max = UINT32_MAX};
    proto_batch_init(&ar->batch, O, A, max_batch, err, sizeof err);
    ar->batch.rank = (uint32_t)ar->rank;
    for (int i = 0; i < 2; i++) {
        proto_buf_init(&ar->snd.buf[i], proto_transitions_max_bytes(O, A, max_batch));
    }
}

static void finish(struct actor_rank *ar, double elapsed) {
    comm_wait(&ar->snd.req[0]);
    comm_wait(&ar->snd.req[1]);
    struct actor *a = &ar->a;
    log_info("actor %d: %llu env steps in %.1fs (%.0f/s), %llu sent, %llu episodes, waited %.1fs "
             "for the learner, %llu unstable",
             ar->rank, (unsigned long long)a->steps, elapsed, a->steps / fmax(elapsed, 1e-9),
             (unsigned long long)ar->snd.sent, (unsigned long long)a->episodes, ar->wait_s,
             (unsigned long long)a->unstable);
    proto_batch_free(&ar->batch);
    for (int i = 0; i < 2; i++) {
        proto_buf_free(&ar->snd.buf[i]);
        comm_req_free(&ar->snd.req[i]);
    }
    proto_buf_free(&ar->small);
    comm_req_free(&ar->small_req);
    mem_free(ar->wbuf);
    actor_free(a);
}

int actor_rank_main(void) {
    struct actor_rank ar;
    memset(&ar, 0, sizeof ar);
    ar.rank = comm_rank();
    /* the learner's setup arrives when its offline phase is over */
    struct proto_setup setup;
    int got = wait_setup(ar.rank, &setup);
    if (got <= 0) {
        return got < 0 ? 1 : 0;
    }
    start(&ar, &setup);
    int E = ar.a.v.E;
    struct actor_sink sink = {to_batch, ep_to_batch, &ar.batch};
    double t0 = now_sec();
    while (!ar.ended) {
        discard_strangers();
        read_control(&ar);
        read_weights(&ar);
        if (ar.ended) {
            break;
        }
        if (ar.refused) {
            sleep_us(1000); /* nothing to do until END */
            continue;
        }
        if (ar.stopping) {
            say_bye(&ar);
            sleep_us(1000);
            continue;
        }
        /* step when credits cover all envs and the weights the learner asked for are here */
        if (ar.accepted && ar.a.have_weights && ar.credits >= (uint64_t)E &&
            ar.a.wver >= ar.need_wver) {
            actor_step(&ar.a, &sink);
            ar.credits -= (uint64_t)E;
            if (ar.batch.n + (uint32_t)E > ar.batch.cap || ar.credits < (uint64_t)E) {
                send_batch(&ar);
            }
        } else {
            send_batch(&ar); /* never sit on data while waiting */
            double tw = now_sec();
            sleep_us(100);
            ar.wait_s += now_sec() - tw;
        }
    }
    if (!ar.bye_sent) {
        send_bye(ar.rank, ar.a.steps, ar.snd.sent, ar.a.episodes); /* END answered */
    }
    finish(&ar, now_sec() - t0);
    return ar.refused ? 1 : 0;
}
