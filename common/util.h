/* util.h — small shared helpers: assertions, time, clamping, string matching.
 *
 *   FLOQ_ASSERT(n > 0);            // programmer errors: file:line and abort, always compiled in
 *   double t0 = now_sec();         // monotonic seconds
 *   int i = closest_name("--seedd", names, n);   // for "did you mean" hints
 */
#ifndef FLOQ_UTIL_H
#define FLOQ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define FLOQ_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            floq_assert_fail(#cond, __FILE__, __LINE__);                                           \
        }                                                                                          \
    } while (0)

#define FLOQ_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define FLOQ_MIN(a, b) ((a) < (b) ? (a) : (b))
#define FLOQ_MAX(a, b) ((a) > (b) ? (a) : (b))

/* prints "floq: assertion failed: COND (FILE:LINE)" and aborts; never returns */
_Noreturn void floq_assert_fail(const char *cond, const char *file, int line);

/* monotonic clock in seconds */
double now_sec(void);
/* CPU seconds this process has used so far (all its threads) */
double cpu_sec(void);

/* sleeps for the given number of microseconds (nanosleep) */
void sleep_us(long us);

static inline float clampf(float x, float lo, float hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}

/* Levenshtein distance of two NUL-terminated strings (capped at 255 chars each) */
int edit_distance(const char *a, const char *b);

/* index of the name in names[0..n) closest to s by edit distance, or -1 if n == 0 */
int closest_name(const char *s, const char *const *names, int n);

/* 1 if every value is finite */
int all_finite(const float *x, size_t n);
/* index of the first value that is NaN or has |x| >= limit (INFINITY: the first non-finite),
 * or n when there is none */
size_t first_beyond(const float *x, size_t n, float limit);

/* formats one line into err[errsz], the library-code error convention; err may be NULL */
void seterr(char *err, size_t errsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* opens path for binary reading when it is a regular file, its size into *size (NULL-able).
 * NULL with "<who>: cannot open PATH: <strerror>" or "<who>: PATH is not a regular file" in err,
 * followed by "; <hint>" when hint is not NULL */
FILE *fopen_regular(const char *path, const char *who, const char *hint, uint64_t *size, char *err,
                    size_t errsz);

/* CRC-32C-free 64-bit checksum (FNV-1a 64) over bytes; chainable via h (start with 0) */
uint64_t fnv1a64(uint64_t h, const void *data, size_t n);

#endif
