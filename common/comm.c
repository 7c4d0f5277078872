#include "common/comm.h"

#include <mpi.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"

static MPI_Comm g_comm[COMM_NCHAN] = {MPI_COMM_NULL, MPI_COMM_NULL, MPI_COMM_NULL, MPI_COMM_NULL};
static int g_rank, g_size = 1, g_inited;
/* the learner communicator (comm_learn_init): its size and this rank's place, and the scratch
 * of the fixed-order sum */
static MPI_Comm g_learn = MPI_COMM_NULL;
static int g_lsize = 1, g_lrank;
static float *g_lscratch;
static size_t g_lcap;
static double *g_ldscratch;
static int g_ldcap;
static int *g_lcounts;  /* (4 L) the all-to-all's counts and displacements for g_ln floats */
static size_t g_ln;

/* Open MPI here has no asynchronous progress (platform.md §0.6): a large send only moves
 * inside MPI calls. While one is in flight, this thread makes such a call every 100 us (an
 * MPI_Iprobe on the private progress communicator), so the learner's weights move during its
 * updates instead of waiting for the next comm call. With nothing in flight it makes no MPI
 * call at all. */
static pthread_t g_thread;
static atomic_int g_run, g_pending;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER; /* something to progress, or stop */

static void *progress_main(void *comm) {
    MPI_Comm *prog = comm;
    while (atomic_load(&g_run)) {
        if (atomic_load(&g_pending) > 0) {
            int flag;
            MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, *prog, &flag, MPI_STATUS_IGNORE);
            sleep_us(100);
            continue;
        }
        /* nothing in flight: sleep until a send starts (an idle rank costs no CPU) */
        pthread_mutex_lock(&g_mu);
        while (atomic_load(&g_run) && atomic_load(&g_pending) == 0) {
            pthread_cond_wait(&g_cv, &g_mu);
        }
        pthread_mutex_unlock(&g_mu);
    }
    return NULL;
}

static void progress_wake(void) {
    pthread_mutex_lock(&g_mu);
    pthread_cond_signal(&g_cv);
    pthread_mutex_unlock(&g_mu);
}

/* A message larger than the receiver's bound is taken off the queue without being stored. A
 * contiguous truncating receive is not safe for that: with Open MPI's shared-memory single-copy
 * mechanism (CMA, the default) a rendezvous message is copied in full whatever the receive
 * count, over the receive buffer and past it (a 1-byte sink on the stack was overwritten by the
 * peer's bytes). A receive datatype with a gap makes the transport unpack through its
 * convertor, which stops at the receive size: the message is consumed, nothing past the 3-byte
 * sink is written, and the receive returns MPI_ERR_TRUNCATE (not fatal: MPI_ERRORS_RETURN). */
static MPI_Datatype g_gap = MPI_DATATYPE_NULL; /* bytes 0 and 2 of 3 */

static void discard_message(MPI_Message *m) {
    unsigned char sink[3];
    MPI_Status st;
    MPI_Mrecv(sink, 1, g_gap, m, &st);
}

int comm_launched(void) {
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"};
    for (size_t i = 0; i < FLOQ_ARRAY_LEN(vars); i++) {
        if (getenv(vars[i])) {
            return 1;
        }
    }
    return 0;
}

int comm_init(int *argc, char ***argv) {
    if (g_inited) {
        return 0;
    }
    int prov = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &prov) != MPI_SUCCESS) {
        return -1;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    /* the order is part of the protocol: messages, weights, progress */
    MPI_Comm_dup(MPI_COMM_WORLD, &g_comm[COMM_MSG]);
    MPI_Comm_dup(MPI_COMM_WORLD, &g_comm[COMM_WEIGHTS]);
    MPI_Comm_dup(MPI_COMM_WORLD, &g_comm[COMM_PROGRESS]);
    g_comm[COMM_WORLD] = MPI_COMM_WORLD;
    for (int c = 0; c < COMM_NCHAN; c++) {
        MPI_Comm_set_errhandler(g_comm[c], MPI_ERRORS_RETURN);
    }
    MPI_Type_vector(2, 1, 2, MPI_BYTE, &g_gap);
    MPI_Type_commit(&g_gap);
    g_inited = 1;
    log_set_rank(g_rank);
    if (prov == MPI_THREAD_MULTIPLE && g_size > 1 && !getenv("FLOQ_NO_PROGRESS_THREAD")) {
        atomic_store(&g_run, 1);
        if (pthread_create(&g_thread, NULL, progress_main, &g_comm[COMM_PROGRESS]) != 0) {
            atomic_store(&g_run, 0);
        }
    }
    return 0;
}

int comm_initialized(void) {
    return g_inited;
}

/* the finalize watchdog: MPI_Abort when MPI_Finalize has not returned by the deadline */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, code;
    double deadline_s;
    const char *why;
} g_wd = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, NULL};

static void *watchdog_main(void *arg) {
    (void)arg;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)g_wd.deadline_s;
    pthread_mutex_lock(&g_wd.mu);
    int rc = 0;
    while (!g_wd.done && rc == 0) {
        rc = pthread_cond_timedwait(&g_wd.cv, &g_wd.mu, &until);
    }
    int fire = !g_wd.done;
    pthread_mutex_unlock(&g_wd.mu);
    if (fire) {
        log_error("%s; MPI_Finalize has waited %.0f s for them, so rank %d ends the job "
                  "(MPI_Abort, exit %d)",
                  g_wd.why ? g_wd.why : "some rank does not finish", g_wd.deadline_s, g_rank,
                  g_wd.code);
        MPI_Abort(MPI_COMM_WORLD, g_wd.code);
    }
    return NULL;
}

void comm_finalize(double deadline_s, int code, const char *why) {
    if (!g_inited) {
        return;
    }
    if (atomic_load(&g_run)) {
        atomic_store(&g_run, 0);
        progress_wake();
        pthread_join(g_thread, NULL);
    }
    pthread_t wd;
    int have_wd = 0;
    if (deadline_s > 0) {
        g_wd.deadline_s = deadline_s, g_wd.code = code, g_wd.why = why, g_wd.done = 0;
        have_wd = pthread_create(&wd, NULL, watchdog_main, NULL) == 0;
    }
    MPI_Type_free(&g_gap);
    if (g_learn != MPI_COMM_NULL) {
        MPI_Comm_free(&g_learn);
    }
    MEM_FREE_ALL(g_lscratch, g_ldscratch, g_lcounts);
    g_lscratch = NULL, g_ldscratch = NULL, g_lcounts = NULL, g_lcap = 0, g_ldcap = 0, g_ln = 0;
    MPI_Comm_free(&g_comm[COMM_PROGRESS]);
    MPI_Comm_free(&g_comm[COMM_MSG]);
    MPI_Comm_free(&g_comm[COMM_WEIGHTS]);
    MPI_Finalize();
    if (have_wd) {
        pthread_mutex_lock(&g_wd.mu);
        g_wd.done = 1;
        pthread_cond_signal(&g_wd.cv);
        pthread_mutex_unlock(&g_wd.mu);
        pthread_join(wd, NULL);
    }
    g_inited = 0;
}

int comm_rank(void) {
    return g_rank;
}

int comm_size(void) {
    return g_size;
}

_Noreturn void comm_abort(int code) {
    if (g_inited) {
        MPI_Abort(MPI_COMM_WORLD, code);
    }
    exit(code);
}

/* one MPI request slot per comm_req, allocated on first use; a started request counts as
 * pending for the progress thread until a test sees it complete */
static MPI_Request *req_start(struct comm_req *r) {
    FLOQ_ASSERT(!r->active);
    if (!r->mpi) {
        r->mpi = mem_alloc(sizeof(MPI_Request));
    }
    return (MPI_Request *)r->mpi;
}

static int req_started(struct comm_req *r, int rc) {
    r->active = rc == MPI_SUCCESS;
    if (r->active && atomic_fetch_add(&g_pending, 1) == 0 && atomic_load(&g_run)) {
        progress_wake();
    }
    return rc == MPI_SUCCESS ? 0 : -1;
}

int comm_test(struct comm_req *r) {
    if (!r->active) {
        return 1;
    }
    int done = 0;
    MPI_Test((MPI_Request *)r->mpi, &done, MPI_STATUS_IGNORE);
    if (done) {
        r->active = 0;
        atomic_fetch_sub(&g_pending, 1);
    }
    return done;
}

int comm_wait_for(struct comm_req *r, double seconds) {
    double t0 = now_sec();
    for (int spin = 0; !comm_test(r); spin++) {
        if (seconds >= 0 && now_sec() - t0 > seconds) {
            return 0;
        }
        if (spin > 200) {
            sleep_us(spin > 2000 ? 1000 : 50);
        }
    }
    return 1;
}

void comm_wait(struct comm_req *r) {
    comm_wait_for(r, -1);
}

void comm_req_free(struct comm_req *r) {
    if (r->active) {
        /* still in flight: MPI keeps the request; forget it here */
        MPI_Request_free((MPI_Request *)r->mpi);
        atomic_fetch_sub(&g_pending, 1);
    }
    mem_free(r->mpi);
    r->mpi = NULL;
    r->active = 0;
}

int comm_isend(struct comm_req *r, enum comm_chan chan, int dest, int tag, const void *buf,
               size_t n) {
    FLOQ_ASSERT(n <= (size_t)INT32_MAX && chan < COMM_NCHAN);
    MPI_Request *q = req_start(r);
    return req_started(r, MPI_Isend(buf, (int)n, MPI_BYTE, dest, tag, g_comm[chan], q));
}

int comm_ibcast(struct comm_req *r, void *buf, size_t n) {
    FLOQ_ASSERT(n <= (size_t)INT32_MAX);
    MPI_Request *q = req_start(r);
    return req_started(r, MPI_Ibcast(buf, (int)n, MPI_BYTE, 0, g_comm[COMM_WEIGHTS], q));
}

int comm_poll(enum comm_chan chan, int src, int tag, int *from, int *tag_out, size_t *n) {
    int flag = 0;
    MPI_Status st;
    MPI_Iprobe(src < 0 ? MPI_ANY_SOURCE : src, tag < 0 ? MPI_ANY_TAG : tag, g_comm[chan], &flag,
               &st);
    if (!flag) {
        return 0;
    }
    int cnt = 0;
    MPI_Get_count(&st, MPI_BYTE, &cnt);
    *from = st.MPI_SOURCE;
    *tag_out = st.MPI_TAG;
    *n = (size_t)cnt;
    return 1;
}

int comm_recv(enum comm_chan chan, void *buf, size_t cap, int from, int tag, size_t *n) {
    MPI_Message m;
    MPI_Status st;
    int flag = 0, cnt = 0;
    *n = 0;
    if (MPI_Improbe(from, tag, g_comm[chan], &flag, &m, &st) != MPI_SUCCESS || !flag) {
        return -1;
    }
    MPI_Get_count(&st, MPI_BYTE, &cnt);
    *n = (size_t)cnt;
    if ((size_t)cnt > cap) {
        discard_message(&m);
        return -1;
    }
    int rc = MPI_Mrecv(buf, cnt, MPI_BYTE, &m, &st);
    return rc == MPI_SUCCESS ? 0 : -1;
}

int comm_discard(enum comm_chan chan, int *from) {
    MPI_Message m;
    MPI_Status st;
    int flag = 0;
    if (MPI_Improbe(MPI_ANY_SOURCE, MPI_ANY_TAG, g_comm[chan], &flag, &m, &st) != MPI_SUCCESS ||
        !flag) {
        return 0;
    }
    *from = st.MPI_SOURCE;
    discard_message(&m);
    return 1;
}

double comm_wtime(void) {
    return MPI_Wtime();
}

int comm_allreduce_sum(float *buf, size_t n) {
    FLOQ_ASSERT(n <= (size_t)INT32_MAX);
    int rc = MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? 0 : -1;
}

/* ---- the learner ranks ------------------------------------------------------------------- */

int comm_learn_init(int L) {
    FLOQ_ASSERT(g_inited && L >= 1 && L <= g_size && g_rank < L);
    if (L == 1) {
        return 0;
    }
    MPI_Group world, grp;
    int range[1][3] = {{0, L - 1, 1}};
    MPI_Comm_group(MPI_COMM_WORLD, &world);
    MPI_Group_range_incl(world, 1, range, &grp);
    /* collective over the group only: the actor ranks never take part */
    int rc = MPI_Comm_create_group(MPI_COMM_WORLD, grp, 0x6c6e /* "ln" */, &g_learn);
    MPI_Group_free(&grp);
    MPI_Group_free(&world);
    if (rc != MPI_SUCCESS || g_learn == MPI_COMM_NULL) {
        return -1;
    }
    MPI_Comm_set_errhandler(g_learn, MPI_ERRORS_RETURN);
    MPI_Comm_rank(g_learn, &g_lrank);
    MPI_Comm_size(g_learn, &g_lsize);
    return 0;
}

int comm_learn_size(void) {
    return g_lsize;
}

int comm_learn_rank(void) {
    return g_lrank;
}

int comm_first_actor(void) {
    return g_lsize;
}

/* chunks of at most 1 GiB: MPI counts are int */
#define LEARN_CHUNK ((size_t)1 << 30)

int comm_learn_bcast(void *buf, size_t n) {
    for (size_t o = 0; o < n; o += LEARN_CHUNK) {
        int len = (int)FLOQ_MIN(LEARN_CHUNK, n - o);
        if (MPI_Bcast((char *)buf + o, len, MPI_BYTE, 0, g_learn) != MPI_SUCCESS) {
            return -1;
        }
    }
    return 0;
}

/* slice l of n floats over L ranks: 16-float aligned boundaries, the last takes the rest */
static void learn_slice(size_t n, int l, int L, size_t *lo, size_t *hi) {
    size_t per = (n / (size_t)L + 15) & ~(size_t)15;
    *lo = FLOQ_MIN(per * (size_t)l, n);
    *hi = l == L - 1 ? n : FLOQ_MIN(per * (size_t)(l + 1), n);
}

int comm_learn_sum(float *buf, size_t n) {
    int L = g_lsize;
    if (L == 1) {
        return 0;
    }
    FLOQ_ASSERT(n <= (size_t)INT32_MAX);
    size_t mylo, myhi;
    learn_slice(n, g_lrank, L, &mylo, &myhi);
    size_t mine = myhi - mylo;
    if (g_lcap < mine * (size_t)L) {
        mem_free(g_lscratch);
        g_lcap = mine * (size_t)L;
        g_lscratch = mem_alloc(sizeof(float) * FLOQ_MAX(g_lcap, (size_t)1));
    }
    /* the counts depend on n alone: made once, not each update */
    if (!g_lcounts) {
        g_lcounts = mem_alloc(sizeof(int) * 4 * (size_t)L);
    }
    int *sc = g_lcounts, *sd = sc + L, *rc = sd + L, *rd = rc + L;
    if (g_ln != n) {
        for (int l = 0; l < L; l++) {
            size_t lo, hi;
            learn_slice(n, l, L, &lo, &hi);
            sc[l] = (int)(hi - lo), sd[l] = (int)lo;   /* my part of slice l goes to rank l */
            rc[l] = (int)mine, rd[l] = (int)(mine * l); /* rank l's part of my slice, row l */
        }
        g_ln = n;
    }
    int ok = MPI_Alltoallv(buf, sc, sd, MPI_FLOAT, g_lscratch, rc, rd, MPI_FLOAT, g_learn) ==
             MPI_SUCCESS;
    if (ok) {
        /* rank order: row 0, then + row 1, + row 2, ... (the same bits on every rank) */
        float *out = buf + mylo;
        memcpy(out, g_lscratch, sizeof(float) * mine);
        for (int l = 1; l < L; l++) {
            const float *row = g_lscratch + mine * (size_t)l;
            for (size_t i = 0; i < mine; i++) {
                out[i] += row[i];
            }
        }
        ok = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, sc, sd, MPI_FLOAT,
                            g_learn) == MPI_SUCCESS;
    }
    return ok ? 0 : -1;
}

int comm_learn_sum_doubles(double *v, int n) {
    int L = g_lsize;
    if (L == 1) {
        return 0;
    }
    if (g_ldcap < n * L) {
        mem_free(g_ldscratch);
        g_ldcap = n * L;
        g_ldscratch = mem_alloc(sizeof(double) * (size_t)g_ldcap);
    }
    if (MPI_Allgather(v, n, MPI_DOUBLE, g_ldscratch, n, MPI_DOUBLE, g_learn) != MPI_SUCCESS) {
        return -1;
    }
    for (int i = 0; i < n; i++) {
        double s = g_ldscratch[i];
        for (int l = 1; l < L; l++) {
            s += g_ldscratch[(size_t)l * n + i];
        }
        v[i] = s;
    }
    return 0;
}

int comm_learn_allgather_u64(uint64_t v, uint64_t *all) {
    if (g_lsize == 1) {
        all[0] = v;
        return 0;
    }
    return MPI_Allgather(&v, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, g_learn) == MPI_SUCCESS ? 0
                                                                                          : -1;
}
