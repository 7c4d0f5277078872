#include "common/cfg.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

struct cfg_opt *cfg_find(struct cfg_opt *opts, int n, const char *name) {
    for (int i = 0; i < n; i++) {
        if (strcmp(opts[i].name, name) == 0) {
            return &opts[i];
        }
    }
    return NULL;
}

static int parse_bool(const char *v, int *out) {
    const char *t[] = {"1", "true", "True", "yes", "on"}, *f[] = {"0", "false", "False", "no",
                                                                  "off"};
    for (int i = 0; i < 5; i++) {
        if (strcmp(v, t[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcmp(v, f[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

int cfg_set(struct cfg_opt *o, const char *val, char *err, size_t errsz) {
    char *end = NULL;
    errno = 0;
    switch (o->type) {
        case CFG_T_INT:
        case CFG_T_LONG: {
            double d = strtod(val, &end);
            if (end == val || *end || errno || d != floor(d)) {
                snprintf(err, errsz, "--%s=%s: expected an integer", o->name, val);
                return -1;
            }
            if (d < o->lo || d > o->hi) {
                snprintf(err, errsz, "--%s=%s: out of range [%.15g, %.15g]", o->name, val, o->lo,
                         o->hi);
                return -1;
            }
            if (o->type == CFG_T_INT) {
                *(int *)o->ptr = (int)d;
            } else {
                *(long *)o->ptr = (long)d;
            }
            return 0;
        }
        case CFG_T_U64: {
            if (!isdigit((unsigned char)val[0])) {
                snprintf(err, errsz, "--%s=%s: expected a non-negative integer", o->name, val);
                return -1;
            }
            unsigned long long u = strtoull(val, &end, 10);
            if (*end || errno) {
                snprintf(err, errsz, "--%s=%s: expected a non-negative integer", o->name, val);
                return -1;
            }
            *(uint64_t *)o->ptr = (uint64_t)u;
            return 0;
        }
        case CFG_T_FLOAT: {
            double d = strtod(val, &end);
            if (end == val || *end || !isfinite(d)) {
                snprintf(err, errsz, "--%s=%s: expected a finite number", o->name, val);
                return -1;
            }
            if (d < o->lo || d > o->hi) {
                snprintf(err, errsz, "--%s=%s: out of range [%g, %g]", o->name, val, o->lo, o->hi);
                return -1;
            }
            *(float *)o->ptr = (float)d;
            return 0;
        }
        case CFG_T_BOOL: {
            int b;
            if (parse_bool(val, &b)) {
                snprintf(err, errsz, "--%s=%s: expected true or false", o->name, val);
                return -1;
            }
            *(int *)o->ptr = b;
            return 0;
        }
        case CFG_T_STR:
            if (strlen(val) >= o->size) {
                snprintf(err, errsz, "--%s: value longer than %zu characters", o->name,
                         o->size - 1);
                return -1;
            }
            snprintf((char *)o->ptr, o->size, "%s", val);
            return 0;
        case CFG_T_INTLIST: {
            int vals[64], k = 0;
            const char *p = val;
            while (*p) {
                while (*p && (*p == '(' || *p == ')' || *p == '[' || *p == ']' || *p == ',' ||
                              *p == ' ')) {
                    p++;
                }
                if (!*p) {
                    break;
                }
                long v = strtol(p, &end, 10);
                if (end == p || k >= 64 || (size_t)k >= o->size) {
                    snprintf(err, errsz,
                             "--%s=%s: expected up to %zu comma-separated integers, e.g. "
                             "512,512,512,512",
                             o->name, val, o->size);
                    return -1;
                }
                if (v < o->lo || v > o->hi) {
                    snprintf(err, errsz, "--%s=%s: entries must be in [%g, %g]", o->name, val,
                             o->lo, o->hi);
                    return -1;
                }
                vals[k++] = (int)v;
                p = end;
            }
            if (k == 0) {
                snprintf(err, errsz, "--%s=%s: expected at least one integer", o->name, val);
                return -1;
            }
            memcpy(o->ptr, vals, sizeof(int) * (size_t)k);
            *o->count = k;
            return 0;
        }
        case CFG_T_CHOICE: {
            const char *c = o->choices;
            int idx = 0;
            size_t vl = strlen(val);
            while (*c) {
                const char *bar = strchr(c, '|');
                size_t len = bar ? (size_t)(bar - c) : strlen(c);
                if (len == vl && strncmp(c, val, len) == 0) {
                    *(int *)o->ptr = idx;
                    return 0;
                }
                idx++;
                c += len + (bar ? 1 : 0);
                if (!bar) {
                    break;
                }
            }
            snprintf(err, errsz, "--%s=%s: expected one of %s", o->name, val, o->choices);
            return -1;
        }
        case CFG_T_IGNORED:
            return 0;
        case CFG_T_OFF: {
            int b = 1;
            if (val[0] && strcmp(val, "None") != 0 && (parse_bool(val, &b) || b)) {
                snprintf(err, errsz, "--%s=%s: %s; drop the flag", o->name, val, o->help);
                return -1;
            }
            return 0;
        }
    }
    return -1;
}

int cfg_wants_help(int argc, char **argv) {
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            return 1;
        }
    }
    return 0;
}

int cfg_parse(struct cfg_opt *opts, int n, int argc, char **argv, char *err, size_t errsz) {
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || a[2] == 0) {
            snprintf(err, errsz, "unexpected argument '%s'; flags look like --name=value", a);
            return -1;
        }
        char name[128];
        const char *eq = strchr(a + 2, '=');
        size_t len = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
        if (len >= sizeof name) {
            snprintf(err, errsz, "flag '%.40s...' is too long", a);
            return -1;
        }
        memcpy(name, a + 2, len);
        name[len] = 0;
        struct cfg_opt *o = cfg_find(opts, n, name);
        if (!o) {
            const char *names[512];
            int m = n < 512 ? n : 512;
            for (int j = 0; j < m; j++) {
                names[j] = opts[j].name;
            }
            int c = closest_name(name, names, m);
            snprintf(err, errsz, "unknown flag --%s; did you mean --%s? (--help lists them)", name,
                     c >= 0 ? names[c] : "help");
            return -1;
        }
        const char *val;
        int last = i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0;
        if (eq) {
            val = eq + 1;
        } else if (o->type == CFG_T_BOOL && (last || parse_bool(argv[i + 1], &(int){0}) != 0)) {
            val = "true";
        } else if (o->type == CFG_T_OFF && last) {
            val = "true"; /* a bare switch turns it on */
        } else if (o->type == CFG_T_IGNORED && last) {
            val = "";
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            snprintf(err, errsz, "--%s needs a value", name);
            return -1;
        }
        if (cfg_set(o, val, err, errsz)) {
            return -1;
        }
        o->set = 1;
    }
    return 0;
}

void cfg_format(const struct cfg_opt *o, char *buf, size_t n) {
    switch (o->type) {
        case CFG_T_INT:
            snprintf(buf, n, "%d", *(int *)o->ptr);
            break;
        case CFG_T_BOOL:
            snprintf(buf, n, "%s", *(int *)o->ptr ? "true" : "false");
            break;
        case CFG_T_LONG:
            snprintf(buf, n, "%ld", *(long *)o->ptr);
            break;
        case CFG_T_U64:
            snprintf(buf, n, "%llu", (unsigned long long)*(uint64_t *)o->ptr);
            break;
        case CFG_T_FLOAT:
            snprintf(buf, n, "%.9g", (double)*(float *)o->ptr);
            break;
        case CFG_T_STR:
            snprintf(buf, n, "%s", (const char *)o->ptr);
            break;
        case CFG_T_INTLIST: {
            size_t off = 0;
            buf[0] = 0;
            for (int k = 0; k < *o->count && off < n; k++) {
                off += (size_t)snprintf(buf + off, n - off, k ? ",%d" : "%d", ((int *)o->ptr)[k]);
            }
            break;
        }
        case CFG_T_CHOICE: {
            int idx = *(int *)o->ptr;
            const char *c = o->choices;
            for (int k = 0; k < idx && c; k++) {
                c = strchr(c, '|');
                c = c ? c + 1 : NULL;
            }
            if (!c) {
                snprintf(buf, n, "%d", idx);
            } else {
                const char *bar = strchr(c, '|');
                snprintf(buf, n, "%.*s", (int)(bar ? bar - c : (long)strlen(c)), c);
            }
            break;
        }
        case CFG_T_IGNORED:
        case CFG_T_OFF:
            snprintf(buf, n, "%s", "");
            break;
    }
}

/* options that only accept a flag for compatibility hold no value */
static int holds_value(const struct cfg_opt *o) {
    return o->type != CFG_T_IGNORED && o->type != CFG_T_OFF;
}

void cfg_help(FILE *f, const struct cfg_opt *opts, int n) {
    char v[256];
    for (int i = 0; i < n; i++) {
        if (!holds_value(&opts[i])) {
            fprintf(f, "  --%-32s %s (accepted for compatibility%s)\n", opts[i].name, opts[i].help,
                    opts[i].type == CFG_T_OFF ? ", only as false" : "; ignored");
            continue;
        }
        cfg_format(&opts[i], v, sizeof v);
        fprintf(f, "  --%-32s %s (default: %s)\n", opts[i].name, opts[i].help, v[0] ? v : "\"\"");
    }
}

void cfg_json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') {
            fputc('\\', f);
            fputc(*s, f);
        } else if ((unsigned char)*s < 0x20) {
            fprintf(f, "\\u%04x", *s);
        } else {
            fputc(*s, f);
        }
    }
    fputc('"', f);
}

int cfg_write_json(FILE *f, const struct cfg_opt *opts, int n) {
    char v[1100];
    fputs("{", f);
    const char *sep = "\n";
    for (int i = 0; i < n; i++) {
        if (!holds_value(&opts[i])) {
            continue;
        }
        cfg_format(&opts[i], v, sizeof v);
        fputs(sep, f);
        fputs("  ", f);
        cfg_json_string(f, opts[i].name);
        fputs(": ", f);
        cfg_json_string(f, v);
        sep = ",\n";
    }
    fputs("\n}\n", f);
    return ferror(f) ? -1 : 0;
}

/* reads a JSON string at *p into out; returns 0 and advances */
static int read_jstr(const char **p, char *out, size_t n) {
    const char *s = *p;
    while (isspace((unsigned char)*s)) {
        s++;
    }
    if (*s != '"') {
        return -1;
    }
    s++;
    size_t k = 0;
    while (*s && *s != '"') {
        char c = *s++;
        if (c == '\\') {
            if (!*s) {
                return -1;
            }
            c = *s++;
            if (c == 'u') {
                unsigned v = 0;
                for (int i = 0; i < 4 && isxdigit((unsigned char)*s); i++) {
                    v = v * 16 + (unsigned)(isdigit((unsigned char)*s) ? *s - '0'
                                                                      : (tolower(*s) - 'a' + 10));
                    s++;
                }
                c = (char)v;
            }
        }
        if (k + 1 >= n) {
            return -1;
        }
        out[k++] = c;
    }
    if (*s != '"') {
        return -1;
    }
    out[k] = 0;
    *p = s + 1;
    return 0;
}

/* the next "key": "value" pair of a flat JSON object after *p; 1 with the pair, 0 at the
 * closing brace, -1 on malformed text (err says where) */
static int json_next(const char **p, char *key, size_t ks, char *val, size_t vs, char *err,
                     size_t errsz) {
    const char *s = *p;
    while (isspace((unsigned char)*s) || *s == ',') {
        s++;
    }
    if (*s == '}') {
        *p = s + 1;
        return 0;
    }
    if (read_jstr(&s, key, ks)) {
        snprintf(err, errsz, "config: malformed JSON near '%.20s'", s);
        return -1;
    }
    while (isspace((unsigned char)*s)) {
        s++;
    }
    if (*s++ != ':' || read_jstr(&s, val, vs)) {
        snprintf(err, errsz, "config: malformed value of \"%s\"", key);
        return -1;
    }
    *p = s;
    return 1;
}

int cfg_read_json(struct cfg_opt *opts, int n, const char *text, int ignore_unknown, char *err,
                  size_t errsz) {
    const char *p = strchr(text, '{');
    if (!p) {
        snprintf(err, errsz, "config: not a JSON object");
        return -1;
    }
    p++;
    char key[128], val[1100];
    int got;
    while ((got = json_next(&p, key, sizeof key, val, sizeof val, err, errsz)) == 1) {
        struct cfg_opt *o = cfg_find(opts, n, key);
        if (!o) {
            if (ignore_unknown) {
                continue;
            }
            snprintf(err, errsz, "config: unknown key \"%s\"", key);
            return -1;
        }
        if (cfg_set(o, val, err, errsz)) {
            return -1;
        }
    }
    return got;
}

int cfg_json_get(const char *text, const char *key, char *out, size_t n) {
    const char *p = strchr(text, '{');
    if (!p) {
        return -1;
    }
    p++;
    char k[128], v[1100], err[128];
    while (json_next(&p, k, sizeof k, v, sizeof v, err, sizeof err) == 1) {
        if (strcmp(k, key) == 0) {
            if (strlen(v) >= n) {
                return -1;
            }
            memcpy(out, v, strlen(v) + 1);
            return 0;
        }
    }
    return -1;
}

int cfg_command(const char *cmd, const char *usage, struct cfg_opt *opts, int n, int argc,
                char **argv) {
    if (cfg_wants_help(argc, argv)) {
        fputs(usage, stdout);
        cfg_help(stdout, opts, n);
        return 0;
    }
    char err[1024];
    if (cfg_parse(opts, n, argc, argv, err, sizeof err)) {
        fprintf(stderr, "floq %s: %s\n", cmd, err);
        return 2;
    }
    return CFG_RUN;
}
