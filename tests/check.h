/* Minimal test harness: CHECK-style assertions that count failures and report the location, and a
 * summary line at exit; a test program exits non-zero if any check failed. */
#ifndef LAVR_TEST_CHECK_H
#define LAVR_TEST_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/status.h"

static int check_failures, check_count;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        check_count++;                                                               \
        if (!(cond)) {                                                               \
            check_failures++;                                                        \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)

#define CHECK_MSG(cond, ...)                                                \
    do {                                                                    \
        check_count++;                                                      \
        if (!(cond)) {                                                      \
            check_failures++;                                               \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                   \
            fputc('\n', stderr);                                            \
        }                                                                   \
    } while (0)

/* A call that must succeed; prints the runtime's error message if it does not. */
#define CHECK_OK(call)                                                                          \
    do {                                                                                        \
        check_count++;                                                                          \
        lavr_status st_ = (call);                                                               \
        if (st_) {                                                                              \
            check_failures++;                                                                   \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call, lavr_error_message()); \
        }                                                                                       \
    } while (0)

/* A call that must fail with the given status (and a message). */
#define CHECK_FAILS(call, code)                                                                   \
    do {                                                                                          \
        check_count++;                                                                            \
        lavr_status st_ = (call);                                                                 \
        if (st_ != (code)) {                                                                      \
            check_failures++;                                                                     \
            fprintf(stderr, "%s:%d: %s returned %d, expected %d\n", __FILE__, __LINE__, #call, (int)st_, (int)(code)); \
        }                                                                                         \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                                      \
    do {                                                                                           \
        double a_ = (a), b_ = (b);                                                                 \
        check_count++;                                                                             \
        if (!(fabs(a_ - b_) <= (tol))) {                                                           \
            check_failures++;                                                                      \
            fprintf(stderr, "%s:%d: %s = %.9g, expected %.9g (tol %g)\n", __FILE__, __LINE__, #a, a_, b_, (double)(tol)); \
        }                                                                                          \
    } while (0)

/* Call at the end of main: prints "N checks, M failed" and returns the exit code. */
static inline int check_summary(const char *name) {
    printf("%s: %d checks, %d failed\n", name, check_count, check_failures);
    return check_failures ? 1 : 0;
}

#endif
