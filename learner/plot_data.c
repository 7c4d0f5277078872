/* plot_data.c — the files `floq plot` reads: CSV tables by column name and config.json, and
 * the group curves built from them. Every input is untrusted: a bad file is one line in err,
 * never a crash. */
#include "learner/plot.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "common/util.h"

#define PLOT_FILE_MAX (1L << 30) /* larger files are refused */
#define PLOT_KV_MAX   4096

/* ---- whole files ---------------------------------------------------------------------------- */

/* the file as a NUL-terminated buffer (*len bytes without the NUL); NULL with err on failure */
static char *slurp(const char *path, size_t *len, char *err, size_t errsz) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errsz, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    long sz = -1;
    if (fseek(f, 0, SEEK_END) == 0) {
        sz = ftell(f);
    }
    if (sz < 0 || sz > PLOT_FILE_MAX || fseek(f, 0, SEEK_SET) != 0) {
        snprintf(err, errsz, "%s: %s", path,
                 sz > PLOT_FILE_MAX ? "larger than 1 GiB" : "not a regular file");
        fclose(f);
        return NULL;
    }
    char *buf = mem_alloc((size_t)sz + 1);
    size_t got = fread(buf, 1, (size_t)sz, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || got != (size_t)sz) {
        snprintf(err, errsz, "reading %s failed after %zu of %ld bytes", path, got, sz);
        mem_free(buf);
        return NULL;
    }
    buf[sz] = 0;
    void *nul = memchr(buf, 0, (size_t)sz);
    if (nul) {
        snprintf(err, errsz, "%s is not a text file (NUL byte at offset %ld)", path,
                 (long)((char *)nul - buf));
        mem_free(buf);
        return NULL;
    }
    *len = (size_t)sz;
    return buf;
}

/* a cell for a message: at most 40 characters, control characters as '?' */
static void cell_quote(char *out, size_t n, const char *s, size_t len) {
    size_t k = 0;
    for (size_t i = 0; i < len && k + 4 < n && i < 40; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[k++] = ch < 32 || ch == 127 ? '?' : (char)ch;
    }
    if (len > 40 && k + 4 < n) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = 0;
}

static void trim(const char **s, size_t *len) {
    while (*len && (**s == ' ' || **s == '\t' || **s == '\r')) {
        (*s)++, (*len)--;
    }
    while (*len && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t' || (*s)[*len - 1] == '\r')) {
        (*len)--;
    }
}

/* ---- CSV tables ----------------------------------------------------------------------------- */

void plot_table_free(struct plot_table *t) {
    for (int c = 0; c < PLOT_MAX_COLS; c++) {
        mem_free(t->col[c]);
        t->col[c] = NULL;
    }
    for (int i = 0; i < t->ncomments; i++) {
        mem_free(t->comments[i]);
    }
    mem_free(t->comments);
    t->comments = NULL;
    t->ncomments = 0;
    t->n = 0;
}

/* splits line[0..len) at commas into (start, length) pairs; returns the cell count (may exceed
 * cap: only the first cap are stored) */
static int split_cells(const char *line, size_t len, const char **cs, size_t *cl, int cap) {
    int k = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || line[i] == ',') {
            if (k < cap) {
                cs[k] = line + start;
                cl[k] = i - start;
                trim(&cs[k], &cl[k]);
            }
            k++;
            start = i + 1;
        }
    }
    return k;
}

/* one cell as a number: empty, nan and inf give NAN; 0 or -1 if it is not a number */
static int parse_cell(const char *s, size_t len, double *out) {
    char tmp[64];
    if (len == 0) {
        *out = NAN;
        return 0;
    }
    if (len >= sizeof tmp) {
        return -1;
    }
    memcpy(tmp, s, len);
    tmp[len] = 0;
    char *end = NULL;
    double v = strtod(tmp, &end);
    if (end == tmp || *end) {
        return -1;
    }
    *out = isfinite(v) ? v : NAN;
    return 0;
}

struct csv_state {
    const char *path;
    const char *const *names;
    int ncol, required, hcells;
    int idx[PLOT_MAX_COLS]; /* header position of each requested column, -1 if absent */
    const char **cs;
    size_t *cl;
};

/* one data row into row r of t; 1 if it was a short unterminated last line (skipped) */
static int csv_row(struct csv_state *st, struct plot_table *t, const char *line, size_t len,
                   long lineno, int last_open, char *err, size_t errsz) {
    int k = split_cells(line, len, st->cs, st->cl, st->hcells);
    if (k != st->hcells) {
        if (last_open && k < st->hcells) {
            return 1;
        }
        snprintf(err, errsz, "%s line %ld has %d cells but the header has %d", st->path, lineno, k,
                 st->hcells);
        return -1;
    }
    for (int c = 0; c < st->ncol; c++) {
        if (st->idx[c] < 0) {
            continue;
        }
        const char *s = st->cs[st->idx[c]];
        size_t l = st->cl[st->idx[c]];
        double v;
        if (parse_cell(s, l, &v)) {
            char q[64];
            cell_quote(q, sizeof q, s, l);
            snprintf(err, errsz, "%s line %ld, column %s: '%s' is not a number", st->path, lineno,
                     st->names[c], q);
            return -1;
        }
        if (c < st->required && !isfinite(v)) {
            snprintf(err, errsz, "%s line %ld, column %s: empty or not finite", st->path, lineno,
                     st->names[c]);
            return -1;
        }
        t->col[c][t->n] = v;
    }
    t->n++;
    return 0;
}

/* the header line: finds the requested columns */
static int csv_header(struct csv_state *st, struct plot_table *t, const char *line, size_t len,
                      long lineno, size_t cap, char *err, size_t errsz) {
    int k = split_cells(line, len, NULL, NULL, 0);
    st->hcells = k;
    st->cs = mem_alloc(sizeof(char *) * (size_t)k);
    st->cl = mem_alloc(sizeof(size_t) * (size_t)k);
    split_cells(line, len, st->cs, st->cl, k);
    for (int c = 0; c < st->ncol; c++) {
        st->idx[c] = -1;
        size_t nl = strlen(st->names[c]);
        for (int j = 0; j < k && st->idx[c] < 0; j++) {
            if (st->cl[j] == nl && memcmp(st->cs[j], st->names[c], nl) == 0) {
                st->idx[c] = j;
            }
        }
        if (st->idx[c] < 0 && c < st->required) {
            char q[64];
            cell_quote(q, sizeof q, line, len);
            snprintf(err, errsz, "%s has no column '%s' in its header (line %ld: '%s')", st->path,
                     st->names[c], lineno, q);
            return -1;
        }
        if (st->idx[c] >= 0) {
            t->col[c] = mem_alloc(sizeof(double) * (cap ? cap : 1));
        }
    }
    return 0;
}

int plot_table_read(struct plot_table *t, const char *path, const char *const *names, int ncol,
                    int required, char *err, size_t errsz) {
    FLOQ_ASSERT(ncol > 0 && ncol <= PLOT_MAX_COLS && required <= ncol);
    memset(t, 0, sizeof *t);
    t->ncol = ncol;
    size_t len;
    char *buf = slurp(path, &len, err, errsz);
    if (!buf) {
        return -1;
    }
    if (len == 0) {
        snprintf(err, errsz, "%s is empty", path);
        mem_free(buf);
        return -1;
    }
    size_t nlines = 1, ccap = 0;
    for (size_t i = 0; i < len; i++) {
        nlines += buf[i] == '\n';
    }
    struct csv_state st = {.path = path, .names = names, .ncol = ncol, .required = required};
    int rc = 0, have_header = 0;
    long lineno = 0;
    for (size_t pos = 0; pos < len && rc == 0;) {
        char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - buf) : len;
        const char *line = buf + pos;
        size_t ll = end - pos;
        int open = nl == NULL;
        pos = end + 1;
        lineno++;
        trim(&line, &ll);
        if (ll == 0) {
            continue;
        }
        if (line[0] == '#') {
            if (!t->comments) {
                ccap = 16;
                t->comments = mem_alloc(sizeof(char *) * ccap);
            } else if ((size_t)t->ncomments == ccap) {
                char **bigger = mem_alloc(sizeof(char *) * ccap * 2);
                memcpy(bigger, t->comments, sizeof(char *) * ccap);
                mem_free(t->comments);
                t->comments = bigger, ccap *= 2;
            }
            char *c = mem_alloc(ll);
            memcpy(c, line + 1, ll - 1);
            t->comments[t->ncomments++] = c;
        } else if (!have_header) {
            rc = csv_header(&st, t, line, ll, lineno, nlines, err, errsz);
            have_header = 1;
        } else {
            int r = csv_row(&st, t, line, ll, lineno, open, err, errsz);
            rc = r < 0 ? -1 : 0;
            t->dropped_last |= r == 1;
        }
    }
    if (rc == 0 && !have_header) {
        snprintf(err, errsz, "%s has no header line", path);
        rc = -1;
    }
    mem_free(st.cs);
    mem_free(st.cl);
    mem_free(buf);
    if (rc) {
        plot_table_free(t);
    }
    return rc;
}

void plot_table_resume_cut(struct plot_table *t, int c) {
    const double *key = t->col[c];
    FLOQ_ASSERT(key);
    size_t k = 0;
    for (size_t i = 0; i < t->n; i++) {
        double v = key[i];
        while (k > 0 && key[k - 1] >= v) {
            k--;
        }
        for (int j = 0; j < t->ncol; j++) {
            if (t->col[j]) {
                t->col[j][k] = t->col[j][i];
            }
        }
        k++;
    }
    t->n = k;
}

/* ---- config.json ---------------------------------------------------------------------------- */

void plot_kv_free(struct plot_kv *kv) {
    for (int i = 0; i < kv->n; i++) {
        mem_free(kv->key[i]);
        mem_free(kv->val[i]);
    }
    mem_free(kv->key);
    mem_free(kv->val);
    memset(kv, 0, sizeof *kv);
}

const char *plot_kv_get(const struct plot_kv *kv, const char *key) {
    for (int i = 0; i < kv->n; i++) {
        if (strcmp(kv->key[i], key) == 0) {
            return kv->val[i];
        }
    }
    return NULL;
}

static const char *skip_ws(const char *p) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
        p++;
    }
    return p;
}

/* a JSON string at *p (opening quote) into a new buffer; NULL if malformed */
static char *json_string(const char **pp) {
    const char *p = *pp;
    if (*p != '"') {
        return NULL;
    }
    p++;
    size_t cap = 16, k = 0;
    char *out = mem_alloc(cap);
    for (; *p && *p != '"'; p++) {
        char ch = *p;
        if (ch == '\\') {
            p++;
            const char *esc = "\"\\/bfnrt", *rep = "\"\\/\b\f\n\r\t";
            const char *e = *p ? strchr(esc, *p) : NULL;
            if (*p == 'u' && p[1] && p[2] && p[3] && p[4]) {
                ch = '?';
                p += 4;
            } else if (e) {
                ch = rep[e - esc];
            } else {
                mem_free(out);
                return NULL;
            }
        } else if ((unsigned char)ch < 32) {
            mem_free(out);
            return NULL;
        }
        if (k + 1 >= cap) {
            char *bigger = mem_alloc(cap * 2);
            memcpy(bigger, out, k);
            mem_free(out);
            out = bigger, cap *= 2;
        }
        out[k++] = ch;
    }
    if (*p != '"') {
        mem_free(out);
        return NULL;
    }
    *pp = p + 1;
    return out;
}

/* a bare JSON value (number, true, false, null) as text */
static char *json_bare(const char **pp) {
    const char *p = *pp;
    size_t k = strspn(p, "0123456789+-.eEtruefalsn");
    if (k == 0 || k > 64) {
        return NULL;
    }
    char *out = mem_alloc(k + 1);
    memcpy(out, p, k);
    *pp = p + k;
    return out;
}

int plot_kv_read(struct plot_kv *kv, const char *path, char *err, size_t errsz) {
    memset(kv, 0, sizeof *kv);
    size_t len;
    char *buf = slurp(path, &len, err, errsz);
    if (!buf) {
        return -1;
    }
    kv->key = mem_alloc(sizeof(char *) * PLOT_KV_MAX);
    kv->val = mem_alloc(sizeof(char *) * PLOT_KV_MAX);
    const char *p = skip_ws(buf);
    int ok = *p == '{';
    p = skip_ws(p + 1);
    if (ok && *p == '}') {
        p++;
    } else {
        while (ok) {
            char *k = json_string(&p), *v = NULL;
            p = skip_ws(p);
            ok = k && *p == ':';
            if (ok) {
                p = skip_ws(p + 1);
                v = *p == '"' ? json_string(&p) : json_bare(&p);
                ok = v && kv->n < PLOT_KV_MAX;
            }
            if (!ok) {
                mem_free(k), mem_free(v);
                break;
            }
            kv->key[kv->n] = k, kv->val[kv->n] = v, kv->n++;
            p = skip_ws(p);
            if (*p == '}') {
                p++;
                break;
            }
            ok = *p == ',';
            p = skip_ws(p + ok);
        }
    }
    if (ok && *skip_ws(p) != 0) {
        ok = 0;
    }
    if (!ok) {
        snprintf(err, errsz, "%s is not a flat JSON object of strings (stopped at byte %ld)", path,
                 (long)(p - buf));
        plot_kv_free(kv);
    }
    mem_free(buf);
    return ok ? 0 : -1;
}

/* ---- group curves --------------------------------------------------------------------------- */

void plot_curve_free(struct plot_curve *c) {
    mem_free(c->x), mem_free(c->mean), mem_free(c->lo), mem_free(c->hi);
    memset(c, 0, sizeof *c);
}

/* one run's finite rows, sorted by x (ties keep file order) */
struct sorted {
    size_t n;
    double *x, *y, *lo, *hi;
};

static const double *sort_key;
static int cmp_by_key(const void *a, const void *b) {
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    double x = sort_key[i], y = sort_key[j];
    return x < y ? -1 : x > y ? 1 : (i > j) - (i < j);
}

static void sorted_make(struct sorted *o, const struct plot_series *s) {
    size_t n = 0, *idx = mem_alloc(sizeof(size_t) * (s->n ? s->n : 1));
    for (size_t i = 0; i < s->n; i++) {
        if (isfinite(s->x[i]) && isfinite(s->y[i])) {
            idx[n++] = i;
        }
    }
    sort_key = s->x;
    qsort(idx, n, sizeof(size_t), cmp_by_key);
    o->n = n;
    o->x = mem_alloc(sizeof(double) * (n ? n : 1));
    o->y = mem_alloc(sizeof(double) * (n ? n : 1));
    o->lo = mem_alloc(sizeof(double) * (n ? n : 1));
    o->hi = mem_alloc(sizeof(double) * (n ? n : 1));
    for (size_t k = 0; k < n; k++) {
        o->x[k] = s->x[idx[k]], o->y[k] = s->y[idx[k]];
        o->lo[k] = s->lo ? s->lo[idx[k]] : NAN;
        o->hi[k] = s->hi ? s->hi[idx[k]] : NAN;
    }
    mem_free(idx);
}

/* v at x by linear interpolation of (o->x, v); x within [o->x[0], o->x[n-1]] */
static double interp(const struct sorted *o, const double *v, double x) {
    size_t a = 0, b = o->n - 1;
    if (x <= o->x[0]) {
        return v[0];
    }
    while (b - a > 1) {
        size_t m = (a + b) / 2;
        if (o->x[m] < x) {
            a = m;
        } else {
            b = m;
        }
    }
    if (o->x[b] == x || o->x[b] == o->x[a]) {
        return v[b];
    }
    double w = (x - o->x[a]) / (o->x[b] - o->x[a]);
    return v[a] + w * (v[b] - v[a]);
}

void plot_curve_build(struct plot_curve *c, const struct plot_series *s, int R) {
    FLOQ_ASSERT(R > 0);
    memset(c, 0, sizeof *c);
    struct sorted *o = mem_alloc(sizeof(struct sorted) * (size_t)R);
    double xlo = -INFINITY, xhi = INFINITY;
    int empty = 0;
    for (int r = 0; r < R; r++) {
        sorted_make(&o[r], &s[r]);
        empty |= o[r].n == 0;
        if (o[r].n) {
            xlo = fmax(xlo, o[r].x[0]), xhi = fmin(xhi, o[r].x[o[r].n - 1]);
        }
    }
    size_t cap = empty ? 1 : o[0].n;
    c->x = mem_alloc(sizeof(double) * cap), c->mean = mem_alloc(sizeof(double) * cap);
    c->lo = mem_alloc(sizeof(double) * cap), c->hi = mem_alloc(sizeof(double) * cap);
    int band_cols = s[0].lo && s[0].hi;
    for (size_t k = 0; !empty && k < o[0].n; k++) {
        double x = o[0].x[k];
        if (x < xlo || x > xhi) {
            continue;
        }
        double sum = 0, lo = NAN, hi = NAN;
        for (int r = 0; r < R; r++) {
            double y = interp(&o[r], o[r].y, x);
            sum += y;
            lo = fmin(lo, band_cols ? interp(&o[r], o[r].lo, x) : y);
            hi = fmax(hi, band_cols ? interp(&o[r], o[r].hi, x) : y);
        }
        c->x[c->n] = x, c->mean[c->n] = sum / R;
        c->lo[c->n] = R > 1 || band_cols ? lo : NAN;
        c->hi[c->n] = R > 1 || band_cols ? hi : NAN;
        c->n++;
    }
    for (int r = 0; r < R; r++) {
        mem_free(o[r].x), mem_free(o[r].y), mem_free(o[r].lo), mem_free(o[r].hi);
    }
    mem_free(o);
}
