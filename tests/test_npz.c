/* test_npz — .npy/.npz reader and writer: golden file, bit-exact round trips, a ZIP64 deflated
 * file written by Python's zipfile, every-byte truncation and byte flips, and each error. */
#include "common/npz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zip.h>

#include "common/mem.h"
#include "tests/check.h"
#include "tests/tmpdir.h"

static int has(const char *err, const char *frag) {
    return strstr(err, frag) != NULL;
}

static int file_exists(const char *p) {
    return access(p, F_OK) == 0;
}

static unsigned char *read_all(const char *p, size_t *len) {
    FILE *f = fopen(p, "rb");
    if (!f) {
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = mem_alloc((size_t)n);
    *len = fread(b, 1, (size_t)n, f);
    fclose(f);
    return b;
}

static int have_python(void) {
    return system("command -v python3 >/dev/null 2>&1") == 0;
}

/* ---- golden file -------------------------------------------------------------------------- */

static void test_golden(void) {
    const char *sh = getenv("FLOQ_SHARED");
    char path[1024];
    snprintf(path, sizeof path, "%s/golden/case_tiny.npz", sh && *sh ? sh : "../shared");
    if (!file_exists(path)) {
        printf("note: %s absent, golden checks skipped\n", path);
        CHECK(1, "skip");
        return;
    }
    struct npz z;
    char err[512] = "";
    CHECK(npz_load(&z, path, err, sizeof err) == 0, "load golden: %s", err);
    CHECK(z.n == 60, "golden has 60 members, got %d", z.n);
    const struct npy_array *c = npz_find(&z, "config_json");
    CHECK(c && c->dtype == NPY_U1 && c->ndim == 1 && c->shape[0] == 862, "config_json u1 (862,)");
    CHECK(c && ((const char *)c->data)[0] == '{', "config_json starts with '{'");
    const struct npy_array *k = npz_find(&z, "params/floq/dense0/kernel");
    CHECK(k && k->dtype == NPY_F4 && k->ndim == 3 && k->shape[0] == 2 && k->shape[1] == 59 &&
              k->shape[2] == 32 && k->count == 2 * 59 * 32,
          "kernel <f4 (2,59,32)");
    if (k) {
        const float *w = k->data;
        CHECK(w[0] == 0.2413969337940216f && w[1] == 0.10672643035650253f, "kernel[0..1]");
        CHECK(w[k->count - 1] == -0.029176460579037666f, "kernel last");
    }
    const struct npy_array *fs = npz_find(&z, "qread/flow_steps");
    CHECK(fs && fs->dtype == NPY_I4 && fs->ndim == 0 && fs->count == 1, "flow_steps <i4 scalar");
    CHECK(fs && *(const int32_t *)fs->data == 6, "flow_steps value");
    const struct npy_array *r = npz_find(&z, "batch/rewards");
    float rf[24];
    CHECK(r && npy_to_f32(r, rf) == 0 && rf[0] == -1.0f, "rewards to f32");
    CHECK(npz_find(&z, "nope") == NULL, "absent member is NULL");
    npz_free(&z);
    npz_free(&z);
    CHECK(z.n == 0 && z.arrays == NULL, "free twice");

    const char *names[] = {"qread/flow_steps", "config_json", "absent"};
    CHECK(npz_load_select(&z, path, names, 3, err, sizeof err) == 0 && z.n == 2,
          "select loads 2 members: %s", err);
    npz_free(&z);
}

/* ---- round trips -------------------------------------------------------------------------- */

/* deterministic bytes for a dtype, with float specials (NaN payload, -0, inf, denormal) */
static void fill(enum npy_dtype t, void *p, size_t count, unsigned seed) {
    uint32_t s = 2463534242u + seed;
    for (size_t i = 0; i < count; i++) {
        s ^= s << 13, s ^= s >> 17, s ^= s << 5;
        switch (t) {
            case NPY_F4: {
                uint32_t specials[] = {0x7fc00123u, 0x80000000u, 0x7f800000u, 0x00000001u};
                uint32_t v = i < 4 ? specials[i] : s;
                memcpy((char *)p + 4 * i, &v, 4);
                break;
            }
            case NPY_F8: {
                uint64_t v = ((uint64_t)s << 32) | (s * 2654435761u);
                if (i == 0) {
                    v = 0x7ff8000000000abcull;
                }
                memcpy((char *)p + 8 * i, &v, 8);
                break;
            }
            case NPY_I4:
                ((int32_t *)p)[i] = (int32_t)s;
                break;
            case NPY_I8:
                ((int64_t *)p)[i] = (int64_t)(((uint64_t)s << 31) ^ s) * (i % 2 ? -1 : 1);
                break;
            case NPY_U1:
                ((uint8_t *)p)[i] = (uint8_t)s;
                break;
            case NPY_B1:
                ((uint8_t *)p)[i] = (uint8_t)(s & 1);
                break;
        }
    }
}

struct rt_case {
    int ndim;
    int64_t shape[3];
};

static const struct rt_case rt_cases[] = {{0, {0}}, {1, {5}}, {3, {2, 3, 4}}, {2, {0, 3}}};

static void test_roundtrip(void) {
    char err[512] = "";
    for (int compress = 0; compress <= 1; compress++) {
        const char *path = tpath(compress ? "rt_deflate.npz" : "rt_stored.npz");
        struct npz_writer *w;
        CHECK(npz_writer_open(&w, path, compress, err, sizeof err) == 0, "open: %s", err);
        void *bufs[6 * 4];
        char names[6 * 4][32];
        int nb = 0;
        for (int t = NPY_F4; t <= NPY_B1; t++) {
            for (size_t c = 0; c < sizeof rt_cases / sizeof rt_cases[0]; c++) {
                size_t count = 1;
                for (int d = 0; d < rt_cases[c].ndim; d++) {
                    count *= (size_t)rt_cases[c].shape[d];
                }
                bufs[nb] = mem_alloc(count * npy_dtype_size((enum npy_dtype)t) + 1);
                fill((enum npy_dtype)t, bufs[nb], count, (unsigned)nb);
                snprintf(names[nb], sizeof names[0], "grp/%s_%zu", npy_dtype_descr(t) + 1, c);
                CHECK(npz_writer_add(w, names[nb], (enum npy_dtype)t, rt_cases[c].ndim,
                                     rt_cases[c].shape, bufs[nb], err, sizeof err) == 0,
                      "add %s: %s", names[nb], err);
                nb++;
            }
        }
        CHECK(npz_writer_close(w, err, sizeof err) == 0, "close: %s", err);
        char tmp[256];
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        CHECK(file_exists(path) && !file_exists(tmp), "final file present, no .tmp");

        struct npz z;
        CHECK(npz_load(&z, path, err, sizeof err) == 0, "reload: %s", err);
        CHECK(z.n == nb, "member count %d vs %d", z.n, nb);
        nb = 0;
        for (int t = NPY_F4; t <= NPY_B1; t++) {
            for (size_t c = 0; c < sizeof rt_cases / sizeof rt_cases[0]; c++, nb++) {
                const struct npy_array *a = npz_find(&z, names[nb]);
                int ok = a && a->dtype == (enum npy_dtype)t && a->ndim == rt_cases[c].ndim;
                for (int d = 0; ok && d < a->ndim; d++) {
                    ok = a->shape[d] == rt_cases[c].shape[d];
                }
                ok = ok && memcmp(a->data, bufs[nb], a->count * npy_dtype_size(a->dtype)) == 0;
                ok = ok && ((uintptr_t)a->data % 64) == 0;
                CHECK(ok, "round trip %s (compress %d)", names[nb], compress);
                mem_free(bufs[nb]);
            }
        }
        npz_free(&z);

        /* numpy's side: zipfile CRCs, methods, 64-byte aligned v1.0 headers */
        if (have_python()) {
            char cmd[1024];
            snprintf(cmd, sizeof cmd,
                     "python3 -c \"import zipfile,ast,sys\n"
                     "z=zipfile.ZipFile(sys.argv[1])\n"
                     "assert z.testzip() is None\n"
                     "for i in z.infolist():\n"
                     " assert i.compress_type==%d, i.compress_type\n"
                     " d=z.read(i.filename); hl=int.from_bytes(d[8:10],'little')\n"
                     " assert d[:8]==b'\\x93NUMPY\\x01\\x00' and (10+hl)%%64==0\n"
                     " assert d[9+hl:10+hl]==b'\\n'\n"
                     " h=ast.literal_eval(d[10:10+hl].decode())\n"
                     " assert h['fortran_order'] is False\n"
                     "\" %s",
                     compress ? 8 : 0, path);
            CHECK(system(cmd) == 0, "python zipfile reads our %s", path);
        }
    }

    /* single .npy save/load and the exact numpy header text */
    const char *p = tpath("one.npy");
    float x[12];
    fill(NPY_F4, x, 12, 7);
    int64_t sh[2] = {3, 4};
    CHECK(npy_save(p, NPY_F4, 2, sh, x, err, sizeof err) == 0, "npy_save: %s", err);
    size_t len;
    unsigned char *raw = read_all(p, &len);
    const char *want = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }";
    CHECK(raw && len == 128 + 48 && memcmp(raw, "\x93NUMPY\x01\x00\x76\x00", 10) == 0 &&
              memcmp(raw + 10, want, strlen(want)) == 0 && raw[127] == '\n',
          "npy header text and alignment");
    struct npy_array a;
    CHECK(npy_load(&a, p, err, sizeof err) == 0 && a.count == 12 && !memcmp(a.data, x, 48) &&
              strcmp(a.name, "one") == 0,
          "npy_load: %s", err);
    npy_free(&a);
    npy_free(&a);
    CHECK(npy_parse(&a, raw, len, "mem", err, sizeof err) == 0 && a.shape[1] == 4, "npy_parse");
    npy_free(&a);
    mem_free(raw);

    /* empty archive */
    struct npz_writer *w;
    struct npz z;
    const char *e = tpath("empty.npz");
    CHECK(npz_writer_open(&w, e, 1, err, sizeof err) == 0 &&
              npz_writer_close(w, err, sizeof err) == 0,
          "empty npz: %s", err);
    CHECK(npz_load(&z, e, err, sizeof err) == 0 && z.n == 0, "empty npz reads: %s", err);
    npz_free(&z);
}

/* ---- a ZIP64 file from Python's zipfile (numpy's layout), v1/v2/v3 headers -------------- */

static const char *py_zip64 =
    "import zipfile,struct,sys\n"
    "def npy(descr,shape,data,ver=1):\n"
    "  h=\"{'descr': '%s', 'fortran_order': False, 'shape': %s, }\"%(descr,shape)\n"
    "  pre=10 if ver==1 else 12\n"
    "  h=h+' '*(64-(pre+len(h)+1)%64)+'\\n'\n"
    "  n=struct.pack('<H',len(h)) if ver==1 else struct.pack('<I',len(h))\n"
    "  return b'\\x93NUMPY'+bytes([ver,0])+n+h.encode()+data\n"
    "for path,meth in ((sys.argv[1],zipfile.ZIP_DEFLATED),(sys.argv[2],zipfile.ZIP_STORED)):\n"
    "  z=zipfile.ZipFile(path,'w',compression=meth)\n"
    "  m={'a.npy':npy('<f4','(3, 4)',struct.pack('<12f',*[i*0.5 for i in range(12)])),\n"
    "     'b.npy':npy('|b1','(5,)',bytes([1,0,1,1,0]),2),\n"
    "     'c.npy':npy('<i8','()',struct.pack('<q',-7),3),\n"
    "     'd/e.npy':npy('<f8','(2000,)',struct.pack('<2000d',*[1.0]*2000))}\n"
    "  for k,v in m.items():\n"
    "    with z.open(k,'w',force_zip64=True) as f: f.write(v)\n"
    "  z.writestr('readme.txt','not an array')\n"
    "  z.close()\n";

static void test_python_zip64(void) {
    if (!have_python()) {
        printf("note: python3 absent, ZIP64 check skipped\n");
        CHECK(1, "skip");
        return;
    }
    const char *py = tpath("mk.py"), *p8 = tpath("py64_deflate.npz"),
               *p0 = tpath("py64_stored.npz");
    write_file(py, py_zip64, strlen(py_zip64));
    char cmd[600];
    snprintf(cmd, sizeof cmd, "python3 %s %s %s", py, p8, p0);
    CHECK(system(cmd) == 0, "python wrote zip64 files");
    for (int k = 0; k < 2; k++) {
        const char *p = k ? p0 : p8;
        size_t len;
        unsigned char *raw = read_all(p, &len);
        /* local header: sizes 0xFFFFFFFF, zip64 extra id 1 */
        CHECK(raw && len > 40 && !memcmp(raw + 18, "\xff\xff\xff\xff\xff\xff\xff\xff", 8) &&
                  raw[30 + raw[26]] == 1 && raw[31 + raw[26]] == 0,
              "%s has numpy's zip64 local header", p);
        mem_free(raw);
        struct npz z;
        char err[512] = "";
        CHECK(npz_load(&z, p, err, sizeof err) == 0, "read %s: %s", p, err);
        CHECK(z.n == 4, "4 .npy members (readme skipped), got %d", z.n);
        const struct npy_array *a = npz_find(&z, "a"), *b = npz_find(&z, "b"),
                               *c = npz_find(&z, "c"), *e = npz_find(&z, "d/e");
        CHECK(a && a->dtype == NPY_F4 && a->shape[0] == 3 && a->shape[1] == 4 &&
                  ((float *)a->data)[11] == 5.5f,
              "a");
        CHECK(b && b->dtype == NPY_B1 && b->ndim == 1 && b->count == 5 &&
                  !memcmp(b->data, "\1\0\1\1\0", 5),
              "b (v2.0 header)");
        CHECK(c && c->dtype == NPY_I8 && c->ndim == 0 && *(int64_t *)c->data == -7,
              "c (v3.0 header)");
        CHECK(e && e->count == 2000 && ((double *)e->data)[1999] == 1.0, "d/e");
        npz_free(&z);
    }
}

/* ---- corruption ----------------------------------------------------------------------------*/

/* loads path; returns rc and, if it loaded, whether every array equals the reference */
static int load_same(const char *path, const struct npz *ref, int *same, char *err, size_t errsz) {
    struct npz z;
    err[0] = 0;
    int rc = npz_load(&z, path, err, errsz);
    *same = 0;
    if (rc == 0) {
        *same = z.n == ref->n;
        for (int i = 0; *same && i < ref->n; i++) {
            const struct npy_array *r = &ref->arrays[i], *a = npz_find(&z, r->name);
            *same = a && a->dtype == r->dtype && a->count == r->count && a->ndim == r->ndim &&
                    !memcmp(a->shape, r->shape, sizeof a->shape) &&
                    !memcmp(a->data, r->data, a->count * npy_dtype_size(a->dtype));
        }
        npz_free(&z);
    }
    return rc;
}

static void test_corruption(void) {
    char err[512];
    for (int compress = 0; compress <= 1; compress++) {
        const char *good = tpath(compress ? "small_d.npz" : "small_s.npz");
        const char *bad = tpath("bad.npz");
        float x[6] = {1, 2, 3, 4, 5, 6};
        int32_t s = 42;
        int64_t sh[2] = {2, 3};
        struct npz_writer *w;
        npz_writer_open(&w, good, compress, err, sizeof err);
        npz_writer_add(w, "x", NPY_F4, 2, sh, x, err, sizeof err);
        npz_writer_add(w, "s", NPY_I4, 0, NULL, &s, err, sizeof err);
        CHECK(npz_writer_close(w, err, sizeof err) == 0, "write small: %s", err);
        struct npz ref;
        CHECK(npz_load(&ref, good, err, sizeof err) == 0, "small loads: %s", err);
        size_t len;
        unsigned char *raw = read_all(good, &len);

        int trunc_ok = 1, flip_ok = 1, flips_caught = 0;
        for (size_t cut = 0; cut < len; cut++) {
            write_file(bad, raw, cut);
            int same;
            int rc = load_same(bad, &ref, &same, err, sizeof err);
            if (rc != -1 || err[0] == 0 || strchr(err, '\n')) {
                trunc_ok = 0;
                fprintf(stderr, "truncation at %zu: rc %d err '%s'\n", cut, rc, err);
            }
        }
        CHECK(trunc_ok, "every truncation of %s (%zu bytes) fails with a message", good, len);
        for (size_t i = 0; i < len; i++) {
            /* all bits on even bytes, the low bit on odd ones */
            unsigned char m = i % 2 ? 0x01 : 0xff;
            raw[i] ^= m;
            write_file(bad, raw, len);
            raw[i] ^= m;
            int same;
            int rc = load_same(bad, &ref, &same, err, sizeof err);
            if (rc == -1) {
                flips_caught++;
            }
            if (!((rc == -1 && err[0]) || (rc == 0 && same))) {
                flip_ok = 0;
                fprintf(stderr, "flip at %zu: rc %d err '%s' same %d\n", i, rc, err, same);
            }
        }
        CHECK(flip_ok, "every byte flip of %s fails or reads identical data", good);
        printf("note: %s: %zu bytes, %d of %zu flips rejected, rest in unchecked metadata\n", good,
               len, flips_caught, len);

        /* a flipped data byte is a CRC error (stored: the float data is at the end of x.npy) */
        if (!compress) {
            unsigned char *hit = NULL;
            for (size_t i = 0; i + 4 <= len; i++) {
                float v;
                memcpy(&v, raw + i, 4);
                if (v == 6.0f) {
                    hit = raw + i;
                    break;
                }
            }
            CHECK(hit != NULL, "found the data bytes");
            if (hit) {
                hit[1] ^= 0x10;
                write_file(bad, raw, len);
                int same;
                CHECK(load_same(bad, &ref, &same, err, sizeof err) == -1 && has(err, "CRC") &&
                          has(err, "'x.npy'"),
                      "CRC error named: %s", err);
            }
        }
        mem_free(raw);
        npz_free(&ref);
    }

    /* every truncation of an in-memory .npy */
    float x[6] = {1, 2, 3, 4, 5, 6};
    int64_t sh[1] = {6};
    const char *p = tpath("t.npy");
    npy_save(p, NPY_F4, 1, sh, x, err, sizeof err);
    size_t len;
    unsigned char *raw = read_all(p, &len);
    int ok = 1;
    for (size_t cut = 0; cut < len; cut++) {
        struct npy_array a;
        if (npy_parse(&a, raw, cut, "t", err, sizeof err) != -1 || !err[0]) {
            ok = 0;
        }
    }
    CHECK(ok, "every truncation of a .npy image fails");
    mem_free(raw);
}

/* ---- specific errors -------------------------------------------------------------------- */

/* builds a v1 .npy image with the given dict text and data bytes */
static size_t mk_npy(unsigned char *out, const char *dict, const void *data, size_t n) {
    size_t hl = strlen(dict);
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    out[8] = (unsigned char)(hl & 0xff);
    out[9] = (unsigned char)(hl >> 8);
    memcpy(out + 10, dict, hl);
    memcpy(out + 10 + hl, data, n);
    return 10 + hl + n;
}

static void expect_parse(const char *dict, size_t ndata, const char *frag) {
    unsigned char buf[4096], data[256] = {0};
    size_t len = mk_npy(buf, dict, data, ndata);
    struct npy_array a;
    char err[512] = "";
    int rc = npy_parse(&a, buf, len, "case", err, sizeof err);
    CHECK(rc == -1 && has(err, frag) && has(err, "case"), "'%s' -> '%s' (got: %s)", dict, frag,
          err);
    if (rc == 0) {
        npy_free(&a);
    }
}

/* a zip holding one raw member, written with libzip directly */
static void write_raw_zip(const char *path, const char *name, const void *buf, size_t n) {
    int e;
    zip_t *za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &e);
    zip_source_t *s = zip_source_buffer(za, buf, n, 0);
    zip_file_add(za, name, s, 0);
    zip_close(za);
}

static void test_errors(void) {
    /* {'descr': DESCR, 'fortran_order': False, 'shape': SHAPE, } with NDATA data bytes */
    static const struct {
        const char *descr, *shape;
        size_t ndata;
        const char *frag;
    } bad[] = {
        {"'<f2'", "(2,)", 4, "dtype '<f2' is not supported"},
        {"'<U5'", "(2,)", 40, "dtype '<U5' is not numeric"},
        {"'|O'", "(2,)", 16, "not numeric"},
        {"'>f4'", "(2,)", 8, "dtype '>f4' is big-endian"},
        {"[('a', '<f4')]", "(2,)", 8, "structured"},
        {"'<f4'", "(3, 4)", 40, "truncated"},
        {"'<f4'", "(3, 4)", 52, "trailing"},
        {"'<f8'", "(4294967296, 4294967296)", 8, "overflow"},
        {"'<f8'", "(99999999999999999999,)", 8, "overflow"},
        {"'<f4'", "(1,1,1,1,1,1,1,1,1)", 4, "more than 8"},
        {"'<f4'", "(-1,)", 4, "shape"},
    };
    char d[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(d, sizeof d, "{'descr': %s, 'fortran_order': False, 'shape': %s, }\n",
                 bad[i].descr, bad[i].shape);
        expect_parse(d, bad[i].ndata, bad[i].frag);
    }
    expect_parse("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }\n", 16,
                 "fortran_order True");
    expect_parse("{'descr': '<f4', 'shape': (1,), }\n", 4, "lacks");
    expect_parse("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}\n", 4,
                 "key other than");
    expect_parse("descr: <f4\n", 4, "dict");

    /* accepted variants: python2 long ints, no trailing comma, '<u1', '=f4' */
    unsigned char buf[512], dat[16] = {2};
    struct npy_array a;
    char err[512] = "";
    const char *ok[] = {"{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 2L)}",
                        "{\"descr\": \"<u1\", \"fortran_order\": False, \"shape\": (16,)}",
                        "{'shape': (4,), 'fortran_order': False, 'descr': '=f4', }      \n"};
    for (size_t i = 0; i < 3; i++) {
        size_t len = mk_npy(buf, ok[i], dat, 16);
        CHECK(npy_parse(&a, buf, len, "ok", err, sizeof err) == 0, "accept %s: %s", ok[i], err);
        npy_free(&a);
    }
    /* bool bytes must be 0/1 */
    size_t len = mk_npy(buf, "{'descr': '|b1', 'fortran_order': False, 'shape': (16,), }", dat, 16);
    CHECK(npy_parse(&a, buf, len, "b", err, sizeof err) == -1 && has(err, "not 0/1"), "bool 2: %s",
          err);
    /* magic and version */
    len = mk_npy(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", dat, 4);
    buf[1] = 'X';
    CHECK(npy_parse(&a, buf, len, "m", err, sizeof err) == -1 && has(err, "bad magic"), "magic");
    buf[1] = 'N';
    buf[6] = 4;
    CHECK(npy_parse(&a, buf, len, "v", err, sizeof err) == -1 && has(err, "version 4.0"), "ver");
    buf[6] = 1;
    buf[8] = 0xff;
    CHECK(npy_parse(&a, buf, len, "h", err, sizeof err) == -1 && has(err, "header length"), "hl");

    /* the same through a zip member: message names file and member */
    const char *zp = tpath("fortran.npz");
    len = mk_npy(buf, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", dat, 16);
    write_raw_zip(zp, "obs.npy", buf, len);
    struct npz z;
    CHECK(npz_load(&z, zp, err, sizeof err) == -1 && has(err, zp) && has(err, "'obs.npy'") &&
              has(err, "fortran_order True"),
          "npz fortran: %s", err);
    len = mk_npy(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", dat, 16);
    write_raw_zip(zp, "obs.npy", buf, len);
    CHECK(npz_load(&z, zp, err, sizeof err) == -1 && has(err, "'obs.npy'") && has(err, "need 48"),
          "npz size mismatch: %s", err);
    write_raw_zip(zp, "obs.npy", "hello world", 11);
    CHECK(npz_load(&z, zp, err, sizeof err) == -1 && has(err, "bad magic"), "npz magic: %s", err);

    /* not a zip, missing file */
    const char *tp = tpath("text.npz");
    write_file(tp, "just some text, not a zip archive at all", 40);
    CHECK(npz_load(&z, tp, err, sizeof err) == -1 && has(err, "not a ZIP"), "not zip: %s", err);
    CHECK(npz_load(&z, tpath("missing.npz"), err, sizeof err) == -1 && has(err, "cannot open"),
          "missing: %s", err);
    CHECK(npy_load(&a, tpath("missing.npy"), err, sizeof err) == -1 && has(err, "cannot open"),
          "missing npy: %s", err);

    /* writer errors */
    struct npz_writer *w;
    const char *wp = tpath("w.npz");
    float x[4] = {0};
    int64_t sh9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1}, shn[1] = {-2}, sh1[1] = {4};
    npz_writer_open(&w, wp, 0, err, sizeof err);
    CHECK(npz_writer_add(w, "a", NPY_F4, 9, sh9, x, err, sizeof err) == -1 && has(err, "ndim"),
          "ndim 9: %s", err);
    CHECK(npz_writer_add(w, "a", NPY_F4, 1, shn, x, err, sizeof err) == -1 && has(err, "shape"),
          "negative: %s", err);
    CHECK(npz_writer_add(w, "a", NPY_F4, 1, sh1, NULL, err, sizeof err) == -1 && has(err, "NULL"),
          "null data: %s", err);
    CHECK(npz_writer_add(w, "a", NPY_F4, 1, sh1, x, err, sizeof err) == 0, "add a");
    CHECK(npz_writer_add(w, "a", NPY_F4, 1, sh1, x, err, sizeof err) == -1 && has(err, "twice"),
          "dup: %s", err);
    npz_writer_abort(w);
    npz_writer_abort(NULL);
    CHECK(!file_exists(wp), "abort leaves nothing");
    npz_writer_open(&w, "/nonexistent-dir/x.npz", 1, err, sizeof err);
    npz_writer_add(w, "a", NPY_F4, 1, sh1, x, err, sizeof err);
    CHECK(npz_writer_close(w, err, sizeof err) == -1 && has(err, "/nonexistent-dir/x.npz"),
          "unwritable dir: %s", err);
    CHECK(!file_exists("/nonexistent-dir/x.npz.tmp"), "no tmp left");
    CHECK(npy_save("/nonexistent-dir/x.npy", NPY_F4, 1, sh1, x, err, sizeof err) == -1,
          "npy_save unwritable");
}

int main(void) {
    tmpdir_make("test_npz");
    test_golden();
    test_roundtrip();
    test_python_zip64();
    test_corruption();
    test_errors();
    CHECK(tmpdir_remove() == 0, "temp dir empty at the end");
    return check_report("test_npz");
}
