/* test_plot — the readers behind floq plot: CSV columns by header name (any order, empty and
 * nan cells, missing columns, every error), resume cuts, config.json, landscape CSVs (goal,
 * walls, spacing, extent), group curves (interpolation, mean, bands) against hand-computed
 * values, and every-byte truncation and byte flips of each format: an error or a smaller valid
 * table, never a crash. */
#include "learner/plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/mem.h"
#include "tests/check.h"
#include "tests/tmpdir.h"

static int has(const char *err, const char *frag) {
    return strstr(err, frag) != NULL;
}

static const char *const COLS[] = {"step", "critic_loss", "env_steps", "absent"};

static const char METRICS[] = "step,phase,critic_loss,env_steps,wall_time\n"
                              "1,offline,2.5,,0.1\n"
                              "100,offline,nan,,0.2\n"
                              "200,online, 1e-3 ,50,x\n";

static void test_table(void) {
    struct plot_table t;
    char err[512] = "";
    const char *p = tpath("m.csv");
    write_file(p, METRICS, strlen(METRICS));
    CHECK(plot_table_read(&t, p, COLS, 4, 1, err, sizeof err) == 0, "read: %s", err);
    CHECK(t.n == 3, "3 rows, got %zu", t.n);
    CHECK(t.col[3] == NULL, "absent column is NULL");
    CHECK(t.col[0][2] == 200 && t.col[1][0] == 2.5 && t.col[1][2] == 1e-3, "values by name");
    CHECK(isnan(t.col[1][1]) && isnan(t.col[2][0]) && t.col[2][2] == 50, "nan and empty cells");
    CHECK(!t.dropped_last, "terminated last line kept");
    plot_table_free(&t);
    plot_table_free(&t); /* twice is fine */

    /* columns in another order, comments, CRLF, blank lines, an open last line */
    const char *other = "# a comment\r\nenv_steps,critic_loss,step\r\n\r\n7,1.5,10\r\n8,2";
    write_file(p, other, strlen(other));
    CHECK(plot_table_read(&t, p, COLS, 4, 1, err, sizeof err) == 0, "reordered: %s", err);
    CHECK(t.n == 1 && t.col[0][0] == 10 && t.col[1][0] == 1.5 && t.col[2][0] == 7,
          "columns found by name whatever their position");
    CHECK(t.dropped_last && t.ncomments == 1 && strcmp(t.comments[0], " a comment") == 0,
          "open short last line dropped, comment kept");
    plot_table_free(&t);

    /* errors: one line naming the file and what is wrong */
    struct {
        const char *text, *frag;
    } bad[] = {
        {"", "is empty"},
        {"# only a comment\n", "no header line"},
        {"stp,critic_loss\n1,2\n", "no column 'step'"},
        {"step,critic_loss\n1,abc\n", "line 2, column critic_loss: 'abc' is not a number"},
        {"step,critic_loss\n1,2,3\n", "line 2 has 3 cells but the header has 2"},
        {"step,critic_loss\n1\n2,3\n", "line 2 has 1 cells"},
        {"step,critic_loss\n,2\n", "line 2, column step: empty or not finite"},
        {"step,critic_loss\nnan,2\n", "column step: empty or not finite"},
        {"step,x\n1,2\0\n", "not a text file (NUL byte at offset 10)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n = strlen(bad[i].text) + (strstr(bad[i].frag, "NUL") ? 2 : 0);
        write_file(p, bad[i].text, n);
        err[0] = 0;
        int rc = plot_table_read(&t, p, COLS, 4, 1, err, sizeof err);
        CHECK(rc == -1 && has(err, bad[i].frag) && has(err, p) && !strchr(err, '\n'),
              "case %zu: '%s' (wanted '%s')", i, err, bad[i].frag);
        CHECK(t.n == 0 && t.col[0] == NULL && t.comments == NULL, "case %zu: table left empty", i);
    }
    CHECK(plot_table_read(&t, tpath("nothere.csv"), COLS, 4, 1, err, sizeof err) == -1 &&
              has(err, "cannot read") && has(err, "nothere.csv"),
          "missing file: %s", err);
}

static void test_resume_cut(void) {
    const char *text = "step,v\n1,10\n2,20\n3,30\n2,21\n3,31\n4,41\n4,42\n";
    const char *p = tpath("r.csv");
    const char *cols[] = {"step", "v"};
    struct plot_table t;
    char err[256];
    write_file(p, text, strlen(text));
    CHECK(plot_table_read(&t, p, cols, 2, 1, err, sizeof err) == 0, "read: %s", err);
    plot_table_resume_cut(&t, 0);
    CHECK(t.n == 4, "4 rows after the cut, got %zu", t.n);
    CHECK(t.n == 4 && t.col[1][0] == 10 && t.col[1][1] == 21 && t.col[1][2] == 31 &&
              t.col[1][3] == 42,
          "rewritten rows replace the old ones");
    plot_table_free(&t);
}

static void test_kv(void) {
    const char *text = "{\n  \"agent\": \"floq\",\n  \"seed\": \"3\", \"n\": 12,\n"
                       "  \"q\": \"a\\\"b\\\\c\\u00e9\", \"b\": true\n}\n";
    const char *p = tpath("c.json");
    struct plot_kv kv;
    char err[256];
    write_file(p, text, strlen(text));
    CHECK(plot_kv_read(&kv, p, err, sizeof err) == 0, "read: %s", err);
    CHECK(kv.n == 5, "5 keys, got %d", kv.n);
    const char *q = plot_kv_get(&kv, "q");
    CHECK(plot_kv_get(&kv, "agent") && strcmp(plot_kv_get(&kv, "agent"), "floq") == 0 &&
              plot_kv_get(&kv, "n") && strcmp(plot_kv_get(&kv, "n"), "12") == 0 && q &&
              strcmp(q, "a\"b\\c?") == 0 && !plot_kv_get(&kv, "nothere"),
          "values, escapes, bare numbers (q = '%s')", q ? q : "(null)");
    plot_kv_free(&kv);
    write_file(p, "{}", 2);
    CHECK(plot_kv_read(&kv, p, err, sizeof err) == 0 && kv.n == 0, "empty object");
    plot_kv_free(&kv);
    const char *bad[] = {"",
                         "[1]",
                         "{\"a\" \"b\"}",
                         "{\"a\": }",
                         "{\"a\": \"b\"",
                         "{\"a\": \"b\"} x",
                         "{\"a\": \"b\",}",
                         "{\"a\": \"\\q\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file(p, bad[i], strlen(bad[i]));
        err[0] = 0;
        CHECK(plot_kv_read(&kv, p, err, sizeof err) == -1 && has(err, "not a flat JSON") &&
                  kv.n == 0 && kv.key == NULL,
              "bad json %zu: %s", i, err);
    }
    /* every prefix of the valid text: an error or a parse, never a crash */
    size_t n = strlen(text), okc = 0;
    for (size_t k = 0; k < n; k++) {
        write_file(p, text, k);
        okc += plot_kv_read(&kv, p, err, sizeof err) == 0;
        plot_kv_free(&kv);
    }
    CHECK(okc == 1, "only the prefix without the final newline parses (%zu did)", okc);
}

static const char LANDSCAPE[] =
    "# floq landscape: run/ckpt.ckpt, env pointmaze-x-v0, agent fql, gamma 0.99\n"
    "# goal 1 1.5 0.5\n"
    "# wall -2 -2 0 0\n"
    "# wall 0 -2 2 0\n"
    "x,y,v_pi,q_max,a_x,a_y,v_star,d_star,v_mc,succ_mc,step_ok\n"
    "0.25,0.25,-3,-2,0.1,0.2,-4,1,nan,nan,1\n"
    "0.75,0.25,-2,-2,0.1,0.2,-3,1,nan,nan,1\n"
    "0.25,0.75,-1,-2,0.1,0.2,-2,1,nan,nan,0\n";

static void test_landscape(void) {
    const char *p = tpath("l.csv");
    struct plot_landscape ls;
    char err[512];
    write_file(p, LANDSCAPE, strlen(LANDSCAPE));
    CHECK(plot_landscape_read(&ls, p, err, sizeof err) == 0, "read: %s", err);
    CHECK(ls.t.n == 3 && ls.nwalls == 2 && ls.has_goal, "3 points, 2 walls, a goal");
    CHECK(ls.goal[0] == 1 && ls.goal[1] == 1.5 && ls.goal[2] == 0.5, "goal x y tol");
    CHECK(ls.walls[1][0] == 0 && ls.walls[1][3] == 0, "wall corners");
    CHECK_NEAR(ls.dx, 0.5, 1e-12, "x spacing");
    CHECK_NEAR(ls.dy, 0.5, 1e-12, "y spacing");
    CHECK(ls.xmin == -2 && ls.xmax == 2 && ls.ymin == -2 && ls.ymax == 1.0,
          "extent: walls and cells (%g %g %g %g)", ls.xmin, ls.xmax, ls.ymin, ls.ymax);
    CHECK(strcmp(ls.what, "pointmaze-x-v0, agent fql") == 0, "what: '%s'", ls.what);
    plot_landscape_free(&ls);
    plot_landscape_free(&ls);

    const char *bad[][2] = {
        {"x,y,v_pi,a_x,a_y\n0,0,1,0,0\n", "no column 'v_star'"},
        {"# goal 1 2\nx,y,v_pi,v_star,a_x,a_y\n0,0,1,1,0,0\n1,1,1,1,0,0\n", "malformed '# goal"},
        {"# wall 1 1 0 0\nx,y,v_pi,v_star,a_x,a_y\n0,0,1,1,0,0\n1,1,1,1,0,0\n",
         "malformed '# wall"},
        {"x,y,v_pi,v_star,a_x,a_y\n", "no grid points"},
        {"x,y,v_pi,v_star,a_x,a_y\n0,0,1,1,0,0\n", "too few to draw"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file(p, bad[i][0], strlen(bad[i][0]));
        err[0] = 0;
        CHECK(plot_landscape_read(&ls, p, err, sizeof err) == -1 && has(err, bad[i][1]) &&
                  ls.walls == NULL,
              "bad landscape %zu: '%s'", i, err);
    }
}

/* every truncation and every byte flip of a metrics file and a landscape file: 0 with at most
 * the full row count, or -1 with a message */
static void test_corruption(void) {
    const char *p = tpath("x.csv");
    const char *texts[] = {METRICS, LANDSCAPE};
    int bad = 0;
    for (int w = 0; w < 2; w++) {
        size_t n = strlen(texts[w]);
        char *buf = mem_alloc(n + 1);
        for (size_t k = 0; k <= 2 * n; k++) {
            memcpy(buf, texts[w], n);
            size_t len = k <= n ? k : n;
            if (k > n) {
                buf[k - n - 1] ^= (char)(0x5a ^ (k & 0x7));
            }
            write_file(p, buf, len);
            char err[512] = "";
            if (w == 0) {
                struct plot_table t;
                int rc = plot_table_read(&t, p, COLS, 4, 1, err, sizeof err);
                bad += rc == 0 ? t.n > 3 : (err[0] == 0 || !has(err, p));
                plot_table_free(&t);
            } else {
                struct plot_landscape ls;
                int rc = plot_landscape_read(&ls, p, err, sizeof err);
                bad += rc == 0 ? (ls.t.n > 3 || !(ls.dx > 0)) : (err[0] == 0 || !has(err, p));
                plot_landscape_free(&ls);
            }
        }
        mem_free(buf);
    }
    CHECK(bad == 0, "%d truncations/flips gave neither an error nor a smaller table", bad);
}

static void test_curve(void) {
    /* run 0 on x = 0,1,2,3; run 1 on x = 0, 2.5: grid = 0, 1, 2 (3 is past run 1's end) */
    double x0[] = {0, 1, 2, 3}, y0[] = {0, 1, 2, 3};
    double x1[] = {0, 2.5}, y1[] = {2, 7};
    struct plot_series s[2] = {{4, x0, y0, NULL, NULL}, {2, x1, y1, NULL, NULL}};
    struct plot_curve c;
    plot_curve_build(&c, s, 2);
    CHECK(c.n == 3, "grid: run 0's x within the shared range, got %zu", c.n);
    if (c.n == 3) {
        CHECK(c.x[0] == 0 && c.x[1] == 1 && c.x[2] == 2, "grid x");
        CHECK_NEAR(c.mean[0], 1, 1e-12, "mean at 0");
        CHECK_NEAR(c.mean[1], 2.5, 1e-12, "mean at 1 (run 1 interpolated to 4)");
        CHECK_NEAR(c.mean[2], 4, 1e-12, "mean at 2 (run 1 interpolated to 6)");
        CHECK(c.lo[1] == 1 && fabs(c.hi[1] - 4) < 1e-12, "band min..max at 1");
    }
    plot_curve_free(&c);

    /* one run: no band; non-finite rows ignored; unsorted x sorted */
    double x2[] = {2, NAN, 0, 1}, y2[] = {5, 1, 3, NAN};
    struct plot_series one = {4, x2, y2, NULL, NULL};
    plot_curve_build(&c, &one, 1);
    CHECK(c.n == 2 && c.x[0] == 0 && c.mean[0] == 3 && c.x[1] == 2 && c.mean[1] == 5 &&
              isnan(c.lo[0]) && isnan(c.hi[1]),
          "one run: finite rows sorted by x, no band");
    plot_curve_free(&c);

    /* explicit band columns (lag_min..lag_max) */
    double lo[] = {0, 1, 2, 3}, hi[] = {5, 6, 7, 8};
    struct plot_series b = {4, x0, y0, lo, hi};
    plot_curve_build(&c, &b, 1);
    CHECK(c.n == 4 && c.lo[2] == 2 && c.hi[2] == 7, "band from lo/hi columns");
    plot_curve_free(&c);

    /* no shared range, or an empty run: no curve */
    double x3[] = {10, 11}, y3[] = {1, 1};
    struct plot_series apart[2] = {{4, x0, y0, NULL, NULL}, {2, x3, y3, NULL, NULL}};
    plot_curve_build(&c, apart, 2);
    CHECK(c.n == 0, "disjoint runs share no steps");
    plot_curve_free(&c);
    struct plot_series empty[2] = {{4, x0, y0, NULL, NULL}, {0, x3, y3, NULL, NULL}};
    plot_curve_build(&c, empty, 2);
    CHECK(c.n == 0, "an empty run gives no curve");
    plot_curve_free(&c);
}

static void test_install(void) {
    char err[512];
    const char *src = tpath("src.png"), *out = tpath("out.png");
    write_file(src, "not a png at all", 16);
    CHECK(plot_png_install(src, out, err, sizeof err) == -1 && has(err, "not a PNG") &&
              access(out, F_OK) != 0,
          "a non-PNG is not installed: %s", err);
    static const char png[] = "\x89PNG\r\n\x1a\n rest of the file";
    write_file(src, png, sizeof png - 1);
    CHECK(plot_png_install(src, out, err, sizeof err) == 0 && access(out, F_OK) == 0,
          "installed: %s", err);
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    CHECK(access(tmp, F_OK) != 0, "no .tmp left");
    CHECK(plot_png_install(src, "/nonexistent-dir/x.png", err, sizeof err) == -1 &&
              has(err, "/nonexistent-dir/x.png"),
          "unwritable output: %s", err);
    char dir[256];
    CHECK(plot_tmpdir_make(dir, sizeof dir, err, sizeof err) == 0 && access(dir, F_OK) == 0,
          "temporary directory: %s", err);
    char f[300];
    snprintf(f, sizeof f, "%s/a.dat", dir);
    write_file(f, "1 2\n", 4);
    plot_tmpdir_remove(dir);
    CHECK(access(dir, F_OK) != 0, "temporary directory removed with its files");
    unlink(src), unlink(out);
}

int main(void) {
    tmpdir_make("test_plot");
    test_table();
    test_resume_cut();
    test_kv();
    test_landscape();
    test_corruption();
    test_curve();
    test_install();
    tmpdir_remove();
    return check_report("test_plot");
}
