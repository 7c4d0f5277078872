#include "actor/actor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/comm.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/proto.h"
#include "common/util.h"
#include "learner/online.h"

int actor_init(struct actor *a, const struct actor_cfg *c, char *err, size_t errsz) {
    memset(a, 0, sizeof *a);
    a->c = *c;
    if (vecenv_init(&a->v, c->env_name, c->num_envs, c->seed, err, errsz)) {
        return -1;
    }
    int O = a->v.O, A = a->v.A, E = c->num_envs;
    if (O != c->ac.obs_dim || A != c->ac.act_dim) {
        snprintf(err, errsz,
                 "actor: env %s has obs %d / action %d but the policy expects %d / %d; the dataset "
                 "and --env_name must describe the same environment",
                 c->env_name, O, A, c->ac.obs_dim, c->ac.act_dim);
        vecenv_free(&a->v);
        return -1;
    }
    struct mlp_cfg pc = {.in = O + A, .out = A, .nhidden = c->ac.n_actor_hidden,
                         .ln = c->ac.actor_layer_norm,
                         .act = c->ac.gelu_exact ? KERN_GELU_ERF : KERN_GELU_TANH, .E = 1};
    memcpy(pc.hidden, c->ac.actor_hidden, sizeof pc.hidden);
    param_init(&a->pb);
    mlp_register(&a->policy, &pc, &a->pb, "actor_onestep_flow");
    param_alloc(&a->pb, 0);
    mlp_tape_init(&a->t, &a->policy, E);
    a->x = mem_alloc(sizeof(float) * (size_t)E * (O + A));
    a->act = mem_alloc(sizeof(float) * (size_t)E * A);
    a->obs0 = mem_alloc(sizeof(float) * (size_t)E * O);
    struct rng root;
    rng_seed(&root, c->seed);
    a->rng = rng_split(&root, RNG_STREAM_ACTOR + (uint64_t)c->rank);
    vecenv_reset(&a->v);
    return 0;
}

void actor_free(struct actor *a) {
    vecenv_free(&a->v);
    param_free(&a->pb);
    mlp_tape_free(&a->t);
    MEM_FREE_ALL(a->x, a->act, a->obs0);
    memset(a, 0, sizeof *a);
}

size_t actor_policy_size(const struct actor *a) {
    return a->pb.n;
}

void actor_set_weights(struct actor *a, const float *w, uint32_t wver) {
    memcpy(a->pb.w, w, sizeof(float) * a->pb.n);
    a->wver = wver;
    a->have_weights = 1;
}

int actor_step(struct actor *a, const struct actor_sink *sink) {
    struct vecenv *v = &a->v;
    int E = v->E, O = v->O, A = v->A;
    /* policy for the whole batch: a = clip(mu(s, eps), -1, 1), fresh eps each step */
    for (int i = 0; i < E; i++) {
        memcpy(a->x + (size_t)i * (O + A), v->obs + (size_t)i * O, sizeof(float) * O);
        for (int j = 0; j < A; j++) {
            a->x[(size_t)i * (O + A) + O + j] = rng_normal(&a->rng);
        }
    }
    mlp_infer(&a->policy, a->pb.w, 0, &a->t, a->x, E);
    for (int i = 0; i < E * A; i++) {
        a->act[i] = clampf(a->t.out[i], -1.0f, 1.0f);
    }
    memcpy(a->obs0, v->obs, sizeof(float) * (size_t)E * O);
    vecenv_step(v, a->act);
    int n = 0;
    for (int i = 0; i < E; i++) {
        if (v->unstable[i]) {
            a->unstable++;
            continue;
        }
        int terminal = v->term[i] || v->trunc[i];
        sink->transition(sink->ctx, a->obs0 + (size_t)i * O, a->act + (size_t)i * A, v->rew[i],
                         terminal, !v->term[i], v->next_obs + (size_t)i * O, a->wver);
        n++;
    }
    for (int k = 0; k < v->n_done; k++) {
        a->episodes++;
        if (sink->episode) {
            sink->episode(sink->ctx, v->done[k].ret, v->done[k].len, v->done[k].success);
        }
    }
    a->steps += (uint64_t)E;
    return n;
}

/* ---------------------------------------------------------------------------------------- */
/* the actor rank */

static void to_batch(void *ctx, const float *obs, const float *act, float rew, int terminal,
                     int mask, const float *next_obs, uint32_t wver) {
    struct proto_batch *b = ctx;
    int rc = proto_batch_push(b, obs, act, rew, terminal, mask, next_obs, wver);
    FLOQ_ASSERT(rc == 0);
}

static void ep_to_batch(void *ctx, double ret, int len, int success) {
    struct proto_batch *b = ctx;
    if (proto_batch_push_episode(b, (float)ret, (uint32_t)len, success) != 0) {
        log_warn("actor: episode record dropped (batch episode list full)");
    }
}

struct sender {
    struct proto_buf buf[2];
    struct comm_req req[2];
    int next;
    uint64_t seq, sent;
};

static double g_wait_s;   /* this actor's cumulative wait for credits / weights */
static int g_corrupt_at = -1; /* tests: corrupt the batch with this seq after encoding it */

static void send_batch(struct sender *s, struct proto_batch *b, uint64_t env_steps) {
    if (b->n == 0) {
        return;
    }
    int i = s->next;
    comm_wait(&s->req[i]);
    b->seq = s->seq++;
    b->env_steps = env_steps;
    b->wait_us = (uint64_t)(g_wait_s * 1e6);
    char err[256];
    if (proto_encode_transitions(&s->buf[i], b, err, sizeof err)) {
        log_error("actor: %s", err);
        comm_abort(1);
    }
    if ((int64_t)b->seq == g_corrupt_at) {
        s->buf[i].data[s->buf[i].size / 2] ^= 0x55; /* the learner must drop it (checksum) */
        log_info("actor: corrupting batch %llu of %u transitions (test)",
                 (unsigned long long)b->seq, b->n);
    }
    comm_isend(&s->req[i], 0, PROTO_TAG_TRANSITIONS, s->buf[i].data, s->buf[i].size);
    s->sent += b->n;
    s->next ^= 1;
    proto_batch_clear(b);
}

/* tests only: a sequence of malformed messages of every kind the learner must survive */
static void send_garbage(int rank, const struct proto_batch *good, int count) {
    struct proto_buf pb;
    proto_buf_init(&pb, 0);
    char err[256];
    struct comm_req r = {0};
    struct rng g;
    rng_seed(&g, (uint64_t)rank);
    for (int k = 0; k < count; k++) {
        for (int kind = 0; kind < 7; kind++) {
            struct proto_batch b = *good;
            float nanv[1024];
            unsigned char *msg;
            size_t len;
            if (kind == 5) {
                /* NaN observations */
                if (b.obs_dim * b.n > 1024) {
                    continue;
                }
                for (uint32_t i = 0; i < b.obs_dim * b.n; i++) {
                    nanv[i] = NAN;
                }
                b.obs = nanv;
            }
            if (proto_encode_transitions(&pb, &b, err, sizeof err)) {
                continue;
            }
            msg = pb.data;
            len = pb.size;
            if (kind == 0) {
                len = len / 2; /* truncated */
            } else if (kind == 1) {
                /* wrong version with a valid checksum: array16 header (3 bytes), then version */
                msg[3] = 2;
                uint64_t h = proto_checksum(msg, len - PROTO_CHECKSUM_BYTES);
                for (int q = 0; q < 8; q++) {
                    msg[len - 8 + q] = (unsigned char)(h >> (56 - 8 * q));
                }
            } else if (kind == 2) {
                for (int t = 0; t < 8; t++) {
                    msg[rng_below(&g, len)] ^= 0x5a; /* corrupt */
                }
            } else if (kind == 3) {
                static const unsigned char bomb[] = {0xdd, 0x12, 0x12, 0x12, 0x12};
                msg = (unsigned char *)bomb;
                len = sizeof bomb;
            } else if (kind == 6) {
                /* wrong size: an obs width the env does not have */
                struct proto_batch w;
                if (good->obs_dim + 3 <= 64 && good->act_dim <= 64 &&
                    proto_batch_init(&w, good->obs_dim + 3, good->act_dim, good->n, err,
                                     sizeof err) == 0) {
                    for (uint32_t i = 0; i < good->n; i++) {
                        float o[64] = {0}, a[64] = {0};
                        proto_batch_push(&w, o, a, 0, 0, 1, o, good->wver[i]);
                    }
                    w.rank = good->rank;
                    proto_encode_transitions(&pb, &w, err, sizeof err);
                    proto_batch_free(&w);
                    msg = pb.data;
                    len = pb.size;
                }
            }
            /* kind 4: an oversized message (bigger than any bound) */
            static unsigned char big[1 << 22];
            if (kind == 4) {
                msg = big;
                len = sizeof big;
            }
            comm_isend(&r, 0, PROTO_TAG_TRANSITIONS, msg, len);
            comm_wait(&r);
        }
    }
    comm_req_free(&r);
    proto_buf_free(&pb);
    log_info("actor %d: sent %d malformed messages (test)", rank, 7 * count);
}

int actor_main_mpi(int bad_messages, int fault) {
    int rank = comm_rank();
    char err[1024];
    /* 1. the learner's setup: resolved config + policy size (waits through the offline phase) */
    struct online_setup setup;
    struct comm_req bc = {0};
    comm_ibcast(&bc, &setup, sizeof setup);
    comm_wait(&bc);
    if (setup.magic != ONLINE_SETUP_MAGIC) {
        log_error("actor %d: bad setup broadcast", rank);
        return 1;
    }
    if (setup.n_params == 0) {
        comm_req_free(&bc);
        return 0; /* no online phase */
    }
    struct actor_cfg ac;
    if (online_actor_cfg(&setup, rank, &ac, err, sizeof err)) {
        log_error("actor %d: %s", rank, err);
        comm_abort(1);
    }
    struct actor a;
    if (actor_init(&a, &ac, err, sizeof err)) {
        log_error("actor %d: %s", rank, err);
        comm_abort(1);
    }
    if (actor_policy_size(&a) != setup.n_params) {
        log_error("actor %d: policy of %zu floats, the learner ships %llu", rank,
                  actor_policy_size(&a), (unsigned long long)setup.n_params);
        comm_abort(1);
    }
    int E = ac.num_envs, O = a.v.O, A = a.v.A;
    uint32_t max_batch = FLOQ_MAX((uint32_t)E, setup.max_batch);
    /* 2. HELLO, then ACCEPT */
    struct proto_buf hb;
    proto_buf_init(&hb, PROTO_SMALL_BYTES);
    struct proto_hello h = {.rank = (uint32_t)rank, .obs_dim = (uint32_t)O,
                            .act_dim = (uint32_t)A, .num_envs = (uint32_t)E,
                            .max_batch = max_batch, .seed = ac.seed};
    snprintf(h.env_name, sizeof h.env_name, "%.63s", ac.env_name);
    if (fault == ACTOR_FAULT_BAD_HELLO) {
        h.obs_dim += 1; /* tests: a HELLO the learner must refuse */
    }
    if (fault == ACTOR_FAULT_DROP_BATCH) {
        g_corrupt_at = 2;
    }
    struct comm_req hr = {0};
    proto_encode_hello(&hb, &h, err, sizeof err);
    comm_isend(&hr, 0, PROTO_TAG_HELLO, hb.data, hb.size);
    comm_wait(&hr);
    /* weights channel */
    size_t wcap = online_weights_bcast_bytes(setup.n_params);
    unsigned char *wbuf = mem_alloc(wcap);
    comm_ibcast(&bc, wbuf, wcap);
    struct proto_dims wd = {.obs_dim = (uint32_t)O, .act_dim = (uint32_t)A,
                            .max_batch = max_batch, .n_params = (uint32_t)setup.n_params,
                            .wver_max = UINT32_MAX};
    struct proto_batch batch;
    proto_batch_init(&batch, (uint32_t)O, (uint32_t)A, max_batch, err, sizeof err);
    batch.rank = (uint32_t)rank;
    struct sender snd;
    memset(&snd, 0, sizeof snd);
    proto_buf_init(&snd.buf[0], proto_transitions_max_bytes((uint32_t)O, (uint32_t)A, max_batch));
    proto_buf_init(&snd.buf[1], proto_transitions_max_bytes((uint32_t)O, (uint32_t)A, max_batch));
    struct actor_sink sink = {to_batch, ep_to_batch, &batch};
    unsigned char cbuf[PROTO_SMALL_BYTES];
    uint64_t credits = 0;
    uint32_t need_wver = 0;
    int accepted = 0, stopping = 0, bye_sent = 0, done = 0, refused = 0;
    double wait_s = 0, t0 = now_sec();
    while (!done) {
        /* newest weights (or the end of the run) */
        if (comm_test(&bc)) {
            uint64_t len;
            memcpy(&len, wbuf, sizeof len);
            if (len == 0) {
                done = 1;
                break;
            }
            uint32_t wv;
            enum proto_status st =
                len <= wcap - 8
                    ? proto_decode_weights(&wv, a.pb.w, wbuf + 8, (size_t)len, &wd, err, sizeof err)
                    : PROTO_ERR_SIZE;
            if (st == PROTO_OK) {
                a.wver = wv;
                a.have_weights = 1;
            } else {
                log_warn("actor %d: weights dropped: %s", rank, err);
            }
            comm_ibcast(&bc, wbuf, wcap);
        }
        /* control messages */
        int from, tag;
        size_t n;
        while (comm_poll(0, PROTO_TAG_CONTROL, &from, &tag, &n) ||
               comm_poll(0, PROTO_TAG_ERROR, &from, &tag, &n)) {
            if (comm_recv(cbuf, sizeof cbuf, from, tag, &n)) {
                continue;
            }
            if (tag == PROTO_TAG_ERROR) {
                /* refused: say why, stop acting, and follow the broadcasts to the end of the
                 * run so the learner and the other actors finish normally */
                struct proto_error pe;
                if (proto_decode_error(&pe, cbuf, n, err, sizeof err) == PROTO_OK) {
                    log_error("actor %d: the learner refused this actor: %s", rank, pe.text);
                } else {
                    log_error("actor %d: the learner refused this actor", rank);
                }
                refused = 1;
                continue;
            }
            struct proto_control c;
            if (proto_decode_control(&c, cbuf, n, err, sizeof err) != PROTO_OK) {
                log_warn("actor %d: control message dropped: %s", rank, err);
                continue;
            }
            if (c.cmd == PROTO_CTRL_ACCEPT || c.cmd == PROTO_CTRL_CREDIT) {
                if (c.cmd == PROTO_CTRL_ACCEPT && !accepted) {
                    accepted = 1;
                    if (bad_messages > 0) {
                        /* one real transition batch as the template */
                        while (!a.have_weights) {
                            if (comm_test(&bc)) {
                                uint64_t len;
                                memcpy(&len, wbuf, sizeof len);
                                uint32_t wv;
                                if (len && proto_decode_weights(&wv, a.pb.w, wbuf + 8, len, &wd,
                                                                err, sizeof err) == PROTO_OK) {
                                    a.wver = wv, a.have_weights = 1;
                                }
                                comm_ibcast(&bc, wbuf, wcap);
                            }
                            sleep_us(100);
                        }
                        actor_step(&a, &sink);
                        send_garbage(rank, &batch, bad_messages);
                        proto_batch_clear(&batch);
                        a.steps = 0;
                    }
                }
                credits += c.credits;
                need_wver = c.wver > need_wver ? c.wver : need_wver;
            } else if (c.cmd == PROTO_CTRL_STOP) {
                stopping = 1;
            }
        }
        if (refused) {
            sleep_us(200);
            continue;
        }
        if (stopping) {
            send_batch(&snd, &batch, a.steps);
            if (!bye_sent) {
                comm_wait(&snd.req[0]);
                comm_wait(&snd.req[1]);
                struct proto_bye by = {.rank = (uint32_t)rank, .env_steps = a.steps,
                                       .sent = snd.sent, .episodes = a.episodes};
                proto_encode_bye(&hb, &by, err, sizeof err);
                comm_isend(&hr, 0, PROTO_TAG_BYE, hb.data, hb.size);
                comm_wait(&hr);
                bye_sent = 1;
            }
            sleep_us(200);
            continue;
        }
        /* step when credits cover all envs and the weights the learner asked for are here */
        if (accepted && a.have_weights && credits >= (uint64_t)E && a.wver >= need_wver) {
            actor_step(&a, &sink);
            credits -= (uint64_t)E;
            if (batch.n + (uint32_t)E > batch.cap || credits < (uint64_t)E) {
                send_batch(&snd, &batch, a.steps);
            }
        } else {
            send_batch(&snd, &batch, a.steps); /* never sit on data while waiting */
            double tw = now_sec();
            sleep_us(100);
            wait_s += now_sec() - tw;
            g_wait_s = wait_s;
        }
    }
    comm_wait(&snd.req[0]);
    comm_wait(&snd.req[1]);
    double el = now_sec() - t0;
    log_info("actor %d: %llu env steps in %.1fs (%.0f/s), %llu sent, %llu episodes, waited %.1fs "
             "for the learner, %llu unstable",
             rank, (unsigned long long)a.steps, el, a.steps / fmax(el, 1e-9),
             (unsigned long long)snd.sent, (unsigned long long)a.episodes, wait_s,
             (unsigned long long)a.unstable);
    proto_batch_free(&batch);
    proto_buf_free(&snd.buf[0]);
    proto_buf_free(&snd.buf[1]);
    proto_buf_free(&hb);
    comm_req_free(&snd.req[0]);
    comm_req_free(&snd.req[1]);
    comm_req_free(&hr);
    comm_req_free(&bc);
    mem_free(wbuf);
    actor_free(&a);
    return refused ? 1 : 0;
}
