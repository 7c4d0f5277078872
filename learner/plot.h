/* plot.h — `floq plot`: learning curves of run directories and maze value landscapes, drawn
 * by gnuplot into one PNG.
 *
 *   floq plot runs/a-s0 runs/a-s1 runs/b-s0 --out curves.png [--landscape grid.csv ...]
 *
 * Runs whose config.json agree on everything but seed, run_dir, save_dir and resume form one
 * group, drawn as the mean over its runs with a min..max band; groups are labelled by the config
 * keys that differ between them. plot.c builds the figure (runs, groups, panels, layout),
 * plot_data.c reads CSVs and config.json and builds group curves, plot_maze.c reads and draws
 * landscapes, plot_gnuplot.c runs gnuplot. docs/plots.md describes the panels.
 *
 *   struct plot_table t;
 *   const char *cols[] = {"step", "critic_loss"};
 *   if (plot_table_read(&t, "run/metrics.csv", cols, 2, 1, err, sizeof err)) { ... }
 *   ... t.col[1][i] is row i's critic_loss (NAN where the cell is empty or nan) ...
 *   plot_table_free(&t);
 */
#ifndef FLOQ_PLOT_H
#define FLOQ_PLOT_H

#include <stddef.h>
#include <stdio.h>

#define PLOT_MAX_COLS 32
#define PLOT_PATH_MAX 1024

/* the requested columns of a CSV file, found by header name */
struct plot_table {
    size_t n;                   /* data rows */
    int ncol;                   /* requested columns */
    double *col[PLOT_MAX_COLS]; /* (n) each; NULL if the header lacks that column */
    char **comments;            /* '#' lines before the header, without the '#' (owned) */
    int ncomments;
    int dropped_last; /* 1 if an unterminated, short last line was skipped */
};

/* a config.json: flat object of "key": "value" pairs (numbers and booleans kept as text) */
struct plot_kv {
    int n;
    char **key, **val; /* (n) each, owned */
};

/* the curve of one group: rows with finite mean; lo/hi NAN when there is no band */
struct plot_curve {
    size_t n;
    double *x, *mean, *lo, *hi; /* (n) each, owned */
};

/* one run's rows for plot_curve_build: x ascending after the call's own sort; lo/hi may be NULL */
struct plot_series {
    size_t n;
    const double *x, *y, *lo, *hi; /* (n) each, borrowed */
};

/* a `floq landscape` CSV: the grid plus the goal and walls from its '#' lines */
enum plot_ls_col {
    PLOT_LS_X,
    PLOT_LS_Y,
    PLOT_LS_V_PI,
    PLOT_LS_V_STAR,
    PLOT_LS_AX,
    PLOT_LS_AY,
    PLOT_LS_NCOL
};
struct plot_landscape {
    struct plot_table t; /* columns in enum plot_ls_col order */
    int has_goal;
    double goal[3]; /* x, y, radius */
    int nwalls;
    double (*walls)[4];            /* (nwalls, 4) x0 y0 x1 y1, owned */
    char what[256];                /* "ENV, agent AGENT" from the first comment, or "" */
    double dx, dy;                 /* grid spacing */
    double xmin, xmax, ymin, ymax; /* extent: the walls, else the grid cells */
};

/* plot_maze.c: reads a landscape CSV; 0, or -1 with one line in err */
int plot_landscape_read(struct plot_landscape *ls, const char *path, char *err, size_t errsz);
void plot_landscape_free(struct plot_landscape *ls);
/* writes dir/l<i>.dat, dir/l<i>a.dat and, into the script f, the V_pi map (arrows: mean action)
 * and the V* map side by side in the band [y, y + h) of the figure (screen fractions); name
 * titles the map when the CSV does not say its env. 0, or -1 with one line in err */
int plot_maze_write(FILE *f, const struct plot_landscape *ls, const char *dir, int i,
                    const char *name, double y, double h, char *err, size_t errsz);

/* reads path; names[0..ncol) are looked up in the header, the first `required` of them must be
 * present and finite in every row. Empty cells and nan/inf are NAN, any other non-number is an
 * error. 0 on success; -1 with one line in err naming the file, the line and the fix. */
int plot_table_read(struct plot_table *t, const char *path, const char *const *names, int ncol,
                    int required, char *err, size_t errsz);
/* frees a table (zeroed or half-built ok, twice ok) */
void plot_table_free(struct plot_table *t);
/* keeps only the rows a resumed run stands by: a row whose column c is not above the previous
 * kept row's drops the kept rows at or after it (they were rewritten by the resume) */
void plot_table_resume_cut(struct plot_table *t, int c);

/* reads a flat JSON object; 0, or -1 with one line in err */
int plot_kv_read(struct plot_kv *kv, const char *path, char *err, size_t errsz);
/* the value of key, or NULL */
const char *plot_kv_get(const struct plot_kv *kv, const char *key);
void plot_kv_free(struct plot_kv *kv);

/* the group curve of runs s[0..R): the grid is run 0's x within the x range every run covers,
 * the other runs are interpolated linearly onto it (exact where their x match); mean over runs,
 * band min..max over runs of y (or of lo/hi when given, e.g. lag_min..lag_max). Rows with a
 * non-finite x or y are ignored. The band is NAN for one run without lo/hi. */
void plot_curve_build(struct plot_curve *c, const struct plot_series *s, int R);
void plot_curve_free(struct plot_curve *c);

/* plot_gnuplot.c: s as a gnuplot string ("..." with \\, \" and \n escaped; noenhanced text);
 * dir/name as a gnuplot string; v as a number, NaN when not finite */
void plot_gp_str(FILE *f, const char *s);
void plot_gp_file(FILE *f, const char *dir, const char *name);
void plot_gp_num(FILE *f, double v);
/* a fresh directory $TMPDIR/floq-plot-XXXXXX (mkdtemp) into dir[0..n);
 * removing it and the files in it (NULL or "" ok) */
int plot_tmpdir_make(char *dir, size_t n, char *err, size_t errsz);
void plot_tmpdir_remove(const char *dir);
/* runs `gnuplot SCRIPT` ($FLOQ_GNUPLOT overrides the program) with its output in
 * dir/gnuplot.log; 0, or -1 with one line in err (not found, exit status and its error line) */
int plot_gnuplot_run(const char *dir, const char *script, char *err, size_t errsz);
/* checks src is a PNG and copies it to out via out.tmp, fsync, rename; 0 or -1 with err */
int plot_png_install(const char *src, const char *out, char *err, size_t errsz);

/* the command: floq plot --help */
int plot_main(int argc, char **argv);

#endif
