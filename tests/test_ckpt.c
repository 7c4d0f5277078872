/* test_ckpt.c — checkpoint files: bit-exact round trips, atomic saves, truncation, bit flips,
 * hostile payloads with valid checksums, lookup errors, ckpt_latest. */
#include "common/ckpt.h"
#include "common/mem.h"
#include "common/rng.h"
#include "common/util.h"
#include "tests/check.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <msgpack.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static char g_dir[64];
static char err[512];

/* ---- helpers ----------------------------------------------------------------------------- */

static const char *in_dir(const char *name) {
    static char buf[16][256]; /* a ring: the last 16 results stay valid */
    static int k;
    k = (k + 1) % 16;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

static void rm_tree(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) {
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *de;
        while (d && (de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
                char sub[512];
                snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
                rm_tree(sub);
            }
        }
        if (d) {
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

static int write_file(const char *path, const void *buf, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        return -1;
    }
    size_t w = n ? fwrite(buf, 1, n, f) : 0;
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

/* whole file into a mem_alloc block */
static uint8_t *read_file(const char *path, size_t *n) {
    struct stat st;
    FILE *f = fopen(path, "rb");
    if (!f || fstat(fileno(f), &st)) {
        if (f) {
            fclose(f);
        }
        return NULL;
    }
    uint8_t *buf = mem_alloc((size_t)st.st_size);
    *n = fread(buf, 1, (size_t)st.st_size, f);
    fclose(f);
    return buf;
}

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static void le32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

/* a checkpoint file built by hand from the documented layout (docs/checkpoint.md) */
static void craft(const char *path, uint32_t version, const void *payload, size_t n) {
    uint8_t *buf = mem_alloc(n + 28);
    memcpy(buf, "FLOQCKPT", 8);
    le32(buf + 8, version);
    le32(buf + 12, (uint32_t)n);
    le32(buf + 16, (uint32_t)((uint64_t)n >> 32));
    le32(buf + 20, (uint32_t)crc32(0, buf, 20));
    if (n) {
        memcpy(buf + 24, payload, n);
    }
    le32(buf + 24 + n, (uint32_t)crc32(0, buf, (uInt)(24 + n)));
    FLOQ_ASSERT(write_file(path, buf, n + 28) == 0);
    mem_free(buf);
}

static int has(const char *s, const char *sub) {
    return strstr(s, sub) != NULL;
}

/* loads path expecting failure with sub in the message; 1 if so */
static int load_fails(const char *path, const char *sub) {
    struct ckpt c;
    err[0] = 0;
    int rc = ckpt_load(&c, path, err, sizeof err);
    if (rc == 0) {
        ckpt_free(&c);
    }
    int one_line = strchr(err, '\n') == NULL && err[0] != 0;
    return rc == -1 && has(err, sub) && one_line && c.n == 0 && c.entries == NULL;
}

/* a small checkpoint with every kind, used by the truncation and bit-flip tests */
static void save_small(const char *path) {
    struct ckpt_writer w;
    ckpt_writer_init(&w);
    float a[6] = {1, 2, 3, 4, 5, 6};
    size_t shape[2] = {2, 3};
    uint8_t rng[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    ckpt_put_str(&w, "agent", "floq");
    ckpt_put_u64(&w, "step", 123456);
    ckpt_put_i64(&w, "delta", -7);
    ckpt_put_f64(&w, "lr", 3e-4);
    ckpt_put_f32(&w, "params", 2, shape, a);
    ckpt_put_bytes(&w, "rng", rng, sizeof rng);
    FLOQ_ASSERT(ckpt_save(&w, path, err, sizeof err) == 0);
    ckpt_writer_free(&w);
}

/* ---- round trip -------------------------------------------------------------------------- */

static void test_roundtrip(void) {
    const char *path = in_dir("rt.ckpt");
    const size_t nbig = 1000 * 1000;
    float *big = mem_alloc(nbig * sizeof *big);
    struct rng r;
    rng_seed(&r, 7);
    for (size_t i = 0; i < nbig; i++) {
        uint32_t bits = (uint32_t)rng_u64(&r); /* any pattern: NaNs, infs, denormals */
        memcpy(&big[i], &bits, 4);
    }
    float s4[120], scalar = -0.0f;
    for (int i = 0; i < 120; i++) {
        s4[i] = (float)i * 0.25f - 7.0f;
    }
    const uint64_t us[] = {0,
                           1,
                           127,
                           128,
                           255,
                           256,
                           65535,
                           65536,
                           UINT32_MAX,
                           (uint64_t)UINT32_MAX + 1,
                           UINT64_MAX - 1,
                           UINT64_MAX};
    const int64_t is[] = {INT64_MIN, INT64_MIN + 1, -2147483649LL, -2147483648LL, -32769, -32768,
                          -129,      -128,          -33,           -32,           -1,     0,
                          1,         INT64_MAX};
    double nan_payload;
    uint64_t nan_bits = 0x7ff8000000abcdefULL;
    memcpy(&nan_payload, &nan_bits, 8);
    const double fs[] = {0.0, -0.0, 1.0 / 3.0, 1e-310, -1e308, 1.0 / 0.0, nan_payload};
    const char *config =
        "{\"critic_flow_steps\": 8, \"name\": \"\\u03c0 π\",\n\t\"q\": \"a\\\"b\"}";
    uint8_t rngstate[32];
    for (int i = 0; i < 32; i++) {
        rngstate[i] = (uint8_t)(255 - 7 * i);
    }

    struct ckpt_writer w;
    ckpt_writer_init(&w);
    char key[32];
    ckpt_put_str(&w, "config", config);
    ckpt_put_str(&w, "agent", "floq");
    ckpt_put_str(&w, "empty", "");
    for (size_t i = 0; i < FLOQ_ARRAY_LEN(us); i++) {
        snprintf(key, sizeof key, "u%zu", i);
        ckpt_put_u64(&w, key, us[i]);
    }
    for (size_t i = 0; i < FLOQ_ARRAY_LEN(is); i++) {
        snprintf(key, sizeof key, "i%zu", i);
        ckpt_put_i64(&w, key, is[i]);
    }
    for (size_t i = 0; i < FLOQ_ARRAY_LEN(fs); i++) {
        snprintf(key, sizeof key, "f%zu", i);
        ckpt_put_f64(&w, key, fs[i]);
    }
    size_t shape_big[2] = {1000, 1000}, shape4[4] = {2, 3, 4, 5}, shape0[2] = {0, 7};
    ckpt_put_f32(&w, "params", 2, shape_big, big);
    ckpt_put_f32(&w, "four_d", 4, shape4, s4);
    ckpt_put_f32(&w, "scalar", 0, NULL, &scalar);
    ckpt_put_f32(&w, "empty_array", 2, shape0, NULL);
    ckpt_put_bytes(&w, "rng", rngstate, sizeof rngstate);
    ckpt_put_bytes(&w, "no_bytes", NULL, 0);
    int rc = ckpt_save(&w, path, err, sizeof err);
    CHECK(rc == 0, "save: %s", err);
    size_t nput = w.n;
    ckpt_writer_free(&w);
    ckpt_writer_free(&w); /* twice is fine */
    CHECK(!exists(in_dir("rt.ckpt.tmp")), "no temp file left after a save");

    struct ckpt c;
    rc = ckpt_load(&c, path, err, sizeof err);
    CHECK(rc == 0, "load: %s", err);
    if (rc) {
        mem_free(big);
        return;
    }
    CHECK(c.n == nput && strcmp(c.entries[0].key, "config") == 0 &&
              strcmp(c.entries[c.n - 1].key, "no_bytes") == 0,
          "entries in put order (%zu of %zu)", c.n, nput);
    const char *s = NULL;
    CHECK(ckpt_get_str(&c, "config", &s, err, sizeof err) == 0 && strcmp(s, config) == 0,
          "config string: %s", err);
    CHECK(ckpt_get_str(&c, "agent", &s, err, sizeof err) == 0 && strcmp(s, "floq") == 0, "agent");
    CHECK(ckpt_get_str(&c, "empty", &s, err, sizeof err) == 0 && s[0] == 0, "empty string");
    int bad = 0;
    for (size_t i = 0; i < FLOQ_ARRAY_LEN(us); i++) {
        uint64_t v = 1;
        snprintf(key, sizeof key, "u%zu", i);
        bad += ckpt_get_u64(&c, key, &v, err, sizeof err) != 0 || v != us[i];
    }
    CHECK(bad == 0, "u64 edge values (%d wrong)", bad);
    bad = 0;
    for (size_t i = 0; i < FLOQ_ARRAY_LEN(is); i++) {
        int64_t v = 1;
        snprintf(key, sizeof key, "i%zu", i);
        bad += ckpt_get_i64(&c, key, &v, err, sizeof err) != 0 || v != is[i];
    }
    CHECK(bad == 0, "i64 edge values (%d wrong)", bad);
    bad = 0;
    for (size_t i = 0; i < FLOQ_ARRAY_LEN(fs); i++) {
        double v = 1;
        snprintf(key, sizeof key, "f%zu", i);
        bad += ckpt_get_f64(&c, key, &v, err, sizeof err) != 0 || memcmp(&v, &fs[i], 8) != 0;
    }
    CHECK(bad == 0, "f64 values bit-exact, incl. -0, inf, NaN payload (%d wrong)", bad);

    int ndim = -1;
    size_t shape[CKPT_MAX_DIMS];
    const float *data = NULL;
    rc = ckpt_get_f32(&c, "params", &ndim, shape, &data, err, sizeof err);
    CHECK(rc == 0 && ndim == 2 && shape[0] == 1000 && shape[1] == 1000 && shape[2] == 0,
          "1M-float shape: %s", err);
    CHECK(rc == 0 && memcmp(data, big, nbig * 4) == 0, "1M floats bit-exact (NaN bits too)");
    CHECK(rc == 0 && ((uintptr_t)data % 64) == 0, "float data is 64-byte aligned");
    rc = ckpt_get_f32(&c, "four_d", &ndim, shape, &data, err, sizeof err);
    CHECK(rc == 0 && ndim == 4 && shape[0] == 2 && shape[1] == 3 && shape[2] == 4 &&
              shape[3] == 5 && memcmp(data, s4, sizeof s4) == 0,
          "4-d array: %s", err);
    rc = ckpt_get_f32(&c, "scalar", &ndim, shape, &data, err, sizeof err);
    CHECK(rc == 0 && ndim == 0 && memcmp(data, &scalar, 4) == 0, "0-d array holds one float");
    rc = ckpt_get_f32(&c, "empty_array", &ndim, shape, &data, err, sizeof err);
    CHECK(rc == 0 && ndim == 2 && shape[0] == 0 && shape[1] == 7 &&
              ckpt_find(&c, "empty_array")->count == 0,
          "zero-size array keeps its shape");
    const void *b = NULL;
    size_t nb = 0;
    rc = ckpt_get_bytes(&c, "rng", &b, &nb, err, sizeof err);
    CHECK(rc == 0 && nb == 32 && memcmp(b, rngstate, 32) == 0, "bytes: %s", err);
    rc = ckpt_get_bytes(&c, "no_bytes", &b, &nb, err, sizeof err);
    CHECK(rc == 0 && nb == 0, "empty bytes");
    ckpt_free(&c);
    ckpt_free(&c); /* twice is fine */
    CHECK(c.n == 0 && c.entries == NULL, "ckpt_free zeroes");
    mem_free(big);
}

/* the exact bytes of a one-entry file, from the table in docs/checkpoint.md */
static void test_golden_bytes(void) {
    const char *path = in_dir("golden.ckpt");
    struct ckpt_writer w;
    ckpt_writer_init(&w);
    ckpt_put_u64(&w, "step", 42);
    CHECK(ckpt_save(&w, path, err, sizeof err) == 0, "save: %s", err);
    ckpt_writer_free(&w);
    uint8_t want[35] = {'F', 'L', 'O', 'Q', 'C', 'K', 'P', 'T', 1, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0};
    le32(want + 20, (uint32_t)crc32(0, want, 20));
    const uint8_t payload[7] = {0x81, 0xa4, 's', 't', 'e', 'p', 42};
    memcpy(want + 24, payload, 7);
    le32(want + 31, (uint32_t)crc32(0, want, 31));
    size_t n = 0;
    uint8_t *got = read_file(path, &n);
    CHECK(got && n == sizeof want && memcmp(got, want, n) == 0, "golden bytes (%zu bytes)", n);
    mem_free(got);

    /* no entries at all */
    ckpt_writer_init(&w);
    CHECK(ckpt_save(&w, path, err, sizeof err) == 0, "empty save: %s", err);
    ckpt_writer_free(&w);
    struct ckpt c;
    uint64_t v;
    CHECK(ckpt_load(&c, path, err, sizeof err) == 0 && c.n == 0, "empty checkpoint: %s", err);
    CHECK(ckpt_get_u64(&c, "step", &v, err, sizeof err) == -1 && has(err, "(it has: nothing)"),
          "lookup in an empty checkpoint: %s", err);
    ckpt_free(&c);
}

/* the payload is plain msgpack: msgpack-c reads a (trusted) small file */
static void test_msgpack_interop(void) {
    const char *path = in_dir("interop.ckpt");
    save_small(path);
    size_t n = 0;
    uint8_t *buf = read_file(path, &n);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    int rc = msgpack_unpack_next(&up, (const char *)buf + 24, n - 28, &off);
    CHECK(rc == MSGPACK_UNPACK_SUCCESS && off == n - 28, "msgpack-c parses the payload");
    msgpack_object o = up.data;
    int ok = rc == MSGPACK_UNPACK_SUCCESS && o.type == MSGPACK_OBJECT_MAP && o.via.map.size == 6;
    for (uint32_t i = 0; ok && i < o.via.map.size; i++) {
        msgpack_object_kv *kv = &o.via.map.ptr[i];
        if (kv->key.via.str.size == 6 && memcmp(kv->key.via.str.ptr, "params", 6) == 0) {
            msgpack_object v = kv->val;
            ok = v.type == MSGPACK_OBJECT_MAP && v.via.map.size == 3 &&
                 v.via.map.ptr[2].val.type == MSGPACK_OBJECT_BIN &&
                 v.via.map.ptr[2].val.via.bin.size == 24 &&
                 v.via.map.ptr[1].val.type == MSGPACK_OBJECT_ARRAY &&
                 v.via.map.ptr[1].val.via.array.ptr[1].via.u64 == 3;
        }
    }
    CHECK(ok, "msgpack-c sees {params: {dtype, shape [2,3], data: bin 24}}");
    msgpack_unpacked_destroy(&up);
    mem_free(buf);

    /* the reader accepts any msgpack integer width and field order another writer may use */
    const uint8_t pl[] = {0x86, 0xa1, 'a',  0xd3, 0,    0,   0,    0,    0,    0,
                          0,    5,                                                /* int64 5 */
                          0xa1, 'b',  0xd0, 0xfb,                                 /* int8 -5 */
                          0xa1, 'c',  0xca, 0x3f, 0xc0, 0,   0,                   /* f32 1.5 */
                          0xa1, 'd',  0xcd, 0x01, 0x00,                           /* u16 256 */
                          0xa1, 'e',  0xcc, 0x05,                                 /* u8 5 */
                          0xa1, 'w',  0x83, 0xa4, 'd',  'a', 't',  'a',  0xc4, 8, /* data */
                          0,    0,    0x80, 0x3f, 0,    0,   0,    0x40,          /* 1, 2 */
                          0xa5, 's',  'h',  'a',  'p',  'e', 0x91, 0xd0, 2,       /* [2] */
                          0xa5, 'd',  't',  'y',  'p',  'e', 0xa2, 'f',  '4'};
    path = in_dir("other.ckpt");
    craft(path, 1, pl, sizeof pl);
    struct ckpt c;
    rc = ckpt_load(&c, path, err, sizeof err);
    CHECK(rc == 0, "hand-made payload loads: %s", err);
    uint64_t u = 0, u2 = 0;
    int64_t i = 0;
    double f = 0;
    const float *d = NULL;
    CHECK(rc == 0 && ckpt_get_u64(&c, "a", &u, err, sizeof err) == 0 && u == 5, "int64 5 as u64");
    CHECK(rc == 0 && ckpt_get_i64(&c, "b", &i, err, sizeof err) == 0 && i == -5, "int8 -5");
    CHECK(rc == 0 && ckpt_get_f64(&c, "c", &f, err, sizeof err) == 0 && f == 1.5, "float32");
    CHECK(rc == 0 && ckpt_get_u64(&c, "d", &u, err, sizeof err) == 0 && u == 256 &&
              ckpt_get_u64(&c, "e", &u2, err, sizeof err) == 0 && u2 == 5,
          "uint16/uint8");
    CHECK(rc == 0 && ckpt_get_f32(&c, "w", NULL, NULL, &d, err, sizeof err) == 0 && d[0] == 1 &&
              d[1] == 2,
          "fields in another order: %s", err);
    ckpt_free(&c);
}

/* ---- atomic saves ------------------------------------------------------------------------ */

static int load_step(const char *path, uint64_t *step) {
    struct ckpt c;
    if (ckpt_load(&c, path, err, sizeof err)) {
        return -1;
    }
    int rc = ckpt_get_u64(&c, "step", step, err, sizeof err);
    ckpt_free(&c);
    return rc;
}

static int save_step(const char *path, uint64_t step, size_t nfloats) {
    struct ckpt_writer w;
    ckpt_writer_init(&w);
    float *x = mem_alloc(nfloats * sizeof *x);
    ckpt_put_u64(&w, "step", step);
    ckpt_put_f32(&w, "params", 1, &nfloats, x);
    int rc = ckpt_save(&w, path, err, sizeof err);
    ckpt_writer_free(&w);
    mem_free(x);
    return rc;
}

static void test_atomic_save(void) {
    char path[256], tmp[256];
    snprintf(path, sizeof path, "%s", in_dir("atomic.ckpt"));
    snprintf(tmp, sizeof tmp, "%s", in_dir("atomic.ckpt.tmp"));
    uint64_t step = 0;
    CHECK(save_step(path, 1, 10) == 0 && load_step(path, &step) == 0 && step == 1, "old file");

    /* the temp file can't be created: the temp path is a directory */
    mkdir(tmp, 0755);
    int rc = save_step(path, 2, 10);
    CHECK(rc == -1 && has(err, "create") && has(err, tmp) && has(err, strerror(EISDIR)),
          "temp path is a directory: %s", err);
    CHECK(load_step(path, &step) == 0 && step == 1, "old file intact after a failed create");
    rmdir(tmp);

    /* rename fails: the destination is a directory */
    const char *dirpath = in_dir("adir");
    mkdir(dirpath, 0755);
    rc = save_step(dirpath, 2, 10);
    CHECK(rc == -1 && has(err, "rename") && has(err, dirpath), "path is a directory: %s", err);
    CHECK(!exists(in_dir("adir.tmp")), "temp file removed after a failed rename");
    struct stat st;
    CHECK(stat(dirpath, &st) == 0 && S_ISDIR(st.st_mode), "directory left alone");

    /* the directory doesn't exist */
    rc = save_step(in_dir("nope/x.ckpt"), 2, 10);
    CHECK(rc == -1 && has(err, strerror(ENOENT)) && has(err, "nope/x.ckpt.tmp"),
          "missing directory: %s", err);

    /* a write fails halfway (file size limit; root ignores permissions, so use rlimits) */
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 64 * 1024;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(RLIMIT_FSIZE, &lim) == 0) {
        rc = save_step(path, 3, 256 * 1024);
        setrlimit(RLIMIT_FSIZE, &old);
        CHECK(rc == -1 && has(err, "write") && has(err, strerror(EFBIG)) && has(err, tmp),
              "write failure names the step, the path and the errno: %s", err);
        CHECK(!exists(tmp), "temp file removed after a failed write");
        CHECK(load_step(path, &step) == 0 && step == 1, "old file intact after a failed write");
    } else {
        CHECK(0, "setrlimit(RLIMIT_FSIZE): %s", strerror(errno));
    }
    signal(SIGXFSZ, prev);

    /* a successful save replaces the file */
    CHECK(save_step(path, 4, 1000) == 0 && load_step(path, &step) == 0 && step == 4,
          "save replaces: %s", err);
    CHECK(!exists(tmp), "no temp file after a save");
}

/* bad puts are kept and reported by ckpt_save, which then writes nothing */
static void test_writer_errors(void) {
    const char *path = in_dir("werr.ckpt");
    char longkey[300];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = 0;
    size_t shape5[5] = {1, 1, 1, 1, 1}, shape1[1] = {4};
    float x[4] = {0};
    struct {
        int what;
        const char *sub;
    } cases[] = {{0, "put twice"},   {1, "empty"},        {2, "empty"},
                 {3, "longer than"}, {4, "5 dimensions"}, {5, "-1 dimensions"},
                 {6, "NULL"},        {7, "NULL"},         {8, "NULL"}};
    for (size_t k = 0; k < FLOQ_ARRAY_LEN(cases); k++) {
        struct ckpt_writer w;
        ckpt_writer_init(&w);
        ckpt_put_u64(&w, "step", 1);
        int rc = 0;
        switch (cases[k].what) {
            case 0:
                rc = ckpt_put_u64(&w, "step", 2);
                break;
            case 1:
                rc = ckpt_put_u64(&w, "", 2);
                break;
            case 2:
                rc = ckpt_put_u64(&w, NULL, 2);
                break;
            case 3:
                rc = ckpt_put_u64(&w, longkey, 2);
                break;
            case 4:
                rc = ckpt_put_f32(&w, "a", 5, shape5, x);
                break;
            case 5:
                rc = ckpt_put_f32(&w, "a", -1, shape1, x);
                break;
            case 6:
                rc = ckpt_put_f32(&w, "a", 1, shape1, NULL);
                break;
            case 7:
                rc = ckpt_put_str(&w, "a", NULL);
                break;
            case 8:
                rc = ckpt_put_bytes(&w, "a", NULL, 3);
                break;
        }
        ckpt_put_u64(&w, "", 3); /* a second error: the first message is kept */
        int src = ckpt_save(&w, path, err, sizeof err);
        CHECK(rc == -1 && src == -1 && has(err, cases[k].sub) && has(err, path) && !exists(path),
              "writer error %d: %s", cases[k].what, err);
        ckpt_writer_free(&w);
    }
    /* the entry limit */
    struct ckpt_writer w;
    ckpt_writer_init(&w);
    char key[16];
    int rc = 0;
    for (int i = 0; i <= CKPT_MAX_ENTRIES && rc == 0; i++) {
        snprintf(key, sizeof key, "k%d", i);
        rc = ckpt_put_u64(&w, key, (uint64_t)i);
    }
    CHECK(rc == -1 && w.n == CKPT_MAX_ENTRIES && has(w.err, "more than"), "entry limit: %s", w.err);
    ckpt_writer_free(&w);
}

/* ---- damaged files ----------------------------------------------------------------------- */

static void test_truncation(void) {
    const char *path = in_dir("small.ckpt"), *cut = in_dir("cut.ckpt");
    save_small(path);
    size_t n = 0;
    uint8_t *buf = read_file(path, &n);
    int bad = 0;
    for (size_t k = 0; k < n; k++) {
        write_file(cut, buf, k);
        if (!load_fails(cut, "truncated")) {
            if (bad++ == 0) {
                fprintf(stderr, "cut at %zu of %zu: %s\n", k, n, err);
            }
        }
    }
    CHECK(bad == 0, "truncated at each of %zu bytes -> 'truncated' (%d not)", n, bad);
    CHECK(has(err, "truncated (") && has(err, " bytes); "), "message gives both sizes: %s", err);
    /* one byte too many */
    uint8_t *more = mem_alloc(n + 1);
    memcpy(more, buf, n);
    write_file(cut, more, n + 1);
    CHECK(load_fails(cut, "corrupt"), "an extra byte: %s", err);
    mem_free(more);
    mem_free(buf);

    /* a 4 MB file cut at some offsets */
    const char *big = in_dir("big.ckpt");
    CHECK(save_step(big, 9, 1000 * 1000) == 0, "big save: %s", err);
    struct stat st;
    stat(big, &st);
    size_t size = (size_t)st.st_size;
    const size_t offs[] = {size - 1, size - 4, size - 5, size / 2, 4096, 25, 24, 23, 8, 7, 1, 0};
    bad = 0;
    for (size_t k = 0; k < FLOQ_ARRAY_LEN(offs); k++) {
        if (truncate(big, (off_t)offs[k]) || !load_fails(big, "truncated")) {
            if (bad++ == 0) {
                fprintf(stderr, "big cut at %zu: %s\n", offs[k], err);
            }
        }
    }
    CHECK(bad == 0, "big file truncated at %zu offsets (%d not)", FLOQ_ARRAY_LEN(offs), bad);
}

static void test_bit_flips(void) {
    const char *path = in_dir("flip0.ckpt"), *flip = in_dir("flip.ckpt");
    save_small(path);
    size_t n = 0;
    uint8_t *buf = read_file(path, &n);
    int bad = 0;
    for (size_t k = 0; k < n; k++) {
        for (int b = 0; b < 8; b++) {
            buf[k] ^= (uint8_t)(1u << b);
            write_file(flip, buf, n);
            buf[k] ^= (uint8_t)(1u << b);
            if (!load_fails(flip, k < 8 ? "not a floq checkpoint" : "corrupt")) {
                if (bad++ == 0) {
                    fprintf(stderr, "flip byte %zu bit %d: %s\n", k, b, err);
                }
            }
        }
    }
    CHECK(bad == 0, "every single-bit flip of %zu bytes is caught (%d not)", n, bad);
    mem_free(buf);

    /* a few flips in a 4 MB file, in place */
    const char *big = in_dir("bigflip.ckpt");
    CHECK(save_step(big, 9, 1000 * 1000) == 0, "big save: %s", err);
    struct stat st;
    stat(big, &st);
    size_t size = (size_t)st.st_size;
    const size_t offs[] = {8, 12, 19, 20, 24, 40, size / 3, size / 2, size - 5, size - 1};
    int fd = open(big, O_RDWR);
    bad = 0;
    for (size_t k = 0; k < FLOQ_ARRAY_LEN(offs); k++) {
        uint8_t c, x;
        if (pread(fd, &c, 1, (off_t)offs[k]) != 1) {
            bad++;
            continue;
        }
        x = c ^ 0x10;
        int ok = pwrite(fd, &x, 1, (off_t)offs[k]) == 1 && load_fails(big, "corrupt");
        ok &= pwrite(fd, &c, 1, (off_t)offs[k]) == 1;
        if (!ok && bad++ == 0) {
            fprintf(stderr, "big flip at %zu: %s\n", offs[k], err);
        }
    }
    close(fd);
    uint64_t step = 0;
    CHECK(bad == 0, "big file flips caught (%d not)", bad);
    CHECK(load_step(big, &step) == 0 && step == 9, "restored big file loads: %s", err);
}

static void test_not_a_checkpoint(void) {
    const char *path = in_dir("junk");
    write_file(path, "PK\3\4\24\0\0\0\10\0junkjunkjunkjunkjunkjunk", 34);
    CHECK(load_fails(path, "not a floq checkpoint"), "zip file: %s", err);
    write_file(path, "hello, this is a text file and not a checkpoint\n", 48);
    CHECK(load_fails(path, "not a floq checkpoint"), "text file: %s", err);
    write_file(path, "FLOQCKPX0000000000000000000000000000", 36);
    CHECK(load_fails(path, "not a floq checkpoint"), "wrong magic: %s", err);
    write_file(path, "", 0);
    CHECK(load_fails(path, "truncated (0 of at least"), "empty file: %s", err);
    CHECK(load_fails(in_dir("missing.ckpt"), strerror(ENOENT)) && has(err, "cannot open"),
          "missing file: %s", err);
    CHECK(load_fails(g_dir, "not a regular file"), "a directory: %s", err);

    const uint8_t pl[] = {0x81, 0xa1, 'k', 1};
    craft(path, 2, pl, sizeof pl);
    CHECK(load_fails(path, "format version 2; this build reads version 1"), "future: %s", err);
    craft(path, 0, pl, sizeof pl);
    CHECK(load_fails(path, "format version 0"), "version 0: %s", err);
    craft(path, 1, pl, sizeof pl);
    struct ckpt c;
    CHECK(ckpt_load(&c, path, err, sizeof err) == 0, "crafted v1 loads: %s", err);
    ckpt_free(&c);
}

/* valid checksums around payloads a hostile or buggy writer could make */
static void test_hostile(void) {
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    uint64_t allocs0 = mem_alloc_count();
#define P(...)                                                                                     \
    { (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__}) }
    struct {
        struct {
            const uint8_t *p;
            size_t n;
        } pl;
        const char *sub;
    } cases[] = {
        {P(0xdd, 0x12, 0x12, 0x12, 0x12), "not a msgpack map"},
        {P(0xdf, 0xff, 0xff, 0xff, 0xff), "declares 4294967295 elements"},
        {P(0x81, 0xa1, 'k', 0xdb, 0xff, 0xff, 0xff, 0xff), "needs 4294967295 bytes"},
        {P(0x81, 0xa1, 'k', 0xc6, 0xff, 0xff, 0xff, 0xf0), "needs 4294967280 bytes"},
        {P(0x81, 0xa1, 'k', 0xdd, 0x12, 0x12, 0x12, 0x12), "declares 303174162 elements"},
        {P(0x81, 0xdb, 0x7f, 0xff, 0xff, 0xff, 'k'), "needs 2147483647 bytes"},
        {P(0x81, 0xa1, 'k', 0x83, 0xa5, 's', 'h', 'a', 'p', 'e', 0xdd, 0x7f, 0xff, 0xff, 0xff),
         "declares 2147483647 elements"},
        {P(0x81, 0xa1, 'k', 0x83, 0xa5, 'd', 't', 'y', 'p', 'e', 0xa2, 'f', '4', 0xa5, 's', 'h',
           'a', 'p', 'e', 0x92, 0xcf, 0, 0, 1, 0, 0, 0, 0, 0, 0xcf, 0, 0, 1, 0, 0, 0, 0, 0, 0xa4,
           'd', 'a', 't', 'a', 0xc4, 0),
         "overflows"},
        {P(0x81, 0xa1, 'k', 0x83, 0xa5, 'd', 't', 'y', 'p', 'e', 0xa2, 'f', '4', 0xa5, 's', 'h',
           'a', 'p', 'e', 0x91, 0xce, 0, 0x0f, 0x42, 0x40, 0xa4, 'd', 'a', 't', 'a', 0xc4, 8, 0, 0,
           0, 0, 0, 0, 0, 0),
         "data has 8 bytes, the shape needs 1000000 floats"},
        {P(0x81, 0xa1, 'k', 0x83, 0xa5, 's', 'h', 'a', 'p', 'e', 0x95, 1, 1, 1, 1, 1),
         "shape must be"},
        {P(0x81, 0xa1, 'k', 0x83, 0xa5, 's', 'h', 'a', 'p', 'e', 0x91, 0xff), "not a size"},
        {P(0x81, 0xa1, 'k', 0x83, 0xa5, 'd', 't', 'y', 'p', 'e', 0xa2, 'f', '8'),
         "dtype \"f8\" is not supported"},
        {P(0x81, 0xa1, 'k', 0x82, 0xa5, 'd', 't', 'y', 'p', 'e', 0xa2, 'f', '4'), "2 fields"},
        {P(0x81, 0xa1, 'k', 0x83, 0xa5, 'd', 't', 'y', 'p', 'e', 0xa2, 'f', '4', 0xa5, 'd', 't',
           'y', 'p', 'e', 0xa2, 'f', '4'),
         "repeated"},
        {P(0x81, 0xa1, 'k', 0x83, 0xa3, 'f', '\n', 'o', 0xa2, 'f', '4'), "\"f?o\" is unknown"},
        {P(0x81, 0xa1, 'k', 0xc0), "type 0xc0"},
        {P(0x81, 0xa1, 'k', 0xc1), "type 0xc1"},
        {P(0x81, 0xa1, 'k', 0xd4, 1, 1), "type 0xd4"},
        {P(0x82, 0xa1, 'k', 1, 0xa1, 'k', 2), "appears twice"},
        {P(0x81, 0xa1, 'k', 1, 0), "1 bytes follow the map"},
        {P(0x83, 0xa1, 'k', 1, 0xa1, 'l', 2), "a value needs 1 bytes"},
        {P(0x81, 0xa0, 1), "keys must be"},
        {P(0x81, 0xa2, 'k', 0, 1), "keys must be"},
        {P(0x81, 1, 1), "a key is not a string"},
        {P(0x81, 0xa1, 'k', 0xa2, 'a', 0), "NUL"},
        {P(0x81, 0xa1, 'k', 0x90), "an array is not"},
        {P(0x81, 0xa1, 'k', 0xcf, 1, 2), "needs 8 bytes"},
        {P(0x81, 0xa1, 'k', 0xcb, 1, 2, 3), "needs 8 bytes"},
        {P(0x91, 0xa1, 'k'), "not a msgpack map"},
    };
#undef P
    const char *path = in_dir("hostile.ckpt");
    for (size_t k = 0; k < FLOQ_ARRAY_LEN(cases); k++) {
        craft(path, 1, cases[k].pl.p, cases[k].pl.n);
        CHECK(load_fails(path, cases[k].sub) && has(err, "malformed payload"),
              "hostile %zu (want '%s'): %s", k, cases[k].sub, err);
    }
    craft(path, 1, NULL, 0);
    CHECK(load_fails(path, "a value needs 1 bytes"), "empty payload: %s", err);

    /* entry-count limit: 5000 declared, with enough bytes that the limit itself must refuse */
    size_t n = 3 + 2 * 5000;
    uint8_t *pl = mem_alloc(n);
    pl[0] = 0xde;
    pl[1] = 5000 >> 8;
    pl[2] = 5000 & 0xff;
    craft(path, 1, pl, n);
    CHECK(load_fails(path, "5000 entries declared; this build reads at most 4096"), "%s", err);
    mem_free(pl);

    /* the most entries allowed, all distinct: loads */
    n = 3 + CKPT_MAX_ENTRIES * 8;
    pl = mem_alloc(n);
    pl[0] = 0xde;
    pl[1] = CKPT_MAX_ENTRIES >> 8;
    pl[2] = CKPT_MAX_ENTRIES & 0xff;
    for (int i = 0; i < CKPT_MAX_ENTRIES; i++) {
        uint8_t *e = pl + 3 + 8 * i;
        e[0] = 0xa6; /* fixstr of 6 digits, then a positive fixint */
        for (int d = 0, x = i; d < 6; d++, x /= 10) {
            e[6 - d] = (uint8_t)('0' + x % 10);
        }
        e[7] = (uint8_t)(i & 0x7f);
    }
    craft(path, 1, pl, n);
    struct ckpt c;
    int rc = ckpt_load(&c, path, err, sizeof err);
    uint64_t v = 0;
    CHECK(rc == 0 && c.n == CKPT_MAX_ENTRIES &&
              ckpt_get_u64(&c, "004095", &v, err, sizeof err) == 0 && v == (4095 & 0x7f),
          "4096 entries: %s", err);
    ckpt_free(&c);
    mem_free(pl);

    getrusage(RUSAGE_SELF, &ru1);
    CHECK(ru1.ru_maxrss - ru0.ru_maxrss < 256 * 1024, "hostile files grew the RSS by %ld KB",
          ru1.ru_maxrss - ru0.ru_maxrss);
    CHECK(mem_alloc_count() - allocs0 < 20000, "%" PRIu64 " allocations",
          mem_alloc_count() - allocs0);
}

/* ---- lookups ----------------------------------------------------------------------------- */

static void test_lookups(void) {
    const char *path = in_dir("look.ckpt");
    struct ckpt_writer w;
    ckpt_writer_init(&w);
    float p[20];
    for (int i = 0; i < 20; i++) {
        p[i] = (float)i;
    }
    size_t shape[2] = {4, 5};
    uint8_t rng[32] = {9};
    ckpt_put_str(&w, "agent", "fql");
    ckpt_put_u64(&w, "step", 100);
    ckpt_put_i64(&w, "neg", -3);
    ckpt_put_u64(&w, "big", UINT64_MAX);
    ckpt_put_f64(&w, "lr", 0.5);
    ckpt_put_f32(&w, "params", 2, shape, p);
    ckpt_put_bytes(&w, "rng", rng, sizeof rng);
    CHECK(ckpt_save(&w, path, err, sizeof err) == 0, "save: %s", err);
    ckpt_writer_free(&w);
    struct ckpt c;
    if (ckpt_load(&c, path, err, sizeof err)) {
        CHECK(0, "load: %s", err);
        return;
    }
    uint64_t u = 0;
    int64_t i = 0;
    double f = 0;
    const char *s = NULL;
    const float *d = NULL;
    const void *b = NULL;
    float out[21];
    uint8_t rout[32];

    CHECK(ckpt_get_u64(&c, "adam_count", &u, err, sizeof err) == -1 && has(err, path) &&
              has(err, "no entry \"adam_count\"") && has(err, "agent, step, neg, big"),
          "missing key: %s", err);
    CHECK(ckpt_find(&c, "adam_count") == NULL && ckpt_find(&c, "lr") != NULL, "ckpt_find");
    CHECK(ckpt_get_str(&c, "step", &s, err, sizeof err) == -1 &&
              has(err, "\"step\" holds an unsigned integer, expected a string"),
          "wrong kind: %s", err);
    CHECK(ckpt_get_f32(&c, "agent", NULL, NULL, &d, err, sizeof err) == -1 &&
              has(err, "\"agent\" holds a string, expected a float32 array"),
          "wrong kind: %s", err);
    CHECK(ckpt_get_bytes(&c, "params", &b, NULL, err, sizeof err) == -1 &&
              has(err, "holds a float32 array, expected bytes"),
          "wrong kind: %s", err);
    CHECK(ckpt_get_u64(&c, "agent", &u, err, sizeof err) == -1 && has(err, "holds a string"),
          "u64 of a string: %s", err);
    CHECK(ckpt_get_u64(&c, "neg", &u, err, sizeof err) == -1 && has(err, "\"neg\" is -3"),
          "negative as u64: %s", err);
    CHECK(ckpt_get_i64(&c, "big", &i, err, sizeof err) == -1 && has(err, "beyond int64"),
          "u64 max as i64: %s", err);
    CHECK(ckpt_get_i64(&c, "lr", &i, err, sizeof err) == -1 && has(err, "holds a float64"),
          "i64 of a float: %s", err);
    CHECK(ckpt_get_f64(&c, "rng", &f, err, sizeof err) == -1 && has(err, "holds bytes"),
          "f64 of bytes: %s", err);
    CHECK(ckpt_get_i64(&c, "step", &i, err, sizeof err) == 0 && i == 100, "i64 of a u64");
    CHECK(ckpt_get_f64(&c, "neg", &f, err, sizeof err) == 0 && f == -3.0, "f64 of an int");
    CHECK(ckpt_get_f64(&c, "lr", &f, err, sizeof err) == 0 && f == 0.5, "f64");
    CHECK(ckpt_get_f32_exact(&c, "params", 21, out, err, sizeof err) == -1 &&
              has(err, "params has 20 floats, this config needs 21; the checkpoint was written "
                       "with a different network size") &&
              has(err, path),
          "size mismatch: %s", err);
    CHECK(ckpt_get_f32_exact(&c, "params", 20, out, err, sizeof err) == 0 &&
              memcmp(out, p, sizeof p) == 0,
          "f32 exact copy");
    CHECK(ckpt_get_bytes_exact(&c, "rng", rout, 16, err, sizeof err) == -1 &&
              has(err, "rng has 32 bytes, expected 16"),
          "bytes size mismatch: %s", err);
    CHECK(ckpt_get_bytes_exact(&c, "rng", rout, 32, err, sizeof err) == 0 && rout[0] == 9,
          "bytes exact copy");
    CHECK(strcmp(ckpt_kind_name(CKPT_F32), "float32 array") == 0, "kind name");
    ckpt_free(&c);
}

/* ---- run directories --------------------------------------------------------------------- */

static void touch(const char *dir, const char *name) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    write_file(p, "x", 1);
}

static void test_latest(void) {
    char out[512];
    CHECK(ckpt_path(out, sizeof out, "run/checkpoints", 1000) == 0 &&
              strcmp(out, "run/checkpoints/ckpt-0000001000.ckpt") == 0,
          "ckpt_path: %s", out);
    CHECK(ckpt_path(out, sizeof out, "run/", UINT64_MAX) == 0 &&
              strcmp(out, "run/ckpt-18446744073709551615.ckpt") == 0,
          "ckpt_path, trailing slash, max step: %s", out);
    CHECK(ckpt_path(out, 10, "run", 1) == -1, "ckpt_path too long");

    char dir[256];
    snprintf(dir, sizeof dir, "%s/checkpoints", g_dir);
    mkdir(dir, 0755);
    uint64_t step = 0;
    CHECK(ckpt_latest(dir, out, sizeof out, &step, err, sizeof err) == -1 &&
              has(err, "no checkpoint") && has(err, dir),
          "empty dir: %s", err);
    const char *names[] = {"ckpt-0000000005.ckpt", "ckpt-0000000100.ckpt",
                           "ckpt-99.ckpt",         "ckpt-0000001000.ckpt.tmp",
                           "ckpt-abc.ckpt",        "ckpt-.ckpt",
                           "ckpt-100.ckptx",       "ckpt-18446744073709551616.ckpt",
                           "xckpt-5000.ckpt",      "notes.txt"};
    for (size_t k = 0; k < FLOQ_ARRAY_LEN(names); k++) {
        touch(dir, names[k]);
    }
    char sub[300];
    snprintf(sub, sizeof sub, "%s/ckpt-7000.ckpt", dir); /* a directory, not a checkpoint */
    mkdir(sub, 0755);
    char want[300];
    snprintf(want, sizeof want, "%s/ckpt-0000000100.ckpt", dir);
    int rc = ckpt_latest(dir, out, sizeof out, &step, err, sizeof err);
    CHECK(rc == 0 && step == 100 && strcmp(out, want) == 0, "latest: %s (%s)", out, err);
    touch(dir, "ckpt-18446744073709551615.ckpt");
    rc = ckpt_latest(dir, out, sizeof out, NULL, err, sizeof err);
    CHECK(rc == 0 && has(out, "ckpt-18446744073709551615.ckpt"), "max step: %s", out);
    CHECK(ckpt_latest(dir, out, 20, &step, err, sizeof err) == -1 && has(err, "longer"),
          "path_out too small: %s", err);
    CHECK(ckpt_latest(in_dir("nowhere"), out, sizeof out, &step, err, sizeof err) == -1 &&
              has(err, strerror(ENOENT)),
          "missing dir: %s", err);

    /* save -> latest -> load */
    char dir2[256];
    snprintf(dir2, sizeof dir2, "%s/run2", g_dir);
    mkdir(dir2, 0755);
    for (uint64_t s = 1000; s <= 3000; s += 1000) {
        ckpt_path(out, sizeof out, dir2, s);
        save_step(out, s, 4);
    }
    uint64_t got = 0;
    CHECK(ckpt_latest(dir2, out, sizeof out, &step, err, sizeof err) == 0 && step == 3000 &&
              load_step(out, &got) == 0 && got == 3000,
          "resume picks step 3000: %s", err);

    /* every checkpoint, newest first; pruning keeps the newest two */
    struct ckpt_file *files;
    size_t nf;
    CHECK(ckpt_list(dir, &files, &nf, err, sizeof err) == 0 && nf == 4 &&
              files[0].step == UINT64_MAX && files[1].step == 100 && files[2].step == 99 &&
              files[3].step == 5 && has(files[1].path, "ckpt-0000000100.ckpt"),
          "list: %zu files, newest first (%s)", nf, err);
    ckpt_list_free(files, nf);
    CHECK(ckpt_prune(dir, 2, err, sizeof err) == 0, "prune: %s", err);
    CHECK(ckpt_list(dir, &files, &nf, err, sizeof err) == 0 && nf == 2 && files[1].step == 100,
          "after prune(2): %zu files", nf);
    ckpt_list_free(files, nf);
    struct stat st;
    snprintf(sub, sizeof sub, "%s/ckpt-0000001000.ckpt.tmp", dir);
    CHECK(stat(sub, &st) == 0, "prune leaves other names alone");
    CHECK(ckpt_prune(dir, 0, err, sizeof err) == 0 &&
              ckpt_list(dir, &files, &nf, err, sizeof err) == 0 && nf == 2,
          "prune(0) keeps all");
    ckpt_list_free(files, nf);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/floq-ckpt-XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_hostile(); /* first, so the RSS check sees its own growth */
    test_roundtrip();
    test_golden_bytes();
    test_msgpack_interop();
    test_atomic_save();
    test_writer_errors();
    test_truncation();
    test_bit_flips();
    test_not_a_checkpoint();
    test_lookups();
    test_latest();
    rm_tree(g_dir);
    return check_report("test_ckpt");
}
