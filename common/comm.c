#include "common/comm.h"

#include <mpi.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"

static MPI_Comm g_p2p = MPI_COMM_NULL, g_bc = MPI_COMM_NULL, g_prog = MPI_COMM_NULL;
static int g_rank, g_size = 1, g_inited;

/* Open MPI here has no asynchronous progress (platform.md §0.6): a broadcast or a large send
 * only moves inside MPI calls. While one is in flight, this thread makes such a call every
 * 100 us (an MPI_Iprobe on a private communicator), so the learner's weight broadcast moves
 * during its updates instead of waiting for the next comm call. */
static pthread_t g_thread;
static atomic_int g_run, g_pending;

static void *progress_main(void *comm) {
    MPI_Comm *prog = comm;
    while (atomic_load(&g_run)) {
        if (atomic_load(&g_pending) > 0) {
            int flag;
            MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, *prog, &flag, MPI_STATUS_IGNORE);
            sleep_us(100);
        } else {
            sleep_us(1000);
        }
    }
    return NULL;
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
    MPI_Comm_dup(MPI_COMM_WORLD, &g_p2p);
    MPI_Comm_dup(MPI_COMM_WORLD, &g_bc);
    MPI_Comm_set_errhandler(g_p2p, MPI_ERRORS_RETURN);
    MPI_Comm_set_errhandler(g_bc, MPI_ERRORS_RETURN);
    MPI_Comm_dup(MPI_COMM_WORLD, &g_prog);
    MPI_Type_vector(2, 1, 2, MPI_BYTE, &g_gap);
    MPI_Type_commit(&g_gap);
    g_inited = 1;
    log_set_rank(g_rank);
    if (prov == MPI_THREAD_MULTIPLE && g_size > 1 && !getenv("FLOQ_NO_PROGRESS_THREAD")) {
        atomic_store(&g_run, 1);
        if (pthread_create(&g_thread, NULL, progress_main, &g_prog) != 0) {
            atomic_store(&g_run, 0);
        }
    }
    return 0;
}

int comm_initialized(void) {
    return g_inited;
}

void comm_finalize(void) {
    if (!g_inited) {
        return;
    }
    if (atomic_load(&g_run)) {
        atomic_store(&g_run, 0);
        pthread_join(g_thread, NULL);
    }
    MPI_Type_free(&g_gap);
    MPI_Comm_free(&g_prog);
    MPI_Comm_free(&g_p2p);
    MPI_Comm_free(&g_bc);
    MPI_Finalize();
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
    if (r->active) {
        atomic_fetch_add(&g_pending, 1);
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

void comm_wait(struct comm_req *r) {
    for (int spin = 0; !comm_test(r); spin++) {
        if (spin > 200) {
            sleep_us(50);
        }
    }
}

void comm_req_free(struct comm_req *r) {
    mem_free(r->mpi);
    r->mpi = NULL;
    r->active = 0;
}

int comm_isend(struct comm_req *r, int dest, int tag, const void *buf, size_t n) {
    FLOQ_ASSERT(n <= (size_t)INT32_MAX);
    MPI_Request *q = req_start(r);
    return req_started(r, MPI_Isend(buf, (int)n, MPI_BYTE, dest, tag, g_p2p, q));
}

int comm_ibcast(struct comm_req *r, void *buf, size_t n) {
    FLOQ_ASSERT(n <= (size_t)INT32_MAX);
    MPI_Request *q = req_start(r);
    return req_started(r, MPI_Ibcast(buf, (int)n, MPI_BYTE, 0, g_bc, q));
}

int comm_poll(int src, int tag, int *from, int *tag_out, size_t *n) {
    int flag = 0;
    MPI_Status st;
    MPI_Iprobe(src < 0 ? MPI_ANY_SOURCE : src, tag < 0 ? MPI_ANY_TAG : tag, g_p2p, &flag, &st);
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

int comm_recv(void *buf, size_t cap, int from, int tag, size_t *n) {
    MPI_Message m;
    MPI_Status st;
    int flag = 0, cnt = 0;
    *n = 0;
    if (MPI_Improbe(from, tag, g_p2p, &flag, &m, &st) != MPI_SUCCESS || !flag) {
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

double comm_wtime(void) {
    return MPI_Wtime();
}
