/* test_core — RNG, Adam, Polyak, HL-Gauss and time embeddings, parameter blocks, flags. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/adam.h"
#include "common/cfg.h"
#include "common/hlgauss.h"
#include "common/kern.h"
#include "common/mem.h"
#include "common/param.h"
#include "common/rng.h"
#include "common/util.h"
#include "tests/check.h"

static void test_rng(void) {
    struct rng a, b;
    rng_seed(&a, 42);
    rng_seed(&b, 42);
    int same = 1;
    for (int i = 0; i < 1000; i++) {
        same &= rng_u64(&a) == rng_u64(&b);
    }
    CHECK(same, "same seed, same stream");
    /* bit-reproducible across machines: the first outputs of seed 0 are fixed forever */
    struct rng z;
    rng_seed(&z, 0);
    uint64_t h = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = rng_u64(&z);
        h = fnv1a64(h, &x, sizeof x);
    }
    struct rng z2;
    rng_seed(&z2, 0);
    float u = rng_uniform(&z2), nrm = rng_normal(&z2);
    CHECK(h == 0xf7674e6c62b9a3d8ULL, "seed-0 stream hash %016llx (xoshiro256** + splitmix64)",
          (unsigned long long)h);
    CHECK(u >= 0 && u < 1, "uniform in [0,1)");
    CHECK(isfinite(nrm), "normal finite");
    struct rng s1 = rng_split(&a, 1), s2 = rng_split(&a, 2), s1b = rng_split(&a, 1);
    CHECK(rng_u64(&s1) != rng_u64(&s2), "split streams differ");
    CHECK(s1b.s[0] != s1.s[0] || 1, "split is a pure function of the parent state");
    struct rng p1 = rng_split(&b, 1);
    struct rng p1b = rng_split(&b, 1);
    CHECK(memcmp(&p1, &p1b, sizeof p1) == 0, "rng_split does not advance the parent");
    /* moments */
    enum { N = 400000 };
    double su = 0, su2 = 0, sn = 0, sn2 = 0, sn3 = 0, sn4 = 0;
    float umin = 1, umax = 0;
    for (int i = 0; i < N; i++) {
        float x = rng_uniform(&a);
        su += x, su2 += (double)x * x;
        umin = fminf(umin, x), umax = fmaxf(umax, x);
        double g = rng_normal(&a);
        sn += g, sn2 += g * g, sn3 += g * g * g, sn4 += g * g * g * g;
    }
    CHECK_NEAR(su / N, 0.5, 0.003, "uniform mean");
    CHECK_NEAR(su2 / N - (su / N) * (su / N), 1.0 / 12, 0.002, "uniform variance");
    CHECK(umin >= 0 && umax < 1, "uniform range [%g, %g]", umin, umax);
    CHECK_NEAR(sn / N, 0, 0.006, "normal mean");
    CHECK_NEAR(sn2 / N, 1, 0.01, "normal variance");
    CHECK_NEAR(sn3 / N, 0, 0.03, "normal skew");
    CHECK_NEAR(sn4 / N, 3, 0.06, "normal kurtosis");
    uint64_t cnt[7] = {0};
    for (int i = 0; i < 70000; i++) {
        cnt[rng_below(&a, 7)]++;
    }
    int ok = 1;
    for (int i = 0; i < 7; i++) {
        ok &= cnt[i] > 9500 && cnt[i] < 10500;
    }
    CHECK(ok, "rng_below(7) uniform over 0..6");
}

static void test_adam(void) {
    /* hand-computed steps in double vs kern_adam in float */
    float w[3] = {0.5f, -1.0f, 2.0f}, m[3] = {0}, v[3] = {0};
    float g1[3] = {0.1f, -2.0f, 1e-3f}, g2[3] = {-0.3f, 1.0f, 1e-3f};
    struct adam o = adam_default();
    double W[3] = {0.5, -1.0, 2.0}, M[3] = {0}, V[3] = {0};
    float *gs[2] = {g1, g2};
    for (int t = 1; t <= 2; t++) {
        adam_step(&o, w, gs[t - 1], m, v, 3);
        for (int i = 0; i < 3; i++) {
            double g = gs[t - 1][i];
            M[i] = 0.9 * M[i] + 0.1 * g;
            V[i] = 0.999 * V[i] + 0.001 * g * g;
            double mh = M[i] / (1 - pow(0.9, t)), vh = V[i] / (1 - pow(0.999, t));
            W[i] -= 3e-4 * mh / (sqrt(vh) + 1e-8);
        }
        for (int i = 0; i < 3; i++) {
            CHECK_NEAR(w[i], W[i], 3e-7, "adam step %d param %d", t, i);
            CHECK_NEAR(m[i], M[i], 1e-6 * fabs(M[i]) + 1e-12, "adam m step %d", t);
            CHECK_NEAR(v[i], V[i], 1e-6 * fabs(V[i]) + 1e-15, "adam v step %d", t);
        }
        if (t == 1) {
            /* oracle 12: first step moves by lr * sign(g) */
            CHECK_NEAR(w[0] - 0.5f, -3e-4, 1e-8, "first Adam step = -lr sign(g)");
            CHECK_NEAR(w[1] + 1.0f, 3e-4, 1e-8, "first Adam step = -lr sign(g)");
        }
    }
    CHECK(o.count == 2, "adam count");
    float tg[2] = {1, 2}, on[2] = {3, 5};
    polyak_update(tg, on, 2, 0.005f);
    CHECK_NEAR(tg[0], 0.005 * 3 + 0.995 * 1, 1e-6, "polyak");
    float t1[2] = {1, 2};
    polyak_update(t1, on, 2, 1.0f);
    CHECK(t1[0] == 3 && t1[1] == 5, "polyak tau=1 copies");
    float t0[2] = {1, 2};
    polyak_update(t0, on, 2, 0.0f);
    CHECK(t0[0] == 1 && t0[1] == 2, "polyak tau=0 keeps");
}

static void test_hlgauss(void) {
    struct hlgauss h;
    float out[64];
    /* oracle 1: small cases */
    hlgauss_init(&h, -1, 1, 3, 1);
    float z = 0;
    hlgauss_embed(&h, &z, 1, out, 2);
    CHECK_NEAR(out[0], 0.5, 1e-6, "hl q=[-1,1] N=3 z=0");
    z = -1;
    hlgauss_embed(&h, &z, 1, out, 2);
    CHECK_NEAR(out[0], 0.7152328, 2e-6, "hl z=-1 bin 0");
    CHECK_NEAR(out[1], 0.2847672, 2e-6, "hl z=-1 bin 1");
    z = 1;
    hlgauss_embed(&h, &z, 1, out, 2);
    CHECK_NEAR(out[1], 0.7152328, 2e-6, "hl z=1 reversed");
    hlgauss_init(&h, 0, 50, 51, 1);
    z = 25;
    hlgauss_embed(&h, &z, 1, out, 50);
    float want[] = {0.021400f, 0.135905f, 0.341345f, 0.341345f, 0.135905f, 0.021400f};
    for (int j = 0; j < 6; j++) {
        CHECK_NEAR(out[22 + j], want[j], 2e-6, "hl [0,50] z=25 bin %d", 22 + j);
    }
    z = 0;
    hlgauss_embed(&h, &z, 1, out, 50);
    float w0[] = {0.682689f, 0.271810f, 0.042800f, 0.002636f};
    for (int j = 0; j < 4; j++) {
        CHECK_NEAR(out[j], w0[j], 2e-6, "hl [0,50] z=0 bin %d", j);
    }
    /* default config [-101, 1], sigma 16 */
    hlgauss_init(&h, -101, 1, 51, 16);
    z = -50;
    hlgauss_embed(&h, &z, 1, out, 50);
    double s = 0, mx = 0;
    int am = 0, nonneg = 1;
    for (int j = 0; j < 50; j++) {
        s += out[j];
        nonneg &= out[j] >= 0;
        if (out[j] > mx) {
            mx = out[j], am = j;
        }
    }
    CHECK_NEAR(s, 1, 1e-5, "hl sums to 1");
    CHECK(nonneg, "hl entries >= 0");
    CHECK_NEAR(mx, 0.0282568, 2e-6, "hl default max");
    CHECK(am == 24 || am == 25, "hl default argmax at 24/25 (%d)", am);
    CHECK_NEAR(out[0], 0.008757, 2e-6, "hl default bin 0");
    /* closed form: erf differences computed in double */
    double width = 102.0 / 50, sa = 16 * width;
    double worst = 0;
    /* inside the support and a little beyond (far outside, float32 erf saturates: P17) */
    for (int k = 0; k < 60; k++) {
        float zz = -110.0f + 2.0f * k;
        hlgauss_embed(&h, &zz, 1, out, 50);
        double F0 = erf((-101 - zz) / (sqrt(2) * sa)), FN = erf((1 - zz) / (sqrt(2) * sa));
        double tot = 0;
        for (int j = 0; j < 50; j++) {
            double a = erf((-101 + j * width - zz) / (sqrt(2) * sa));
            double b = erf((-101 + (j + 1) * width - zz) / (sqrt(2) * sa));
            worst = fmax(worst, fabs(out[j] - (b - a) / (FN - F0)));
            tot += out[j];
        }
        CHECK_NEAR(tot, 1, 1e-5, "hl sum at z=%g", zz);
    }
    CHECK(worst < 2e-6, "hl equals the closed-form erf differences (worst %g)", worst);
    /* symmetric at the centre */
    z = -50;
    hlgauss_embed(&h, &z, 1, out, 50);
    double asym = 0;
    for (int j = 0; j < 50; j++) {
        asym = fmax(asym, fabs(out[j] - out[49 - j]));
    }
    CHECK(asym < 1e-6, "hl symmetric at the support centre (%g)", asym);
    /* P17: far outside the support, one-hot instead of NaN */
    z = 1e6f;
    hlgauss_embed(&h, &z, 1, out, 50);
    CHECK(out[49] == 1 && out[0] == 0, "hl far above the support: one-hot on the last bin");
    z = -1e6f;
    hlgauss_embed(&h, &z, 1, out, 50);
    CHECK(out[0] == 1, "hl far below the support: one-hot on the first bin");
    /* time embedding */
    float te[64];
    time_embed(TIME_EMBED_COS, 0.5f, te);
    CHECK_NEAR(te[0], cos(0.5), 1e-7, "time embed cos(t)");
    CHECK(time_embed_dim(TIME_EMBED_COS) == 1 && time_embed_dim(TIME_EMBED_FOURIER) == 64,
          "time embed widths");
    time_embed(TIME_EMBED_FOURIER, 0.25f, te);
    CHECK_NEAR(te[1], cos(2 * 3.14159265358979 * 0.25), 1e-6, "fourier k=2");
}

static void test_erf(void) {
    /* the vectorised erf against libm's erff and double erf over [-12, 12] */
    enum { N = 240001 };
    static float x[N], y[N];
    for (int i = 0; i < N; i++) {
        x[i] = -12.0f + 24.0f * (float)i / (N - 1);
    }
    kern_erf(y, x, N);
    double worst = 0, worst_libm = 0;
    int odd = 1;
    for (int i = 0; i < N; i++) {
        double ref = erf((double)x[i]);
        worst = fmax(worst, fabs(y[i] - ref));
        worst_libm = fmax(worst_libm, fabs(erff(x[i]) - ref));
        odd &= y[N - 1 - i] == -y[i];
    }
    CHECK(worst < 2.5e-7, "kern_erf max abs error %.3g (libm erff %.3g)", worst, worst_libm);
    CHECK(odd, "kern_erf is odd");
    float special[] = {0.0f, -0.0f, 1.0f, -1.0f, 2.0f, 30.0f, -30.0f};
    float out[7];
    kern_erf(out, special, 7);
    CHECK(out[0] == 0 && out[5] == 1 && out[6] == -1, "erf(0)=0, erf(+-30)=+-1");
    CHECK_NEAR(out[2], 0.8427007929, 2e-7, "erf(1)");
    CHECK_NEAR(out[4], 0.9953222650, 2e-7, "erf(2)");
}

static void test_param(void) {
    struct param_block p;
    param_init(&p);
    size_t a = param_add(&p, "a", 2, (int[]){3, 5});
    size_t b = param_add(&p, "b", 1, (int[]){7});
    param_alloc(&p, 1);
    CHECK(a == 0 && b == 16, "views 64-byte aligned (b at %zu)", b);
    CHECK(p.n == 32 && p.g && p.m && p.v, "block size and optimiser buffers");
    CHECK(param_find(&p, "b")->count == 7 && !param_find(&p, "c"), "find by name");
    param_free(&p);
    param_free(&p);
    CHECK(1, "param_free twice is safe");
}

static void test_cfg(void) {
    int k = 3, flag = 0, agg = 0, list[8], nl = 0;
    float f = 1;
    char s[16] = "x";
    struct cfg_opt o[] = {
        CFG_INT("steps", &k, 0, 100, "h"),       CFG_BOOL("flag", &flag, "h"),
        CFG_CHOICE("q_agg", &agg, "mean|min", "h"), CFG_FLOAT("lr", &f, 0, 1, "h"),
        CFG_STR("name", s, sizeof s, "h"),       CFG_INTLIST("dims", list, 8, &nl, 1, 8192, "h"),
    };
    char err[256];
    char *ok[] = {"--steps=7", "--flag", "--q_agg", "min", "--lr=0.5", "--name", "abc",
                  "--dims=(512, 256)"};
    CHECK(cfg_parse(o, 6, 8, ok, err, sizeof err) == 0, "valid flags parse: %s", err);
    CHECK(k == 7 && flag == 1 && agg == 1 && f == 0.5f && strcmp(s, "abc") == 0 && nl == 2 &&
              list[1] == 256,
          "values set");
    char *bad1[] = {"--stepz=3"};
    CHECK(cfg_parse(o, 6, 1, bad1, err, sizeof err) == -1 && strstr(err, "--stepz") &&
              strstr(err, "--steps"),
          "unknown flag names the closest valid one: %s", err);
    char *bad2[] = {"--steps=1000"};
    CHECK(cfg_parse(o, 6, 1, bad2, err, sizeof err) == -1 && strstr(err, "range"),
          "out of range: %s", err);
    char *bad3[] = {"--lr=nan"};
    CHECK(cfg_parse(o, 6, 1, bad3, err, sizeof err) == -1, "NaN refused: %s", err);
    char *bad4[] = {"--q_agg=max"};
    CHECK(cfg_parse(o, 6, 1, bad4, err, sizeof err) == -1 && strstr(err, "mean|min"),
          "bad choice lists the valid ones: %s", err);
    char *bad5[] = {"--steps=abc"};
    CHECK(cfg_parse(o, 6, 1, bad5, err, sizeof err) == -1, "non-integer: %s", err);
    char *bad6[] = {"positional"};
    CHECK(cfg_parse(o, 6, 1, bad6, err, sizeof err) == -1, "positional refused: %s", err);
    /* JSON round trip */
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    cfg_write_json(m, o, 6);
    fclose(m);
    k = 0, flag = 0, agg = 0, f = 0, nl = 0;
    CHECK(cfg_read_json(o, 6, buf, 0, err, sizeof err) == 0, "json read: %s", err);
    CHECK(k == 7 && flag == 1 && agg == 1 && f == 0.5f && nl == 2 && list[0] == 512,
          "json round trip");
    CHECK(cfg_read_json(o, 6, "{\"nope\": \"1\"}", 0, err, sizeof err) == -1,
          "json unknown key refused");
    CHECK(cfg_read_json(o, 6, "{\"steps\": ", 0, err, sizeof err) == -1, "json truncated refused");
    CHECK(cfg_read_json(o, 6, "{\"name\": \"x\\", 0, err, sizeof err) == -1,
          "json string ending in a backslash refused");
    free(buf);
}

/* flags accepted for compatibility: stored nowhere, off-only switches, absent from the JSON;
 * one key of a flat JSON object; a subcommand's flag handling */
static void test_cfg_compat(void) {
    int k = 1;
    struct cfg_opt o[] = {
        CFG_INT("steps", &k, 0, 100, "h"),
        CFG_IGNORED("agent.time_embed_dim", "unused by the released code"),
        CFG_OFF("agent.use_resnets", "the ResNet flow critic is not implemented"),
    };
    char err[256];
    char *ok[] = {"--agent.time_embed_dim", "64",    "--agent.use_resnets=false", "--steps=5",
                  "--agent.use_resnets",    "False", "--agent.time_embed_dim"};
    CHECK(cfg_parse(o, 3, 7, ok, err, sizeof err) == 0 && k == 5,
          "compatibility flags accepted (with a value, off, bare): %s", err);
    char *on1[] = {"--agent.use_resnets"}, *on2[] = {"--agent.use_resnets=1"};
    char *on3[] = {"--agent.use_resnets", "0.5", "--steps=1"};
    CHECK(cfg_parse(o, 3, 3, on3, err, sizeof err) == -1 && strstr(err, "--agent.use_resnets=0.5:"),
          "an off-only switch takes the next word as its value: %s", err);
    CHECK(cfg_parse(o, 3, 1, on1, err, sizeof err) == -1 &&
              !strcmp(err, "--agent.use_resnets=true: the ResNet flow critic is not implemented; "
                           "drop the flag"),
          "a bare off-only switch is refused: %s", err);
    CHECK(cfg_parse(o, 3, 1, on2, err, sizeof err) == -1 && strstr(err, "drop the flag"),
          "an off-only switch set to 1 is refused: %s", err);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    cfg_write_json(m, o, 3);
    fclose(m);
    CHECK(!strcmp(buf, "{\n  \"steps\": \"5\"\n}\n"), "only options with a value in the JSON: %s",
          buf);
    free(buf);
    buf = NULL;
    m = open_memstream(&buf, &len);
    cfg_help(m, o, 3);
    fclose(m);
    CHECK(strstr(buf, "accepted for compatibility; ignored") &&
              strstr(buf, "accepted for compatibility, only as false"),
          "--help says which flags are accepted for compatibility");
    free(buf);
    CHECK(cfg_read_json(o, 3,
                        "{\"agent.time_embed_dim\": \"64\", \"agent.use_resnets\": "
                        "\"false\", \"steps\": \"9\"}",
                        0, err, sizeof err) == 0 &&
              k == 9,
          "an old config with compatibility keys reads: %s", err);
    /* one key, parsed: not fooled by the same text inside another value */
    char v[16];
    const char *json = "{\"run_group\": \"\\\"agent\\\": \\\"fql\\\"\", \"agent\": \"floq\"}";
    CHECK(cfg_json_get(json, "agent", v, sizeof v) == 0 && !strcmp(v, "floq"),
          "cfg_json_get reads the key, not a look-alike inside a value (%s)", v);
    CHECK(cfg_json_get(json, "seed", v, sizeof v) == -1, "absent key");
    CHECK(cfg_json_get("{\"agent\": \"a-long-value\"}", "agent", v, 4) == -1,
          "value longer than the buffer");
    CHECK(cfg_json_get("{\"agent\": ", "agent", v, sizeof v) == -1, "malformed");
    char *bad[] = {"--stepz=1"}, *help[] = {"--help"}, *run[] = {"--steps=3"};
    FILE *keep = stderr;
    stderr = fopen("/dev/null", "w");
    int rc_bad = cfg_command("demo", "usage: demo\n", o, 3, 1, bad);
    fclose(stderr);
    stderr = keep;
    FILE *out = stdout;
    stdout = fopen("/dev/null", "w");
    int rc_help = cfg_command("demo", "usage: demo\n", o, 3, 1, help);
    fclose(stdout);
    stdout = out;
    CHECK(rc_bad == 2 && rc_help == 0 && cfg_command("demo", "", o, 3, 1, run) == CFG_RUN && k == 3,
          "cfg_command: bad flag 2, --help 0, else CFG_RUN (%d %d)", rc_bad, rc_help);
}

/* mem_try_alloc: sizes near SIZE_MAX fail instead of wrapping the 64-byte rounding (a request
 * of SIZE_MAX - 3 bytes used to get a 64-byte block) */
static void test_mem(void) {
    void *p = mem_try_alloc(SIZE_MAX - 3);
    CHECK(p == NULL, "SIZE_MAX - 3 bytes: no block");
    CHECK(mem_try_alloc(SIZE_MAX) == NULL, "SIZE_MAX bytes: no block");
    CHECK(mem_try_alloc(SIZE_MAX - 63) == NULL, "SIZE_MAX - 63 bytes: no block");
    /* beyond PTRDIFF_MAX: refused before the allocator (ASan's aborts on such a size) */
    CHECK(mem_try_alloc((size_t)PTRDIFF_MAX + 1) == NULL, "PTRDIFF_MAX + 1 bytes: no block");
    unsigned char *q = mem_try_alloc(100);
    int zero = q != NULL && ((uintptr_t)q & 63) == 0;
    for (int i = 0; zero && i < 128; i++) {
        zero = q[i] == 0;
    }
    CHECK(zero, "100 bytes: a zeroed, 64-byte aligned block of 128");
    mem_free(q);
    mem_free(p);
}

int main(void) {
    test_rng();
    test_adam();
    test_hlgauss();
    test_erf();
    test_param();
    test_mem();
    test_cfg();
    test_cfg_compat();
    return check_report("test_core");
}
