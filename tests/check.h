/* check.h — the whole test harness (after redis testhelp.h).
 *
 *   CHECK(cond, "what %d", x);          // counts a pass or a failure, prints failures
 *   CHECK_NEAR(a, b, tol, "what");      // |a-b| <= tol
 *   return check_report("test_mlp");     // prints "test_mlp: N passed, M failed", exit code
 */
#ifndef FLOQ_CHECK_H
#define FLOQ_CHECK_H

#include <math.h>
#include <stdio.h>

static int check_passed, check_failed;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (cond) {                                                                                \
            check_passed++;                                                                        \
        } else {                                                                                   \
            check_failed++;                                                                        \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                   \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
        }                                                                                          \
    } while (0)

#define CHECK_NEAR(a, b, tol, ...)                                                                 \
    do {                                                                                           \
        double check_a_ = (double)(a), check_b_ = (double)(b);                                     \
        if (fabs(check_a_ - check_b_) <= (double)(tol)) {                                          \
            check_passed++;                                                                        \
        } else {                                                                                   \
            check_failed++;                                                                        \
            fprintf(stderr, "FAIL %s:%d: %.9g vs %.9g (tol %g): ", __FILE__, __LINE__, check_a_,   \
                    check_b_, (double)(tol));                                                      \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
        }                                                                                          \
    } while (0)

static inline int check_report(const char *name) {
    printf("%s: %d passed, %d failed\n", name, check_passed, check_failed);
    return check_failed ? 1 : 0;
}

#endif
