/*
 * testhelp.h: a tiny assertion layer for the C unit tests.
 * CHECK records a failure with file and line and goes on; the test binary
 * exits non-zero if any check failed.
 */
#ifndef PS_TESTHELP_H
#define PS_TESTHELP_H

#include <stdio.h>
#include <string.h>

static int th_failed, th_checks;

#define CHECK(cond)                                                       \
    do {                                                                  \
        th_checks++;                                                      \
        if (!(cond)) {                                                    \
            th_failed++;                                                  \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,        \
                    __LINE__, #cond);                                     \
        }                                                                 \
    } while (0)

#define CHECK_STR(a, b)                                                   \
    do {                                                                  \
        const char *a_ = (a), *b_ = (b);                                  \
        th_checks++;                                                      \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                          \
            th_failed++;                                                  \
            fprintf(stderr, "%s:%d: '%s' != '%s'\n", __FILE__, __LINE__,  \
                    a_ ? a_ : "(null)", b_ ? b_ : "(null)");              \
        }                                                                 \
    } while (0)

#define TEST_REPORT(name)                                                 \
    (printf("%s: %d checks, %d failed\n", name, th_checks, th_failed),    \
     th_failed ? 1 : 0)

#endif
