/* plot.c — `floq plot`: loads run directories (plot_data.c) and landscape CSVs (plot_maze.c),
 * groups the runs by config, writes the panels' group curves and a gnuplot script into a
 * temporary directory, runs gnuplot and installs the PNG (plot_gnuplot.c). docs/plots.md
 * describes the panels. */
#include "learner/plot.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cfg.h"
#include "common/mem.h"
#include "common/util.h"

#define PLOT_MAX_RUNS   64
#define PLOT_MAX_LS     16
#define PLOT_PATH       PLOT_PATH_MAX
#define PLOT_LABEL      160
#define PLOT_LABEL_KEYS 4

/* ---- what is read from each run ------------------------------------------------------------- */

/* clang-format off */
enum mcol { M_STEP, M_ENV_STEPS, M_UPS, M_CRITIC, M_FLOQ, M_DISTILLED, M_CRITIC_Q, M_ACTOR, M_BC,
            M_DISTILL, M_ESPS, M_QUEUE, M_LAG_MIN, M_LAG_MEAN, M_LAG_MAX, M_ORET, M_OSUCC, M_NCOL };
static const char *const MCOLS[M_NCOL] = {
    "step", "env_steps", "updates_per_s", "critic_loss", "floq_loss", "distilled_critic_loss",
    "critic_q", "actor_loss", "bc_flow_loss", "distill_loss", "env_steps_per_s", "queue_depth",
    "lag_min", "lag_mean", "lag_max", "online_return", "online_success"};

enum ecol { E_STEP, E_RET, E_SUCC, E_SCORE, E_NCOL };
static const char *const ECOLS[E_NCOL] = {"step", "return_mean", "success_mean", "score_mean"};

/* config keys that differ between seeds of one configuration */
static const char *const PER_RUN_KEYS[] = {"seed", "run_dir", "save_dir", "resume"};

enum src { SRC_EVAL, SRC_METRICS };
enum panel_flag {
    PF_ZERO_NA = 1, /* a series that is 0 in every row of a group does not apply to it */
    PF_LOGY = 2,    /* log y axis when every value is positive and they span > 30x */
    PF_UNIT = 4,    /* y in [0, 1] */
    PF_NONNEG = 8,  /* y from 0 */
};

struct panel_def {
    const char *title, *ylabel;
    int src, xenv;        /* x: step, or env_steps (online columns) */
    int series[3], ns;    /* columns of src */
    int band_lo, band_hi; /* explicit band columns, -1 */
    int flags;
};

/* every panel floq plot can draw, in drawing order; one without data is left out */
static const struct panel_def PANELS[] = {
    {"evaluation: success rate", "success rate", SRC_EVAL, 0, {E_SUCC}, 1, -1, -1, PF_UNIT},
    {"evaluation: return", "return (mean of episodes)", SRC_EVAL, 0, {E_RET}, 1, -1, -1, 0},
    {"evaluation: D4RL normalised score", "normalised score", SRC_EVAL, 0, {E_SCORE}, 1, -1, -1,
     PF_ZERO_NA},
    {"critic losses", "loss", SRC_METRICS, 0, {M_CRITIC, M_FLOQ, M_DISTILLED}, 3, -1, -1,
     PF_ZERO_NA | PF_LOGY},
    {"Q estimate (critic_q, batch mean)", "Q", SRC_METRICS, 0, {M_CRITIC_Q}, 1, -1, -1, 0},
    {"actor losses", "loss", SRC_METRICS, 0, {M_ACTOR, M_BC, M_DISTILL}, 3, -1, -1,
     PF_ZERO_NA | PF_LOGY},
    {"learner throughput", "updates / s", SRC_METRICS, 0, {M_UPS}, 1, -1, -1, PF_NONNEG},
    {"online: actors' env steps / s", "env steps / s", SRC_METRICS, 1, {M_ESPS}, 1, -1, -1,
     PF_NONNEG},
    {"online: policy lag (band: lag_min..lag_max)", "lag (learner updates)", SRC_METRICS, 1,
     {M_LAG_MEAN}, 1, M_LAG_MIN, M_LAG_MAX, PF_NONNEG},
    {"online: replay queue depth", "transitions not yet learned from", SRC_METRICS, 1,
     {M_QUEUE}, 1, -1, -1, PF_NONNEG},
    {"online episodes: return", "return", SRC_METRICS, 1, {M_ORET}, 1, -1, -1, 0},
    {"online episodes: success rate", "success rate", SRC_METRICS, 1, {M_OSUCC}, 1, -1, -1,
     PF_UNIT},
};
/* clang-format on */
#define NPANELS ((int)FLOQ_ARRAY_LEN(PANELS))
enum { P_SUCCESS = 0, P_SCORE = 2 };

static const char *const COLOURS[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                      "#9467bd", "#8c564b", "#e377c2", "#17becf"};

struct run {
    const char *dir; /* borrowed from argv */
    struct plot_kv cfg;
    int has_cfg, has_eval;
    struct plot_table m, e;
    int group;
};

struct group {
    int runs[PLOT_MAX_RUNS], n;
    char label[PLOT_LABEL * 2];
};

/* one drawn curve: data file, colour, dash type */
struct element {
    int group, dt, band;
    size_t n;
};

struct panel {
    int def, nel, visible, logy;
    double xmin, xmax;
    struct element el[3 * PLOT_MAX_RUNS];
    int series_seen[3];
};

struct plot {
    struct run runs[PLOT_MAX_RUNS];
    int nruns;
    struct group groups[PLOT_MAX_RUNS];
    int ngroups, warned[PLOT_MAX_RUNS]; /* one warning per group about runs without data */
    struct panel panels[NPANELS];
    int nvisible;
    struct plot_landscape ls[PLOT_MAX_LS];
    const char *ls_path[PLOT_MAX_LS];
    char ls_auto[PLOT_MAX_LS][PLOT_PATH];
    int nls;
    char tmp[PLOT_PATH];
};

/* ---- small helpers -------------------------------------------------------------------------- */

static const char *base_name(const char *path) {
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') {
        n--;
    }
    const char *p = path + n;
    while (p > path && p[-1] != '/') {
        p--;
    }
    return p;
}

static int is_per_run_key(const char *k) {
    for (size_t i = 0; i < FLOQ_ARRAY_LEN(PER_RUN_KEYS); i++) {
        if (strcmp(k, PER_RUN_KEYS[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* ---- reading runs --------------------------------------------------------------------------- */

/* path = DIR/NAME; 1 if that file exists */
static int run_file(char *path, size_t size, const char *dir, const char *name) {
    snprintf(path, size, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

static int run_load(struct run *r, const char *dir) {
    char path[PLOT_PATH + 32], err[1024];
    struct stat sb;
    r->dir = dir;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr,
                "floq plot: %s is not a directory; give run directories (floq train "
                "--run_dir DIR)\n",
                dir);
        return -1;
    }
    if (!run_file(path, sizeof path, dir, "metrics.csv")) {
        fprintf(stderr,
                "floq plot: %s has no metrics.csv; is it a floq train run directory "
                "(--run_dir)? leave it out or re-run it\n",
                dir);
        return -1;
    }
    if (plot_table_read(&r->m, path, MCOLS, M_NCOL, 1, err, sizeof err)) {
        fprintf(stderr, "floq plot: %s; re-run floq train for this run or leave it out\n", err);
        return -1;
    }
    if (r->m.dropped_last) {
        fprintf(stderr,
                "floq plot: warning: %s: skipped an unfinished last line (a run still "
                "writing?)\n",
                path);
    }
    plot_table_resume_cut(&r->m, M_STEP);
    if (run_file(path, sizeof path, dir, "eval.csv")) {
        if (plot_table_read(&r->e, path, ECOLS, E_NCOL, 1, err, sizeof err)) {
            fprintf(stderr, "floq plot: %s; re-run floq train for this run or delete the file\n",
                    err);
            return -1;
        }
        plot_table_resume_cut(&r->e, E_STEP);
        r->has_eval = 1;
    }
    if (!run_file(path, sizeof path, dir, "config.json")) {
        fprintf(stderr,
                "floq plot: warning: %s has no config.json; it is drawn as a group of "
                "its own\n",
                dir);
    } else if (plot_kv_read(&r->cfg, path, err, sizeof err)) {
        fprintf(stderr,
                "floq plot: %s; restore it from the run or delete it (the run is then "
                "a group of its own)\n",
                err);
        return -1;
    } else {
        r->has_cfg = 1;
    }
    return 0;
}

static void run_free(struct run *r) {
    plot_table_free(&r->m);
    plot_table_free(&r->e);
    plot_kv_free(&r->cfg);
}

/* 1 if the two runs' configs agree on every key but the per-run ones */
static int same_config(const struct run *a, const struct run *b) {
    if (!a->has_cfg || !b->has_cfg) {
        return 0;
    }
    for (int pass = 0; pass < 2; pass++) {
        const struct plot_kv *x = pass ? &b->cfg : &a->cfg, *y = pass ? &a->cfg : &b->cfg;
        for (int i = 0; i < x->n; i++) {
            const char *v = plot_kv_get(y, x->key[i]);
            if (!is_per_run_key(x->key[i]) && (!v || strcmp(v, x->val[i]) != 0)) {
                return 0;
            }
        }
    }
    return 1;
}

/* ---- groups and their labels ---------------------------------------------------------------- */

static int key_rank(const char *k) {
    return strcmp(k, "agent") == 0        ? 0
           : strcmp(k, "env_name") == 0   ? 1
           : strcmp(k, "preset") == 0     ? 2
           : strncmp(k, "agent.", 6) == 0 ? 3
                                          : 4;
}

/* "key=value" for a label: "agent." dropped, long values cut to their tail */
static void label_add(char *out, size_t n, const char *key, const char *val) {
    size_t len = strlen(out);
    const char *k = strncmp(key, "agent.", 6) == 0 ? key + 6 : key;
    size_t vl = val ? strlen(val) : 0;
    snprintf(out + len, n - len, "%s%s=%s%s", len ? ", " : "", k, vl > 32 ? "..." : "",
             val ? val + (vl > 32 ? vl - 29 : 0) : "(none)");
}

/* keys whose value differs between groups (or is missing in some), best first */
static int differing_keys(const struct plot *P, const char **keys, int cap) {
    int nk = 0;
    for (int rank = 0; rank <= 4; rank++) {
        for (int g = 0; g < P->ngroups; g++) {
            const struct run *rg = &P->runs[P->groups[g].runs[0]];
            for (int i = 0; rg->has_cfg && i < rg->cfg.n; i++) {
                const char *k = rg->cfg.key[i];
                int seen = 0, differs = 0;
                if (key_rank(k) != rank || is_per_run_key(k)) {
                    continue;
                }
                for (int j = 0; j < nk; j++) {
                    seen |= strcmp(keys[j], k) == 0;
                }
                for (int h = 0; h < P->ngroups && !seen; h++) {
                    const struct run *rh = &P->runs[P->groups[h].runs[0]];
                    const char *v = rh->has_cfg ? plot_kv_get(&rh->cfg, k) : NULL;
                    differs |= rh->has_cfg && (!v || strcmp(v, rg->cfg.val[i]) != 0);
                }
                if (!seen && differs && nk < cap) {
                    keys[nk++] = k;
                }
            }
        }
    }
    return nk;
}

static void group_runs(struct plot *P) {
    for (int i = 0; i < P->nruns; i++) {
        int g = 0;
        while (g < P->ngroups && !same_config(&P->runs[P->groups[g].runs[0]], &P->runs[i])) {
            g++;
        }
        if (g == P->ngroups) {
            P->ngroups++;
        }
        P->groups[g].runs[P->groups[g].n++] = i;
        P->runs[i].group = g;
    }
}

static const char *group_val(const struct plot *P, int g, const char *key) {
    const struct run *r = &P->runs[P->groups[g].runs[0]];
    return r->has_cfg ? plot_kv_get(&r->cfg, key) : NULL;
}

static int same_val(const char *a, const char *b) {
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* the keys that name the groups apart: from the differing keys, best first, each one that
 * separates two groups the keys before it left equal, until all are apart (at most cap) */
static int label_keys(const struct plot *P, const char **keys, int cap) {
    const char *cand[256];
    int nc = differing_keys(P, cand, 256), nk = 0, apart = 0;
    for (int c = 0; c < nc && nk < cap && !apart; c++) {
        int splits = 0;
        apart = 1;
        for (int g = 0; g < P->ngroups; g++) {
            for (int h = g + 1; h < P->ngroups; h++) {
                int equal = 1;
                for (int k = 0; k < nk && equal; k++) {
                    equal = same_val(group_val(P, g, keys[k]), group_val(P, h, keys[k]));
                }
                int differ = !same_val(group_val(P, g, cand[c]), group_val(P, h, cand[c]));
                splits |= equal && differ;
                apart &= !equal || differ;
            }
        }
        if (splits) {
            keys[nk++] = cand[c];
        }
    }
    return nk;
}

/* the label of every group: --label, else the config keys that tell the groups apart (agent and
 * preset for one group), else the directory name */
static int label_groups(struct plot *P, char **labels, int nlabels) {
    const char *keys[PLOT_LABEL_KEYS];
    int nk = label_keys(P, keys, PLOT_LABEL_KEYS);
    for (int g = 0; g < P->ngroups; g++) {
        struct group *G = &P->groups[g];
        const struct run *r = &P->runs[G->runs[0]];
        char base[PLOT_LABEL] = "";
        if (r->has_cfg && P->ngroups > 1) {
            for (int k = 0; k < nk; k++) {
                label_add(base, sizeof base, keys[k], plot_kv_get(&r->cfg, keys[k]));
            }
        } else if (r->has_cfg && plot_kv_get(&r->cfg, "agent")) {
            label_add(base, sizeof base, "agent", plot_kv_get(&r->cfg, "agent"));
            if (plot_kv_get(&r->cfg, "preset")) {
                label_add(base, sizeof base, "preset", plot_kv_get(&r->cfg, "preset"));
            }
        }
        if (!base[0]) {
            snprintf(base, sizeof base, "%s", base_name(r->dir));
        }
        snprintf(G->label, sizeof G->label, "%s", base);
    }
    /* --label RUN_DIR=LABEL */
    for (int l = 0; l < nlabels; l++) {
        char *eq = strchr(labels[l], '=');
        struct stat want, have;
        int found = -1;
        if (eq) {
            *eq = 0;
            for (int i = 0; i < P->nruns && found < 0; i++) {
                if (strcmp(P->runs[i].dir, labels[l]) == 0 ||
                    (stat(labels[l], &want) == 0 && stat(P->runs[i].dir, &have) == 0 &&
                     want.st_dev == have.st_dev && want.st_ino == have.st_ino)) {
                    found = P->runs[i].group;
                }
            }
            *eq = '=';
        }
        if (found < 0) {
            fprintf(stderr,
                    "floq plot: --label %s: expected RUN_DIR=LABEL with RUN_DIR one of "
                    "the run directories given\n",
                    labels[l]);
            return -1;
        }
        snprintf(P->groups[found].label, sizeof P->groups[found].label, "%.150s", eq + 1);
    }
    return 0;
}

/* ---- panels: group curves into data files --------------------------------------------------- */

static FILE *open_data(const struct plot *P, const char *name, char *path, size_t n) {
    snprintf(path, n, "%s/%s", P->tmp, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "floq plot: cannot write %s: %s\n", path, strerror(errno));
    }
    return f;
}

/* the curve of group g for column col of panel d (c->n = 0 when it has no data); returns how
 * many of the group's runs have data for it */
static int panel_curve(const struct plot *P, const struct panel_def *d, int g, int col,
                       struct plot_curve *c) {
    const struct group *G = &P->groups[g];
    struct plot_series s[PLOT_MAX_RUNS];
    int R = 0;
    for (int k = 0; k < G->n; k++) {
        const struct run *r = &P->runs[G->runs[k]];
        const struct plot_table *t = d->src == SRC_EVAL ? &r->e : &r->m;
        const double *x = t->col[d->xenv ? M_ENV_STEPS : 0];
        if ((d->src == SRC_EVAL && !r->has_eval) || !x || !t->col[col]) {
            continue;
        }
        s[R].n = t->n, s[R].x = x, s[R].y = t->col[col];
        s[R].lo = d->band_lo >= 0 ? t->col[d->band_lo] : NULL;
        s[R].hi = d->band_hi >= 0 ? t->col[d->band_hi] : NULL;
        size_t finite = 0;
        for (size_t i = 0; i < t->n; i++) {
            finite += isfinite(x[i]) && isfinite(t->col[col][i]);
        }
        R += finite > 0;
    }
    memset(c, 0, sizeof *c);
    if (R > 0) {
        plot_curve_build(c, s, R);
    }
    return R;
}

static int all_zero(const struct plot_curve *c) {
    for (size_t i = 0; i < c->n; i++) {
        if (c->mean[i] != 0 || (isfinite(c->lo[i]) && (c->lo[i] != 0 || c->hi[i] != 0))) {
            return 0;
        }
    }
    return 1;
}

/* writes d<p>_<g>_<s>.dat for every group and series with data; fills P->panels[p] */
static int panel_build(struct plot *P, int p, double *ymin, double *ymax) {
    const struct panel_def *d = &PANELS[p];
    struct panel *pn = &P->panels[p];
    pn->def = p;
    pn->xmin = INFINITY, pn->xmax = -INFINITY;
    for (int g = 0; g < P->ngroups; g++) {
        for (int s = 0; s < d->ns; s++) {
            struct plot_curve c;
            int R = panel_curve(P, d, g, d->series[s], &c);
            if (R > 0 && R < P->groups[g].n && !P->warned[g]) {
                fprintf(stderr,
                        "floq plot: warning: only %d of the %d runs of group '%s' have %s rows; "
                        "its curves there are the mean of those\n",
                        R, P->groups[g].n, P->groups[g].label,
                        (d->src == SRC_EVAL ? ECOLS : MCOLS)[d->series[s]]);
                P->warned[g] = 1;
            }
            if (c.n == 0 || ((d->flags & PF_ZERO_NA) && all_zero(&c))) {
                plot_curve_free(&c);
                continue;
            }
            char name[64], path[PLOT_PATH + 64];
            snprintf(name, sizeof name, "d%d_%d_%d.dat", p, g, s);
            FILE *f = open_data(P, name, path, sizeof path);
            if (!f) {
                plot_curve_free(&c);
                return -1;
            }
            int band = 0;
            for (size_t i = 0; i < c.n; i++) {
                plot_gp_num(f, c.x[i]), fputc(' ', f), plot_gp_num(f, c.mean[i]), fputc(' ', f);
                plot_gp_num(f, c.lo[i]), fputc(' ', f), plot_gp_num(f, c.hi[i]), fputc('\n', f);
                band |= isfinite(c.lo[i]);
                pn->xmin = fmin(pn->xmin, c.x[i]), pn->xmax = fmax(pn->xmax, c.x[i]);
                *ymin = fmin(*ymin, fmin(c.mean[i], c.lo[i]));
                *ymax = fmax(*ymax, fmax(c.mean[i], c.hi[i]));
            }
            int bad = ferror(f);
            if (fclose(f) || bad) {
                fprintf(stderr, "floq plot: writing %s failed\n", path);
                plot_curve_free(&c);
                return -1;
            }
            pn->el[pn->nel++] = (struct element){.group = g, .dt = s, .band = band, .n = c.n};
            pn->series_seen[s] = 1;
            plot_curve_free(&c);
        }
    }
    pn->visible = pn->nel > 0;
    return 0;
}

static int panels_build(struct plot *P) {
    for (int p = 0; p < NPANELS; p++) {
        double lo = INFINITY, hi = -INFINITY;
        if (panel_build(P, p, &lo, &hi)) {
            return -1;
        }
        P->panels[p].logy = (PANELS[p].flags & PF_LOGY) && lo > 0 && hi > 30 * lo;
    }
    /* locomotion: success is always 0 where a normalised score exists */
    if (P->panels[P_SCORE].visible && P->panels[P_SUCCESS].visible) {
        int zero = 1;
        for (int g = 0; g < P->ngroups && zero; g++) {
            struct plot_curve c;
            panel_curve(P, &PANELS[P_SUCCESS], g, E_SUCC, &c);
            zero = all_zero(&c);
            plot_curve_free(&c);
        }
        P->panels[P_SUCCESS].visible = !zero;
    }
    P->nvisible = 0;
    for (int p = 0; p < NPANELS; p++) {
        P->nvisible += P->panels[p].visible;
    }
    return 0;
}

/* ---- layout and the gnuplot script ---------------------------------------------------------- */

struct layout {
    int W, H, font;
    int ncols, nrows, lcols, lrows;
    double title_px, legend_px, row_px, ls_px[PLOT_MAX_LS], total_px;
};

/* a group's legend entry: its label and what the line and band are */
static void legend_label(const struct group *G, char *out, size_t n) {
    if (G->n > 1) {
        snprintf(out, n, "%s (mean of %d runs, band min..max)", G->label, G->n);
    } else {
        snprintf(out, n, "%s (1 run)", G->label);
    }
}

static void layout_make(const struct plot *P, int W, int H, const char *title, struct layout *L) {
    memset(L, 0, sizeof *L);
    int np = P->nvisible;
    L->ncols = np <= 2 ? np : np == 4 ? 2 : 3;
    L->nrows = np ? (np + L->ncols - 1) / L->ncols : 0;
    if (W <= 0) {
        W = L->ncols >= 3 ? 1500 : L->ncols == 2 ? 1100 : 700;
        W = P->nls ? FLOQ_MAX(W, 1200) : W;
    }
    L->W = W;
    L->font = (int)fmax(7, fmin(11, round(W / 150.0)));
    L->title_px = title[0] ? 2.6 * L->font + 10 : 8;
    /* legend columns from the longest entry (a generous 0.85 font size per character) */
    size_t longest = 0;
    for (int g = 0; g < P->ngroups; g++) {
        char label[PLOT_LABEL * 2 + 64];
        legend_label(&P->groups[g], label, sizeof label);
        longest = FLOQ_MAX(longest, strlen(label));
    }
    int entry_px = (int)((double)(longest + 8) * 0.85 * L->font);
    L->lcols = FLOQ_MAX(1, FLOQ_MIN(P->ngroups, (W - 40) / entry_px));
    L->lrows = np ? (P->ngroups + L->lcols - 1) / L->lcols : 0;
    L->legend_px = np ? 10 + 2.1 * L->font * L->lrows : 0;
    L->row_px = 330;
    L->total_px = L->title_px + L->legend_px + L->nrows * L->row_px;
    for (int i = 0; i < P->nls; i++) {
        const struct plot_landscape *ls = &P->ls[i];
        double aspect = (ls->ymax - ls->ymin) / (ls->xmax - ls->xmin);
        L->ls_px[i] = fmax(220, fmin(2000, (W / 2.0 - 16 * L->font) * aspect + 10 * L->font));
        L->total_px += L->ls_px[i];
    }
    L->H = H > 0 ? H : (int)ceil(L->total_px);
    /* a given height: the title and legend keep their size, the panels take the rest */
    double fixed = L->title_px + L->legend_px, k = (L->H - fixed) / (L->total_px - fixed);
    if (L->H < fixed + 100) {
        k = L->H / L->total_px;
        L->title_px *= k, L->legend_px *= k;
    }
    L->row_px *= k;
    for (int i = 0; i < P->nls; i++) {
        L->ls_px[i] *= k;
    }
    L->total_px = L->H;
}

/* origin and size of a block of h pixels starting y pixels below the top */
static void gp_place(FILE *f, const struct layout *L, double x, double w, double y, double h) {
    fprintf(f, "set origin %.5f,%.5f\n", x, 1 - (y + h) / L->total_px);
    fprintf(f, "set size noratio %.5f,%.5f\n", w, h / L->total_px);
}

static void gp_legend(FILE *f, const struct plot *P, const struct layout *L) {
    gp_place(f, L, 0, 1, L->title_px, L->legend_px);
    fprintf(f,
            "unset title; unset xlabel; unset ylabel; unset border; unset tics; unset grid\n"
            "unset logscale; set xrange [0:1]; set yrange [0:1]\n"
            "set key center center horizontal reverse Left maxcols %d width 2 samplen 3\n"
            "plot ",
            L->lcols);
    for (int g = 0; g < P->ngroups; g++) {
        char label[PLOT_LABEL * 2 + 64];
        legend_label(&P->groups[g], label, sizeof label);
        fprintf(f, "%s2 with lines lc rgb '%s' lw 3 title ", g ? ", " : "",
                COLOURS[g % FLOQ_ARRAY_LEN(COLOURS)]);
        plot_gp_str(f, label);
    }
    fputc('\n', f);
}

/* about five x tics at a 1-2-5 step; labels 20k, 1M when the step is a multiple of 1000 */
static void gp_xtics(FILE *f, double xmin, double xmax) {
    double span = fmax(xmax - fmin(xmin, 0), 1e-9), step = pow(10, floor(log10(span / 5)));
    step *= span / step > 35 ? 10 : span / step > 17 ? 5 : span / step > 7 ? 2 : 1;
    int si = step >= 1000 && fmod(step, 1000) == 0;
    fprintf(f, "set xtics %.9g; set format x '%s'\n", step, si ? "%.0s%c" : "%g");
}

static void gp_panel(FILE *f, const struct plot *P, const struct layout *L, int p, int slot) {
    const struct panel_def *d = &PANELS[p];
    const struct panel *pn = &P->panels[p];
    int col = slot % L->ncols, row = slot / L->ncols, nseen = 0;
    for (int s = 0; s < d->ns; s++) {
        nseen += pn->series_seen[s];
    }
    gp_place(f, L, (double)col / L->ncols, 1.0 / L->ncols,
             L->title_px + L->legend_px + row * L->row_px, L->row_px);
    /* several series: the line styles are named in the title (a key would cover data),
     * wrapped to the panel's width */
    char title[512];
    snprintf(title, sizeof title, "%s", d->title);
    static const char *const dash[3] = {"solid", "dashed", "dotted"};
    size_t fit = (size_t)(L->W / L->ncols / (0.75 * L->font)), line = fit;
    for (int s = 0, k = 0; s < d->ns && nseen > 1; s++) {
        if (pn->series_seen[s]) {
            char item[128];
            size_t len = strlen(title);
            snprintf(item, sizeof item, "%s: %s", dash[s],
                     (d->src == SRC_EVAL ? ECOLS : MCOLS)[d->series[s]]);
            int wrap = k == 0 || line + 2 + strlen(item) > fit;
            snprintf(title + len, sizeof title - len, "%s%s", wrap ? "\n" : ", ", item);
            line = (wrap ? 0 : line + 2) + strlen(item);
            k++;
        }
    }
    fputs("set title ", f), plot_gp_str(f, title), fputc('\n', f);
    fprintf(f, "set xlabel '%s'; set ylabel ", d->xenv ? "env steps" : "step (gradient updates)");
    plot_gp_str(f, d->ylabel);
    fprintf(f,
            "\nset border; set ytics autofreq; set format y '%%g'; set grid lc rgb '#e0e0e0'\n"
            "set xrange [*:*]; set yrange %s; %s logscale y\n"
            "set offsets 0, 0, graph 0.04, graph 0.04\n",
            (d->flags & PF_UNIT)     ? "[-0.03:1.03]"
            : (d->flags & PF_NONNEG) ? "[0:*]"
                                     : "[*:*]",
            pn->logy ? "set" : "unset");
    gp_xtics(f, pn->xmin, pn->xmax);
    fputs("unset key\nplot ", f);
    int first = 1;
    for (int pass = 0; pass < 2; pass++) {
        for (int e = 0; e < pn->nel; e++) {
            const struct element *el = &pn->el[e];
            const char *c = COLOURS[el->group % FLOQ_ARRAY_LEN(COLOURS)];
            if (pass == 0 && !el->band) {
                continue;
            }
            char name[64];
            snprintf(name, sizeof name, "d%d_%d_%d.dat", p, el->group, el->dt);
            fputs(first ? "" : ", \\\n     ", f);
            plot_gp_file(f, P->tmp, name);
            if (pass == 0) {
                fprintf(f,
                        " using 1:3:4 with filledcurves fc rgb '%s' fs transparent solid 0.18 "
                        "noborder notitle",
                        c);
            } else {
                fprintf(f, " using 1:2 with %s lc rgb '%s' lw 2 dt %d pt 7 ps 0.5 notitle",
                        el->n <= 15 ? "linespoints" : "lines", c, el->dt + 1);
            }
            first = 0;
        }
    }
    fputc('\n', f);
}

static int write_script(const struct plot *P, const struct layout *L, const char *title,
                        const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "floq plot: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(f,
            "# written by floq plot\n"
            "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
            "  set terminal pngcairo size %d,%d font 'sans,%d' noenhanced\n"
            "} else {\n"
            "  set terminal png size %d,%d noenhanced\n"
            "}\n"
            "set palette defined (0 '#2c7bb6', 0.25 '#abd9e9', 0.5 '#ffffbf', "
            "0.75 '#fdae61', 1 '#d7191c')\n"
            "set output ",
            L->W, L->H, L->font, L->W, L->H);
    plot_gp_file(f, P->tmp, "plot.png");
    fputs("\nset multiplot title ", f);
    plot_gp_str(f, title);
    fprintf(f, " font ',%d'\n", L->font + 3);
    if (P->nvisible) {
        gp_legend(f, P, L);
    }
    for (int p = 0, slot = 0; p < NPANELS; p++) {
        if (P->panels[p].visible) {
            gp_panel(f, P, L, p, slot++);
        }
    }
    double y = L->title_px + L->legend_px + L->nrows * L->row_px;
    for (int i = 0; i < P->nls; i++) {
        char err[1024];
        const char *name = base_name(P->ls_path[i]);
        if (plot_maze_write(f, &P->ls[i], P->tmp, i, name, 1 - (y + L->ls_px[i]) / L->total_px,
                            L->ls_px[i] / L->total_px, err, sizeof err)) {
            fprintf(stderr, "floq plot: %s\n", err);
            fclose(f);
            return -1;
        }
        y += L->ls_px[i];
    }
    fputs("unset multiplot\n", f);
    int bad = ferror(f);
    if (fclose(f) || bad) {
        fprintf(stderr, "floq plot: writing %s failed\n", path);
        return -1;
    }
    return 0;
}

/* ---- the command ---------------------------------------------------------------------------- */

struct args {
    char out[PLOT_PATH], title[256];
    int width, height, keep;
    const char *dirs[PLOT_MAX_RUNS], *ls[PLOT_MAX_LS];
    char *labels[PLOT_MAX_RUNS];
    int ndirs, nls, nlabels;
};

static void usage(FILE *f, const struct cfg_opt *o, int n) {
    fprintf(f, "usage: floq plot RUN_DIR [RUN_DIR...] --out FILE.png [--landscape FILE.csv ...]\n"
               "                 [--width W --height H] [--title T] [--label RUN_DIR=LABEL ...]\n"
               "Learning curves of floq train run directories (metrics.csv, eval.csv) and maze\n"
               "value landscapes (floq landscape CSVs, also RUN_DIR/landscape.csv), drawn by\n"
               "gnuplot into one PNG. Runs whose config.json differ only in seed, run_dir,\n"
               "save_dir and resume are one group: mean line, band min..max over its runs.\n"
               "docs/plots.md describes the panels. Exit 0 ok, 1 bad input file or gnuplot\n"
               "failure, 2 bad usage.\n"
               "example: floq plot runs/a-s0 runs/a-s1 runs/b-s0 --out curves.png\n");
    cfg_help(f, o, n);
}

static int is_bool_word(const char *s) {
    static const char *const w[] = {"true", "false", "1", "0", "yes", "no", "on", "off"};
    for (size_t i = 0; i < FLOQ_ARRAY_LEN(w); i++) {
        if (strcmp(s, w[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* splits argv into run directories, repeatable flags and the rest (for cfg_parse); 0 to go on,
 * 2 after a usage error, -1 after --help */
static int args_parse(struct args *A, int argc, char **argv) {
    static char dummy[2];
    struct cfg_opt o[] = {
        CFG_STR("out", A->out, sizeof A->out, "PNG file to write (required)"),
        CFG_STR("landscape", dummy, sizeof dummy,
                "floq landscape CSV to draw as V_pi and V* maps (repeatable)"),
        CFG_STR("label", dummy, sizeof dummy,
                "RUN_DIR=LABEL: legend label of the group holding RUN_DIR (repeatable)"),
        CFG_INT("width", &A->width, 200, 10000,
                "image width in pixels (0: from the number of panels)"),
        CFG_INT("height", &A->height, 200, 10000,
                "image height in pixels (0: what the panels need)"),
        CFG_STR("title", A->title, sizeof A->title, "figure title (empty: from the runs)"),
        CFG_BOOL("keep_tmp", &A->keep, "keep the gnuplot script and data files (prints where)"),
    };
    int n = (int)FLOQ_ARRAY_LEN(o), nrest = 0, rc = 0;
    char err[512];
    if (cfg_wants_help(argc, argv)) {
        usage(stdout, o, n);
        return -1;
    }
    char **rest = mem_alloc(sizeof(char *) * (size_t)(argc + 1));
    for (int i = 0; i < argc && rc == 0; i++) {
        char *a = argv[i];
        const char *eq = strchr(a, '=');
        int is_ls = strncmp(a, "--landscape", 11) == 0 && (a[11] == 0 || a[11] == '=');
        int is_lab = strncmp(a, "--label", 7) == 0 && (a[7] == 0 || a[7] == '=');
        if (is_ls || is_lab) {
            char *val = eq ? (char *)eq + 1 : i + 1 < argc ? argv[++i] : NULL;
            int full = is_ls ? A->nls >= PLOT_MAX_LS : A->nlabels >= PLOT_MAX_RUNS;
            if (!val || full) {
                fprintf(stderr, "floq plot: %s %s\n", is_ls ? "--landscape" : "--label",
                        !val ? "needs a value" : "given too many times");
                rc = 2;
            } else if (is_ls) {
                A->ls[A->nls++] = val;
            } else {
                A->labels[A->nlabels++] = val;
            }
        } else if (a[0] == '-' && a[1]) {
            rest[nrest++] = a;
            struct cfg_opt *opt = strncmp(a, "--", 2) == 0 && !eq ? cfg_find(o, n, a + 2) : NULL;
            if (opt && i + 1 < argc && (opt->type != CFG_T_BOOL || is_bool_word(argv[i + 1]))) {
                rest[nrest++] = argv[++i];
            }
        } else if (A->ndirs >= PLOT_MAX_RUNS) {
            fprintf(stderr, "floq plot: more than %d run directories\n", PLOT_MAX_RUNS);
            rc = 2;
        } else {
            A->dirs[A->ndirs++] = a;
        }
    }
    if (rc == 0 && cfg_parse(o, n, nrest, rest, err, sizeof err)) {
        fprintf(stderr, "floq plot: %s\n", err);
        rc = 2;
    }
    mem_free(rest);
    if (rc == 0 && !A->out[0]) {
        fprintf(stderr, "floq plot: --out FILE.png is required (floq plot --help)\n");
        rc = 2;
    }
    if (rc == 0 && A->ndirs == 0 && A->nls == 0) {
        fprintf(stderr, "floq plot: give at least one run directory or --landscape FILE.csv "
                        "(floq plot --help)\n");
        rc = 2;
    }
    return rc;
}

/* the runs, their landscapes and the --landscape files; 0 or -1 (message printed) */
static int load_inputs(struct plot *P, const struct args *A) {
    char err[1024];
    for (int i = 0; i < A->ndirs; i++) {
        P->nruns++;
        if (run_load(&P->runs[i], A->dirs[i])) {
            return -1;
        }
        if (P->nls < PLOT_MAX_LS) {
            char *auto_ls = P->ls_auto[P->nls];
            snprintf(auto_ls, PLOT_PATH, "%s/landscape.csv", A->dirs[i]);
            if (access(auto_ls, F_OK) == 0) {
                P->ls_path[P->nls++] = auto_ls;
            }
        }
    }
    for (int i = 0; i < A->nls && P->nls < PLOT_MAX_LS; i++) {
        P->ls_path[P->nls++] = A->ls[i];
    }
    for (int i = 0; i < P->nls; i++) {
        if (plot_landscape_read(&P->ls[i], P->ls_path[i], err, sizeof err)) {
            fprintf(stderr,
                    "floq plot: %s; write it again with floq landscape --checkpoint "
                    "CKPT --out FILE.csv\n",
                    err);
            return -1;
        }
    }
    return 0;
}

static void default_title(const struct plot *P, char *out, size_t n) {
    const char *env = NULL;
    int same = 1;
    for (int i = 0; i < P->nruns; i++) {
        const char *e = P->runs[i].has_cfg ? plot_kv_get(&P->runs[i].cfg, "env_name") : NULL;
        same &= e && (!env || strcmp(e, env) == 0);
        env = e ? e : env;
    }
    if (P->nvisible == 0) {
        snprintf(out, n, "value landscape");
    } else if (same && env) {
        snprintf(out, n, "floq runs on %s", env);
    } else {
        snprintf(out, n, "floq runs");
    }
}

static int plot_run(struct plot *P, struct args *A) {
    if (load_inputs(P, A)) {
        return 1;
    }
    group_runs(P);
    if (label_groups(P, A->labels, A->nlabels)) {
        return 2;
    }
    char err[1024];
    if (plot_tmpdir_make(P->tmp, sizeof P->tmp, err, sizeof err)) {
        fprintf(stderr, "floq plot: %s\n", err);
        return 1;
    }
    if (panels_build(P)) {
        return 1;
    }
    if (P->nvisible == 0 && P->nls == 0) {
        fprintf(stderr,
                "floq plot: nothing to plot: no metrics or evaluation rows in %s%s yet; "
                "train longer or lower --log_interval\n",
                P->runs[0].dir, P->nruns > 1 ? " or the other runs" : "");
        return 1;
    }
    char title[300], script[PLOT_PATH + 32], png[PLOT_PATH + 32];
    if (A->title[0]) {
        snprintf(title, sizeof title, "%s", A->title);
    } else {
        default_title(P, title, sizeof title);
    }
    struct layout L;
    layout_make(P, A->width, A->height, title, &L);
    snprintf(script, sizeof script, "%s/plot.gp", P->tmp);
    snprintf(png, sizeof png, "%s/plot.png", P->tmp);
    if (write_script(P, &L, title, script)) {
        return 1;
    }
    if (plot_gnuplot_run(P->tmp, script, err, sizeof err) ||
        plot_png_install(png, A->out, err, sizeof err)) {
        fprintf(stderr, "floq plot: %s\n", err);
        return 1;
    }
    printf("floq plot: wrote %s (%dx%d): %d panel%s, %d landscape%s", A->out, L.W, L.H, P->nvisible,
           P->nvisible == 1 ? "" : "s", P->nls, P->nls == 1 ? "" : "s");
    for (int g = 0; g < P->ngroups; g++) {
        printf("%s %s: %d run%s", g ? "," : ";", P->groups[g].label, P->groups[g].n,
               P->groups[g].n == 1 ? "" : "s");
    }
    printf("\n");
    return 0;
}

int plot_main(int argc, char **argv) {
    struct args A;
    memset(&A, 0, sizeof A);
    int rc = args_parse(&A, argc, argv);
    if (rc) {
        return rc < 0 ? 0 : rc;
    }
    struct plot *P = mem_alloc(sizeof *P);
    rc = plot_run(P, &A);
    if (P->tmp[0] && A.keep) {
        fprintf(stderr, "floq plot: kept the gnuplot script and data in %s\n", P->tmp);
    } else {
        plot_tmpdir_remove(P->tmp);
    }
    for (int i = 0; i < P->nruns; i++) {
        run_free(&P->runs[i]);
    }
    for (int i = 0; i < P->nls; i++) {
        plot_landscape_free(&P->ls[i]);
    }
    mem_free(P);
    return rc;
}
