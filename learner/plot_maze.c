/* plot_maze.c — the maze value landscape of `floq plot`: reads a `floq landscape` CSV (grid,
 * goal, walls) and draws V_pi with the policy's mean action beside the closed-form V*, on one
 * colour scale, walls filled, the goal as a circle, equal aspect. */
#include "learner/plot.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "common/util.h"

/* ---- reading -------------------------------------------------------------------------------- */

void plot_landscape_free(struct plot_landscape *ls) {
    plot_table_free(&ls->t);
    mem_free(ls->walls);
    ls->walls = NULL;
    ls->nwalls = 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* the smallest gap between distinct values of v[0..n); 0 if fewer than two distinct values */
static double min_gap(const double *v, size_t n) {
    double *s = mem_alloc(sizeof(double) * (n ? n : 1)), gap = 0;
    memcpy(s, v, sizeof(double) * n);
    qsort(s, n, sizeof(double), cmp_double);
    for (size_t i = 1; i < n; i++) {
        double d = s[i] - s[i - 1];
        if (d > 1e-9 * (1 + fabs(s[i])) && (gap == 0 || d < gap)) {
            gap = d;
        }
    }
    mem_free(s);
    return gap;
}

/* the "# goal" and "# wall" lines, and the "env ..., agent ..." part of the first comment */
static int landscape_comments(struct plot_landscape *ls, const char *path, char *err,
                              size_t errsz) {
    ls->walls = mem_alloc(sizeof(double) * 4 * (size_t)(ls->t.ncomments + 1));
    for (int i = 0; i < ls->t.ncomments; i++) {
        const char *c = ls->t.comments[i];
        double v[4];
        char extra;
        while (*c == ' ') {
            c++;
        }
        if (strncmp(c, "goal ", 5) == 0) {
            if (sscanf(c + 5, "%lf %lf %lf %c", &v[0], &v[1], &v[2], &extra) != 3 ||
                !isfinite(v[0]) || !isfinite(v[1]) || !(v[2] > 0 && isfinite(v[2]))) {
                snprintf(err, errsz, "%s: malformed '# goal X Y TOL' line", path);
                return -1;
            }
            memcpy(ls->goal, v, sizeof(double) * 3);
            ls->has_goal = 1;
        } else if (strncmp(c, "wall ", 5) == 0) {
            if (sscanf(c + 5, "%lf %lf %lf %lf %c", &v[0], &v[1], &v[2], &v[3], &extra) != 4 ||
                !isfinite(v[0] + v[1] + v[2] + v[3]) || v[2] <= v[0] || v[3] <= v[1]) {
                snprintf(err, errsz, "%s: malformed '# wall X0 Y0 X1 Y1' line", path);
                return -1;
            }
            memcpy(ls->walls[ls->nwalls++], v, sizeof v);
        } else if (strncmp(c, "floq landscape:", 15) == 0 && !ls->what[0]) {
            const char *env = strstr(c, "env ");
            const char *g = env ? strstr(env, ", gamma") : NULL;
            if (env && g) {
                snprintf(ls->what, sizeof ls->what, "%.*s", (int)(g - env - 4), env + 4);
            }
        }
    }
    return 0;
}

/* grid spacing and the extent: the walls' bounding box, else the grid cells' */
static int landscape_extent(struct plot_landscape *ls, const char *path, char *err, size_t errsz) {
    const struct plot_table *t = &ls->t;
    ls->dx = min_gap(t->col[PLOT_LS_X], t->n);
    ls->dy = min_gap(t->col[PLOT_LS_Y], t->n);
    if (ls->dx == 0 && ls->dy == 0) {
        snprintf(err, errsz, "%s has %zu grid point(s): too few to draw a map", path, t->n);
        return -1;
    }
    ls->dx = ls->dx == 0 ? ls->dy : ls->dx;
    ls->dy = ls->dy == 0 ? ls->dx : ls->dy;
    ls->xmin = ls->ymin = INFINITY;
    ls->xmax = ls->ymax = -INFINITY;
    for (size_t i = 0; i < t->n; i++) {
        ls->xmin = fmin(ls->xmin, t->col[PLOT_LS_X][i] - ls->dx / 2);
        ls->xmax = fmax(ls->xmax, t->col[PLOT_LS_X][i] + ls->dx / 2);
        ls->ymin = fmin(ls->ymin, t->col[PLOT_LS_Y][i] - ls->dy / 2);
        ls->ymax = fmax(ls->ymax, t->col[PLOT_LS_Y][i] + ls->dy / 2);
    }
    for (int w = 0; w < ls->nwalls; w++) {
        ls->xmin = fmin(ls->xmin, ls->walls[w][0]), ls->ymin = fmin(ls->ymin, ls->walls[w][1]);
        ls->xmax = fmax(ls->xmax, ls->walls[w][2]), ls->ymax = fmax(ls->ymax, ls->walls[w][3]);
    }
    return 0;
}

int plot_landscape_read(struct plot_landscape *ls, const char *path, char *err, size_t errsz) {
    static const char *const cols[PLOT_LS_NCOL] = {"x", "y", "v_pi", "v_star", "a_x", "a_y"};
    memset(ls, 0, sizeof *ls);
    if (plot_table_read(&ls->t, path, cols, PLOT_LS_NCOL, 2, err, errsz)) {
        return -1;
    }
    for (int c = 2; c < PLOT_LS_NCOL; c++) {
        if (!ls->t.col[c]) {
            snprintf(err, errsz, "%s has no column '%s'; is it a floq landscape CSV?", path,
                     cols[c]);
            plot_landscape_free(ls);
            return -1;
        }
    }
    if (ls->t.n == 0) {
        snprintf(err, errsz, "%s has a header but no grid points", path);
        plot_landscape_free(ls);
        return -1;
    }
    if (landscape_comments(ls, path, err, errsz) || landscape_extent(ls, path, err, errsz)) {
        plot_landscape_free(ls);
        return -1;
    }
    return 0;
}

/* ---- drawing: data files and the script block ----------------------------------------------- */

/* l<i>.dat (x y v_pi v_star) and l<i>a.dat (arrows: tail and delta of the mean action on a
 * subsampled grid, about two arrows per maze cell and axis, centred on their point); *alen is
 * the longest arrow */
static int maze_data(const struct plot_landscape *ls, const char *dir, int i, double *alen,
                     char *err, size_t errsz) {
    const struct plot_table *t = &ls->t;
    char path[PLOT_PATH_MAX + 64], apath[PLOT_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/l%d.dat", dir, i);
    snprintf(apath, sizeof apath, "%s/l%da.dat", dir, i);
    FILE *f = fopen(path, "w"), *fa = f ? fopen(apath, "w") : NULL;
    if (!fa) {
        snprintf(err, errsz, "cannot write %s: %s", f ? apath : path, strerror(errno));
        if (f) {
            fclose(f);
        }
        return -1;
    }
    double cell = ls->nwalls ? ls->walls[0][2] - ls->walls[0][0] : (ls->xmax - ls->xmin) / 8;
    long stride = FLOQ_MAX(1, lround(cell / 2 / ls->dx));
    /* arrows scaled so that the largest sampled action spans 0.85 of the arrow spacing */
    double amax = 0;
    for (int pass = 0; pass < 2; pass++) {
        double len = 0.85 * (double)stride * ls->dx / fmax(amax, 1e-3);
        *alen = 0.85 * (double)stride * ls->dx;
        for (size_t k = 0; k < t->n; k++) {
            double x = t->col[PLOT_LS_X][k], y = t->col[PLOT_LS_Y][k];
            long ix = lround((x - ls->xmin - ls->dx / 2) / ls->dx);
            long iy = lround((y - ls->ymin - ls->dy / 2) / ls->dy);
            double ax = t->col[PLOT_LS_AX][k], ay = t->col[PLOT_LS_AY][k];
            if (pass == 1) {
                plot_gp_num(f, x), fputc(' ', f), plot_gp_num(f, y), fputc(' ', f);
                plot_gp_num(f, t->col[PLOT_LS_V_PI][k]), fputc(' ', f);
                plot_gp_num(f, t->col[PLOT_LS_V_STAR][k]), fputc('\n', f);
            }
            if (ix % stride != stride / 2 || iy % stride != stride / 2 || !isfinite(ax) ||
                !isfinite(ay)) {
                continue;
            }
            ax = fmax(-1, fmin(1, ax)), ay = fmax(-1, fmin(1, ay));
            amax = fmax(amax, hypot(ax, ay));
            if (pass == 1) {
                fprintf(fa, "%.6g %.6g %.6g %.6g\n", x - ax * len / 2, y - ay * len / 2, ax * len,
                        ay * len);
            }
        }
    }
    int bad = ferror(f) | ferror(fa);
    bad |= fclose(f) != 0;
    bad |= fclose(fa) != 0;
    if (bad) {
        snprintf(err, errsz, "writing the landscape data %s failed", path);
        return -1;
    }
    return 0;
}

/* names layer i's data file l<i><suffix>.dat (written by maze_data) in the script */
static void layer_file(FILE *f, const char *dir, int i, const char *suffix) {
    char file[32];
    snprintf(file, sizeof file, "l%d%s.dat", i, suffix);
    plot_gp_file(f, dir, file);
}

/* the v_pi map (with arrows) and the v_star map of landscape i side by side, one colour scale */
int plot_maze_write(FILE *f, const struct plot_landscape *ls, const char *dir, int i,
                    const char *name, double y, double h, char *err, size_t errsz) {
    const struct plot_table *t = &ls->t;
    double alen;
    if (maze_data(ls, dir, i, &alen, err, errsz)) {
        return -1;
    }
    double lo = INFINITY, hi = -INFINITY;
    for (size_t k = 0; k < t->n; k++) {
        lo = fmin(lo, fmin(t->col[PLOT_LS_V_PI][k], t->col[PLOT_LS_V_STAR][k]));
        hi = fmax(hi, fmax(t->col[PLOT_LS_V_PI][k], t->col[PLOT_LS_V_STAR][k]));
    }
    if (!(lo < hi)) {
        lo = isfinite(lo) ? lo - 1 : -1, hi = isfinite(hi) ? hi + 1 : 1;
    }
    const char *what = ls->what[0] ? ls->what : name;
    double cell = ls->nwalls ? ls->walls[0][2] - ls->walls[0][0] : 0;
    for (int side = 0; side < 2; side++) {
        char title[512];
        snprintf(title, sizeof title, "%s\n%s",
                 side ? "V*: closed-form optimal value (same colour scale)"
                      : "V_pi: the critic's value of the policy; arrows: mean action (scaled)",
                 side ? "circle: goal; dark squares: walls" : what);
        fprintf(f, "set origin %.5f,%.5f\nset size ratio -1 0.5,%.5f\n", side * 0.5, y, h);
        fputs("set title ", f), plot_gp_str(f, title), fputc('\n', f);
        fprintf(f,
                "set xlabel 'x (m)'; set ylabel 'y (m)'; unset key; unset grid; set border\n"
                "set offsets 0, 0, 0, 0\n"
                "unset logscale; set format x '%%g'; set xrange [%g:%g]; set yrange [%g:%g]\n",
                ls->xmin, ls->xmax, ls->ymin, ls->ymax);
        if (cell > 0) {
            fprintf(f, "set xtics %g,%g,%g; set ytics %g,%g,%g\n", ls->xmin, cell, ls->xmax,
                    ls->ymin, cell, ls->ymax);
        } else {
            fputs("set xtics autofreq; set ytics autofreq\n", f);
        }
        fprintf(f,
                "set cbrange [%.9g:%.9g]; set cblabel 'value'; set cbtics autofreq; "
                "set colorbox\n",
                lo, hi);
        for (int w = 0; w < ls->nwalls; w++) {
            /* overlapping a little: no anti-aliased seams between neighbouring walls */
            double e = 0.01 * (ls->walls[w][2] - ls->walls[w][0]);
            fprintf(f,
                    "set object rect from %g,%g to %g,%g fc rgb '#333333' fs solid 1.0 "
                    "noborder front\n",
                    ls->walls[w][0] - e, ls->walls[w][1] - e, ls->walls[w][2] + e,
                    ls->walls[w][3] + e);
        }
        if (ls->has_goal) {
            fprintf(f,
                    "set object circle at %g,%g size %g fs empty border lc rgb 'black' lw 2.5 "
                    "front\n",
                    ls->goal[0], ls->goal[1], ls->goal[2]);
        }
        fputs("plot ", f);
        layer_file(f, dir, i, "");
        fprintf(f,
                " using 1:2:(%g):(%g):%d with boxxyerror fs solid 1.0 noborder lc palette z "
                "notitle",
                0.53 * ls->dx, 0.53 * ls->dy, side ? 4 : 3);
        if (!side) {
            fputs(", \\\n     ", f);
            layer_file(f, dir, i, "a");
            fprintf(f,
                    " using 1:2:3:4 with vectors head size %g,25 filled lc rgb 'black' lw 1.2 "
                    "notitle",
                    0.3 * alen);
        }
        fputs("\nunset object\n", f);
    }
    return 0;
}
