#include "learner/dataset.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/npz.h"
#include "common/util.h"

/* the columns a file may carry; every one is read as float32 */
enum key {
    K_OBS,
    K_ACT,
    K_REW,
    K_TERM,
    K_MASK,
    K_NEXT,
    K_QPOS,
    K_TIMEOUT,
    K_COUNT,
};

static const char *const key_name[K_COUNT] = {
    "observations", "actions",           "rewards", "terminals",
    "masks",        "next_observations", "qpos",    "timeouts",
};

/* 2-D keys are (N, width); the others are (N) or (N, 1) */
static const int key_2d[K_COUNT] = {1, 1, 0, 0, 0, 1, 1, 0};

struct col {
    int present;
    float *x; /* (rows, cols) */
    size_t rows, cols;
    int ndim;
    int64_t shape[NPY_MAX_DIMS];
};

struct raw {
    struct col c[K_COUNT];
};

enum mode { MODE_SHIFT, MODE_GIVEN, MODE_D4RL };

void dataset_opts_default(struct dataset_opts *o) {
    memset(o, 0, sizeof *o);
    o->clip_actions = 1;
    o->keep_qpos = 1;
}

void dataset_free(struct dataset *d) {
    if (!d) {
        return;
    }
    MEM_FREE_ALL(d->obs, d->act, d->rew, d->mask, d->next_obs, d->term, d->qpos);
    memset(d, 0, sizeof *d);
}

static void raw_free(struct raw *r) {
    for (int k = 0; k < K_COUNT; k++) {
        mem_free(r->c[k].x);
    }
    memset(r, 0, sizeof *r);
}

static void shape_str(const struct col *c, char *out, size_t n) {
    size_t k = (size_t)snprintf(out, n, "(");
    for (int d = 0; d < c->ndim && k < n; d++) {
        k += (size_t)snprintf(out + k, n - k, d ? ", %lld" : "%lld", (long long)c->shape[d]);
    }
    if (k < n) {
        snprintf(out + k, n - k, c->ndim == 1 ? ",)" : ")");
    }
}

/* ---- .npz --------------------------------------------------------------------------------- */

/* moves member a into c as float32 (steals a float32 buffer instead of copying) */
static void col_from_npy(struct col *c, struct npy_array *a) {
    c->present = 1;
    c->ndim = a->ndim;
    memcpy(c->shape, a->shape, sizeof c->shape);
    c->rows = a->ndim > 0 ? (size_t)a->shape[0] : 1;
    c->cols = c->rows ? a->count / c->rows : 0;
    if (c->rows == 0 && a->ndim > 1) {
        c->cols = 1;
        for (int d = 1; d < a->ndim; d++) {
            c->cols *= (size_t)a->shape[d];
        }
    }
    if (a->dtype == NPY_F4) {
        c->x = a->data;
        a->data = NULL;
    } else {
        c->x = mem_alloc(a->count * sizeof(float));
        npy_to_f32(a, c->x);
    }
}

static int raw_from_npz(struct raw *r, const char *path, const struct dataset_opts *o, char *err,
                        size_t errsz) {
    const char *want[K_COUNT];
    int n = 0;
    for (int k = 0; k < K_COUNT; k++) {
        if (k == K_TIMEOUT || (k == K_QPOS && !o->keep_qpos && !o->relabel)) {
            continue;
        }
        want[n++] = key_name[k];
    }
    struct npz z;
    char zerr[512];
    if (npz_load_select(&z, path, want, n, zerr, sizeof zerr)) {
        seterr(err, errsz, "dataset: %s", zerr);
        return -1;
    }
    for (int i = 0; i < z.n; i++) {
        for (int k = 0; k < K_COUNT; k++) {
            if (strcmp(z.arrays[i].name, key_name[k]) == 0) {
                col_from_npy(&r->c[k], &z.arrays[i]);
            }
        }
    }
    npz_free(&z);
    return 0;
}

/* ---- HDF5 (D4RL) -------------------------------------------------------------------------- */

/* enum (h5py bool) values read raw through the enum's native type, then widened */
static int h5_read_enum(hid_t ds, hid_t ft, float *out, size_t count) {
    hid_t mt = H5Tget_native_type(ft, H5T_DIR_ASCEND);
    hid_t sup = mt >= 0 ? H5Tget_super(mt) : -1;
    int rc = -1;
    if (sup >= 0) {
        size_t sz = H5Tget_size(sup);
        int sgn = H5Tget_sign(sup) == H5T_SGN_2;
        /* count <= H5_MAX_BYTES / 4 (h5_col), so count * sz cannot wrap */
        unsigned char *buf = sz <= 8 ? mem_try_alloc(count * sz) : NULL;
        if (buf && (sz == 1 || sz == 2 || sz == 4 || sz == 8) &&
            H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0) {
            for (size_t i = 0; i < count; i++) {
                int64_t v = 0;
                const unsigned char *p = buf + i * sz;
                if (sz == 1) {
                    v = sgn ? *(const int8_t *)p : *p;
                } else if (sz == 2) {
                    int16_t s;
                    uint16_t u;
                    memcpy(&s, p, 2), memcpy(&u, p, 2);
                    v = sgn ? s : u;
                } else if (sz == 4) {
                    int32_t s;
                    uint32_t u;
                    memcpy(&s, p, 4), memcpy(&u, p, 4);
                    v = sgn ? s : (int64_t)u;
                } else {
                    memcpy(&v, p, 8);
                }
                out[i] = (float)v;
            }
            rc = 0;
        }
        mem_free(buf);
        H5Tclose(sup);
    }
    if (mt >= 0) {
        H5Tclose(mt);
    }
    return rc;
}

/* a declared HDF5 column is refused above H5_MAX_BYTES as float32, or when it declares more
 * than H5_MAX_RATIO times the values its stored bytes can hold (deflate tops out near 1032:1;
 * a 1.4 KB file must not make the loader allocate gigabytes) */
#define H5_MAX_BYTES ((uint64_t)1 << 40)
#define H5_MAX_RATIO 4096u

static const char *h5_shape(const hsize_t *dims, int nd, char *buf, size_t n) {
    if (nd == 2) {
        snprintf(buf, n, "(%llu, %llu)", (unsigned long long)dims[0], (unsigned long long)dims[1]);
    } else {
        snprintf(buf, n, "(%llu,)", (unsigned long long)dims[0]);
    }
    return buf;
}

static int h5_col(hid_t f, const char *path, int k, struct col *c, char *err, size_t errsz) {
    const char *key = key_name[k];
    char why[64];
    if (H5Lexists(f, key, H5P_DEFAULT) <= 0) {
        return 0;
    }
    hid_t ds = H5Dopen2(f, key, H5P_DEFAULT);
    if (ds < 0) {
        seterr(err, errsz, "dataset: %s: '%s' is not a readable HDF5 dataset", path, key);
        return -1;
    }
    int rc = -1;
    hid_t sp = H5Dget_space(ds), ft = H5Dget_type(ds);
    hsize_t dims[H5S_MAX_RANK];
    int nd = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    H5T_class_t cl = ft >= 0 ? H5Tget_class(ft) : H5T_NO_CLASS;
    if (nd < 1 || nd > 2) {
        seterr(err, errsz, "dataset: %s: '%s' has %d dimensions; expected 1 or 2", path, key, nd);
        goto out;
    }
    H5Sget_simple_extent_dims(sp, dims, NULL);
    if (cl != H5T_FLOAT && cl != H5T_INTEGER && cl != H5T_ENUM) {
        seterr(err, errsz,
               "dataset: %s: '%s' is not numeric (HDF5 type class %d); store it as "
               "float32",
               path, key, (int)cl);
        goto out;
    }
    c->ndim = nd;
    c->rows = (size_t)dims[0];
    c->cols = nd == 2 ? (size_t)dims[1] : 1;
    c->shape[0] = (int64_t)dims[0];
    c->shape[1] = nd == 2 ? (int64_t)dims[1] : 0;
    /* the declared shape is the file's claim: bound it before allocating. Whole-number
     * arithmetic in uint64 (hsize_t), each step checked */
    uint64_t count = 0, esz = ft >= 0 ? (uint64_t)H5Tget_size(ft) : 0;
    if (dims[0] > H5_MAX_BYTES / 4 || (nd == 2 && dims[1] > H5_MAX_BYTES / 4) ||
        (nd == 2 && dims[1] != 0 && dims[0] > H5_MAX_BYTES / 4 / dims[1])) {
        seterr(err, errsz,
               "dataset: %s: '%s' declares shape %s, over %llu GiB as float32; the file is "
               "damaged",
               path, key, h5_shape(dims, nd, why, sizeof why),
               (unsigned long long)(H5_MAX_BYTES >> 30));
        goto out;
    }
    count = dims[0] * (nd == 2 ? dims[1] : 1);
    /* the bytes stored for it (compressed or not) must be able to hold that many values, and
     * the file must hold those bytes: a chunk's stored size is the read buffer libhdf5
     * allocates (a 6.7 KB file claimed a 1.8 GB chunk) */
    uint64_t stored = (uint64_t)H5Dget_storage_size(ds);
    hsize_t fsize = 0;
    if (H5Fget_filesize(f, &fsize) < 0 || stored > (uint64_t)fsize) {
        seterr(err, errsz,
               "dataset: %s: '%s' claims %llu stored bytes in a file of %llu bytes; the file "
               "is damaged",
               path, key, (unsigned long long)stored, (unsigned long long)fsize);
        goto out;
    }
    if (esz == 0 || count / H5_MAX_RATIO > (stored + 1024) / esz) {
        seterr(err, errsz,
               "dataset: %s: '%s' declares shape %s (%llu values of %llu bytes) but the file "
               "stores %llu bytes for it; the file is damaged or truncated",
               path, key, h5_shape(dims, nd, why, sizeof why), (unsigned long long)count,
               (unsigned long long)esz, (unsigned long long)stored);
        goto out;
    }
    c->x = mem_try_alloc((size_t)count * sizeof(float));
    if (!c->x) {
        seterr(err, errsz,
               "dataset: %s: '%s' of shape %s needs %llu MiB as float32, more than this "
               "machine can allocate",
               path, key, h5_shape(dims, nd, why, sizeof why),
               (unsigned long long)(count * sizeof(float) >> 20));
        goto out;
    }
    int bad = cl == H5T_ENUM
                  ? h5_read_enum(ds, ft, c->x, count)
                  : (H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, c->x) < 0);
    if (bad) {
        seterr(err, errsz,
               "dataset: %s: reading '%s' failed (truncated or corrupt file, or a "
               "compression filter this HDF5 lacks)",
               path, key);
        goto out;
    }
    c->present = 1;
    rc = 0;
out:
    if (ft >= 0) {
        H5Tclose(ft);
    }
    if (sp >= 0) {
        H5Sclose(sp);
    }
    H5Dclose(ds);
    return rc;
}

/* ---- HDF5 in a child process ------------------------------------------------------------- */

/* libhdf5 parses a file's object headers before any check above can run, and Debian's 1.10.8
 * is not hardened against crafted files: one reads past a heap block in H5T_copy (H5Dopen2),
 * another has H5D__read calloc 2 GB; either ended floq train with SIGSEGV. So a forked child
 * (no exec) runs h5_col on every key and streams the columns to the parent over a pipe, and
 * whatever libhdf5 does to the child is one line of error in the parent.
 *
 * The stream, in native byte order (both ends are this binary): for each key read, a header
 * {H5_REC_COL, key, present, ndim, rows, cols} and rows * cols float32; then {H5_REC_DONE}
 * and exit status H5_EXIT_OK. On an error, {H5_REC_ERR, rows = length} and the one-line
 * message, then H5_EXIT_ERR. The parent bounds every length before it allocates. */
enum { H5_REC_COL = 0x434f4c31, H5_REC_DONE = 0x444f4e45, H5_REC_ERR = 0x45525231 };
enum { H5_EXIT_OK = 0, H5_EXIT_ERR = 41, H5_EXIT_PIPE = 42 };
#define H5_MSG_MAX 4096
#define H5_IO_MAX  ((size_t)1 << 30) /* bytes per read/write call */

struct h5_hdr {
    uint32_t tag;
    int32_t key, present, ndim;
    uint64_t rows, cols; /* H5_REC_ERR: rows is the message length */
};

/* the D4RL keys read, in stream order (qlearning_dataset reads s' from the next row:
 * next_observations is not needed) */
static const int h5_keys[] = {K_OBS, K_ACT, K_REW, K_TERM, K_TIMEOUT};

/* 0 when all n bytes are written; -1 on an error (EPIPE: the parent stopped reading) */
static int write_all(int fd, const void *p, size_t n) {
    const char *b = p;
    while (n > 0) {
        ssize_t w = write(fd, b, n < H5_IO_MAX ? n : H5_IO_MAX);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        b += w, n -= (size_t)w;
    }
    return 0;
}

/* the bytes read before the end of the stream, up to n */
static size_t read_all(int fd, void *p, size_t n) {
    char *b = p;
    size_t got = 0;
    while (got < n) {
        size_t want = n - got < H5_IO_MAX ? n - got : H5_IO_MAX;
        ssize_t r = read(fd, b + got, want);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        got += (size_t)r;
    }
    return got;
}

/* the child: opens path, streams each key through h5_col and frees its column before the
 * next (peak: one column), then _exit: no atexit handlers, MPI or LeakSanitizer here */
static _Noreturn void h5_child(int fd, const char *path) {
    /* a parent that stopped reading makes write fail with EPIPE rather than kill the child;
     * stop signals (a Ctrl-C reaches the whole process group) are the parent's to handle */
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGUSR1, SIG_IGN);
    /* a fault ends the child quietly: the parent's line says so (Open MPI's handler, which the
     * child inherits on rank 0, printed a 20-line backtrace of libhdf5 first) */
    static const int fatal[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++) {
        signal(fatal[i], SIG_DFL);
    }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* libhdf5 prints error stacks to stderr */
    char err[H5_MSG_MAX];
    struct h5_hdr h = {.tag = H5_REC_ERR};
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        seterr(err, sizeof err,
               "dataset: %s is not a readable HDF5 file (truncated, corrupt or "
               "missing?)",
               path);
        goto fail;
    }
    for (size_t i = 0; i < sizeof h5_keys / sizeof h5_keys[0]; i++) {
        struct col c;
        memset(&c, 0, sizeof c);
        if (h5_col(f, path, h5_keys[i], &c, err, sizeof err)) {
            mem_free(c.x);
            goto fail;
        }
        h = (struct h5_hdr){H5_REC_COL, h5_keys[i], c.present, c.ndim, c.rows, c.cols};
        int bad = write_all(fd, &h, sizeof h) ||
                  (c.present && write_all(fd, c.x, c.rows * c.cols * sizeof(float)));
        mem_free(c.x);
        if (bad) {
            _exit(H5_EXIT_PIPE);
        }
    }
    /* read only: nothing to flush, and H5Fclose would be more libhdf5 to survive */
    h = (struct h5_hdr){.tag = H5_REC_DONE};
    _exit(write_all(fd, &h, sizeof h) ? H5_EXIT_PIPE : H5_EXIT_OK);
fail:
    h = (struct h5_hdr){.tag = H5_REC_ERR, .rows = strlen(err)};
    _exit(write_all(fd, &h, sizeof h) || write_all(fd, err, h.rows) ? H5_EXIT_PIPE : H5_EXIT_ERR);
}

/* the parent's side of the stream into r: H5_REC_DONE 0, H5_REC_ERR 1 (the child's message
 * in err), -1 with err set (the parent's own error: a bad header or no memory), -2 when the
 * stream ends early */
static int h5_stream_read(struct raw *r, int fd, const char *path, char *err, size_t errsz) {
    struct h5_hdr h;
    char why[64];
    for (size_t i = 0;; i++) {
        if (read_all(fd, &h, sizeof h) != sizeof h) {
            return -2;
        }
        if (h.tag == H5_REC_DONE && i == sizeof h5_keys / sizeof h5_keys[0]) {
            return 0;
        }
        if (h.tag == H5_REC_ERR) {
            char msg[H5_MSG_MAX];
            if (h.rows >= sizeof msg || read_all(fd, msg, h.rows) != h.rows) {
                return -2;
            }
            msg[h.rows] = 0;
            for (size_t k = 0; k < h.rows; k++) {
                msg[k] = msg[k] < 32 || msg[k] == 127 ? '?' : msg[k]; /* one line */
            }
            seterr(err, errsz, "%s", msg);
            return 1;
        }
        /* a column header: the one expected next, its shape within H5_MAX_BYTES as float32 */
        int k = i < sizeof h5_keys / sizeof h5_keys[0] ? h5_keys[i] : -1;
        uint64_t lim = H5_MAX_BYTES / sizeof(float);
        if (h.tag != H5_REC_COL || h.key != k || (h.present != 0 && h.present != 1) ||
            (h.present &&
             (h.ndim < 1 || h.ndim > 2 || (h.ndim == 1 && h.cols != 1) || h.rows > lim ||
              h.cols > lim || (h.cols != 0 && h.rows > lim / h.cols)))) {
            seterr(err, errsz,
                   "dataset: %s: the HDF5 reader process sent a bad header after %zu columns; "
                   "the file is damaged or crafted: re-download it, or convert it to .npz "
                   "(floq reads .npz with its own reader)",
                   path, i);
            return -1;
        }
        if (!h.present) {
            continue;
        }
        struct col *c = &r->c[k];
        c->ndim = h.ndim;
        c->rows = (size_t)h.rows;
        c->cols = (size_t)h.cols;
        c->shape[0] = (int64_t)h.rows;
        c->shape[1] = h.ndim == 2 ? (int64_t)h.cols : 0;
        size_t bytes = (size_t)(h.rows * h.cols) * sizeof(float);
        c->x = mem_try_alloc(bytes);
        if (!c->x) {
            hsize_t dims[2] = {h.rows, h.cols};
            seterr(err, errsz,
                   "dataset: %s: '%s' of shape %s needs %llu MiB as float32, more than this "
                   "machine can allocate",
                   path, key_name[k], h5_shape(dims, h.ndim, why, sizeof why),
                   (unsigned long long)(bytes >> 20));
            return -1;
        }
        if (read_all(fd, c->x, bytes) != bytes) {
            return -2;
        }
        c->present = 1;
    }
}

static int raw_from_h5(struct raw *r, const char *path, char *err, size_t errsz) {
    int fd[2];
    if (pipe(fd) != 0) {
        seterr(err, errsz, "dataset: %s: cannot start the HDF5 reader process (pipe: %s)", path,
               strerror(errno));
        return -1;
    }
    /* another thread's fork + exec must not keep the write end open (no end of stream) */
    fcntl(fd[0], F_SETFD, FD_CLOEXEC);
    fcntl(fd[1], F_SETFD, FD_CLOEXEC);
    /* fork in a multithreaded process (rank 0 after MPI_Init, with the MPI progress thread and,
     * on --resume, the learner's pool running): only the forking thread exists in the child,
     * and it calls nothing but libhdf5, malloc (glibc resets its locks in the child), write
     * and _exit; no other thread of floq calls libhdf5, so no libhdf5 state is held mid-call */
    /* libhdf5's globals are set up here once (H5open reads no file), not again in every child:
     * 30 ms of a fuzz_h5 run under ASan */
    H5open();
    pid_t pid = fork();
    if (pid < 0) {
        seterr(err, errsz, "dataset: %s: cannot start the HDF5 reader process (fork: %s)", path,
               strerror(errno));
        close(fd[0]), close(fd[1]);
        return -1;
    }
    if (pid == 0) {
        close(fd[0]);
        h5_child(fd[1], path);
    }
    close(fd[1]);
    int got = h5_stream_read(r, fd[0], path, err, errsz);
    close(fd[0]);
    if (got == -1) {
        kill(pid, SIGKILL); /* our unreaped child: its pid cannot have been reused */
    }
    int st = 0;
    pid_t w;
    while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR) {
    }
    if (got == -1) {
        return -1;
    }
    /* success and a clean error need both the stream and the exit status to say so */
    int clean = w == pid && WIFEXITED(st) &&
                WEXITSTATUS(st) == (got == 0 ? H5_EXIT_OK : H5_EXIT_ERR) && got >= 0;
    if (clean || (w < 0 && got >= 0)) { /* w < 0: SIGCHLD ignored, the child reaped itself */
        return got == 0 ? 0 : -1;
    }
    char how[64];
    if (w == pid && WIFSIGNALED(st)) {
        snprintf(how, sizeof how, "signal %d", WTERMSIG(st));
    } else if (w == pid && WIFEXITED(st)) {
        snprintf(how, sizeof how, "exit status %d", WEXITSTATUS(st));
    } else {
        snprintf(how, sizeof how, "its output cut short");
    }
    seterr(err, errsz,
           "dataset: %s: libhdf5 crashed reading this file (%s); the file is damaged or "
           "crafted: re-download it, or convert it to .npz (floq reads .npz with its own reader)",
           path, how);
    return -1;
}

/* ---- validation --------------------------------------------------------------------------- */

static int check_shapes(const struct raw *r, const char *path, enum mode m,
                        const struct dataset_opts *o, char *err, size_t errsz) {
    int need[K_COUNT] = {[K_OBS] = 1, [K_ACT] = 1, [K_TERM] = 1};
    need[K_REW] = m == MODE_D4RL || !o->relabel;
    for (int k = 0; k < K_COUNT; k++) {
        if (need[k] && !r->c[k].present) {
            if (k == K_REW) {
                seterr(err, errsz,
                       "dataset: %s has no 'rewards'; an OGBench navigate file needs "
                       "a '-singletask-taskN' env name to relabel them",
                       path);
            } else {
                seterr(err, errsz, "dataset: %s has no '%s' (required)", path, key_name[k]);
            }
            return -1;
        }
    }
    if (m != MODE_D4RL && o->relabel && !r->c[K_REW].present &&
        (!r->c[K_QPOS].present || r->c[K_QPOS].cols < 2)) {
        seterr(err, errsz, "dataset: %s: relabelling needs 'qpos' with at least 2 columns (x, y)",
               path);
        return -1;
    }
    size_t n = r->c[K_OBS].rows;
    char sh[200];
    for (int k = 0; k < K_COUNT; k++) {
        const struct col *c = &r->c[k];
        if (!c->present) {
            continue;
        }
        shape_str(c, sh, sizeof sh);
        if (key_2d[k] ? c->ndim != 2 : (c->ndim != 1 && !(c->ndim == 2 && c->cols == 1))) {
            seterr(err, errsz, "dataset: %s: '%s' has shape %s; expected %s", path, key_name[k], sh,
                   key_2d[k] ? "(N, width)" : "(N,) or (N, 1)");
            return -1;
        }
        if (c->rows != n) {
            seterr(err, errsz, "dataset: %s: '%s' has %zu rows but 'observations' has %zu", path,
                   key_name[k], c->rows, n);
            return -1;
        }
        if (key_2d[k] && c->cols == 0) {
            seterr(err, errsz, "dataset: %s: '%s' has zero width, shape %s", path, key_name[k], sh);
            return -1;
        }
    }
    if (n == 0) {
        seterr(err, errsz, "dataset: %s is empty (0 rows in 'observations')", path);
        return -1;
    }
    if (r->c[K_NEXT].present && r->c[K_NEXT].cols != r->c[K_OBS].cols) {
        seterr(err, errsz, "dataset: %s: 'next_observations' is %zu wide but 'observations' is %zu",
               path, r->c[K_NEXT].cols, r->c[K_OBS].cols);
        return -1;
    }
    if (r->c[K_OBS].cols > INT32_MAX || r->c[K_ACT].cols > INT32_MAX ||
        r->c[K_QPOS].cols > INT32_MAX) {
        seterr(err, errsz, "dataset: %s: row width exceeds 2^31", path);
        return -1;
    }
    return 0;
}

static int check_values(const struct raw *r, const char *path, char *err, size_t errsz) {
    for (int k = 0; k < K_COUNT; k++) {
        const struct col *c = &r->c[k];
        if (!c->present) {
            continue;
        }
        int binary = k == K_TERM || k == K_TIMEOUT || k == K_MASK;
        size_t count = c->rows * c->cols;
        for (size_t i = 0; i < count; i++) {
            float v = c->x[i];
            if (!isfinite(v)) {
                seterr(err, errsz,
                       "dataset: %s: '%s' has a non-finite value (%g) at row %zu; "
                       "clean the file",
                       path, key_name[k], (double)v, i / c->cols);
                return -1;
            }
            if (binary && v != 0.0f && v != 1.0f) {
                seterr(err, errsz, "dataset: %s: '%s' must be 0 or 1, row %zu holds %g", path,
                       key_name[k], i / c->cols, (double)v);
                return -1;
            }
        }
    }
    return 0;
}

/* ---- transitions -------------------------------------------------------------------------- */

/* 1 if source row i becomes a transition */
static int keep_row(const struct raw *r, enum mode m, size_t i) {
    size_t n = r->c[K_OBS].rows;
    switch (m) {
        case MODE_SHIFT:
            return i + 1 < n && r->c[K_TERM].x[i] == 0.0f;
        case MODE_D4RL:
            return i + 1 < n && !(r->c[K_TIMEOUT].present && r->c[K_TIMEOUT].x[i] != 0.0f);
        case MODE_GIVEN:
            return 1;
    }
    return 0;
}

/* copies kept rows of a (N, w) column to the front, in place (k <= i, so rows move down) */
static void compact(float *x, size_t w, const size_t *src, size_t n) {
    for (size_t k = 0; k < n; k++) {
        if (src[k] != k) {
            memmove(x + k * w, x + src[k] * w, w * sizeof(float));
        }
    }
}

static void build(struct dataset *d, struct raw *r, enum mode m, const struct dataset_opts *o,
                  const size_t *src, size_t n) {
    size_t O = r->c[K_OBS].cols, A = r->c[K_ACT].cols;
    const float *t = r->c[K_TERM].x, *rw = r->c[K_REW].present ? r->c[K_REW].x : NULL;
    const float *mk = r->c[K_MASK].present ? r->c[K_MASK].x : NULL;
    d->n = n;
    d->obs_dim = (int)O;
    d->act_dim = (int)A;

    /* s' before s is compacted in place */
    if (m == MODE_GIVEN) {
        d->next_obs = r->c[K_NEXT].x;
        r->c[K_NEXT].x = NULL;
        compact(d->next_obs, O, src, n);
    } else {
        d->next_obs = mem_alloc(n * O * sizeof(float));
        for (size_t k = 0; k < n; k++) {
            memcpy(d->next_obs + k * O, r->c[K_OBS].x + (src[k] + 1) * O, O * sizeof(float));
        }
    }
    d->obs = r->c[K_OBS].x;
    r->c[K_OBS].x = NULL;
    compact(d->obs, O, src, n);
    d->act = r->c[K_ACT].x;
    r->c[K_ACT].x = NULL;
    compact(d->act, A, src, n);
    if (o->clip_actions) {
        const float lim = (float)(1.0 - 1e-5);
        for (size_t i = 0; i < n * A; i++) {
            d->act[i] = d->act[i] < -lim ? -lim : (d->act[i] > lim ? lim : d->act[i]);
        }
    }
    if (r->c[K_QPOS].present && o->keep_qpos) {
        d->nq = (int)r->c[K_QPOS].cols;
        d->qpos = r->c[K_QPOS].x;
        r->c[K_QPOS].x = NULL;
        compact(d->qpos, (size_t)d->nq, src, n);
    }

    /* rewards, masks, episode ends */
    d->rew = mem_alloc(n * sizeof(float));
    d->mask = mem_alloc(n * sizeof(float));
    d->term = mem_alloc(n);
    size_t nq = r->c[K_QPOS].cols;
    for (size_t k = 0; k < n; k++) {
        size_t i = src[k];
        if (rw) {
            d->rew[k] = rw[i] + o->reward_shift;
            d->mask[k] = mk ? mk[i] : 1.0f - t[i];
        } else {
            /* success on the state s of the transition (OGBench singletask relabelling) */
            const float *q = d->qpos ? d->qpos + k * nq : r->c[K_QPOS].x + i * nq;
            float dx = q[0] - o->goal_xy[0], dy = q[1] - o->goal_xy[1];
            float success = sqrtf(dx * dx + dy * dy) <= o->goal_tol ? 1.0f : 0.0f;
            d->rew[k] = success - 1.0f;
            d->mask[k] = 1.0f - success;
        }
        int last = k + 1 == n || (m != MODE_GIVEN && src[k + 1] != i + 1);
        d->term[k] = (uint8_t)(last || (m != MODE_SHIFT && t[i] != 0.0f));
    }
    d->r_min = 0.0f;
    d->r_max = 0.0f;
    for (size_t k = 0; k < n; k++) {
        d->r_min = d->rew[k] < d->r_min ? d->rew[k] : d->r_min;
        d->r_max = d->rew[k] > d->r_max ? d->rew[k] : d->r_max;
    }
}

/* ---- entry -------------------------------------------------------------------------------- */

enum fmt { FMT_UNKNOWN, FMT_NPZ, FMT_H5 };

static enum fmt sniff(const char *path) {
    unsigned char b[8] = {0};
    FILE *f = fopen(path, "rb");
    if (f) {
        size_t got = fread(b, 1, sizeof b, f);
        fclose(f);
        if (got >= 4 && b[0] == 'P' && b[1] == 'K' && (b[2] == 3 || b[2] == 5)) {
            return FMT_NPZ;
        }
        if (got == 8 && memcmp(b, "\x89HDF\r\n\x1a\n", 8) == 0) {
            return FMT_H5;
        }
    }
    const char *dot = strrchr(path, '.');
    if (dot && strcmp(dot, ".npz") == 0) {
        return FMT_NPZ;
    }
    if (dot && (!strcmp(dot, ".hdf5") || !strcmp(dot, ".h5") || !strcmp(dot, ".hdf"))) {
        return FMT_H5;
    }
    return FMT_UNKNOWN;
}

int dataset_load(struct dataset *d, const char *path, const struct dataset_opts *o, char *err,
                 size_t errsz) {
    memset(d, 0, sizeof *d);
    struct dataset_opts def;
    if (!o) {
        dataset_opts_default(&def);
        o = &def;
    }
    if (o->relabel && !(isfinite(o->goal_xy[0]) && isfinite(o->goal_xy[1]) &&
                        isfinite(o->goal_tol) && o->goal_tol > 0.0f)) {
        seterr(err, errsz, "dataset: %s: relabel needs a finite goal_xy and goal_tol > 0", path);
        return -1;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        seterr(err, errsz, "dataset: cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    fclose(f);
    enum fmt fm = sniff(path);
    if (fm == FMT_UNKNOWN) {
        seterr(err, errsz,
               "dataset: %s is neither an .npz (ZIP) nor an HDF5 file; use an "
               "OGBench .npz or a D4RL .hdf5",
               path);
        return -1;
    }
    struct raw r;
    memset(&r, 0, sizeof r);
    int rc =
        fm == FMT_NPZ ? raw_from_npz(&r, path, o, err, errsz) : raw_from_h5(&r, path, err, errsz);
    enum mode m = fm == FMT_H5 ? MODE_D4RL : (r.c[K_NEXT].present ? MODE_GIVEN : MODE_SHIFT);
    if (rc == 0) {
        rc = check_shapes(&r, path, m, o, err, errsz);
    }
    if (rc == 0) {
        rc = check_values(&r, path, err, errsz);
    }
    size_t *src = NULL, n = 0;
    if (rc == 0) {
        size_t N = r.c[K_OBS].rows;
        src = mem_alloc(N * sizeof *src);
        for (size_t i = 0; i < N; i++) {
            if (keep_row(&r, m, i)) {
                src[n++] = i;
            }
        }
        if (n == 0) {
            seterr(err, errsz,
                   "dataset: %s: none of its %zu rows makes a transition (each is "
                   "terminal, a timeout or the last row)",
                   path, N);
            rc = -1;
        }
    }
    if (rc == 0) {
        if (r.c[K_REW].present && o->relabel && m != MODE_D4RL) {
            log_warn("dataset: %s carries its own rewards; goal relabelling not applied", path);
        }
        build(d, &r, m, o, src, n);
        d->format = fm == FMT_H5         ? "d4rl-hdf5"
                    : m == MODE_GIVEN    ? "npz-transitions"
                    : r.c[K_REW].present ? "npz"
                                         : "ogbench-npz";
        size_t eps = 0;
        double succ = 0;
        for (size_t k = 0; k < n; k++) {
            eps += d->term[k];
            succ += d->mask[k] == 0.0f;
        }
        log_info("dataset: %s (%s): %zu rows -> %zu transitions, %zu episodes, obs %d, act %d, "
                 "rewards [%g, %g], mask 0 on %.0f",
                 path, d->format, r.c[K_OBS].rows, n, eps, d->obs_dim, d->act_dim, (double)d->r_min,
                 (double)d->r_max, succ);
    }
    mem_free(src);
    raw_free(&r);
    if (rc) {
        dataset_free(d);
    }
    return rc;
}
