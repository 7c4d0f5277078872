#include "common/util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

_Noreturn void floq_assert_fail(const char *cond, const char *file, int line) {
    fprintf(stderr, "floq: assertion failed: %s (%s:%d)\n", cond, file, line);
    fflush(stderr);
    abort();
}

double now_sec(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double cpu_sec(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void sleep_us(long us) {
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

int edit_distance(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    if (na > 255) {
        na = 255;
    }
    if (nb > 255) {
        nb = 255;
    }
    int prev[256], cur[256];
    for (size_t j = 0; j <= nb; j++) {
        prev[j] = (int)j;
    }
    for (size_t i = 1; i <= na; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= nb; j++) {
            int c = prev[j - 1] + (a[i - 1] != b[j - 1]);
            int d = prev[j] + 1, e = cur[j - 1] + 1;
            cur[j] = c < d ? (c < e ? c : e) : (d < e ? d : e);
        }
        memcpy(prev, cur, sizeof(int) * (nb + 1));
    }
    return prev[nb];
}

int closest_name(const char *s, const char *const *names, int n) {
    int best = -1, bestd = 1 << 30;
    for (int i = 0; i < n; i++) {
        int d = edit_distance(s, names[i]);
        if (d < bestd) {
            bestd = d;
            best = i;
        }
    }
    return best;
}

int all_finite(const float *x, size_t n) {
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        ok &= isfinite(x[i]) ? 1 : 0;
    }
    return ok;
}

size_t first_beyond(const float *x, size_t n, float limit) {
    // one pass that vectorises (no early exit), then the index
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        bad |= !(fabsf(x[i]) < limit);
    }
    for (size_t i = 0; bad && i < n; i++) {
        if (!(fabsf(x[i]) < limit)) {
            return i;
        }
    }
    return n;
}

uint64_t fnv1a64(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    if (h == 0) {
        h = 0xcbf29ce484222325ULL;
    }
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

void seterr(char *err, size_t errsz, const char *fmt, ...) {
    if (!err || errsz == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
}

FILE *fopen_regular(const char *path, const char *who, const char *hint, uint64_t *size, char *err,
                    size_t errsz) {
    const char *sep = hint ? "; " : "", *h = hint ? hint : "";
    FILE *f = fopen(path, "rb");
    if (!f) {
        seterr(err, errsz, "%s: cannot open %s: %s%s%s", who, path, strerror(errno), sep, h);
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        seterr(err, errsz, "%s: %s is not a regular file%s%s", who, path, sep, h);
        fclose(f);
        return NULL;
    }
    if (size) {
        *size = (uint64_t)st.st_size;
    }
    return f;
}
