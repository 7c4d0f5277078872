/* test_dataset — offline datasets: OGBench navigate .npz (+ relabelling), .npz with own rewards
 * (shifted or given next_observations), D4RL HDF5 written here with the HDF5 C API, and every
 * bad-dataset error. */
#include "learner/dataset.h"

#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zip.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/npz.h"
#include "common/util.h"
#include "tests/check.h"

static char g_dir[64];
static char g_files[64][128];
static int g_nfiles;

static const char *tpath(const char *name) {
    for (int i = 0; i < g_nfiles; i++) {
        if (strcmp(strrchr(g_files[i], '/') + 1, name) == 0) {
            return g_files[i];
        }
    }
    snprintf(g_files[g_nfiles], sizeof g_files[0], "%s/%s", g_dir, name);
    return g_files[g_nfiles++];
}

static int has(const char *err, const char *frag) {
    return strstr(err, frag) != NULL;
}

/* ---- synthetic OGBench-like navigate data --------------------------------------------------- */

#define N_ROWS 8
#define O_DIM  3
#define A_DIM  2

struct nav {
    float obs[N_ROWS][O_DIM], act[N_ROWS][A_DIM], qpos[N_ROWS][2], qvel[N_ROWS][2];
    uint8_t term[N_ROWS];
    float termf[N_ROWS], rew[N_ROWS], masks[N_ROWS], next[N_ROWS][O_DIM];
    double rew8[N_ROWS];
};

/* two episodes of 4 rows: obs row i = (i, 10 + i, 100 + i), terminal on rows 3 and 7 */
static void nav_fill(struct nav *v) {
    memset(v, 0, sizeof *v);
    for (int i = 0; i < N_ROWS; i++) {
        for (int j = 0; j < O_DIM; j++) {
            v->obs[i][j] = (float)(i + 10 * (j ? (j == 1 ? 1 : 10) : 0));
            v->next[i][j] = v->obs[i][j] + 0.5f;
        }
        v->act[i][0] = i == 0 ? 1.0f : 0.25f * (float)i - 1.0f;
        v->act[i][1] = i == 0 ? -1.0f : 0.5f;
        v->qpos[i][0] = 2.0f * (float)i;
        v->qpos[i][1] = -1.0f * (float)i;
        v->term[i] = (i == 3 || i == 7);
        v->termf[i] = v->term[i];
        v->rew[i] = 0.5f + 0.25f * (float)i;
        v->rew8[i] = v->rew[i];
        v->masks[i] = i == 5 ? 0.0f : 1.0f;
    }
}

struct item {
    const char *name;
    enum npy_dtype t;
    int ndim;
    int64_t shape[2];
    const void *data;
};

static int write_npz(const char *path, const struct item *it, int n, int compress) {
    struct npz_writer *w;
    char err[512];
    if (npz_writer_open(&w, path, compress, err, sizeof err)) {
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (npz_writer_add(w, it[i].name, it[i].t, it[i].ndim, it[i].shape, it[i].data, err,
                           sizeof err)) {
            fprintf(stderr, "%s\n", err);
            npz_writer_abort(w);
            return -1;
        }
    }
    return npz_writer_close(w, err, sizeof err);
}

static int load(struct dataset *d, const char *path, const struct dataset_opts *o, char *err) {
    err[0] = 0;
    return dataset_load(d, path, o, err, 512);
}

static const float LIM = (float)(1.0 - 1e-5);

static void test_ogbench(void) {
    struct nav v;
    nav_fill(&v);
    const char *p = tpath("nav.npz");
    struct item it[] = {{"observations", NPY_F4, 2, {N_ROWS, O_DIM}, v.obs},
                        {"actions", NPY_F4, 2, {N_ROWS, A_DIM}, v.act},
                        {"terminals", NPY_B1, 1, {N_ROWS}, v.term},
                        {"qpos", NPY_F4, 2, {N_ROWS, 2}, v.qpos},
                        {"qvel", NPY_F4, 2, {N_ROWS, 2}, v.qvel}};
    CHECK(write_npz(p, it, 5, 1) == 0, "write nav.npz");
    struct dataset d;
    char err[512];

    /* no rewards, no relabel */
    CHECK(load(&d, p, NULL, err) == -1 && has(err, "no 'rewards'") && has(err, "singletask") &&
              has(err, p),
          "rewards missing: %s", err);

    /* relabel: goal at qpos of row 2 = (4, -2) */
    struct dataset_opts o;
    dataset_opts_default(&o);
    o.relabel = 1;
    o.goal_xy[0] = 4.0f, o.goal_xy[1] = -2.0f, o.goal_tol = 0.5f;
    CHECK(load(&d, p, &o, err) == 0, "relabel load: %s", err);
    static const size_t src[6] = {0, 1, 2, 4, 5, 6};
    CHECK(d.n == 6 && d.obs_dim == O_DIM && d.act_dim == A_DIM, "6 transitions, dims");
    CHECK(strcmp(d.format, "ogbench-npz") == 0, "format %s", d.format);
    int ok = d.n == 6;
    for (size_t k = 0; ok && k < 6; k++) {
        ok = d.obs[k * O_DIM + 0] == (float)src[k] && d.obs[k * O_DIM + 2] == 100.0f + src[k] &&
             d.next_obs[k * O_DIM + 0] == (float)(src[k] + 1) &&
             d.next_obs[k * O_DIM + 1] == 10.0f + (src[k] + 1) && d.qpos[k * 2] == 2.0f * src[k];
    }
    CHECK(ok, "obs/next_obs/qpos alignment");
    static const uint8_t term[6] = {0, 0, 1, 0, 0, 1};
    CHECK(d.n == 6 && memcmp(d.term, term, 6) == 0, "episode ends shifted");
    ok = d.n == 6;
    for (size_t k = 0; ok && k < 6; k++) {
        float want = k == 2 ? 0.0f : -1.0f;
        ok = d.rew[k] == want && d.mask[k] == (k == 2 ? 0.0f : 1.0f);
    }
    CHECK(ok, "relabelled reward/mask (success only at row 2)");
    CHECK(d.r_min == -1.0f && d.r_max == 0.0f, "r range %g %g", d.r_min, d.r_max);
    CHECK(d.act[0] == LIM && d.act[1] == -LIM && d.act[2] == 0.25f - 1.0f && d.act[3] == 0.5f,
          "actions clipped to +-(1-1e-5) only where needed");
    CHECK(d.nq == 2 && d.qpos != NULL, "qpos kept");
    dataset_free(&d);
    dataset_free(&d);

    /* without clipping and without qpos kept; relabel still works */
    o.clip_actions = 0;
    o.keep_qpos = 0;
    CHECK(load(&d, p, &o, err) == 0 && d.act[0] == 1.0f && d.act[1] == -1.0f, "no clip: %s", err);
    CHECK(d.qpos == NULL && d.nq == 0 && d.rew[2] == 0.0f && d.rew[3] == -1.0f,
          "relabel without keeping qpos");
    dataset_free(&d);

    /* last row not terminal: it has no successor and is dropped */
    uint8_t t5[5] = {0, 0, 1, 0, 0};
    struct item it5[] = {{"observations", NPY_F4, 2, {5, O_DIM}, v.obs},
                         {"actions", NPY_F4, 2, {5, A_DIM}, v.act},
                         {"terminals", NPY_B1, 1, {5}, t5},
                         {"qpos", NPY_F4, 2, {5, 2}, v.qpos}};
    const char *p5 = tpath("nav5.npz");
    write_npz(p5, it5, 4, 0);
    dataset_opts_default(&o);
    o.relabel = 1, o.goal_tol = 1.0f;
    CHECK(load(&d, p5, &o, err) == 0 && d.n == 3 && d.term[0] == 0 && d.term[1] == 1 &&
              d.term[2] == 1 && d.obs[2 * O_DIM] == 3.0f && d.next_obs[2 * O_DIM] == 4.0f,
          "open last episode: %s", err);
    CHECK(d.rew[0] == 0.0f && d.mask[0] == 0.0f && d.rew[1] == -1.0f, "goal (0,0) at row 0");
    dataset_free(&d);
}

static void test_own_rewards(void) {
    struct nav v;
    nav_fill(&v);
    struct dataset d;
    struct dataset_opts o;
    char err[512];

    /* rewards (float64), masks, float terminals; no next_observations: shifted like OGBench */
    const char *p = tpath("own.npz");
    struct item it[] = {{"observations", NPY_F4, 2, {N_ROWS, O_DIM}, v.obs},
                        {"actions", NPY_F4, 2, {N_ROWS, A_DIM}, v.act},
                        {"terminals", NPY_F4, 1, {N_ROWS}, v.termf},
                        {"rewards", NPY_F8, 1, {N_ROWS}, v.rew8},
                        {"masks", NPY_F4, 1, {N_ROWS}, v.masks}};
    CHECK(write_npz(p, it, 5, 0) == 0, "write own.npz");
    dataset_opts_default(&o);
    o.relabel = 1, o.goal_tol = 1.0f; /* ignored with a warning: the file has rewards */
    CHECK(load(&d, p, &o, err) == 0 && d.n == 6 && strcmp(d.format, "npz") == 0, "own: %s", err);
    static const size_t src[6] = {0, 1, 2, 4, 5, 6};
    int ok = d.n == 6;
    for (size_t k = 0; ok && k < 6; k++) {
        ok = d.rew[k] == v.rew[src[k]] && d.mask[k] == v.masks[src[k]] &&
             d.next_obs[k * O_DIM] == (float)(src[k] + 1);
    }
    CHECK(ok, "rewards/masks from the kept rows");
    CHECK(d.mask[4] == 0.0f && d.term[2] == 1 && d.term[5] == 1, "mask 0 at row 5, ends");
    CHECK(d.r_min == 0.0f && d.r_max == v.rew[6], "P6: r_min includes 0 (%g), r_max %g", d.r_min,
          d.r_max);
    dataset_free(&d);
    o.relabel = 0;
    o.reward_shift = -1.0f;
    CHECK(load(&d, p, &o, err) == 0 && d.rew[0] == -0.5f && d.r_min == -1.0f + v.rew[0] &&
              d.r_max == v.rew[6] - 1.0f,
          "reward_shift -1: %s", err);
    dataset_free(&d);

    /* no masks: mask = 1 - terminals */
    write_npz(p, it, 4, 1);
    CHECK(load(&d, p, NULL, err) == 0 && d.n == 6 && d.mask[4] == 1.0f, "masks default: %s", err);
    dataset_free(&d);

    /* given next_observations: rows used as is */
    const char *pt = tpath("trans.npz");
    struct item tr[] = {{"observations", NPY_F4, 2, {N_ROWS, O_DIM}, v.obs},
                        {"next_observations", NPY_F4, 2, {N_ROWS, O_DIM}, v.next},
                        {"actions", NPY_F4, 2, {N_ROWS, A_DIM}, v.act},
                        {"terminals", NPY_B1, 1, {N_ROWS}, v.term},
                        {"rewards", NPY_F4, 2, {N_ROWS, 1}, v.rew}};
    CHECK(write_npz(pt, tr, 5, 1) == 0, "write trans.npz");
    CHECK(load(&d, pt, NULL, err) == 0 && d.n == N_ROWS && strcmp(d.format, "npz-transitions") == 0,
          "transitions: %s", err);
    ok = d.n == N_ROWS;
    for (size_t k = 0; ok && k < N_ROWS; k++) {
        ok = d.next_obs[k * O_DIM + 1] == v.next[k][1] && d.obs[k * O_DIM] == (float)k &&
             d.mask[k] == 1.0f - v.termf[k] && d.term[k] == v.term[k] && d.rew[k] == v.rew[k];
    }
    CHECK(ok, "given next_obs, mask = 1 - terminals, term = terminals, rewards (N,1)");
    dataset_free(&d);
}

/* ---- D4RL HDF5 -------------------------------------------------------------------------- */

static void h5_put(hid_t f, const char *name, hid_t ftype, hid_t mtype, int nd, hsize_t d0,
                   hsize_t d1, const void *data, int gzip) {
    hsize_t dims[2] = {d0, d1};
    hid_t sp = H5Screate_simple(nd, dims, NULL);
    hid_t pl = H5Pcreate(H5P_DATASET_CREATE);
    if (gzip) {
        hsize_t ch[2] = {d0 > 4 ? 4 : d0, d1};
        H5Pset_chunk(pl, nd, ch);
        H5Pset_deflate(pl, 4);
    }
    hid_t ds = H5Dcreate2(f, name, ftype, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
    H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    H5Dclose(ds);
    H5Pclose(pl);
    H5Sclose(sp);
}

#define H_ROWS 10

/* variant: 0 full D4RL, 1 no timeouts, 2 rewards is a string, 3 no actions */
static void write_d4rl(const char *path, int variant) {
    float obs[H_ROWS][O_DIM], act[H_ROWS][A_DIM], rew[H_ROWS];
    int8_t term[H_ROWS] = {0}, tmo[H_ROWS] = {0};
    for (int i = 0; i < H_ROWS; i++) {
        obs[i][0] = (float)i, obs[i][1] = -(float)i, obs[i][2] = 0.5f;
        act[i][0] = 2.0f, act[i][1] = 0.1f * (float)i;
        rew[i] = (float)i - 3.0f;
    }
    term[4] = 1;
    tmo[7] = 1;
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t bt = H5Tenum_create(H5T_NATIVE_INT8); /* h5py's bool */
    int8_t e = 0;
    H5Tenum_insert(bt, "FALSE", &e);
    e = 1;
    H5Tenum_insert(bt, "TRUE", &e);
    h5_put(f, "observations", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, H_ROWS, O_DIM, obs, 1);
    if (variant != 3) {
        h5_put(f, "actions", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, H_ROWS, A_DIM, act, 0);
    }
    if (variant == 2) {
        hid_t st = H5Tcopy(H5T_C_S1);
        H5Tset_size(st, 4);
        char s[H_ROWS][4] = {{0}};
        h5_put(f, "rewards", st, st, 1, H_ROWS, 0, s, 0);
        H5Tclose(st);
    } else {
        h5_put(f, "rewards", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, H_ROWS, 1, rew, 0);
    }
    h5_put(f, "terminals", bt, bt, 1, H_ROWS, 0, term, 0);
    if (variant != 1) {
        h5_put(f, "timeouts", bt, bt, 1, H_ROWS, 0, tmo, 0);
    }
    h5_put(f, "next_observations", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, H_ROWS, O_DIM, obs, 0);
    H5Tclose(bt);
    H5Fclose(f);
}

/* a small file declaring a huge chunked column (no chunk written: the fill value): the declared
 * size must not reach an allocation (a 2^62-element declaration wrapped mem_alloc's rounding
 * and H5Dread wrote past a 64-byte block; 2^36 aborted with "out of memory") */
static void write_huge(const char *path, hsize_t rows, hsize_t cols) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[2] = {rows, cols}, ch[2] = {16, cols};
    int nd = cols ? 2 : 1;
    hid_t sp = H5Screate_simple(nd, dims, NULL);
    hid_t pl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(pl, nd, ch);
    hid_t ds = H5Dcreate2(f, "observations", H5T_IEEE_F32LE, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
    float one[16 * 4] = {1};
    hsize_t start[2] = {0, 0};
    hid_t ms = H5Screate_simple(nd, ch, NULL);
    H5Sselect_hyperslab(sp, H5S_SELECT_SET, start, NULL, ch, NULL);
    H5Dwrite(ds, H5T_NATIVE_FLOAT, ms, sp, H5P_DEFAULT, one); /* one chunk stored */
    H5Sclose(ms);
    H5Dclose(ds);
    H5Pclose(pl);
    H5Sclose(sp);
    H5Fclose(f);
}

static void test_h5_huge(void) {
    struct dataset d;
    char err[512];
    const char *p = tpath("huge.hdf5");
    static const struct {
        hsize_t rows, cols;
    } cases[] = {{((hsize_t)1 << 62) - 1, 0}, {(hsize_t)1 << 36, 0}, {(hsize_t)1 << 34, 4}};
    for (size_t i = 0; i < FLOQ_ARRAY_LEN(cases); i++) {
        write_huge(p, cases[i].rows, cases[i].cols);
        struct stat st;
        CHECK(stat(p, &st) == 0 && st.st_size < 64 * 1024, "the file is small (%lld bytes)",
              (long long)st.st_size);
        CHECK(load(&d, p, NULL, err) == -1 && has(err, "huge.hdf5") && has(err, "observations") &&
                  (has(err, "damaged") || has(err, "allocate")),
              "a declared %llu x %llu column is refused in one line: %s",
              (unsigned long long)cases[i].rows, (unsigned long long)cases[i].cols, err);
    }
}

/* tests/fuzz/h5/chunk-larger-than-file (found by fuzz_h5): a 6.7 KB file whose 'rewards'
 * chunk claims 1.8 GB stored; libhdf5 allocated a read buffer of that size before failing */
static void test_h5_chunk_claim(void) {
    struct dataset d;
    char err[512];
    static char buf[64 * 1024];
    FILE *in = fopen("tests/fuzz/h5/chunk-larger-than-file", "rb");
    size_t n = in ? fread(buf, 1, sizeof buf, in) : 0;
    if (in) {
        fclose(in);
    }
    CHECK(n > 0, "tests/fuzz/h5/chunk-larger-than-file is readable (run from the repository)");
    const char *p = tpath("chunk.hdf5");
    FILE *out = fopen(p, "wb");
    CHECK(out && fwrite(buf, 1, n, out) == n, "write %s", p);
    if (out) {
        fclose(out);
    }
    CHECK(load(&d, p, NULL, err) == -1 && has(err, "'rewards' claims") && has(err, "damaged"),
          "a chunk claiming more bytes than the file holds is refused before it is read: %s", err);
}

/* copies a file of the repository (tests run from its root) into the temp dir as name */
static const char *copy_in(const char *src, const char *name) {
    static char buf[64 * 1024];
    FILE *in = fopen(src, "rb");
    size_t n = in ? fread(buf, 1, sizeof buf, in) : 0;
    if (in) {
        fclose(in);
    }
    CHECK(n > 0, "%s is readable (run from the repository)", src);
    const char *p = tpath(name);
    FILE *out = fopen(p, "wb");
    CHECK(out && fwrite(buf, 1, n, out) == n, "write %s", p);
    if (out) {
        fclose(out);
    }
    return p;
}

/* tests/fuzz/h5/crash-in-libhdf5-H5T_copy (found by fuzz_h5): libhdf5 1.10.8 reads past a heap
 * block in H5Dopen2 -> H5T_copy and the process died with SIGSEGV; the child that reads HDF5
 * dies instead, and the load is one line naming the file and the fix. (Under ASan the child's
 * report ends it with exit status 1 rather than the signal.) */
static void test_h5_libhdf5_crash(void) {
    struct dataset d;
    char err[512];
    const char *p = copy_in("tests/fuzz/h5/crash-in-libhdf5-H5T_copy", "crash.hdf5");
    CHECK(load(&d, p, NULL, err) == -1 &&
              has(err, "crash.hdf5: libhdf5 crashed reading this file (") &&
              (has(err, "(signal ") || has(err, "(exit status ")) &&
              has(err, "convert it to .npz") && !strchr(err, '\n'),
          "a crash inside libhdf5 is one line: %s", err);
    CHECK(d.n == 0 && d.obs == NULL, "d is zeroed after the failed load");
    /* the file is still what it was: a valid file after it loads as before */
    const char *v = tpath("d4rl.hdf5");
    write_d4rl(v, 0);
    CHECK(load(&d, v, NULL, err) == 0 && d.n == 8, "a valid file after a crashed child: %s", err);
    dataset_free(&d);
    CHECK(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD, "no child left (no zombie)");
}

static volatile sig_atomic_t g_alarms;
static void on_alarm(int sig) {
    (void)sig;
    g_alarms++;
}

/* a signal arriving while the parent reads the stream or waits for the child (EINTR: a
 * handler without SA_RESTART) changes nothing */
static void test_h5_eintr(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 200}, {0, 200}}, off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &it, NULL);
    const char *p = tpath("d4rl.hdf5");
    write_d4rl(p, 0);
    int ok = 1;
    for (int i = 0; i < 20 && ok; i++) {
        struct dataset d;
        char err[512];
        ok = load(&d, p, NULL, err) == 0 && d.n == 8 && d.obs[8 * O_DIM - O_DIM] == 8.0f;
        if (!ok) {
            fprintf(stderr, "load %d under SIGALRM: %s\n", i, err);
        }
        dataset_free(&d);
    }
    setitimer(ITIMER_REAL, &off, NULL); /* the handler stays: a signal may still be pending */
    CHECK(ok, "20 loads with SIGALRM every 200 us (%d signals)", (int)g_alarms);
}

static void test_d4rl(void) {
    struct dataset d;
    char err[512];
    const char *p = tpath("d4rl.hdf5");
    write_d4rl(p, 0);
    CHECK(load(&d, p, NULL, err) == 0 && strcmp(d.format, "d4rl-hdf5") == 0, "d4rl: %s", err);
    static const size_t src[8] = {0, 1, 2, 3, 4, 5, 6, 8};
    static const uint8_t term[8] = {0, 0, 0, 0, 1, 0, 1, 1};
    int ok = d.n == 8;
    for (size_t k = 0; ok && k < 8; k++) {
        ok = d.obs[k * O_DIM] == (float)src[k] && d.next_obs[k * O_DIM] == (float)(src[k] + 1) &&
             d.next_obs[k * O_DIM + 1] == -(float)(src[k] + 1) &&
             d.rew[k] == (float)src[k] - 3.0f && d.mask[k] == (src[k] == 4 ? 0.0f : 1.0f) &&
             d.term[k] == term[k] && d.act[k * A_DIM] == LIM;
    }
    CHECK(ok, "qlearning_dataset: timeout row 7 and last row dropped, mask, ends, clip");
    CHECK(d.r_min == -3.0f && d.r_max == 5.0f && d.qpos == NULL, "r range %g %g", d.r_min, d.r_max);
    dataset_free(&d);

    write_d4rl(p, 1);
    CHECK(load(&d, p, NULL, err) == 0 && d.n == 9 && d.term[8] == 1 && d.term[4] == 1 &&
              d.term[6] == 0,
          "no timeouts: every row but the last: %s", err);
    dataset_free(&d);

    write_d4rl(p, 2);
    CHECK(load(&d, p, NULL, err) == -1 && has(err, "'rewards' is not numeric"), "string: %s", err);
    write_d4rl(p, 3);
    CHECK(load(&d, p, NULL, err) == -1 && has(err, "no 'actions'"), "h5 missing: %s", err);

    /* truncated HDF5 */
    write_d4rl(p, 0);
    FILE *f = fopen(p, "rb");
    static unsigned char buf[1 << 16];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    const char *pt = tpath("trunc.h5");
    int all = 1;
    for (size_t cut = 0; cut < len; cut += len / 13 + 1) {
        f = fopen(pt, "wb");
        fwrite(buf, 1, cut, f);
        fclose(f);
        if (load(&d, pt, NULL, err) != -1 || !err[0]) {
            all = 0;
            fprintf(stderr, "h5 cut %zu loaded\n", cut);
            dataset_free(&d);
        }
    }
    CHECK(all, "truncated HDF5 files fail: %s", err);
}

/* ---- bad datasets ------------------------------------------------------------------------- */

static void expect_fail(const char *name, const struct item *it, int n, const char *frag,
                        const struct dataset_opts *o) {
    const char *p = tpath("bad.npz");
    write_npz(p, it, n, 1);
    struct dataset d;
    char err[512];
    int rc = load(&d, p, o, err);
    CHECK(rc == -1 && has(err, frag) && has(err, p) && !strchr(err, '\n'), "%s: want '%s', got: %s",
          name, frag, err);
    if (rc == 0) {
        dataset_free(&d);
    }
}

static void test_bad(void) {
    struct nav v;
    nav_fill(&v);
    struct dataset d;
    char err[512];
    float nanrew[N_ROWS], badterm[N_ROWS], badmask[N_ROWS], next4[N_ROWS][4];
    memcpy(nanrew, v.rew, sizeof nanrew);
    nanrew[5] = NAN;
    memcpy(badterm, v.termf, sizeof badterm);
    badterm[2] = 2.0f;
    memcpy(badmask, v.masks, sizeof badmask);
    badmask[1] = 0.5f;
    memset(next4, 0, sizeof next4);
    float inf_obs[N_ROWS][O_DIM];
    memcpy(inf_obs, v.obs, sizeof inf_obs);
    inf_obs[6][1] = INFINITY;
    uint8_t allterm[N_ROWS];
    memset(allterm, 1, sizeof allterm);

#define OBS {"observations", NPY_F4, 2, {N_ROWS, O_DIM}, v.obs}
#define ACT                                                                                        \
    { "actions", NPY_F4, 2, {N_ROWS, A_DIM}, v.act }
#define TRM                                                                                        \
    { "terminals", NPY_B1, 1, {N_ROWS}, v.term }
#define REW                                                                                        \
    { "rewards", NPY_F4, 1, {N_ROWS}, v.rew }
    {
        struct item it[] = {OBS, TRM, REW};
        expect_fail("missing actions", it, 3, "no 'actions'", NULL);
    }
    {
        struct item it[] = {OBS, ACT, REW};
        expect_fail("missing terminals", it, 3, "no 'terminals'", NULL);
    }
    {
        struct item it[] = {OBS, {"actions", NPY_F4, 2, {N_ROWS - 1, A_DIM}, v.act}, TRM, REW};
        expect_fail("mismatched rows", it, 4, "'actions' has 7 rows but 'observations' has 8",
                    NULL);
    }
    {
        struct item it[] = {OBS, ACT, TRM, {"rewards", NPY_F4, 1, {N_ROWS}, nanrew}};
        expect_fail("nan rewards", it, 4, "'rewards' has a non-finite value (nan) at row 5", NULL);
    }
    {
        struct item it[] = {{"observations", NPY_F4, 2, {N_ROWS, O_DIM}, inf_obs}, ACT, TRM, REW};
        expect_fail("inf obs", it, 4, "'observations' has a non-finite value (inf) at row 6", NULL);
    }
    {
        struct item it[] = {OBS, ACT, {"terminals", NPY_F4, 1, {N_ROWS}, badterm}, REW};
        expect_fail("terminals 2", it, 4, "'terminals' must be 0 or 1, row 2 holds 2", NULL);
    }
    {
        struct item it[] = {OBS, ACT, TRM, REW, {"masks", NPY_F4, 1, {N_ROWS}, badmask}};
        expect_fail("masks 0.5", it, 5, "'masks' must be 0 or 1, row 1 holds 0.5", NULL);
    }
    {
        struct item it[] = {
            OBS, ACT, TRM, REW, {"next_observations", NPY_F4, 2, {N_ROWS, 4}, next4}};
        expect_fail("next width", it, 5, "'next_observations' is 4 wide but 'observations' is 3",
                    NULL);
    }
    {
        struct item it[] = {{"observations", NPY_F4, 1, {N_ROWS}, v.obs}, ACT, TRM, REW};
        expect_fail("1-d obs", it, 4, "'observations' has shape (8,); expected (N, width)", NULL);
    }
    {
        struct item it[] = {OBS, ACT, TRM, {"rewards", NPY_F4, 2, {N_ROWS / 2, 2}, v.rew}};
        expect_fail("rewards (4,2)", it, 4, "'rewards' has shape (4, 2)", NULL);
    }
    {
        struct item it[] = {{"observations", NPY_F4, 2, {0, O_DIM}, v.obs},
                            {"actions", NPY_F4, 2, {0, A_DIM}, v.act},
                            {"terminals", NPY_B1, 1, {0}, v.term},
                            {"rewards", NPY_F4, 1, {0}, v.rew}};
        expect_fail("empty", it, 4, "is empty", NULL);
    }
    {
        struct item it[] = {OBS, ACT, {"terminals", NPY_B1, 1, {N_ROWS}, allterm}, REW};
        expect_fail("all terminal", it, 4, "none of its 8 rows", NULL);
    }
    {
        struct dataset_opts o;
        dataset_opts_default(&o);
        o.relabel = 1, o.goal_tol = 0.5f;
        struct item it[] = {OBS, ACT, TRM};
        expect_fail("relabel without qpos", it, 3, "needs 'qpos'", &o);
        o.goal_tol = 0.0f;
        expect_fail("goal_tol 0", it, 3, "goal_tol > 0", &o);
    }

    /* wrong dtype: a '<U4' member (written raw with libzip) */
    {
        const char *p = tpath("strobs.npz");
        write_npz(p, (struct item[]){ACT, TRM, REW}, 3, 0);
        static char img[256];
        const char *h = "{'descr': '<U4', 'fortran_order': False, 'shape': (8, 3), }";
        memcpy(img, "\x93NUMPY\x01\x00", 8);
        img[8] = (char)strlen(h);
        memcpy(img + 10, h, strlen(h));
        int e;
        zip_t *za = zip_open(p, 0, &e);
        zip_file_add(za, "observations.npy", zip_source_buffer(za, img, 10 + strlen(h), 0), 0);
        zip_close(za);
        CHECK(load(&d, p, NULL, err) == -1 && has(err, "'observations.npy'") &&
                  has(err, "dtype '<U4' is not numeric"),
              "string dtype: %s", err);
    }

    /* truncated zip */
    {
        const char *p = tpath("full.npz"), *pt = tpath("cut.npz");
        write_npz(p, (struct item[]){OBS, ACT, TRM, REW}, 4, 1);
        FILE *f = fopen(p, "rb");
        static unsigned char buf[8192];
        size_t len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        int all = 1;
        for (size_t cut = 0; cut < len; cut += 7) {
            f = fopen(pt, "wb");
            fwrite(buf, 1, cut, f);
            fclose(f);
            if (load(&d, pt, NULL, err) != -1 || !has(err, "dataset: ")) {
                all = 0;
                dataset_free(&d);
            }
        }
        CHECK(all, "every truncated zip fails");
        f = fopen(pt, "wb");
        fwrite(buf, 1, len / 2, f);
        fclose(f);
        CHECK(load(&d, pt, NULL, err) == -1 && has(err, "not a ZIP archive or is truncated"),
              "truncated zip message: %s", err);
    }

    /* unknown format, missing file */
    const char *tx = tpath("notes.txt");
    FILE *f = fopen(tx, "wb");
    fputs("hello", f);
    fclose(f);
    CHECK(load(&d, tx, NULL, err) == -1 && has(err, "neither an .npz"), "unknown: %s", err);
    CHECK(load(&d, tpath("absent.npz"), NULL, err) == -1 && has(err, "cannot open"), "absent: %s",
          err);
}

int main(void) {
    log_set_level(LOG_ERROR);
    snprintf(g_dir, sizeof g_dir, "/tmp/test_dataset.XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_ogbench();
    test_own_rewards();
    test_d4rl();
    test_h5_huge();
    test_h5_chunk_claim();
    test_h5_libhdf5_crash();
    test_h5_eintr();
    test_bad();
    for (int i = 0; i < g_nfiles; i++) {
        unlink(g_files[i]);
    }
    CHECK(rmdir(g_dir) == 0, "temp dir empty at the end");
    return check_report("test_dataset");
}
