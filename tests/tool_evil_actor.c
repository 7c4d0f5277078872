/* tool_evil_actor — an actor rank written from docs/protocol.md (its own MPI calls and msgpack
 * writer; floq's library only decodes the learner's messages and computes the checksum), which
 * breaks one rule on purpose. Run MPMD beside floq train:
 *   mpirun -np 1 build/floq train ... : -np 1 build/floq train ... : \
 *          -np 1 build/tests/tool_evil_actor --mode MODE [--seconds S]
 * MODE (after an honest HELLO unless said otherwise; otherwise it acts honestly on its credits
 * with random rows, takes its weights, and follows STOP, BYE, END):
 *   honest        no rule broken (checks that docs/protocol.md is enough to write an actor)
 *   oversize      a 4 MiB TRANSITIONS and a 64 KiB HELLO-tagged message
 *   over_credit   5 batches beyond its credits
 *   replay        its last TRANSITIONS sent 5 more times, byte for byte
 *   claims        one batch claiming 2^64-1 env steps
 *   extreme       one batch with obs 1e15 and a reward of 2e38 (finite)
 *   at_bound      its first 5 batches (within its credits) have every obs, next_obs and reward
 *                 at +-PROTO_MAX_ABS: accepted, and trained on
 *   hello_flood   400 more HELLOs, then silence (no TRANSITIONS; still reads its messages)
 *   big_envs      HELLO says 65536 envs
 *   refused_hello a HELLO with the wrong obs size, then a correct one
 *   stale         a HELLO of protocol version 2 (a different build)
 *   no_weights    never takes its weights
 *   sleep         after HELLO, no MPI call at all for --seconds S (default 600)
 *   flood         1-byte messages on every communicator and an unknown tag, for --seconds S
 * Exit: 0 after END (1 when refused or cut off: it prints the learner's ERROR text).
 */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/proto.h"

/* ---- a msgpack writer for the subset docs/protocol.md uses ------------------------------ */

struct w {
    unsigned char b[1 << 16];
    size_t n;
};

static void put(struct w *w, const void *p, size_t n) {
    if (n) { /* an empty bin passes NULL, which memcpy must not get even for 0 bytes */
        memcpy(w->b + w->n, p, n);
    }
    w->n += n;
}

static void put_byte(struct w *w, unsigned c) {
    w->b[w->n++] = (unsigned char)c;
}

static void put_be(struct w *w, uint64_t v, int nb) {
    for (int i = nb - 1; i >= 0; i--) {
        put_byte(w, (unsigned)(v >> (8 * i)) & 0xff);
    }
}

/* unsigned int, shortest form */
static void put_uint(struct w *w, uint64_t v) {
    if (v <= 0x7f) {
        put_byte(w, (unsigned)v);
    } else if (v <= 0xff) {
        put_byte(w, 0xcc), put_be(w, v, 1);
    } else if (v <= 0xffff) {
        put_byte(w, 0xcd), put_be(w, v, 2);
    } else if (v <= 0xffffffffu) {
        put_byte(w, 0xce), put_be(w, v, 4);
    } else {
        put_byte(w, 0xcf), put_be(w, v, 8);
    }
}

static void put_str(struct w *w, const char *s) {
    size_t n = strlen(s);
    put_byte(w, 0xa0 | (unsigned)n); /* names are < 32 bytes here */
    put(w, s, n);
}

static void put_bin(struct w *w, const void *p, size_t n) {
    if (n <= 0xff) {
        put_byte(w, 0xc4), put_be(w, n, 1);
    } else if (n <= 0xffff) {
        put_byte(w, 0xc5), put_be(w, n, 2);
    } else {
        put_byte(w, 0xc6), put_be(w, n, 4);
    }
    put(w, p, n);
}

/* array header, version, kind */
static void begin(struct w *w, unsigned nfields, unsigned version, unsigned kind) {
    w->n = 0;
    if (nfields <= 15) {
        put_byte(w, 0x90 | nfields);
    } else {
        put_byte(w, 0xdc), put_be(w, nfields, 2);
    }
    put_uint(w, version);
    put_uint(w, kind);
}

/* the checksum: 0xcf + XXH64 (seed 0) of every byte before it, big-endian */
static void seal(struct w *w) {
    uint64_t h = proto_checksum(w->b, w->n);
    put_byte(w, 0xcf);
    put_be(w, h, 8);
}

/* ---- the rank --------------------------------------------------------------------------- */

static MPI_Comm g_msg, g_weights, g_prog;
static int g_rank;
static const char *g_mode = "honest";
static double g_seconds = 600;

static int mode(const char *m) {
    return strcmp(g_mode, m) == 0;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void nap(long us) {
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static void send_bytes(MPI_Comm c, int tag, const void *p, size_t n) {
    MPI_Request r;
    MPI_Isend(p, (int)n, MPI_BYTE, 0, tag, c, &r);
    for (int done = 0; !done; nap(100)) {
        MPI_Test(&r, &done, MPI_STATUS_IGNORE);
    }
}

struct state {
    struct proto_setup s;
    uint64_t credits, steps, sent, seq;
    uint32_t wver, need_wver;
    int accepted, stopped, ended, refused, have_weights;
    unsigned char *wbuf;
    size_t wcap;
    struct w last; /* the last TRANSITIONS, for replay */
};

static void hello(struct state *st, unsigned version, uint32_t obs, uint32_t envs) {
    struct w w;
    begin(&w, 10, version, PROTO_KIND_HELLO);
    put_uint(&w, (uint64_t)g_rank);
    put_str(&w, st->s.env_name);
    put_uint(&w, obs);
    put_uint(&w, st->s.policy.act_dim);
    put_uint(&w, envs);
    put_uint(&w, st->s.max_batch);
    put_uint(&w, 7);
    seal(&w);
    send_bytes(g_msg, PROTO_TAG_HELLO, w.b, w.n);
}

/* one batch of n rows (random, finite), claiming env_steps; obs0/rew0 override row 0 */
static int g_at_bound; /* transitions(): every value at +-PROTO_MAX_ABS */

static void transitions(struct state *st, uint32_t n, uint64_t env_steps, float obs0, float rew0) {
    uint32_t O = (uint32_t)st->s.policy.obs_dim, A = (uint32_t)st->s.policy.act_dim;
    static float obs[4096], act[4096], rew[256], wv[256];
    static unsigned char term[256], mask[256];
    for (uint32_t i = 0; i < n * O; i++) {
        obs[i] = (float)(rand() % 2000) / 1000.0f - 1.0f;
    }
    for (uint32_t i = 0; i < n * A; i++) {
        act[i] = (float)(rand() % 2000) / 1000.0f - 1.0f;
    }
    for (uint32_t i = 0; i < n; i++) {
        rew[i] = -1.0f, term[i] = 0, mask[i] = 1;
        uint32_t v = st->wver;
        memcpy(&wv[i], &v, 4);
    }
    obs[0] = obs0 != 0 ? obs0 : obs[0];
    rew[0] = rew0 != 0 ? rew0 : rew[0];
    if (g_at_bound) { /* every value at the bound, alternating sign */
        for (uint32_t i = 0; i < n * O; i++) {
            obs[i] = i % 2 ? -PROTO_MAX_ABS : PROTO_MAX_ABS;
        }
        for (uint32_t i = 0; i < n; i++) {
            rew[i] = i % 2 ? -PROTO_MAX_ABS : PROTO_MAX_ABS;
        }
    }
    struct w *w = &st->last;
    begin(w, 21, 1, PROTO_KIND_TRANSITIONS);
    put_uint(w, (uint64_t)g_rank);
    put_uint(w, st->seq++);
    put_uint(w, env_steps);
    put_uint(w, 0);
    put_uint(w, n);
    put_uint(w, O);
    put_uint(w, A);
    put_uint(w, 0);
    put_bin(w, obs, 4 * (size_t)n * O);
    put_bin(w, act, 4 * (size_t)n * A);
    put_bin(w, rew, 4 * (size_t)n);
    put_bin(w, term, n);
    put_bin(w, mask, n);
    put_bin(w, obs, 4 * (size_t)n * O); /* next_obs */
    put_bin(w, wv, 4 * (size_t)n);
    put_bin(w, NULL, 0);
    put_bin(w, NULL, 0);
    put_bin(w, NULL, 0);
    seal(w);
    send_bytes(g_msg, PROTO_TAG_TRANSITIONS, w->b, w->n);
    st->sent += n;
}

static void bye(struct state *st) {
    struct w w;
    begin(&w, 7, 1, PROTO_KIND_BYE);
    put_uint(&w, (uint64_t)g_rank);
    put_uint(&w, st->steps);
    put_uint(&w, st->sent);
    put_uint(&w, 0);
    seal(&w);
    send_bytes(g_msg, PROTO_TAG_BYE, w.b, w.n);
}

/* CONTROL and ERROR from the learner */
static void read_messages(struct state *st) {
    int flag;
    MPI_Status ms;
    unsigned char buf[PROTO_SMALL_BYTES];
    char err[256];
    while (MPI_Iprobe(0, MPI_ANY_TAG, g_msg, &flag, &ms), flag) {
        int n;
        MPI_Get_count(&ms, MPI_BYTE, &n);
        MPI_Recv(buf, (int)sizeof buf, MPI_BYTE, 0, ms.MPI_TAG, g_msg, MPI_STATUS_IGNORE);
        struct proto_control c;
        struct proto_error e;
        if (ms.MPI_TAG == PROTO_TAG_ERROR &&
            proto_decode_error(&e, buf, (size_t)n, err, sizeof err) == PROTO_OK) {
            fprintf(stderr, "evil actor %d: the learner says: %s\n", g_rank, e.text);
            st->refused = 1;
        } else if (ms.MPI_TAG == PROTO_TAG_CONTROL &&
                   proto_decode_control(&c, buf, (size_t)n, err, sizeof err) == PROTO_OK) {
            st->accepted |= c.cmd == PROTO_CTRL_ACCEPT;
            st->stopped |= c.cmd == PROTO_CTRL_STOP;
            st->ended |= c.cmd == PROTO_CTRL_END;
            st->credits += c.credits;
            st->need_wver = c.wver > st->need_wver ? c.wver : st->need_wver;
        }
    }
}

static void read_weights(struct state *st) {
    int flag;
    MPI_Status ms;
    while (MPI_Iprobe(0, PROTO_TAG_WEIGHTS, g_weights, &flag, &ms), flag) {
        int n;
        MPI_Get_count(&ms, MPI_BYTE, &n);
        MPI_Recv(st->wbuf, (int)st->wcap, MPI_BYTE, 0, PROTO_TAG_WEIGHTS, g_weights,
                 MPI_STATUS_IGNORE);
        static float params[1 << 20];
        uint32_t v;
        struct proto_dims d = {.n_params = st->s.n_params};
        char err[256];
        if (st->s.n_params <= (1u << 20) && proto_decode_weights(&v, params, st->wbuf, (size_t)n,
                                                                 &d, err, sizeof err) == PROTO_OK) {
            st->wver = v;
            st->have_weights = 1;
        }
    }
}

/* 1-byte messages on every communicator, and an unknown tag on the messages one */
static void flood(void) {
    MPI_Comm all[] = {MPI_COMM_WORLD, g_weights, g_prog, g_msg};
    int tags[] = {5, PROTO_TAG_WEIGHTS, 1, 999};
    static unsigned char one = 0x42; /* sent by MPI_Isend after this returns: not on the stack */
    double t0 = now();
    long k = 0;
    while (now() - t0 < g_seconds) {
        for (int c = 0; c < 4; c++) {
            MPI_Request r;
            MPI_Isend(&one, 1, MPI_BYTE, 0, tags[c], all[c], &r);
            MPI_Request_free(&r);
        }
        if (++k % 1024 == 0) {
            int flag;
            MPI_Iprobe(0, MPI_ANY_TAG, g_msg, &flag, MPI_STATUS_IGNORE);
        }
    }
    fprintf(stderr, "evil actor %d: sent %ld x 4 one-byte messages in %.0f s\n", g_rank, k,
            g_seconds);
}

/* the rule this mode breaks, once, right after ACCEPT */
static void misbehave(struct state *st) {
    uint32_t E = st->s.num_envs;
    if (mode("oversize")) {
        static unsigned char big[4 << 20];
        send_bytes(g_msg, PROTO_TAG_TRANSITIONS, big, sizeof big);
        send_bytes(g_msg, PROTO_TAG_HELLO, big, 64 << 10);
    } else if (mode("hello_flood")) {
        for (int i = 0; i < 400; i++) {
            hello(st, 1, (uint32_t)st->s.policy.obs_dim, E);
        }
    } else if (mode("claims")) {
        transitions(st, E, UINT64_MAX, 0, 0);
    } else if (mode("extreme")) {
        transitions(st, E, E, 1e15f, 2e38f);
    } else if (mode("refused_hello")) {
        hello(st, 1, (uint32_t)st->s.policy.obs_dim, E); /* after the refusal: still refused */
    } else if (mode("sleep")) {
        fprintf(stderr, "evil actor %d: no MPI call for %.0f s\n", g_rank, g_seconds);
        nap((long)(g_seconds * 1e6));
    } else if (mode("flood")) {
        flood();
    }
}

int main(int argc, char **argv) {
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--mode")) {
            g_mode = argv[i + 1];
        } else if (!strcmp(argv[i], "--seconds")) {
            g_seconds = atof(argv[i + 1]);
        }
    }
    int prov;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &prov);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    /* docs/protocol.md "Communicators": three duplicates, in this order */
    MPI_Comm_dup(MPI_COMM_WORLD, &g_msg);
    MPI_Comm_dup(MPI_COMM_WORLD, &g_weights);
    MPI_Comm_dup(MPI_COMM_WORLD, &g_prog);
    srand((unsigned)g_rank);
    struct state st;
    memset(&st, 0, sizeof st);
    /* SETUP, or END: no online phase */
    unsigned char buf[PROTO_SMALL_BYTES];
    char err[256];
    for (int got = 0; !got;) {
        int flag;
        MPI_Status ms;
        MPI_Iprobe(0, MPI_ANY_TAG, g_msg, &flag, &ms);
        if (!flag) {
            nap(10000);
            continue;
        }
        int n;
        MPI_Get_count(&ms, MPI_BYTE, &n);
        MPI_Recv(buf, (int)sizeof buf, MPI_BYTE, 0, ms.MPI_TAG, g_msg, MPI_STATUS_IGNORE);
        if (ms.MPI_TAG == PROTO_TAG_SETUP &&
            proto_decode_setup(&st.s, buf, (size_t)n, err, sizeof err) == PROTO_OK) {
            got = 1;
        } else if (ms.MPI_TAG == PROTO_TAG_CONTROL) {
            bye(&st); /* END: no online phase; answered with BYE */
            MPI_Finalize();
            return 0;
        }
    }
    st.wcap = proto_weights_bytes(st.s.n_params);
    st.wbuf = malloc(st.wcap);
    uint32_t E = st.s.num_envs, O = (uint32_t)st.s.policy.obs_dim;
    if (mode("refused_hello")) {
        hello(&st, 1, O + 1, E);
    } else if (mode("stale")) {
        hello(&st, 2, O, E);
    } else {
        hello(&st, 1, O, mode("big_envs") ? 65536 : E);
    }
    int bad_done = 0, silent = 0;
    while (!st.ended) {
        read_messages(&st);
        if (!mode("no_weights")) {
            read_weights(&st);
        }
        if ((st.accepted || st.refused) && !bad_done) {
            bad_done = 1;
            misbehave(&st);
            silent = mode("hello_flood");
            continue;
        }
        if (st.refused || silent) {
            nap(1000);
            continue;
        }
        if (st.stopped) {
            if (st.stopped == 1) {
                bye(&st);
                st.stopped = 2;
            }
            nap(1000);
            continue;
        }
        int can = st.accepted && st.credits >= E && (st.have_weights || mode("no_weights")) &&
                  (st.wver >= st.need_wver || mode("no_weights"));
        if (!can) {
            if (mode("over_credit") && st.accepted && st.sent > 0 && bad_done == 1) {
                for (int i = 0; i < 5; i++) {
                    transitions(&st, E, st.steps, 0, 0); /* beyond the credits */
                }
                bad_done = 2;
            }
            nap(200);
            continue;
        }
        st.credits -= E;
        st.steps += E;
        g_at_bound = mode("at_bound") && st.seq < 5;
        transitions(&st, E, st.steps, 0, 0);
        if (mode("replay") && st.seq == 1) {
            for (int i = 0; i < 5; i++) {
                send_bytes(g_msg, PROTO_TAG_TRANSITIONS, st.last.b, st.last.n);
            }
        }
    }
    if (st.stopped != 2) {
        bye(&st); /* every rank sends one BYE: after STOP, or as the answer to END */
    }
    fprintf(stderr, "evil actor %d (%s): END after %llu env steps, %llu sent\n", g_rank, g_mode,
            (unsigned long long)st.steps, (unsigned long long)st.sent);
    free(st.wbuf);
    MPI_Comm_free(&g_prog);
    MPI_Comm_free(&g_weights);
    MPI_Comm_free(&g_msg);
    MPI_Finalize();
    return st.refused ? 1 : 0;
}
